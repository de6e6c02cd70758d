//! The actor cell: mailbox, lifecycle and the turn that runs handlers.
//!
//! # Scheduling
//!
//! An idle actor owns no task. The cell holds the mailbox under a small lock
//! together with a `scheduled` flag. The sender that finds the flag clear
//! sets it and spawns a *turn* on the system's executor. The turn takes up to
//! `throughput` messages at a time, runs their handlers, yields to the
//! executor after `throughput` messages, and clears the flag under the lock
//! when the mailbox is empty. So at most one turn runs per actor, handlers
//! never run concurrently, and an idle actor costs only its cell.
//!
//! System messages (stop, watch, terminated, supervision) have their own
//! unbounded queue, checked before every user message.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll};

use futures_util::FutureExt;
use tracing::Instrument;

use crate::actor::{Actor, Props};
use crate::actor_ref::{ActorRef, SendError, TrySendError};
use crate::context::Context;
use crate::dead_letters::DeadLetterReason;
use crate::deadline::AskTimer;
use crate::dispatch::{BoxedTurn, FirstTurn, Lingering};
use crate::event_stream::ActorFailed;
use crate::mailbox::{Envelope, Inbox, OverflowPolicy, Phase};
use crate::path::{ActorPath, Name};
use crate::supervision::{Directive, Failure, SupervisorStrategy};
use crate::system::SystemInner;
use crate::target::{ActorTarget, ActorUid, AnyRef, MessageTarget, SystemMessage};

mod lifecycle;
mod manual;
mod turn;

pub(crate) use manual::{ManualState, ManualStep};
pub(crate) use turn::run_turn;

/// Why spawning failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// A sibling already has this name.
    #[error("an actor named {0:?} already exists under this parent")]
    NameTaken(String),
    /// The name is not allowed.
    #[error(transparent)]
    InvalidName(#[from] crate::path::InvalidName),
    /// The parent (or the system) is stopping.
    #[error("the parent is stopping; no new children")]
    ParentStopping,
}

/// Fixed facts about a cell.
///
/// Field widths are chosen so an idle actor stays small: one cell is the
/// whole cost of an idle actor (see `docs/actors/semantics.md`).
pub(crate) struct Header {
    pub(crate) id: u64,
    pub(crate) name: Name,
    pub(crate) parent: Option<AnyRef>,
    pub(crate) system: Arc<SystemInner>,
    /// Mailbox bound (`u32::MAX`: unbounded).
    limit: u32,
    stash_capacity: u32,
    overflow: OverflowPolicy,
    /// Set (under the inbox lock) when a system message is queued, so the
    /// turn can notice between user messages without taking the lock.
    system_pending: AtomicBool,
}

/// Where the actor instance is in its life, as seen by its own turn.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lifecycle {
    /// No instance yet (first start or restart pending): create and start it.
    Created,
    Running,
    /// Failed; waiting for the parent's decision or a restart backoff.
    Suspended,
    /// Waiting for children to stop before restarting.
    Restarting,
    /// Waiting for children to stop before stopping.
    Stopping,
    Terminated,
}

/// State only the running turn touches.
struct Runner<A: Actor> {
    actor: Option<A>,
    factory: Box<dyn FnMut() -> A + Send>,
    ctx: Context<A>,
    lifecycle: Lifecycle,
    /// No instance was ever created. The first start comes before any
    /// system message (as Akka's `Create`), so an actor stopped before its
    /// first turn still runs `started` and then `stopped`.
    fresh: bool,
}

pub(crate) struct ActorCell<A: Actor> {
    pub(crate) header: Header,
    inbox: Mutex<Inbox<A::Msg>>,
    runner: UnsafeCell<Runner<A>>,
}

