//! Element-wise stages: map, try_map, filter, filter_map, take, skip,
//! take_while.
//!
//! Each holds the upstream `Elements` (which is `Unpin`) and the user
//! function behind an `Arc`, shared by all materializations of a blueprint.
//! Stages that finish early drop their upstream at once: that is how
//! cancellation reaches the source.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;
use crate::supervision::{Decider, Supervision};

pub(crate) struct Map<T, F> {
    pub(crate) upstream: Elements<T>,
    pub(crate) f: Arc<F>,
}

impl<T, U, F: Fn(T) -> U> Stream for Map<T, F> {
    type Item = Result<U, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = ready!(this.upstream.as_mut().poll_next(cx));
        Poll::Ready(item.map(|r| r.map(&*this.f)))
    }
}

pub(crate) struct TryMap<T, F> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) f: Arc<F>,
    /// `None`: every error stops the stage.
    pub(crate) decider: Option<Arc<Decider>>,
}

impl<T, U, E, F> Stream for TryMap<T, F>
where
    F: Fn(T) -> Result<U, E>,
    E: std::error::Error + Send + Sync + 'static,
{
    type Item = Result<U, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            let error = match ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => match (this.f)(item) {
                    Ok(out) => return Poll::Ready(Some(Ok(out))),
                    Err(e) => StreamError::failed(e),
                },
                Some(Err(e)) => {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => return Poll::Ready(None),
            };
            if decide(this.decider.as_deref(), &error) == Supervision::Stop {
                this.upstream = None;
                return Poll::Ready(Some(Err(error)));
            }
        }
    }
}

/// The decision for a failure of a stage's own function.
pub(crate) fn decide(decider: Option<&Decider>, error: &StreamError) -> Supervision {
    decider.map_or(Supervision::Stop, |decide| decide(error))
}

pub(crate) struct FilterMap<T, F> {
    pub(crate) upstream: Elements<T>,
    pub(crate) f: Arc<F>,
}

impl<T, U, F: Fn(T) -> Option<U>> Stream for FilterMap<T, F> {
    type Item = Result<U, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match ready!(this.upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    if let Some(out) = (this.f)(item) {
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

pub(crate) struct Filter<T, F> {
    pub(crate) upstream: Elements<T>,
    pub(crate) f: Arc<F>,
}

impl<T, F: Fn(&T) -> bool> Stream for Filter<T, F> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match ready!(this.upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) if !(this.f)(&item) => continue,
                other => return Poll::Ready(other),
            }
        }
    }
}

pub(crate) struct Take<T> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) remaining: u64,
}

impl<T> Stream for Take<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            this.upstream = None;
        }
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        let item = ready!(upstream.as_mut().poll_next(cx));
        this.remaining -= 1;
        if this.remaining == 0 || !matches!(item, Some(Ok(_))) {
            // Done: cancel upstream now rather than on the next pull.
            this.upstream = None;
        }
        Poll::Ready(item)
    }
}

pub(crate) struct Skip<T> {
    pub(crate) upstream: Elements<T>,
    pub(crate) remaining: u64,
}

impl<T> Stream for Skip<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let item = ready!(this.upstream.as_mut().poll_next(cx));
            match item {
                Some(Ok(_)) if this.remaining > 0 => this.remaining -= 1,
                other => return Poll::Ready(other),
            }
        }
    }
}

pub(crate) struct TakeWhile<T, F> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) f: Arc<F>,
}

