//! Driving a cell by hand: the synchronous harness (`harness.rs`).

use super::*;

/// What the synchronous harness asks a hand-driven actor to do.
pub(crate) enum ManualStep<M> {
    /// Nothing beyond what is pending: a first start, system messages.
    Pending,
    /// Handle one user message (the caller checks the actor is running).
    Message(M),
    /// Process one system message as a turn would.
    System(SystemMessage),
}

/// Where a hand-driven actor stands between steps.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ManualState {
    Running,
    /// Failed; waits for its parent's decision (resume, restart, stop).
    Suspended,
    /// Stopping or restarting: waits for its children to terminate.
    AwaitingChildren,
    Terminated,
}

impl<A: Actor> ActorCell<A> {
    /// Runs `step` on the caller's task, then what a turn would run next:
    /// system messages the step produced, a pending (re)start, unstashed
    /// messages. Messages waiting in the mailbox are left there.
    ///
    /// # Safety
    ///
    /// No turn of this cell may ever run: the cell belongs to a detached
    /// system (which never spawns turns) and the caller is its only driver,
    /// one step at a time, with no borrow from [`Self::manual_parts`] alive.
    pub(crate) async unsafe fn manual_step(&self, step: ManualStep<A::Msg>) -> ManualState {
        let mut turn = Turn {
            cell: self,
            // SAFETY: the caller drives this cell alone (see above), like a
            // turn holding the `scheduled` flag.
            runner: unsafe { &mut *self.runner.get() },
            batch: VecDeque::new(),
        };
        match step {
            ManualStep::Pending => {}
            ManualStep::Message(msg) => turn.handle(msg).await,
            ManualStep::System(msg) => turn.system(msg).await,
        }
        loop {
            if self.header.system_pending.swap(false, Ordering::Acquire) {
                let msgs = lock(&self.inbox)
                    .extra
                    .as_mut()
                    .map(|e| std::mem::take(&mut e.system))
                    .unwrap_or_default();
                for msg in msgs {
                    turn.system(msg).await;
                }
                continue;
            }
            match turn.runner.lifecycle {
                Lifecycle::Created => turn.start().await,
                Lifecycle::Running => match turn.batch.pop_front() {
                    Some(env) => turn.deliver(env).await,
                    None => break,
                },
                _ => break,
            }
        }
        turn.return_batch();
        // SAFETY: `turn` (the only other borrow of the runner) is gone.
        unsafe { self.manual_state() }
    }

    /// # Safety
    ///
    /// As for [`Self::manual_step`].
    pub(crate) unsafe fn manual_state(&self) -> ManualState {
        // SAFETY: the caller drives this cell alone and holds no other
        // borrow of the runner.
        match unsafe { (*self.runner.get()).lifecycle } {
            Lifecycle::Created | Lifecycle::Running => ManualState::Running,
            Lifecycle::Suspended => ManualState::Suspended,
            Lifecycle::Restarting | Lifecycle::Stopping => ManualState::AwaitingChildren,
            Lifecycle::Terminated => ManualState::Terminated,
        }
    }

    /// The instance (none before the first start, after a stop, or after a
    /// failed creation) and the context.
    ///
    /// # Safety
    ///
    /// As for [`Self::manual_step`]; the borrows end before the next step
    /// or [`Self::manual_actor_mut`].
    pub(crate) unsafe fn manual_parts(&self) -> (Option<&A>, &Context<A>) {
        // SAFETY: the caller drives this cell alone and holds no mutable
        // borrow of the runner.
        let runner = unsafe { &*self.runner.get() };
        (runner.actor.as_ref(), &runner.ctx)
    }

    /// The instance, to change between steps.
    ///
    /// # Safety
    ///
    /// As for [`Self::manual_step`]; the borrow ends before any other use
    /// of the runner.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn manual_actor_mut(&self) -> Option<&mut A> {
        // SAFETY: the caller drives this cell alone and holds no other
        // borrow of the runner.
        unsafe { (*self.runner.get()).actor.as_mut() }
    }

    /// Takes the oldest message waiting in the mailbox.
    pub(crate) fn manual_pop(&self) -> Option<A::Msg> {
        lock(&self.inbox).user.pop_front().map(Envelope::into_msg)
    }

    /// Messages waiting in the mailbox.
    pub(crate) fn mailbox_len(&self) -> usize {
        lock(&self.inbox).user.len()
    }
}
