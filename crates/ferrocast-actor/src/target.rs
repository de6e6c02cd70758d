//! The contract behind every actor reference.
//!
//! [`ActorRef<M>`](crate::ActorRef) and [`AnyRef`] are thin handles over a
//! [`MessageTarget`] / [`ActorTarget`]. Local actor cells implement them here;
//! test probes (ferrocast-testkit) and remote references (ferrocast-remote)
//! implement them too, which is what makes death watch and `ask` work the same
//! whatever is behind a reference.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::actor_ref::{SendError, TrySendError};
use crate::deadline::AskTimer;
use crate::path::ActorPath;
use crate::supervision::Failure;

/// Identity of an actor incarnation: the system it lives in and its id there.
///
/// Two references are equal exactly when their `ActorUid`s are equal; a new
/// actor that reuses a path gets a new uid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ActorUid {
    /// The uid of the actor system (changes on every start of a system).
    pub system: u64,
    /// The actor's id inside its system, never reused.
    pub actor: u64,
}

/// Messages the runtime sends to actors about their lifecycle.
///
/// They travel on a separate, unbounded queue that is processed before user
/// messages, so a full mailbox never blocks a stop or a death notification.
#[derive(Debug)]
#[non_exhaustive]
pub enum SystemMessage {
    /// Stop the actor: its children stop first, then its `stopped` hook runs.
    Stop,
    /// `watcher` wants a [`SystemMessage::Terminated`] when this actor stops.
    Watch {
        /// Who is watching.
        watcher: AnyRef,
    },
    /// `watcher` no longer wants to be told.
    Unwatch {
        /// Who stops watching.
        watcher: AnyRef,
    },
    /// `actor`, which the receiver watched (or is the receiver's child), stopped.
    Terminated {
        /// The actor that stopped.
        actor: AnyRef,
    },
    /// A child failed and waits for its parent's decision.
    Failed {
        /// The failed child.
        child: AnyRef,
        /// What went wrong.
        failure: Failure,
    },
    /// The parent's decision for a failed child: go on with the next message.
    Resume,
    /// The parent's decision for a failed child: restart after `delay`.
    Restart {
        /// Backoff before the new instance is created.
        delay: Duration,
    },
    /// Internal: the backoff of a restart elapsed.
    #[doc(hidden)]
    RestartNow,
}

/// Something an actor reference can point at, untyped.
pub trait ActorTarget: Send + Sync + 'static {
    /// The identity of this incarnation.
    fn uid(&self) -> ActorUid;
    /// The path, for logs and people.
    fn path(&self) -> ActorPath;
    /// Delivers a system message; never blocks and never drops while the
    /// target is alive.
    fn send_system(&self, msg: SystemMessage);
    /// True once the target has stopped for good.
    fn is_terminated(&self) -> bool;

    /// The deadline keeper `ask` uses for this target, if it belongs to an
    /// actor system; without one, `ask` falls back to a tokio timer.
    fn ask_timer(&self) -> Option<&AskTimer> {
        None
    }
}

/// Something that accepts messages of type `M`.
pub trait MessageTarget<M>: ActorTarget {
    /// Fire and forget. A closed target or a full mailbox sends the message
    /// to dead letters (after applying the overflow policy).
    fn tell(&self, msg: M);

    /// Never waits: a full mailbox whose policy is to wait or fail gives the
    /// message back.
    fn try_tell(&self, msg: M) -> Result<(), TrySendError<M>>;

    /// Enqueues `slot`'s message, or registers `cx`'s waker and returns
    /// `Pending` (keeping the message in `slot`) when the mailbox is full and
    /// its policy is to make senders wait.
    fn poll_send(
        &self,
        slot: &mut Option<M>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<M>>>;
}

/// An untyped reference: for death watch, supervision and listings where the
/// message type does not matter.
#[derive(Clone)]
pub struct AnyRef(pub(crate) Arc<dyn ActorTarget>);

impl AnyRef {
    /// Wraps a custom target (a probe, a remote reference).
    pub fn from_target(target: Arc<dyn ActorTarget>) -> Self {
        AnyRef(target)
    }

    /// The identity of the referenced incarnation.
    pub fn uid(&self) -> ActorUid {
        self.0.uid()
    }

    /// The referenced actor's path.
    pub fn path(&self) -> ActorPath {
        self.0.path()
    }

    /// True once the referenced actor has stopped.
    pub fn is_terminated(&self) -> bool {
        self.0.is_terminated()
    }

    /// Sends a system message (used by runtimes and transports).
    pub fn send_system(&self, msg: SystemMessage) {
        self.0.send_system(msg)
    }
}

impl From<&AnyRef> for AnyRef {
    fn from(r: &AnyRef) -> Self {
        r.clone()
    }
}

impl PartialEq for AnyRef {
    fn eq(&self, other: &Self) -> bool {
        self.uid() == other.uid()
    }
}

impl Eq for AnyRef {}

impl Hash for AnyRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uid().hash(state)
    }
}

impl fmt::Display for AnyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.path(), f)
    }
}

impl fmt::Debug for AnyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyRef({}#{})", self.path(), self.uid().actor)
    }
}
