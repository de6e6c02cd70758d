//! [`Waiters`]: one waker that wakes many.
//!
//! Junctions whose outputs may be polled from different tasks (`group_by`
//! substreams, graph fan-out outputs) share one upstream. Upstream keeps
//! only the waker of its last poll, so they poll it with a waker made from
//! `Waiters`, which wakes every party that registered since the last wake.

use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

#[derive(Debug, Default)]
pub(crate) struct Waiters(Mutex<Vec<Waker>>);

impl Waiters {
    /// Registers `waker` to be woken by the next wake.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut waiting = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !waiting.iter().any(|w| w.will_wake(waker)) {
            waiting.push(waker.clone());
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waiting = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in waiting {
            waker.wake();
        }
    }
}
