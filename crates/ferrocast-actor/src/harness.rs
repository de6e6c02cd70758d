//! [`SyncHarness`]: drives one actor's handlers by hand, without a runtime.
//!
//! The actor lives in a *detached* [`ActorSystem`], which never runs turns,
//! timers or piped futures, so nothing happens unless the harness asks. Each
//! step (`started`, one message, a supervisor decision) is polled once with a
//! no-op waker: a handler that awaits something only a runtime can complete
//! (a sleep, an `ask`, a full mailbox) makes the step fail with
//! [`HarnessError::Pending`] instead of hanging.
//!
//! What the actor does shows up as state to inspect:
//! - messages it sends to itself (`myself()`, message adapters) wait in its
//!   mailbox: [`SyncHarness::self_messages`];
//! - children are created but never run: [`SyncHarness::children`]; when the
//!   actor stops or restarts, its children count as stopped at once;
//! - timers are recorded but never fire: [`SyncHarness::is_timer_active`];
//! - failures come back from the step that failed; the actor then waits for
//!   its supervisor's decision: [`SyncHarness::resume`],
//!   [`SyncHarness::restart`] or [`SyncHarness::stop`].

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use crate::actor::{Actor, Props};
use crate::actor_ref::ActorRef;
use crate::cell::{ActorCell, ManualState, ManualStep};
use crate::config::ActorSystemConfig;
use crate::path::{ActorPath, Name};
use crate::supervision::Failure;
use crate::system::{ActorSystem, SystemError};
use crate::target::{ActorTarget, ActorUid, AnyRef, SystemMessage};
use crate::timers::TimerKey;

/// The name the harnessed actor gets (its path is `/user/testkit`).
const NAME: &str = "testkit";

/// Why a harness step did not complete normally.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError<M> {
    /// The factory, `started`, a handler or a hook returned an error or
    /// panicked. The actor now waits for [`SyncHarness::resume`],
    /// [`SyncHarness::restart`] or [`SyncHarness::stop`].
    #[error("actor failed: {0}")]
    Failed(Failure),
    /// The step awaited something only a runtime can complete (a sleep, an
    /// `ask`, a full mailbox). The actor is left as the step left it at that
    /// point; test such actors on a runtime with a `TestProbe`.
    #[error("the actor awaited something that needs a runtime")]
    Pending,
    /// The actor has stopped; the message comes back.
    #[error("the actor has stopped")]
    Stopped(M),
    /// The actor failed and waits for its supervisor's decision; the message
    /// comes back.
    #[error("the actor failed and waits for resume, restart or stop")]
    Suspended(M),
    /// The detached system could not be created (invalid configuration).
    #[error(transparent)]
    System(#[from] SystemError),
}

impl<M> fmt::Debug for HarnessError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Failed(failure) => f.debug_tuple("Failed").field(failure).finish(),
            HarnessError::Pending => f.write_str("Pending"),
            HarnessError::Stopped(_) => f.write_str("Stopped(..)"),
            HarnessError::Suspended(_) => f.write_str("Suspended(..)"),
            HarnessError::System(e) => f.debug_tuple("System").field(e).finish(),
        }
    }
}

/// Stands in for the harnessed actor's parent: keeps the failures the actor
/// reports instead of supervising, so the step that failed can return them.
struct Parent {
    uid: ActorUid,
    failures: Mutex<Vec<Failure>>,
}

impl ActorTarget for Parent {
    fn uid(&self) -> ActorUid {
        self.uid
    }

    fn path(&self) -> ActorPath {
        ActorPath::new("/user".to_owned())
    }

    fn send_system(&self, msg: SystemMessage) {
        if let SystemMessage::Failed { failure, .. } = msg {
            self.failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(failure);
        }
    }

    fn is_terminated(&self) -> bool {
        false
    }
}

/// Drives one actor's handlers synchronously, without a runtime, and shows
/// their effects (like Akka's `BehaviorTestKit`).
///
/// ```
/// use ferrocast_actor::{Actor, ActorError, Context, SyncHarness};
///
/// #[derive(Default)]
/// struct Counter { count: u64 }
///
/// impl Actor for Counter {
///     type Msg = u64;
///     async fn handle(&mut self, n: u64, ctx: &mut Context<Self>) -> Result<(), ActorError> {
///         self.count += n;
///         if self.count >= 10 {
///             ctx.stop();
///         }
///         Ok(())
///     }
/// }
///
/// let mut harness = SyncHarness::new(Counter::default)?;
/// harness.run(4)?;
/// assert_eq!(harness.actor().count, 4);
/// harness.run(6)?;
/// assert!(harness.is_stopped());
/// # Ok::<(), ferrocast_actor::HarnessError<u64>>(())
/// ```
pub struct SyncHarness<A: Actor> {
    system: ActorSystem,
    cell: Arc<ActorCell<A>>,
    parent: Arc<Parent>,
    /// Not `Sync`: `actor()` lends out `&A`, and `A` is only `Send`.
    _not_sync: PhantomData<Cell<()>>,
}