// SAFETY: `runner` is only accessed by the single turn that holds the
// `scheduled` flag (set and cleared under `inbox`'s lock), like a mutex
// whose lock is held across the turn; `A: Send` is all that requires.
// Everything else is `Sync` on its own.
unsafe impl<A: Actor> Sync for ActorCell<A> {}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while this lock is held (no user code runs under
    // it), but if one did, the inbox is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<A: Actor> ActorCell<A> {
    pub(crate) fn stash_capacity(&self) -> usize {
        self.header.stash_capacity as usize
    }

    /// Creates a child cell under `parent` and registers it there. The new
    /// cell starts scheduled: its first turn creates and starts the actor.
    pub(crate) fn spawn<P: Actor>(
        parent: &ActorCell<P>,
        name: Option<&str>,
        props: Props<A>,
    ) -> Result<ActorRef<A::Msg>, SpawnError> {
        let system = parent.header.system.clone();
        let id = system.next_actor_id();
        let name = match name {
            Some(n) => Name::parse(n)?,
            None => Name::Anonymous(id),
        };
        let cell = Self::new(id, name.clone(), Some(parent.any_ref()), system, props);
        let child = AnyRef(cell.clone());
        {
            let mut inbox = lock(&parent.inbox);
            if inbox.phase != Phase::Alive {
                return Err(SpawnError::ParentStopping);
            }
            if !inbox.extra().children.reserve(&name, child) {
                return Err(SpawnError::NameTaken(name.to_string()));
            }
        }
        let r = ActorRef::from_target(cell.clone());
        let system = cell.header.system.clone();
        system.start_actor(cell);
        Ok(r)
    }

    pub(crate) fn new(
        id: u64,
        name: Name,
        parent: Option<AnyRef>,
        system: Arc<SystemInner>,
        props: Props<A>,
    ) -> Arc<Self> {
        let mailbox = props.mailbox.unwrap_or(system.config.mailbox);
        let stash_capacity = props.stash_capacity.unwrap_or(system.config.stash_capacity);
        let stash_capacity = u32::try_from(stash_capacity).unwrap_or(u32::MAX);
        Arc::new_cyclic(|weak| ActorCell {
            header: Header {
                id,
                name,
                parent,
                system,
                limit: mailbox.limit(),
                stash_capacity,
                overflow: mailbox.overflow,
                system_pending: AtomicBool::new(false),
            },
            inbox: Mutex::new(Inbox::new()),
            runner: UnsafeCell::new(Runner {
                actor: None,
                factory: props.factory,
                ctx: Context::new(weak.as_ptr()),
                lifecycle: Lifecycle::Created,
                fresh: true,
            }),
        })
    }

    /// A counted reference to this cell.
    pub(crate) fn arc(&self) -> Arc<Self> {
        // SAFETY: every `ActorCell` is created by `new` inside an `Arc` and
        // never moved out of it, and `&self` proves a strong count >= 1.
        unsafe {
            let ptr = self as *const Self;
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    pub(crate) fn any_ref(&self) -> AnyRef {
        AnyRef(self.arc())
    }

    pub(crate) fn actor_ref(&self) -> ActorRef<A::Msg> {
        ActorRef::from_target(self.arc())
    }

    pub(crate) fn build_path(&self) -> ActorPath {
        match &self.header.parent {
            Some(p) => ActorPath::new(format!("{}/{}", p.path(), self.header.name)),
            None => ActorPath::new(format!("/{}", self.header.name)),
        }
    }

    fn schedule(self: Arc<Self>) {
        self.header.system.clone().spawn_turn(run_turn(self));
    }

    pub(crate) fn children(&self) -> Vec<AnyRef> {
        lock(&self.inbox)
            .extra
            .as_ref()
            .map(|e| e.children.all())
            .unwrap_or_default()
    }

    pub(crate) fn child(&self, name: &str) -> Option<AnyRef> {
        lock(&self.inbox)
            .extra
            .as_ref()
            .and_then(|e| e.children.get(name).cloned())
    }

    /// Enqueues a user envelope under the mailbox policy. `Err` gives back
    /// what could not be enqueued with the reason.
    fn push(&self, env: Envelope<A::Msg>) -> Result<(), (Envelope<A::Msg>, DeadLetterReason)> {
        let mut inbox = lock(&self.inbox);
        if inbox.phase != Phase::Alive {
            return Err((env, DeadLetterReason::Terminated));
        }
        if inbox.user.len() >= self.header.limit as usize {
            match self.header.overflow {
                OverflowPolicy::DropNewest => {
                    drop(inbox);
                    self.dead_letter(env.into_msg(), DeadLetterReason::MailboxFull);
                    return Ok(());
                }
                OverflowPolicy::DropOldest => {
                    let oldest = inbox.user.pop_front();
                    inbox.user.push_back(env);
                    drop(inbox);
                    if let Some(old) = oldest {
                        self.dead_letter(old.into_msg(), DeadLetterReason::MailboxFull);
                    }
                    return Ok(());
                }
                OverflowPolicy::Backpressure | OverflowPolicy::Fail => {
                    return Err((env, DeadLetterReason::MailboxFull));
                }
            }
        }
        inbox.user.push_back(env);
        // A suspended actor (failed, waiting for its parent) takes no user
        // messages; its next turn comes from the system message that
        // resumes or restarts it.
        if !inbox.scheduled && !inbox.suspended {
            inbox.scheduled = true;
            drop(inbox);
            self.arc().schedule();
        } else if let Some(turn) = inbox.parked.take() {
            drop(inbox);
            turn.wake();
        }
        Ok(())
    }

    pub(crate) fn tell_envelope(&self, env: Envelope<A::Msg>) {
        if let Err((env, reason)) = self.push(env) {
            self.dead_letter(env.into_msg(), reason);
        }
    }

    fn dead_letter(&self, msg: A::Msg, reason: DeadLetterReason) {
        self.header
            .system
            .dead_letter(|| self.any_ref(), std::any::type_name::<A::Msg>(), reason);
        drop(msg);
    }

    fn phase(&self) -> Phase {
        lock(&self.inbox).phase
    }
}

impl<A: Actor> Lingering for ActorCell<A> {
    fn evict(&self) {
        let mut inbox = lock(&self.inbox);
        inbox.lingering = false;
        let parked = inbox.parked.take();
        drop(inbox);
        if let Some(turn) = parked {
            turn.wake();
        }
    }
}

impl<A: Actor> ActorTarget for ActorCell<A> {
    fn uid(&self) -> ActorUid {
        ActorUid {
            system: self.header.system.uid,
            actor: self.header.id,
        }
    }

    fn path(&self) -> ActorPath {
        self.build_path()
    }

    fn send_system(&self, msg: SystemMessage) {
        let mut inbox = lock(&self.inbox);
        if inbox.phase == Phase::Terminated {
            drop(inbox);
            // Answer for the dead: a watch of a stopped actor is told at once.
            if let SystemMessage::Watch { watcher } = msg {
                watcher.send_system(SystemMessage::Terminated {
                    actor: self.any_ref(),
                });
            }
            return;
        }
        inbox.extra().system.push_back(msg);
        self.header.system_pending.store(true, Ordering::Release);
        if !inbox.scheduled {
            inbox.scheduled = true;
            drop(inbox);
            self.arc().schedule();
        } else if let Some(turn) = inbox.parked.take() {
            drop(inbox);
            turn.wake();
        }
    }

    fn is_terminated(&self) -> bool {
        self.phase() == Phase::Terminated
    }

    fn ask_timer(&self) -> Option<&AskTimer> {
        self.header.system.ask_timer()
    }
}

impl<A: Actor> MessageTarget<A::Msg> for ActorCell<A> {
    #[inline]
    fn tell(&self, msg: A::Msg) {
        self.tell_envelope(Envelope::User(msg))
    }

    fn try_tell(&self, msg: A::Msg) -> Result<(), TrySendError<A::Msg>> {
        self.push(Envelope::User(msg))
            .map_err(|(env, reason)| match reason {
                DeadLetterReason::MailboxFull => TrySendError::Full(env.into_msg()),
                _ => TrySendError::Closed(env.into_msg()),
            })
    }

    fn poll_send(
        &self,
        slot: &mut Option<A::Msg>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<(), SendError<A::Msg>>> {
        let Some(msg) = slot.take() else {
            return Poll::Ready(Ok(()));
        };
        match self.push(Envelope::User(msg)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err((env, DeadLetterReason::MailboxFull)) => {
                if self.header.overflow == OverflowPolicy::Fail {
                    return Poll::Ready(Err(SendError::Full(env.into_msg())));
                }
                let mut inbox = lock(&self.inbox);
                // Re-check under the lock so a turn that drained meanwhile
                // cannot miss this waker.
                if inbox.phase == Phase::Alive && inbox.user.len() >= self.header.limit as usize {
                    let waiters = &mut inbox.extra().waiting_senders;
                    if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                        waiters.push(cx.waker().clone());
                    }
                    *slot = Some(env.into_msg());
                    return Poll::Pending;
                }
                drop(inbox);
                *slot = Some(env.into_msg());
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Err((env, _)) => Poll::Ready(Err(SendError::Closed(env.into_msg()))),
        }
    }
}

/// One running turn's view of its cell: the methods live in `turn.rs`
/// (taking and handling messages) and `lifecycle.rs` (system messages,
/// supervision, stop and restart).
struct Turn<'a, A: Actor> {
    cell: &'a ActorCell<A>,
    runner: &'a mut Runner<A>,
    /// Messages taken from the mailbox for this turn, in order.
    batch: VecDeque<Envelope<A::Msg>>,
}
