//! The bounded queue behind `buffer`, `Source::queue` and actor sources:
//! producers push under an [`OverflowStrategy`], one stream consumes.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_util::stream::Stream;

use crate::error::{StreamError, StreamErrorKind};

/// What a bounded buffer does with an element that arrives when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverflowStrategy {
    /// The producer waits for space (back-pressure). Nothing is lost.
    #[default]
    Backpressure,
    /// The oldest buffered element is dropped to make room.
    DropHead,
    /// The youngest buffered element is dropped to make room.
    DropTail,
    /// The arriving element is dropped.
    DropNew,
    /// Every buffered element is dropped; the arriving one is kept.
    DropBuffer,
    /// The stream fails with [`StreamErrorKind::BufferOverflow`].
    Fail,
}

/// What happened to an offered element.
#[derive(Debug, Clone)]
pub enum QueueOfferResult {
    /// The element is in the queue.
    Enqueued,
    /// The element was dropped by the overflow strategy (`DropNew`).
    Dropped,
    /// The stream has completed or been cancelled; the element was dropped.
    QueueClosed,
    /// The stream has failed (with this error); the element was dropped.
    Failure(StreamError),
}

/// Outcome of one push attempt.
pub(crate) enum Push<T> {
    /// Enqueued, dropped by the strategy, or failed the stream (`Fail`).
    Done(QueueOfferResult),
    /// Full under `Backpressure`: the element comes back.
    Full(T),
    /// The queue is closed or failed: the element comes back with why.
    Rejected(T, QueueOfferResult),
}

#[derive(Debug)]
pub(crate) struct Queue<T> {
    capacity: usize,
    strategy: OverflowStrategy,
    state: Mutex<State<T>>,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    /// Set when the producer side completes; the consumer drains `items`
    /// first.
    completed: bool,
    /// Set on failure; the consumer sees it before any buffered element.
    failure: Option<StreamError>,
    /// Set when the consumer is gone or has seen the end: pushes are refused.
    closed: bool,
    consumer: Option<Waker>,
    /// Producers waiting for space under `Backpressure`; all are woken when
    /// an element leaves, and those still waiting register again.
    producers: Vec<Waker>,
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize, strategy: OverflowStrategy) -> Arc<Self> {
        Arc::new(Queue {
            capacity,
            strategy,
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity.min(1024)),
                completed: false,
                failure: None,
                closed: false,
                consumer: None,
                producers: Vec::new(),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pushes without waiting.
    pub(crate) fn push(&self, item: T) -> Push<T> {
        let mut state = self.state();
        if let Some(e) = &state.failure {
            return Push::Rejected(item, QueueOfferResult::Failure(e.clone()));
        }
        if state.closed || state.completed {
            return Push::Rejected(item, QueueOfferResult::QueueClosed);
        }
        if state.items.len() >= self.capacity {
            match self.strategy {
                OverflowStrategy::Backpressure => return Push::Full(item),
                OverflowStrategy::DropNew => return Push::Done(QueueOfferResult::Dropped),
                OverflowStrategy::DropHead => drop(state.items.pop_front()),
                OverflowStrategy::DropTail => drop(state.items.pop_back()),
                OverflowStrategy::DropBuffer => state.items.clear(),
                OverflowStrategy::Fail => {
                    let e = StreamError::new(StreamErrorKind::BufferOverflow {
                        capacity: self.capacity,
                    });
                    fail_locked(&mut state, e.clone());
                    return Push::Done(QueueOfferResult::Failure(e));
                }
            }
        }
        state.items.push_back(item);
        if let Some(waker) = state.consumer.take() {
            waker.wake();
        }
        Push::Done(QueueOfferResult::Enqueued)
    }

    /// Pushes, or registers `cx` to wait for space (under `Backpressure`,
    /// keeping the element in `slot`). Never returns `Push::Full`.
    pub(crate) fn poll_push(&self, slot: &mut Option<T>, cx: &mut Context<'_>) -> Poll<Push<T>> {
        let Some(mut item) = slot.take() else {
            return Poll::Ready(Push::Done(QueueOfferResult::Enqueued));
        };
        loop {
            match self.push(item) {
                Push::Full(back) => item = back,
                done => return Poll::Ready(done),
            }
            let mut state = self.state();
            // Space may have appeared since `push` unlocked: try again.
            if state.items.len() >= self.capacity {
                state.producers.push(cx.waker().clone());
                *slot = Some(item);
                return Poll::Pending;
            }
        }
    }

    /// Pushes, waiting for space under `Backpressure`.
    pub(crate) async fn offer(&self, item: T) -> QueueOfferResult {
        let mut slot = Some(item);
        match std::future::poll_fn(|cx| self.poll_push(&mut slot, cx)).await {
            Push::Done(result) | Push::Rejected(_, result) => result,
            Push::Full(_) => QueueOfferResult::Dropped,
        }
    }

    /// The producer side is done: the consumer drains the buffer, then ends.
    pub(crate) fn complete(&self) {
        let mut state = self.state();
        state.completed = true;
        wake_all(&mut state);
    }

    /// Fails the stream now; buffered elements are discarded.
    pub(crate) fn fail(&self, error: StreamError) {
        let mut state = self.state();
        if state.failure.is_none() && !state.closed && !state.completed {
            fail_locked(&mut state, error);
        }
    }

    /// The consumer went away: refuse further pushes.
    pub(crate) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.items.clear();
        wake_all(&mut state);
    }

    /// True once nothing more will be consumed.
    pub(crate) fn is_closed(&self) -> bool {
        let state = self.state();
        state.closed || state.completed || state.failure.is_some()
    }

    /// Elements waiting in the queue.
    pub(crate) fn len(&self) -> usize {
        self.state().items.len()
    }

    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<Result<T, StreamError>>> {
        let mut state = self.state();
        if state.closed {
            return Poll::Ready(None);
        }
        if let Some(e) = state.failure.clone() {
            // Keep the failure: later pushes report it.
            state.closed = true;
            return Poll::Ready(Some(Err(e)));
        }
        if let Some(item) = state.items.pop_front() {
            for waker in state.producers.drain(..) {
                waker.wake();
            }
            return Poll::Ready(Some(Ok(item)));
        }
        if state.completed {
            state.closed = true;
            return Poll::Ready(None);
        }
        state.consumer = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn fail_locked<T>(state: &mut State<T>, error: StreamError) {
    state.failure = Some(error);
    state.items.clear();
    wake_all(state);
}

fn wake_all<T>(state: &mut State<T>) {
    if let Some(waker) = state.consumer.take() {
        waker.wake();
    }
    for waker in state.producers.drain(..) {
        waker.wake();
    }
}

/// The consuming end as a stream; dropping it closes the queue.
pub(crate) struct QueueStream<T> {
    pub(crate) queue: Arc<Queue<T>>,
}

impl<T> Stream for QueueStream<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.queue.poll_pop(cx)
    }
}

impl<T> Drop for QueueStream<T> {
    fn drop(&mut self) {
        self.queue.close();
    }
}

#[cfg(test)]
#[path = "queue_test.rs"]
mod tests;
