//! `batch` and `conflate`: aggregate the elements that are already there
//! when downstream pulls.
//!
//! In a fused stream upstream only runs when pulled, so these stages
//! aggregate only what is *ready*: they matter behind a `buffer`, a queue
//! or actor source, or any upstream that produces on its own, and let a
//! slow downstream take many elements at once instead of back-pressuring
//! the producer.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;

pub(crate) struct Batch<T, S, Seed, Agg> {
    upstream: Option<Elements<T>>,
    max: usize,
    seed: Arc<Seed>,
    aggregate: Arc<Agg>,
    /// A failure seen after some elements were aggregated; emitted next.
    failure: Option<StreamError>,
    _batch: std::marker::PhantomData<fn() -> S>,
}

impl<T, S, Seed, Agg> Batch<T, S, Seed, Agg> {
    pub(crate) fn new(
        upstream: Elements<T>,
        max: usize,
        seed: Arc<Seed>,
        aggregate: Arc<Agg>,
    ) -> Self {
        Batch {
            upstream: Some(upstream),
            max,
            seed,
            aggregate,
            failure: None,
            _batch: std::marker::PhantomData,
        }
    }
}

impl<T, S, Seed, Agg> Stream for Batch<T, S, Seed, Agg>
where
    Seed: Fn(T) -> S,
    Agg: Fn(S, T) -> S,
{
    type Item = Result<S, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(e) = this.failure.take() {
            return Poll::Ready(Some(Err(e)));
        }
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        // Wait for the first element, then take what else is ready.
        let mut batch = match std::task::ready!(upstream.as_mut().poll_next(cx)) {
            Some(Ok(item)) => (this.seed)(item),
            end => {
                this.upstream = None;
                return Poll::Ready(end.map(|r| r.map(|t| (this.seed)(t))));
            }
        };
        let mut taken = 1;
        while taken < this.max {
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    batch = (this.aggregate)(batch, item);
                    taken += 1;
                }
                Poll::Ready(Some(Err(e))) => {
                    // Emit what was aggregated, then the failure.
                    this.upstream = None;
                    this.failure = Some(e);
                    break;
                }
                Poll::Ready(None) => {
                    this.upstream = None;
                    break;
                }
                Poll::Pending => break,
            }
        }
        Poll::Ready(Some(Ok(batch)))
    }
}

/// The `via_fn` stage of `batch` (and `conflate`).
pub(crate) fn batch<T, S, Seed, Agg>(
    max: usize,
    seed: Seed,
    aggregate: Agg,
) -> impl Fn(Elements<T>) -> Elements<S> + Send + Sync + 'static
where
    T: Send + 'static,
    S: Send + 'static,
    Seed: Fn(T) -> S + Send + Sync + 'static,
    Agg: Fn(S, T) -> S + Send + Sync + 'static,
{
    let (seed, aggregate) = (Arc::new(seed), Arc::new(aggregate));
    move |upstream| Box::pin(Batch::new(upstream, max, seed.clone(), aggregate.clone()))
}
