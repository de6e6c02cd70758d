//! The reply half of `ask`.

use std::cell::Cell;
use std::fmt;

use tokio::sync::oneshot;

/// Where a [`ReplyTo`] delivers its answer when it is not a local `ask`:
/// a transport (ferrocast-remote sends the answer back over the network) or
/// a bridge to another runtime.
pub trait ReplySink<R>: Send {
    /// Delivers the answer; gives it back if nobody can receive it.
    fn send(self: Box<Self>, value: R) -> Result<(), R>;
    /// True if the asker is known to have stopped waiting.
    fn is_closed(&self) -> bool {
        false
    }
}

enum Inner<R> {
    Local(oneshot::Sender<R>),
    Custom(Box<dyn ReplySink<R>>),
}

/// Where to send the answer to an `ask`.
///
/// Put it in the request message; the actor calls [`ReplyTo::send`] once.
/// Dropping it without answering makes the asker fail fast with
/// [`AskError::NoReply`](crate::AskError::NoReply) instead of waiting for the
/// timeout.
///
/// A `ReplyTo` is `Send` but not `Sync`: it is owned by one message at a
/// time. With the `serde` feature it serializes (inside a transport's scope,
/// see [`transport`](crate::transport)) so that a request can cross the
/// network and its answer come back.
pub struct ReplyTo<R> {
    // A `Cell` so that serialization, which only sees `&self`, can move the
    // sender out (the request is then answered through the transport).
    inner: Cell<Option<Inner<R>>>,
}

impl<R> ReplyTo<R> {
    pub(crate) fn new(tx: oneshot::Sender<R>) -> Self {
        ReplyTo {
            inner: Cell::new(Some(Inner::Local(tx))),
        }
    }

    /// Creates a reply handle and the receiver of its answer, for code that
    /// builds requests by hand (tests, bridges to other runtimes).
    pub fn channel() -> (Self, oneshot::Receiver<R>) {
        let (tx, rx) = oneshot::channel();
        (ReplyTo::new(tx), rx)
    }

    /// A reply handle that delivers to `sink` (transports, bridges).
    pub fn from_sink(sink: Box<dyn ReplySink<R>>) -> Self {
        ReplyTo {
            inner: Cell::new(Some(Inner::Custom(sink))),
        }
    }

    /// Sends the answer. Returns it back if the asker is gone (it timed out
    /// or was dropped), which is normal and usually ignored.
    pub fn send(self, value: R) -> Result<(), R> {
        match self.inner.into_inner() {
            Some(Inner::Local(tx)) => tx.send(value),
            Some(Inner::Custom(sink)) => sink.send(value),
            None => Err(value),
        }
    }

    /// True if the asker stopped waiting.
    pub fn is_closed(&self) -> bool {
        let inner = self.inner.take();
        let closed = match &inner {
            Some(Inner::Local(tx)) => tx.is_closed(),
            Some(Inner::Custom(sink)) => sink.is_closed(),
            None => true,
        };
        self.inner.set(inner);
        closed
    }

    /// Moves the answer channel out, leaving this handle answered-elsewhere
    /// (used when the request is serialized for another node).
    #[cfg(feature = "serde")]
    pub(crate) fn take(&self) -> Option<ReplyTo<R>> {
        self.inner.take().map(|inner| ReplyTo {
            inner: Cell::new(Some(inner)),
        })
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(std::sync::Arc<std::sync::Mutex<Vec<u32>>>);

    impl ReplySink<u32> for Collect {
        fn send(self: Box<Self>, value: u32) -> Result<(), u32> {
            self.0.lock().map_err(|_| value)?.push(value);
            Ok(())
        }
    }

    #[test]
    fn custom_sinks_receive_the_answer() {
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let reply = ReplyTo::from_sink(Box::new(Collect(got.clone())));
        assert!(!reply.is_closed());
        assert_eq!(reply.send(7), Ok(()));
        assert_eq!(*got.lock().unwrap_or_else(|e| e.into_inner()), vec![7]);
    }

    #[test]
    fn local_channel_reports_closed_and_gives_the_answer_back() {
        let (reply, rx) = ReplyTo::<u32>::channel();
        assert!(!reply.is_closed());
        drop(rx);
        assert!(reply.is_closed());
        assert_eq!(reply.send(3), Err(3));
    }
}
