//! Typed actor references and the errors of sending to them.

use std::fmt;
use std::future::poll_fn;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::deadline::WithDeadline;
use crate::path::ActorPath;
use crate::reply::ReplyTo;
use crate::target::{ActorUid, AnyRef, MessageTarget};

/// A reference to an actor that accepts messages of type `M`.
///
/// Cheap to clone (one reference count), comparable and hashable by the
/// identity of the actor incarnation, and printed as its path. The same type
/// points at local actors, message adapters, test probes and (later) remote
/// actors, with the same semantics: at most once, ordered per sender and
/// receiver.
pub struct ActorRef<M> {
    pub(crate) target: Arc<dyn MessageTarget<M>>,
}

impl<M: Send + 'static> ActorRef<M> {
    /// Wraps a custom target (a probe, a remote reference).
    pub fn from_target(target: Arc<dyn MessageTarget<M>>) -> Self {
        ActorRef { target }
    }

    /// Sends a message without waiting: fire and forget.
    ///
    /// If the actor has stopped, or its bounded mailbox is full and the
    /// overflow policy does not admit the message, the message goes to dead
    /// letters, where it is counted, logged (rate-limited) and published.
    #[inline]
    pub fn tell(&self, msg: M) {
        self.target.tell(msg)
    }

    /// Sends without waiting, giving the message back when it cannot be
    /// enqueued: the actor stopped, or the mailbox is full under the
    /// `Backpressure` or `Fail` policy.
    #[inline]
    pub fn try_tell(&self, msg: M) -> Result<(), TrySendError<M>> {
        self.target.try_tell(msg)
    }

    /// Sends, waiting for mailbox capacity when the mailbox is full and its
    /// policy is `Backpressure`. Under the other policies this never waits.
    pub async fn send(&self, msg: M) -> Result<(), SendError<M>> {
        let mut slot = Some(msg);
        poll_fn(|cx| self.target.poll_send(&mut slot, cx)).await
    }

    /// Sends a request built around a [`ReplyTo`] and waits for the answer,
    /// at most `timeout` (which includes waiting for mailbox capacity).
    ///
    /// ```
    /// # use ferrocast_actor::*;
    /// # use std::time::Duration;
    /// # enum CounterMsg { Get(ReplyTo<u64>) }
    /// # async fn demo(counter: ActorRef<CounterMsg>) -> Result<(), AskError> {
    /// let value: u64 = counter.ask(CounterMsg::Get, Duration::from_secs(1)).await?;
    /// # let _ = value; Ok(()) }
    /// ```
    pub async fn ask<R>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, AskError> {
        let (tx, mut rx) = oneshot::channel();
        let msg = make(ReplyTo::new(tx));
        let deadline = tokio::time::Instant::now() + timeout;
        match self.try_tell(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(msg)) => {
                // Waiting for capacity is the rare path: a plain timer will do.
                match tokio::time::timeout_at(deadline, self.send(msg)).await {
                    Ok(sent) => sent.map_err(AskError::from)?,
                    Err(_) => return Err(AskError::Timeout(timeout)),
                }
            }
            Err(TrySendError::Closed(_)) => return Err(AskError::Terminated),
        }
        let reply = match self.target.ask_timer() {
            Some(timer) => WithDeadline::new(&mut rx, deadline, timer).await.ok(),
            None => tokio::time::timeout_at(deadline, &mut rx).await.ok(),
        };
        match reply {
            Some(Ok(value)) => Ok(value),
            Some(Err(_)) if self.target.is_terminated() => Err(AskError::Terminated),
            Some(Err(_)) => Err(AskError::NoReply),
            None => Err(AskError::Timeout(timeout)),
        }
    }

    /// The referenced actor's path.
    pub fn path(&self) -> ActorPath {
        self.target.path()
    }

    /// The identity of the referenced incarnation.
    pub fn uid(&self) -> ActorUid {
        self.target.uid()
    }

    /// True once the referenced actor has stopped for good.
    pub fn is_terminated(&self) -> bool {
        self.target.is_terminated()
    }

    /// An untyped reference to the same actor (for watch and listings).
    pub fn as_any(&self) -> AnyRef {
        AnyRef(self.target.clone())
    }
}

impl<M> Clone for ActorRef<M> {
    fn clone(&self) -> Self {
        ActorRef {
            target: self.target.clone(),
        }
    }
}

impl<M: Send + 'static> From<ActorRef<M>> for AnyRef {
    fn from(r: ActorRef<M>) -> Self {
        AnyRef(r.target)
    }
}

impl<M: Send + 'static> From<&ActorRef<M>> for AnyRef {
    fn from(r: &ActorRef<M>) -> Self {
        r.as_any()
    }
}

impl<M: 'static> PartialEq for ActorRef<M> {
    fn eq(&self, other: &Self) -> bool {
        self.target.uid() == other.target.uid()
    }
}

impl<M: 'static> Eq for ActorRef<M> {}

impl<M: 'static> Hash for ActorRef<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.target.uid().hash(state)
    }
}

impl<M: 'static> fmt::Display for ActorRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.target.path(), f)
    }
}

impl<M: 'static> fmt::Debug for ActorRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ActorRef({}#{})",
            self.target.path(),
            self.target.uid().actor
        )
    }
}

/// Why [`ActorRef::try_tell`] did not enqueue; the message comes back.
#[derive(PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<M> {
    /// The mailbox is full and its policy is to wait or to fail.
    #[error("mailbox full")]
    Full(M),
    /// The actor has stopped.
    #[error("actor terminated")]
    Closed(M),
}

impl<M> TrySendError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            TrySendError::Full(m) | TrySendError::Closed(m) => m,
        }
    }
}

impl<M> fmt::Debug for TrySendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// Why [`ActorRef::send`] did not enqueue; the message comes back.
#[derive(PartialEq, Eq, thiserror::Error)]
pub enum SendError<M> {
    /// The mailbox is full and its policy is to fail.
    #[error("mailbox full")]
    Full(M),
    /// The actor has stopped.
    #[error("actor terminated")]
    Closed(M),
}

impl<M> SendError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            SendError::Full(m) | SendError::Closed(m) => m,
        }
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("Full(..)"),
            SendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// Why an `ask` got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// No answer within the timeout.
    #[error("ask timed out after {0:?}")]
    Timeout(Duration),
    /// The target stopped before it answered.
    #[error("target actor terminated")]
    Terminated,
    /// The target's mailbox is full and its policy is to fail.
    #[error("target mailbox full")]
    MailboxFull,
    /// The target dropped the [`ReplyTo`] without answering.
    #[error("target dropped the request without replying")]
    NoReply,
}

impl<M> From<SendError<M>> for AskError {
    fn from(e: SendError<M>) -> Self {
        match e {
            SendError::Full(_) => AskError::MailboxFull,
            SendError::Closed(_) => AskError::Terminated,
        }
    }
}
