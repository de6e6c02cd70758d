//! The erased element stream that flows between stages.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::Stream;

use crate::error::StreamError;

/// The stream one stage hands to the next: elements as `Ok`, then either the
/// end of the stream or exactly one `Err` after which it ends.
///
/// Every operator keeps that shape, which is how failure propagates
/// downstream; dropping an `Elements` cancels everything upstream of it.
pub type Elements<T> = Pin<Box<dyn Stream<Item = Result<T, StreamError>> + Send + 'static>>;

/// A stream that fails at once with `error`.
pub(crate) fn failed<T: Send + 'static>(error: StreamError) -> Elements<T> {
    Box::pin(futures_util::stream::once(std::future::ready(Err(error))))
}

/// Ends a plugged-in stream after its first error, so that the `Elements`
/// shape holds whatever the stream does after failing.
pub(crate) struct UntilError<S> {
    inner: Option<Pin<Box<S>>>,
}

impl<S> UntilError<S> {
    pub(crate) fn new(inner: S) -> Self {
        UntilError {
            inner: Some(Box::pin(inner)),
        }
    }
}

impl<S, T> Stream for UntilError<S>
where
    S: Stream<Item = Result<T, StreamError>>,
{
    type Item = Result<T, StreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let item = std::task::ready!(inner.as_mut().poll_next(cx));
        if !matches!(item, Some(Ok(_))) {
            // Dropping the stream now releases what it holds.
            self.inner = None;
        }
        Poll::Ready(item)
    }
}
