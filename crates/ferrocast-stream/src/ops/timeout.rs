//! Timeouts: `idle_timeout` (between elements) and `completion_timeout`
//! (for the whole stream). Both start on the first pull and fail the stream
//! with a typed error, cancelling upstream.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::Stream;
use tokio::time::{Instant, Sleep};

use crate::elements::Elements;
use crate::error::{StreamError, StreamErrorKind};

/// Which timeout a [`Timeout`] stage enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// Restarted by every element.
    Idle,
    /// Set once.
    Completion,
}

pub(crate) struct Timeout<T> {
    upstream: Option<Elements<T>>,
    kind: Kind,
    after: Duration,
    /// Created on the first pull.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<T> Timeout<T> {
    pub(crate) fn new(upstream: Elements<T>, kind: Kind, after: Duration) -> Self {
        Timeout {
            upstream: Some(upstream),
            kind,
            after,
            timer: None,
        }
    }

    fn error(&self) -> StreamError {
        match self.kind {
            Kind::Idle => StreamErrorKind::IdleTimeout(self.after).into(),
            Kind::Completion => StreamErrorKind::CompletionTimeout(self.after).into(),
        }
    }
}

impl<T> Stream for Timeout<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        let after = this.after;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
        // The whole-stream deadline wins even over a ready upstream.
        if matches!(this.kind, Kind::Completion) && timer.as_mut().poll(cx).is_ready() {
            this.upstream = None;
            return Poll::Ready(Some(Err(this.error())));
        }
        match upstream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(item))) => {
                if matches!(this.kind, Kind::Idle) {
                    timer.as_mut().reset(Instant::now() + after);
                }
                Poll::Ready(Some(Ok(item)))
            }
            Poll::Ready(end) => {
                this.upstream = None;
                Poll::Ready(end)
            }
            Poll::Pending => {
                if timer.as_mut().poll(cx).is_ready() {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(this.error())));
                }
                Poll::Pending
            }
        }
    }
}

/// The `via_fn` stage of `idle_timeout` and `completion_timeout`.
pub(crate) fn timeout<T: Send + 'static>(
    kind: Kind,
    after: Duration,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static {
    move |upstream| Box::pin(Timeout::new(upstream, kind, after))
}
