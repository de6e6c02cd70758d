//! The future a sink (or a watcher) materializes to.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::error::{StreamError, StreamErrorKind};

/// Resolves when a materialized stream (or one stage of it) finishes:
/// `Ok` with the sink's result, or `Err` with the failure.
///
/// Dropping a `Completion` does not stop the stream. If the stream's task
/// ends without a result it resolves to [`StreamErrorKind::Abandoned`].
#[derive(Debug)]
#[must_use = "a completion tells whether the stream failed"]
pub struct Completion<T> {
    rx: oneshot::Receiver<Result<T, StreamError>>,
}

/// The sending half, kept by the stage that will know the result.
#[derive(Debug)]
pub(crate) struct Completer<T> {
    tx: oneshot::Sender<Result<T, StreamError>>,
}

impl<T> Completion<T> {
    pub(crate) fn new() -> (Completer<T>, Completion<T>) {
        let (tx, rx) = oneshot::channel();
        (Completer { tx }, Completion { rx })
    }

    /// A completion that has already resolved to `result`.
    pub fn ready(result: Result<T, StreamError>) -> Self {
        let (completer, completion) = Completion::new();
        completer.complete(result);
        completion
    }

    /// The result, if the stream has finished; `None` while it runs.
    pub fn try_result(&mut self) -> Option<Result<T, StreamError>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => {
                Some(Err(StreamErrorKind::Abandoned.into()))
            }
        }
    }
}

impl<T> Completer<T> {
    pub(crate) fn complete(self, result: Result<T, StreamError>) {
        // Nobody waiting for the result is normal.
        let _ = self.tx.send(result);
    }
}

impl<T> Future for Completion<T> {
    type Output = Result<T, StreamError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(StreamErrorKind::Abandoned.into())))
    }
}
