//! `keep_alive`: injects an element when upstream has been quiet too long.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::Stream;
use tokio::time::{Instant, Sleep};

use crate::elements::Elements;
use crate::error::StreamError;

pub(crate) struct KeepAlive<T, F> {
    upstream: Option<Elements<T>>,
    make: Arc<F>,
    max_idle: Duration,
    /// Due when the next injected element is; created on the first pull.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<T, F> KeepAlive<T, F> {
    pub(crate) fn new(upstream: Elements<T>, max_idle: Duration, make: Arc<F>) -> Self {
        KeepAlive {
            upstream: Some(upstream),
            make,
            max_idle,
            timer: None,
        }
    }
}

impl<T, F: Fn() -> T> Stream for KeepAlive<T, F> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        let max_idle = this.max_idle;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(max_idle)));
        match upstream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(item))) => {
                timer.as_mut().reset(Instant::now() + max_idle);
                Poll::Ready(Some(Ok(item)))
            }
            Poll::Ready(end) => {
                this.upstream = None;
                Poll::Ready(end)
            }
            Poll::Pending => {
                if timer.as_mut().poll(cx).is_ready() {
                    timer.as_mut().reset(Instant::now() + max_idle);
                    return Poll::Ready(Some(Ok((this.make)())));
                }
                Poll::Pending
            }
        }
    }
}

/// The `via_fn` stage of `keep_alive`.
pub(crate) fn keep_alive<T, F>(
    max_idle: Duration,
    make: F,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    F: Fn() -> T + Send + Sync + 'static,
{
    let make = Arc::new(make);
    move |upstream| Box::pin(KeepAlive::new(upstream, max_idle, make.clone()))
}
