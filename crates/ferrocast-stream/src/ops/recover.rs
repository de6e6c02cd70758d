//! `recover`: turns a failure into a last element.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;
use crate::source::Source;

pub(crate) struct Recover<T, F> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) f: Arc<F>,
}

impl<T, F: Fn(&StreamError) -> Option<T>> Stream for Recover<T, F> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(upstream.as_mut().poll_next(cx)) {
            Some(Ok(item)) => Poll::Ready(Some(Ok(item))),
            Some(Err(e)) => {
                this.upstream = None;
                Poll::Ready(Some((this.f)(&e).ok_or(e)))
            }
            None => {
                this.upstream = None;
                Poll::Ready(None)
            }
        }
    }
}

pub(crate) struct RecoverWithRetries<T, F> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) f: Arc<F>,
    /// Switches left; `None` means unlimited.
    pub(crate) attempts: Option<u32>,
}

impl<T, M, C, X, F> Stream for RecoverWithRetries<T, F>
where
    T: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: crate::fuse::Chain<In = X, Out = T>,
    F: Fn(&StreamError) -> Option<crate::Source<T, M, C, X>>,
{
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => return Poll::Ready(Some(Ok(item))),
                Some(Err(e)) => {
                    let next = match this.attempts {
                        Some(0) => None,
                        _ => (this.f)(&e),
                    };
                    let Some(next) = next else {
                        this.upstream = None;
                        return Poll::Ready(Some(Err(e)));
                    };
                    if let Some(n) = this.attempts.as_mut() {
                        *n -= 1;
                    }
                    this.upstream = Some(next.materialize().0);
                }
                None => {
                    this.upstream = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

// Stage factories for `StreamOps`: each returns the `via_fn` stage.

pub(crate) fn recover<T, F>(f: F) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    F: Fn(&StreamError) -> Option<T> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(Recover {
            upstream: Some(upstream),
            f: f.clone(),
        })
    }
}

pub(crate) fn recover_with_retries<T, M, C, X, F>(
    attempts: Option<u32>,
    f: F,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: crate::fuse::Chain<In = X, Out = T>,
    F: Fn(&StreamError) -> Option<Source<T, M, C, X>> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(RecoverWithRetries {
            upstream: Some(upstream),
            f: f.clone(),
            attempts,
        })
    }
}
