//! A sink driven inline by another stage: the building block of `also_to`
//! and of the fan-out sinks.
//!
//! The owner hands elements through a one-element slot and polls the
//! sink's task from its own `poll`, with its own waker, so no task is
//! spawned and every wake-up of the attached sink wakes the owner.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;
use crate::runnable::StreamTask;
use crate::sink::Sink;

/// The slot between the owner and the attached sink.
struct Slot<T> {
    item: Option<Result<T, StreamError>>,
    /// No more elements: after `item`, the sink's input ends.
    ended: bool,
    /// The sink's input is waiting for an element.
    waiting: Option<Waker>,
}

type Shared<T> = Arc<Mutex<Slot<T>>>;

fn lock<T>(slot: &Shared<T>) -> MutexGuard<'_, Slot<T>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// The attached sink's input stream.
struct Input<T> {
    slot: Shared<T>,
}

impl<T> Stream for Input<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut slot = lock(&self.slot);
        if let Some(item) = slot.item.take() {
            return Poll::Ready(Some(item));
        }
        if slot.ended {
            return Poll::Ready(None);
        }
        slot.waiting = Some(cx.waker().clone());
        Poll::Pending
    }
}

pub(crate) struct Attached<T> {
    slot: Shared<T>,
    /// The sink's task; `None` once it has finished.
    task: Option<StreamTask>,
}

impl<T: Send + 'static> Attached<T> {
    /// Materializes `sink` on a fresh slot.
    pub(crate) fn new<M: 'static>(sink: &Sink<T, M>) -> (Self, M) {
        let slot = Arc::new(Mutex::new(Slot {
            item: None,
            ended: false,
            waiting: None,
        }));
        let input: Elements<T> = Box::pin(Input { slot: slot.clone() });
        let (task, mat) = sink.materialize(input);
        (
            Attached {
                slot,
                task: Some(task),
            },
            mat,
        )
    }

    /// Polls the sink's task; true while it is still running.
    pub(crate) fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(task) = self.task.as_mut() {
            if Pin::new(task).poll(cx).is_ready() {
                self.task = None;
                // Nobody will take what is left in the slot.
                lock(&self.slot).item = None;
            }
        }
        self.task.is_some()
    }

    /// True while the sink's task runs.
    pub(crate) fn is_running(&self) -> bool {
        self.task.is_some()
    }

    /// True when the slot can take an element.
    pub(crate) fn is_free(&self) -> bool {
        lock(&self.slot).item.is_none()
    }

    /// Puts `item` in the slot (which must be free) for the sink to take.
    pub(crate) fn hand(&self, item: Result<T, StreamError>) {
        let mut slot = lock(&self.slot);
        slot.item = Some(item);
        if let Some(waker) = slot.waiting.take() {
            waker.wake();
        }
    }

    /// Ends the sink's input after what is in the slot.
    pub(crate) fn end(&self) {
        let mut slot = lock(&self.slot);
        slot.ended = true;
        if let Some(waker) = slot.waiting.take() {
            waker.wake();
        }
    }
}