impl<A: Actor> SyncHarness<A> {
    /// Creates the actor from `factory` and runs `started`.
    pub fn new(factory: impl FnMut() -> A + Send + 'static) -> Result<Self, HarnessError<A::Msg>> {
        Self::with_props(Props::new(factory), ActorSystemConfig::default())
    }

    /// Like [`SyncHarness::new`], with props (stash capacity, mailbox) and
    /// the configuration of the detached system.
    pub fn with_props(
        props: impl Into<Props<A>>,
        config: ActorSystemConfig,
    ) -> Result<Self, HarnessError<A::Msg>> {
        let system = ActorSystem::detached("testkit", config)?;
        let inner = system.inner().clone();
        let parent = Arc::new(Parent {
            uid: system.next_uid(),
            failures: Mutex::new(Vec::new()),
        });
        let id = inner.next_actor_id();
        let cell = ActorCell::new(
            id,
            Name::Named(NAME.into()),
            Some(AnyRef::from_target(parent.clone())),
            inner,
            props.into(),
        );
        let mut harness = SyncHarness {
            system,
            cell,
            parent,
            _not_sync: PhantomData,
        };
        harness.step(ManualStep::Pending)?;
        Ok(harness)
    }

    /// Handles one message now (ahead of anything in the mailbox), then
    /// whatever that triggers without a runtime: stopping, unstashing.
    ///
    /// System messages that arrived since the last step (a termination of a
    /// watched actor, a watch) are processed first, as a turn would. If that
    /// fails the actor, the failure is returned and `msg` is not handled.
    pub fn run(&mut self, msg: A::Msg) -> Result<(), HarnessError<A::Msg>> {
        self.step(ManualStep::Pending)?;
        match self.state() {
            ManualState::Running => self.step(ManualStep::Message(msg)),
            ManualState::Suspended => Err(HarnessError::Suspended(msg)),
            ManualState::AwaitingChildren | ManualState::Terminated => {
                Err(HarnessError::Stopped(msg))
            }
        }
    }

    /// Handles the messages waiting in the mailbox when called (those the
    /// actor sent itself), oldest first, and returns how many ran. Messages
    /// they send in turn wait for the next call, so an actor that keeps
    /// telling itself something cannot loop forever here.
    ///
    /// On an error the remaining messages stay in the mailbox (a message
    /// that could not run comes back in the error).
    pub fn run_self_messages(&mut self) -> Result<usize, HarnessError<A::Msg>> {
        let waiting = self.mailbox_len();
        let mut ran = 0;
        while ran < waiting {
            let Some(msg) = self.cell.manual_pop() else {
                break;
            };
            self.run(msg)?;
            ran += 1;
        }
        Ok(ran)
    }

    /// Takes the messages waiting in the actor's mailbox: what it sent to
    /// itself through `myself()` or a message adapter, or what others told
    /// [`SyncHarness::actor_ref`]. Timers and piped futures never run here,
    /// so their messages never arrive.
    pub fn self_messages(&mut self) -> Vec<A::Msg> {
        std::iter::from_fn(|| self.cell.manual_pop()).collect()
    }

    /// Messages waiting in the mailbox.
    pub fn mailbox_len(&self) -> usize {
        self.cell.mailbox_len()
    }

    /// The actor's state.
    ///
    /// # Panics
    ///
    /// If there is no instance: the actor stopped, or its factory panicked.
    pub fn actor(&self) -> &A {
        // SAFETY: the harness drives its cell alone (detached system) and
        // `&self` keeps any step from running while the borrow lives.
        let (actor, _) = unsafe { self.cell.manual_parts() };
        match actor {
            Some(a) => a,
            None => panic!("{}", Self::NO_INSTANCE),
        }
    }

    /// The actor's state, to change it between steps.
    ///
    /// # Panics
    ///
    /// If there is no instance: the actor stopped, or its factory panicked.
    pub fn actor_mut(&mut self) -> &mut A {
        // SAFETY: as in `actor`; `&mut self` makes this the only borrow.
        match unsafe { self.cell.manual_actor_mut() } {
            Some(a) => a,
            None => panic!("{}", Self::NO_INSTANCE),
        }
    }

    const NO_INSTANCE: &str =
        "the harnessed actor has no instance: it stopped, or its factory panicked";

    /// A reference to the actor; what is told to it waits in the mailbox
    /// (see [`SyncHarness::self_messages`]).
    pub fn actor_ref(&self) -> ActorRef<A::Msg> {
        self.cell.actor_ref()
    }