impl<T, F: Fn(&T) -> bool> Stream for TakeWhile<T, F> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(upstream.as_mut().poll_next(cx)) {
            Some(Ok(item)) if (this.f)(&item) => Poll::Ready(Some(Ok(item))),
            Some(Ok(_)) | None => {
                this.upstream = None;
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                this.upstream = None;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

pub(crate) struct StatefulFilterMap<T, S, F> {
    pub(crate) upstream: Elements<T>,
    pub(crate) state: S,
    pub(crate) f: Arc<F>,
}

// The state is held by value and never pinned.
impl<T, S, F> Unpin for StatefulFilterMap<T, S, F> {}

impl<T, U, S, F: Fn(&mut S, T) -> Option<U>> Stream for StatefulFilterMap<T, S, F> {
    type Item = Result<U, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match ready!(this.upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    if let Some(out) = (this.f)(&mut this.state, item) {
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

pub(crate) struct TryStatefulFilterMap<T, S, Init, F> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) init: Arc<Init>,
    pub(crate) state: S,
    pub(crate) f: Arc<F>,
    pub(crate) decider: Arc<Decider>,
}

// The state is held by value and never pinned.
impl<T, S, Init, F> Unpin for TryStatefulFilterMap<T, S, Init, F> {}

impl<T, U, E, S, Init, F> Stream for TryStatefulFilterMap<T, S, Init, F>
where
    Init: Fn() -> S,
    F: Fn(&mut S, T) -> Result<Option<U>, E>,
    E: std::error::Error + Send + Sync + 'static,
{
    type Item = Result<U, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            let error = match ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => match (this.f)(&mut this.state, item) {
                    Ok(Some(out)) => return Poll::Ready(Some(Ok(out))),
                    Ok(None) => continue,
                    Err(e) => StreamError::failed(e),
                },
                Some(Err(e)) => {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => return Poll::Ready(None),
            };
            match (this.decider)(&error) {
                Supervision::Stop => {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(error)));
                }
                Supervision::Resume => {}
                Supervision::Restart => this.state = (this.init)(),
            }
        }
    }
}

// Stage factories for `StreamOps`: each returns the `via_fn` stage.

pub(crate) fn map<T, U, F>(f: F) -> impl Fn(Elements<T>) -> Elements<U> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(Map {
            upstream,
            f: f.clone(),
        })
    }
}

pub(crate) fn try_map<T, U, E, F>(
    f: F,
    decider: Option<Arc<Decider>>,
) -> impl Fn(Elements<T>) -> Elements<U> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
    F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(TryMap {
            upstream: Some(upstream),
            f: f.clone(),
            decider: decider.clone(),
        })
    }
}

pub(crate) fn filter<T, F>(f: F) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    F: Fn(&T) -> bool + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(Filter {
            upstream,
            f: f.clone(),
        })
    }
}

pub(crate) fn filter_map<T, U, F>(
    f: F,
) -> impl Fn(Elements<T>) -> Elements<U> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> Option<U> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(FilterMap {
            upstream,
            f: f.clone(),
        })
    }
}

pub(crate) fn stateful_filter_map<T, S, U, Init, F>(
    init: Init,
    f: F,
) -> impl Fn(Elements<T>) -> Elements<U> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    S: Send + 'static,
    Init: Fn() -> S + Send + Sync + 'static,
    F: Fn(&mut S, T) -> Option<U> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(StatefulFilterMap {
            upstream,
            state: init(),
            f: f.clone(),
        })
    }
}

pub(crate) fn try_stateful_filter_map<T, S, U, E, Init, F>(
    init: Init,
    decider: Arc<Decider>,
    f: F,
) -> impl Fn(Elements<T>) -> Elements<U> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    S: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
    Init: Fn() -> S + Send + Sync + 'static,
    F: Fn(&mut S, T) -> Result<Option<U>, E> + Send + Sync + 'static,
{
    let (init, f) = (Arc::new(init), Arc::new(f));
    move |upstream| {
        Box::pin(TryStatefulFilterMap {
            upstream: Some(upstream),
            state: init(),
            init: init.clone(),
            f: f.clone(),
            decider: decider.clone(),
        })
    }
}

pub(crate) fn take<T: Send + 'static>(
    n: u64,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static {
    move |upstream| {
        Box::pin(Take {
            upstream: Some(upstream),
            remaining: n,
        })
    }
}

pub(crate) fn skip<T: Send + 'static>(
    n: u64,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static {
    move |upstream| {
        Box::pin(Skip {
            upstream,
            remaining: n,
        })
    }
}

pub(crate) fn take_while<T, F>(f: F) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    F: Fn(&T) -> bool + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        Box::pin(TakeWhile {
            upstream: Some(upstream),
            f: f.clone(),
        })
    }
}
