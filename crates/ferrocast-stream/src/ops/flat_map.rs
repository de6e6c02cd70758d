//! Substream stages: `flat_map_concat` (one inner source at a time) and
//! `flat_map_merge` (up to `breadth` inner sources at once).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{SelectAll, Stream, StreamExt};

use crate::elements::Elements;
use crate::error::StreamError;
use crate::fuse::Chain;
use crate::source::Source;

pub(crate) struct FlatMapConcat<T, U, F> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) f: Arc<F>,
    /// The inner stream being emitted.
    pub(crate) inner: Option<Elements<U>>,
}

impl<T, U, F> FlatMapConcat<T, U, F> {
    fn fail(&mut self, e: StreamError) -> Poll<Option<Result<U, StreamError>>> {
        self.upstream = None;
        self.inner = None;
        Poll::Ready(Some(Err(e)))
    }
}

impl<T, U, M, C, X, F> Stream for FlatMapConcat<T, U, F>
where
    U: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = U>,
    F: Fn(T) -> Source<U, M, C, X>,
{
    type Item = Result<U, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(inner) = this.inner.as_mut() {
                match std::task::ready!(inner.as_mut().poll_next(cx)) {
                    Some(Ok(item)) => return Poll::Ready(Some(Ok(item))),
                    Some(Err(e)) => return this.fail(e),
                    None => this.inner = None,
                }
            }
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match std::task::ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => this.inner = Some((this.f)(item).materialize().0),
                Some(Err(e)) => return this.fail(e),
                None => this.upstream = None,
            }
        }
    }
}

pub(crate) struct FlatMapMerge<T, U, F> {
    upstream: Option<Elements<T>>,
    f: Arc<F>,
    inners: SelectAll<Elements<U>>,
    breadth: usize,
}

impl<T, U, F> FlatMapMerge<T, U, F> {
    pub(crate) fn new(upstream: Elements<T>, f: Arc<F>, breadth: usize) -> Self {
        FlatMapMerge {
            upstream: Some(upstream),
            f,
            inners: SelectAll::new(),
            breadth,
        }
    }

    fn fail(&mut self, e: StreamError) -> Poll<Option<Result<U, StreamError>>> {
        self.upstream = None;
        self.inners = SelectAll::new();
        Poll::Ready(Some(Err(e)))
    }
}

impl<T, U, M, C, X, F> Stream for FlatMapMerge<T, U, F>
where
    U: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = U>,
    F: Fn(T) -> Source<U, M, C, X>,
{
    type Item = Result<U, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            // True when upstream's waker is registered for this poll.
            let mut upstream_waiting = false;
            while this.inners.len() < this.breadth {
                let Some(upstream) = this.upstream.as_mut() else {
                    break;
                };
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(item))) => this.inners.push((this.f)(item).materialize().0),
                    Poll::Ready(Some(Err(e))) => return this.fail(e),
                    Poll::Ready(None) => this.upstream = None,
                    Poll::Pending => {
                        upstream_waiting = true;
                        break;
                    }
                }
            }
            let running = this.inners.len();
            match this.inners.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(item))) => return Poll::Ready(Some(Ok(item))),
                Poll::Ready(Some(Err(e))) => return this.fail(e),
                Poll::Ready(None) if this.upstream.is_none() => return Poll::Ready(None),
                _ => {}
            }
            // Inner streams that ended freed slots: pull upstream again,
            // unless it is already known to have nothing.
            let freed = this.inners.len() < running || this.inners.is_empty();
            if !(freed && this.upstream.is_some() && !upstream_waiting) {
                return Poll::Pending;
            }
        }
    }
}

// Stage factories for `StreamOps`: each returns the `via_fn` stage.

pub(crate) fn flat_map_concat<T, U, M, C, X, F>(
    f: F,
) -> impl Fn(Elements<T>) -> Elements<U> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = U>,
    F: Fn(T) -> Source<U, M, C, X> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(FlatMapConcat {
            upstream: Some(upstream),
            f: f.clone(),
            inner: None,
        })
    }
}

pub(crate) fn flat_map_merge<T, U, M, C, X, F>(
    breadth: usize,
    f: F,
) -> impl Fn(Elements<T>) -> Elements<U> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = U>,
    F: Fn(T) -> Source<U, M, C, X> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| Box::pin(FlatMapMerge::new(upstream, f.clone(), breadth))
}
