//! Accumulating stages: scan (every intermediate value), fold and reduce
//! (the final value only).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;

pub(crate) struct Scan<T, A, F> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) f: Arc<F>,
    /// The value to emit next time (the zero first), then the running total.
    pub(crate) acc: Option<A>,
    pub(crate) zero_emitted: bool,
}

// Elements are held by value and never pinned.
impl<T, A, F> Unpin for Scan<T, A, F> {}

impl<T, A: Clone, F: Fn(A, T) -> A> Stream for Scan<T, A, F> {
    type Item = Result<A, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.zero_emitted {
            this.zero_emitted = true;
            if let Some(zero) = this.acc.clone() {
                return Poll::Ready(Some(Ok(zero)));
            }
        }
        let (Some(upstream), Some(acc)) = (this.upstream.as_mut(), this.acc.as_mut()) else {
            return Poll::Ready(None);
        };
        match ready!(upstream.as_mut().poll_next(cx)) {
            Some(Ok(item)) => {
                let next = (this.f)(acc.clone(), item);
                *acc = next.clone();
                Poll::Ready(Some(Ok(next)))
            }
            Some(Err(e)) => {
                this.upstream = None;
                this.acc = None;
                Poll::Ready(Some(Err(e)))
            }
            None => {
                this.upstream = None;
                this.acc = None;
                Poll::Ready(None)
            }
        }
    }
}

pub(crate) struct Fold<T, A, F> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) f: Arc<F>,
    pub(crate) acc: Option<A>,
}

// Elements are held by value and never pinned.
impl<T, A, F> Unpin for Fold<T, A, F> {}

impl<T, A, F: Fn(A, T) -> A> Stream for Fold<T, A, F> {
    type Item = Result<A, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    if let Some(acc) = this.acc.take() {
                        this.acc = Some((this.f)(acc, item));
                    }
                }
                Some(Err(e)) => {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.upstream = None;
                    return Poll::Ready(this.acc.take().map(Ok));
                }
            }
        }
    }
}

pub(crate) struct Reduce<T, F> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) f: Arc<F>,
    pub(crate) acc: Option<T>,
}

// Elements are held by value and never pinned.
impl<T, F> Unpin for Reduce<T, F> {}

impl<T, F: Fn(T, T) -> T> Stream for Reduce<T, F> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    this.acc = Some(match this.acc.take() {
                        Some(acc) => (this.f)(acc, item),
                        None => item,
                    });
                }
                Some(Err(e)) => {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.upstream = None;
                    return Poll::Ready(this.acc.take().map(Ok));
                }
            }
        }
    }
}

// Stage factories for `StreamOps`: each returns the `via_fn` stage.

pub(crate) fn scan<T, A, F>(
    zero: A,
    f: F,
) -> impl Fn(Elements<T>) -> Elements<A> + Send + Sync + 'static
where
    T: Send + 'static,
    A: Clone + Send + Sync + 'static,
    F: Fn(A, T) -> A + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(Scan {
            upstream: Some(upstream),
            f: f.clone(),
            acc: Some(zero.clone()),
            zero_emitted: false,
        })
    }
}

pub(crate) fn fold<T, A, F>(
    zero: A,
    f: F,
) -> impl Fn(Elements<T>) -> Elements<A> + Send + Sync + 'static
where
    T: Send + 'static,
    A: Clone + Send + Sync + 'static,
    F: Fn(A, T) -> A + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(Fold {
            upstream: Some(upstream),
            f: f.clone(),
            acc: Some(zero.clone()),
        })
    }
}

pub(crate) fn reduce<T, F>(f: F) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(Reduce {
            upstream: Some(upstream),
            f: f.clone(),
            acc: None,
        })
    }
}
