//! `watch_termination`: learn how a stream ended at one point in it.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::stream::Stream;

use crate::completion::{Completer, Completion};
use crate::elements::Elements;
use crate::error::StreamError;
use crate::flow::Flow;

/// How a stream ended at a `watch_termination` stage, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// Upstream completed.
    Completed,
    /// Downstream cancelled (dropped the stream) before upstream ended.
    Cancelled,
}

impl<T: Send + 'static> Flow<T, T, Completion<Termination>> {
    /// A pass-through stage whose materialized [`Completion`] resolves when
    /// the stream ends here: [`Termination::Completed`],
    /// [`Termination::Cancelled`], or the failure that passed through.
    pub fn watch_termination() -> Self {
        Flow::from_materializer(|upstream| {
            let (completer, completion) = Completion::new();
            let stage: Elements<T> = Box::pin(Watch {
                upstream,
                completer: Some(completer),
            });
            (stage, completion)
        })
    }
}

struct Watch<T> {
    upstream: Elements<T>,
    /// Taken when the outcome is known.
    completer: Option<Completer<Termination>>,
}

impl<T> Stream for Watch<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.completer.is_none() {
            return Poll::Ready(None);
        }
        let item = ready!(this.upstream.as_mut().poll_next(cx));
        let outcome = match &item {
            Some(Ok(_)) => return Poll::Ready(item),
            Some(Err(e)) => Err(e.clone()),
            None => Ok(Termination::Completed),
        };
        if let Some(completer) = this.completer.take() {
            completer.complete(outcome);
        }
        Poll::Ready(item)
    }
}

impl<T> Drop for Watch<T> {
    fn drop(&mut self) {
        if let Some(completer) = self.completer.take() {
            completer.complete(Ok(Termination::Cancelled));
        }
    }
}