    /// The detached system the actor lives in (to make a `TestProbe` whose
    /// reference the actor can be given).
    pub fn system(&self) -> &ActorSystem {
        &self.system
    }

    /// The children spawned and not stopped, in no particular order. They
    /// never run.
    pub fn children(&self) -> Vec<AnyRef> {
        self.cell.children()
    }

    /// The child with this name, if spawned and not stopped.
    pub fn child(&self, name: &str) -> Option<AnyRef> {
        self.cell.child(name)
    }

    /// True while the timer with this key is started and has not been
    /// cancelled (timers never fire in the harness).
    pub fn is_timer_active(&self, key: impl Into<TimerKey>) -> bool {
        // SAFETY: as in `actor`.
        let (_, ctx) = unsafe { self.cell.manual_parts() };
        ctx.is_timer_active(key)
    }

    /// Messages in the actor's stash.
    pub fn stash_len(&self) -> usize {
        // SAFETY: as in `actor`.
        let (_, ctx) = unsafe { self.cell.manual_parts() };
        ctx.stash_len()
    }

    /// True once the actor has stopped (its `stopped` hook has run).
    pub fn is_stopped(&self) -> bool {
        self.state() == ManualState::Terminated
    }

    /// True while the actor, having failed, waits for a supervisor decision.
    pub fn is_suspended(&self) -> bool {
        self.state() == ManualState::Suspended
    }

    /// The supervisor's *resume*: keep the state, go on with the next
    /// message. Does nothing unless the actor is suspended.
    pub fn resume(&mut self) -> Result<(), HarnessError<A::Msg>> {
        self.step(ManualStep::System(SystemMessage::Resume))
    }

    /// The supervisor's *restart*, without backoff: `stopped` runs on the old
    /// instance, children stop, and a fresh instance from the factory runs
    /// `started`. Does nothing unless the actor is suspended.
    pub fn restart(&mut self) -> Result<(), HarnessError<A::Msg>> {
        self.step(ManualStep::System(SystemMessage::Restart {
            delay: Duration::ZERO,
        }))
    }

    /// Stops the actor as its parent would: children stop, then `stopped`
    /// runs; messages still in the mailbox go to dead letters.
    pub fn stop(&mut self) -> Result<(), HarnessError<A::Msg>> {
        self.step(ManualStep::System(SystemMessage::Stop))
    }

    /// Tells the actor that `actor` terminated, as the runtime does for an
    /// actor it watches (its `terminated` hook or `watch_with` message runs)
    /// or for a child (which is then no longer listed).
    pub fn signal_terminated(
        &mut self,
        actor: impl Into<AnyRef>,
    ) -> Result<(), HarnessError<A::Msg>> {
        self.step(ManualStep::System(SystemMessage::Terminated {
            actor: actor.into(),
        }))
    }

    fn state(&self) -> ManualState {
        // SAFETY: the harness drives its cell alone; no step is running.
        unsafe { self.cell.manual_state() }
    }

    /// Runs one step to completion (or reports `Pending`), then plays the
    /// children's part: they never run, so a stop sent to them counts as
    /// done.
    fn step(&mut self, step: ManualStep<A::Msg>) -> Result<(), HarnessError<A::Msg>> {
        let mut state = self.poll_step(step)?;
        while state == ManualState::AwaitingChildren {
            let children = self.cell.children();
            if children.is_empty() {
                break;
            }
            for actor in children {
                state = self.poll_step(ManualStep::System(SystemMessage::Terminated { actor }))?;
            }
        }
        // One step fails the actor at most once (a suspended actor runs no
        // handler), so the first report is the one.
        let failures = std::mem::take(
            &mut *self
                .parent
                .failures
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        match failures.into_iter().next() {
            Some(f) => Err(HarnessError::Failed(f)),
            None => Ok(()),
        }
    }

    fn poll_step(&mut self, step: ManualStep<A::Msg>) -> Result<ManualState, HarnessError<A::Msg>> {
        // SAFETY: the cell belongs to this harness's detached system, which
        // never runs its turns, and `&mut self` makes this the only step.
        let mut future = pin!(unsafe { self.cell.manual_step(step) });
        match future
            .as_mut()
            .poll(&mut TaskContext::from_waker(Waker::noop()))
        {
            Poll::Ready(state) => Ok(state),
            Poll::Pending => Err(HarnessError::Pending),
        }
    }
}

impl<A: Actor> fmt::Debug for SyncHarness<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncHarness")
            .field("actor", &std::any::type_name::<A>())
            .field("state", &self.state())
            .field("mailbox_len", &self.mailbox_len())
            .finish()
    }
}

#[cfg(test)]
#[path = "harness_test.rs"]
mod tests;
