//! The reply half of `ask`.

use std::fmt;

use tokio::sync::oneshot;

/// Where to send the answer to an `ask`.
///
/// Put it in the request message; the actor calls [`ReplyTo::send`] once.
/// Dropping it without answering makes the asker fail fast with
/// [`AskError::NoReply`](crate::AskError::NoReply) instead of waiting for the
/// timeout.
pub struct ReplyTo<R> {
    tx: oneshot::Sender<R>,
}

impl<R> ReplyTo<R> {
    pub(crate) fn new(tx: oneshot::Sender<R>) -> Self {
        ReplyTo { tx }
    }

    /// Creates a reply handle and the receiver of its answer, for code that
    /// builds requests by hand (tests, bridges to other runtimes).
    pub fn channel() -> (Self, oneshot::Receiver<R>) {
        let (tx, rx) = oneshot::channel();
        (ReplyTo { tx }, rx)
    }

    /// Sends the answer. Returns it back if the asker is gone (it timed out
    /// or was dropped), which is normal and usually ignored.
    pub fn send(self, value: R) -> Result<(), R> {
        self.tx.send(value)
    }

    /// True if the asker stopped waiting.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("closed", &self.is_closed())
            .finish()
    }
}
