//! `delay`: shifts every element by a fixed time, keeping order.
//!
//! Up to `capacity` elements wait in the stage, each due `by` after it
//! arrived; when that many are waiting the stage stops pulling, so
//! upstream is back-pressured instead of the stage growing.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::Stream;
use tokio::time::{Instant, Sleep};

use crate::elements::Elements;
use crate::error::StreamError;

pub(crate) struct Delay<T> {
    upstream: Option<Elements<T>>,
    by: Duration,
    capacity: usize,
    /// Waiting elements with their due times, oldest first.
    waiting: VecDeque<(Instant, T)>,
    /// Upstream's failure, emitted after the elements before it.
    failure: Option<StreamError>,
    /// Due time of the head; created on first use.
    timer: Option<Pin<Box<Sleep>>>,
}

// Elements are held by value and never pinned.
impl<T> Unpin for Delay<T> {}

impl<T> Delay<T> {
    pub(crate) fn new(upstream: Elements<T>, by: Duration, capacity: usize) -> Self {
        Delay {
            upstream: Some(upstream),
            by,
            capacity,
            waiting: VecDeque::with_capacity(capacity.min(1024)),
            failure: None,
            timer: None,
        }
    }
}

impl<T> Stream for Delay<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        while this.waiting.len() < this.capacity {
            let Some(upstream) = this.upstream.as_mut() else {
                break;
            };
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    this.waiting.push_back((Instant::now() + this.by, item))
                }
                Poll::Ready(Some(Err(e))) => {
                    this.upstream = None;
                    this.failure = Some(e);
                }
                Poll::Ready(None) => this.upstream = None,
                Poll::Pending => break,
            }
        }
        let Some(&(due, _)) = this.waiting.front() else {
            return match this.failure.take() {
                Some(e) => Poll::Ready(Some(Err(e))),
                None if this.upstream.is_none() => Poll::Ready(None),
                None => Poll::Pending,
            };
        };
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        if timer.deadline() != due {
            timer.as_mut().reset(due);
        }
        std::task::ready!(timer.as_mut().poll(cx));
        Poll::Ready(this.waiting.pop_front().map(|(_, item)| Ok(item)))
    }
}

/// The `via_fn` stage of `delay`.
pub(crate) fn delay<T: Send + 'static>(
    by: Duration,
    capacity: usize,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static {
    move |upstream| Box::pin(Delay::new(upstream, by, capacity))
}
