//! Running turns on the system's tokio runtime: spawning them, starting
//! new actors inline, and the bounded list of lingering turns. The
//! mechanism is described in `docs/actors/algorithm.md`.

use std::future::Future;
use std::sync::Arc;

use tokio::task::AbortHandle;

use crate::system::SystemInner;

/// Most turns parked at once waiting for more messages, per system.
pub(crate) const MAX_LINGERING: usize = 64;

thread_local! {
    /// How deep first turns are nested on this thread (a `started` that
    /// spawns starts its child inline too). Not shared state: a guard.
    static INLINE_STARTS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Deepest nesting of inline first turns before they go to tasks.
const MAX_INLINE_STARTS: u32 = 8;

pub(crate) type BoxedTurn = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// An actor with an entry in the list of lingering turns.
pub(crate) trait Lingering: Send + Sync {
    /// Removes the actor from the list; wakes its turn if it still
    /// lingers, so that it ends.
    fn evict(&self);
}

/// A new actor waiting for its first turn (erased over the actor type).
pub(crate) trait FirstTurn: Send + Sync {
    fn first_turn(self: Arc<Self>) -> BoxedTurn;
}

impl SystemInner {
    /// Runs a new actor's first turn (factory and `started`) right away,
    /// on the spawning thread, polled once: the common case, a `started`
    /// that does not wait, costs no task at all. A first turn that waits,
    /// or finds messages already queued, continues on a task of its own.
    /// Starting actors one tokio task each cost a task allocation, the
    /// runtime's task bookkeeping and, at spawn rates, a stream of wake-ups
    /// of idle workers. Nested starts (a `started` that spawns) run inline
    /// to a small depth, then go to tasks, so deep chains cannot exhaust the
    /// stack.
    pub(crate) fn start_actor(&self, actor: Arc<dyn FirstTurn>) {
        let Some(handle) = &self.handle else {
            return;
        };
        let mut turn = actor.first_turn();
        let depth = INLINE_STARTS.with(|d| d.get());
        if depth >= MAX_INLINE_STARTS {
            drop(handle.spawn(turn));
            return;
        }
        let pending = {
            let _runtime = handle.enter();
            INLINE_STARTS.with(|d| d.set(depth + 1));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let pending = turn.as_mut().poll(&mut cx).is_pending();
            INLINE_STARTS.with(|d| d.set(depth));
            pending
        };
        if pending {
            // The turn re-registers its wakers when its own task polls it.
            drop(handle.spawn(turn));
        }
    }

    pub(crate) fn spawn_turn(&self, turn: impl Future<Output = ()> + Send + 'static) {
        if let Some(h) = &self.handle {
            drop(h.spawn(turn));
        }
    }

    pub(crate) fn spawn_task(
        &self,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> Option<AbortHandle> {
        self.handle.as_ref().map(|h| h.spawn(task).abort_handle())
    }

    /// Enlists an actor whose turn lingers; past `MAX_LINGERING` the actor
    /// enlisted longest ago is evicted (its turn, if still parked, ends).
    pub(crate) fn linger(&self, actor: Arc<dyn Lingering>) {
        let mut lingering = self.lingering.lock().unwrap_or_else(|e| e.into_inner());
        let evicted = if lingering.len() >= MAX_LINGERING {
            lingering.pop_front()
        } else {
            None
        };
        lingering.push_back(actor);
        drop(lingering);
        if let Some(oldest) = evicted {
            oldest.evict();
        }
    }
}
