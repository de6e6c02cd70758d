//! `map_async` and `map_async_unordered`: up to `parallelism` futures in
//! flight, results in upstream order or in completion order.
//!
//! The stage pulls a new element only while fewer than `parallelism`
//! futures are running, so it never holds more than `parallelism` elements:
//! a slow downstream stops it from pulling.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{FuturesOrdered, FuturesUnordered, Stream, StreamExt};

use crate::elements::Elements;
use crate::error::StreamError;
use crate::ops::basic::decide;
use crate::supervision::{Decider, Supervision};

/// The set of running futures: ordered or not.
pub(crate) trait InFlight<Fut: Future>:
    Stream<Item = Fut::Output> + Unpin + Default
{
    fn push(&mut self, future: Fut);
    fn len(&self) -> usize;
}

impl<Fut: Future> InFlight<Fut> for FuturesOrdered<Fut> {
    fn push(&mut self, future: Fut) {
        self.push_back(future);
    }

    fn len(&self) -> usize {
        FuturesOrdered::len(self)
    }
}

impl<Fut: Future> InFlight<Fut> for FuturesUnordered<Fut> {
    fn push(&mut self, future: Fut) {
        FuturesUnordered::push(self, future);
    }

    fn len(&self) -> usize {
        FuturesUnordered::len(self)
    }
}

pub(crate) struct MapAsync<T, F, S> {
    /// `None` once upstream has completed (or failed).
    upstream: Option<Elements<T>>,
    f: Arc<F>,
    in_flight: S,
    parallelism: usize,
    /// Decides on failed futures; `None`: every failure stops the stage.
    decider: Option<Arc<Decider>>,
    /// Set after a failure has been emitted.
    failed: bool,
}

impl<T, F, S> MapAsync<T, F, S> {
    pub(crate) fn new(
        upstream: Elements<T>,
        f: Arc<F>,
        parallelism: usize,
        in_flight: S,
        decider: Option<Arc<Decider>>,
    ) -> Self {
        MapAsync {
            upstream: Some(upstream),
            f,
            in_flight,
            parallelism,
            decider,
            failed: false,
        }
    }
}

impl<T, U, F, Fut, S> Stream for MapAsync<T, F, S>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<U, StreamError>>,
    S: InFlight<Fut>,
{
    type Item = Result<U, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        loop {
            while this.in_flight.len() < this.parallelism {
                let Some(upstream) = this.upstream.as_mut() else {
                    break;
                };
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(item))) => this.in_flight.push((this.f)(item)),
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(this.fail(e))),
                    Poll::Ready(None) => this.upstream = None,
                    Poll::Pending => break,
                }
            }
            match this.in_flight.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(out))) => return Poll::Ready(Some(Ok(out))),
                Poll::Ready(Some(Err(e))) => {
                    if decide(this.decider.as_deref(), &e) == Supervision::Stop {
                        return Poll::Ready(Some(this.fail(e)));
                    }
                    // Resumed: the element is dropped; look for the next.
                }
                // Nothing in flight: done if upstream is, else upstream's
                // waker is registered.
                Poll::Ready(None) if this.upstream.is_none() => return Poll::Ready(None),
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<T, F, S: Default> MapAsync<T, F, S> {
    /// Fails the stage: cancels upstream and the futures still running.
    fn fail<U>(&mut self, e: StreamError) -> Result<U, StreamError> {
        self.failed = true;
        self.upstream = None;
        self.in_flight = S::default();
        Err(e)
    }
}

/// The `via_fn` stage of the `map_async` family: results in upstream order
/// (`ordered`) or in completion order.
pub(crate) fn map_async<T, U, Fut, F>(
    parallelism: usize,
    ordered: bool,
    decider: Option<Arc<Decider>>,
    f: F,
) -> impl Fn(Elements<T>) -> Elements<U> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    Fut: Future<Output = Result<U, StreamError>> + Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| -> Elements<U> {
        if ordered {
            Box::pin(MapAsync::new(
                upstream,
                f.clone(),
                parallelism,
                FuturesOrdered::new(),
                decider.clone(),
            ))
        } else {
            Box::pin(MapAsync::new(
                upstream,
                f.clone(),
                parallelism,
                FuturesUnordered::new(),
                decider.clone(),
            ))
        }
    }
}
