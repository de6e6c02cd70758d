//! Batching stages: `grouped` (by count) and `grouped_within` (by count or
//! time, whichever comes first).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::Stream;
use tokio::time::{Instant, Sleep};

use crate::elements::Elements;
use crate::error::StreamError;

pub(crate) struct Grouped<T> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) size: usize,
    pub(crate) group: Vec<T>,
}

// Elements are held by value and never pinned.
impl<T> Unpin for Grouped<T> {}

impl<T> Stream for Grouped<T> {
    type Item = Result<Vec<T>, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match std::task::ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    this.group.push(item);
                    if this.group.len() >= this.size {
                        let group =
                            std::mem::replace(&mut this.group, Vec::with_capacity(this.size));
                        return Poll::Ready(Some(Ok(group)));
                    }
                }
                Some(Err(e)) => {
                    this.upstream = None;
                    this.group = Vec::new();
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.upstream = None;
                    let group = std::mem::take(&mut this.group);
                    return Poll::Ready((!group.is_empty()).then_some(Ok(group)));
                }
            }
        }
    }
}

pub(crate) struct GroupedWithin<T> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) size: usize,
    pub(crate) window: Duration,
    pub(crate) group: Vec<T>,
    /// Armed when the first element of a group arrives; created on first use.
    pub(crate) timer: Option<Pin<Box<Sleep>>>,
}

// Elements are held by value and never pinned.
impl<T> Unpin for GroupedWithin<T> {}

impl<T> GroupedWithin<T> {
    fn emit(&mut self) -> Poll<Option<Result<Vec<T>, StreamError>>> {
        let group = std::mem::replace(&mut self.group, Vec::with_capacity(self.size));
        Poll::Ready(Some(Ok(group)))
    }
}

impl<T> Stream for GroupedWithin<T> {
    type Item = Result<Vec<T>, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        while let Some(upstream) = this.upstream.as_mut() {
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    if this.group.is_empty() {
                        let deadline = Instant::now() + this.window;
                        match this.timer.as_mut() {
                            Some(timer) => timer.as_mut().reset(deadline),
                            None => this.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
                        }
                    }
                    this.group.push(item);
                    if this.group.len() >= this.size {
                        return this.emit();
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.upstream = None;
                    this.group = Vec::new();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => this.upstream = None,
                Poll::Pending => break,
            }
        }
        if this.group.is_empty() {
            return if this.upstream.is_none() {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        }
        if this.upstream.is_none() {
            return this.emit();
        }
        let expired = match this.timer.as_mut() {
            Some(timer) => timer.as_mut().poll(cx).is_ready(),
            None => false,
        };
        if expired { this.emit() } else { Poll::Pending }
    }
}

pub(crate) struct Sliding<T> {
    pub(crate) upstream: Option<Elements<T>>,
    pub(crate) size: usize,
    pub(crate) step: usize,
    pub(crate) window: std::collections::VecDeque<T>,
    /// Elements in `window` not yet part of an emitted window.
    pub(crate) fresh: usize,
    /// Upstream elements to discard before filling (when `step > size`).
    pub(crate) skip: usize,
}

// Elements are held by value and never pinned.
impl<T> Unpin for Sliding<T> {}

impl<T: Clone> Stream for Sliding<T> {
    type Item = Result<Vec<T>, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match std::task::ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(_)) if this.skip > 0 => this.skip -= 1,
                Some(Ok(item)) => {
                    this.window.push_back(item);
                    this.fresh += 1;
                    if this.window.len() == this.size {
                        let out: Vec<T> = this.window.iter().cloned().collect();
                        let advance = this.step.min(this.size);
                        this.window.drain(..advance);
                        this.skip = this.step - advance;
                        this.fresh = 0;
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Some(Err(e)) => {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.upstream = None;
                    // A last, shorter window only if it holds new elements.
                    if this.fresh == 0 {
                        return Poll::Ready(None);
                    }
                    let out: Vec<T> = this.window.drain(..).collect();
                    return Poll::Ready(Some(Ok(out)));
                }
            }
        }
    }
}

// Stage factories for `StreamOps`: each returns the `via_fn` stage.

pub(crate) fn grouped<T: Send + 'static>(
    size: usize,
) -> impl Fn(Elements<T>) -> Elements<Vec<T>> + Send + Sync + 'static {
    move |upstream| {
        Box::pin(Grouped {
            upstream: Some(upstream),
            size,
            group: Vec::with_capacity(size),
        })
    }
}

pub(crate) fn grouped_within<T: Send + 'static>(
    size: usize,
    window: Duration,
) -> impl Fn(Elements<T>) -> Elements<Vec<T>> + Send + Sync + 'static {
    move |upstream| {
        Box::pin(GroupedWithin {
            upstream: Some(upstream),
            size,
            window,
            group: Vec::with_capacity(size),
            timer: None,
        })
    }
}

pub(crate) fn sliding<T: Clone + Send + 'static>(
    size: usize,
    step: usize,
) -> impl Fn(Elements<T>) -> Elements<Vec<T>> + Send + Sync + 'static {
    move |upstream| {
        Box::pin(Sliding {
            upstream: Some(upstream),
            size,
            step,
            window: std::collections::VecDeque::with_capacity(size),
            fresh: 0,
            skip: 0,
        })
    }
}
