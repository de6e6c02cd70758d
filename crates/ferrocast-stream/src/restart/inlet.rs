//! The upstream of a restarting flow or sink, handed to one inner stage at
//! a time.
//!
//! Each materialization of the inner stage gets a fresh [`Input`] that
//! pulls straight from the shared upstream (in the puller's task, with its
//! waker). Starting a new input ends the earlier ones, so an old inner
//! stage that lingers (a `buffer` task being aborted) cannot steal
//! elements from its successor.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;

struct Shared<T> {
    /// `None` once upstream has ended or been cancelled.
    upstream: Option<Elements<T>>,
    /// The generation of the one input allowed to pull.
    generation: u64,
    /// Upstream completed or failed: an inner stage has seen its end.
    ended: bool,
}

pub(crate) struct Inlet<T> {
    shared: Arc<Mutex<Shared<T>>>,
}

fn lock<T>(shared: &Mutex<Shared<T>>) -> MutexGuard<'_, Shared<T>> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Send + 'static> Inlet<T> {
    pub(crate) fn new(upstream: Elements<T>) -> Self {
        Inlet {
            shared: Arc::new(Mutex::new(Shared {
                upstream: Some(upstream),
                generation: 0,
                ended: false,
            })),
        }
    }

    /// The input of a new inner stage; earlier inputs end at once.
    pub(crate) fn input(&self) -> Elements<T> {
        let mut shared = lock(&self.shared);
        shared.generation += 1;
        Box::pin(Input {
            shared: self.shared.clone(),
            generation: shared.generation,
        })
    }

    /// True once upstream has completed or failed: a restarted inner stage
    /// would have nothing to read.
    pub(crate) fn has_ended(&self) -> bool {
        lock(&self.shared).ended
    }

    /// Cancels upstream.
    pub(crate) fn cancel(&self) {
        let upstream = lock(&self.shared).upstream.take();
        // Dropped outside the lock: dropping may run arbitrary code.
        drop(upstream);
    }
}

struct Input<T> {
    shared: Arc<Mutex<Shared<T>>>,
    generation: u64,
}

impl<T> Stream for Input<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut shared = lock(&self.shared);
        if shared.generation != self.generation {
            return Poll::Ready(None);
        }
        let Some(upstream) = shared.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        let item = std::task::ready!(upstream.as_mut().poll_next(cx));
        if !matches!(item, Some(Ok(_))) {
            shared.ended = true;
            shared.upstream = None;
        }
        Poll::Ready(item)
    }
}
