//! `throttle`: a token bucket that delays elements (shaping), with costs and
//! a burst allowance.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::Stream;
use tokio::time::{Instant, Sleep};

use crate::elements::Elements;
use crate::error::StreamError;

/// The rate of a `throttle` stage: `cost` tokens per `per`, with a bucket
/// of `burst` tokens that starts full.
///
/// An element costs one token (or what the cost function of
/// `throttle_weighted` says). An element whose tokens are not there waits
/// until they are; the stage holds at most that one element, so upstream is
/// back-pressured while it waits. An element costing more than `burst`
/// still passes, after waiting for the tokens it lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    interval: Duration,
    burst: u32,
}

/// A throttle rate that cannot be enforced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid throttle: {cost} per {per:?} leaves no time between tokens")]
pub struct InvalidThrottle {
    /// The requested tokens per period.
    pub cost: u32,
    /// The requested period.
    pub per: Duration,
}

impl Throttle {
    /// `cost` tokens per `per`, no burst beyond one period's worth being
    /// spread out: the bucket holds `cost` tokens. Fails when `per / cost`
    /// is zero.
    pub fn new(cost: NonZeroU32, per: Duration) -> Result<Self, InvalidThrottle> {
        let interval = per / cost.get();
        if interval.is_zero() {
            return Err(InvalidThrottle {
                cost: cost.get(),
                per,
            });
        }
        Ok(Throttle {
            interval,
            burst: cost.get(),
        })
    }

    /// Sets the bucket size: how many tokens may be spent at once after a
    /// quiet period (0: every element waits its turn).
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// The time one token takes to arrive.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The bucket size.
    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// Token bucket bookkeeping (the algorithm of Akka's `TokenBucket`): tokens
/// arrive one per `interval` up to `capacity`; an element that finds too
/// few tokens goes into debt and waits for them.
#[derive(Debug)]
struct Bucket {
    interval: Duration,
    capacity: u64,
    tokens: u64,
    /// When the last token was added (or, in debt, when the debt is paid).
    last: Instant,
}

impl Bucket {
    fn new(throttle: Throttle, now: Instant) -> Self {
        Bucket {
            interval: throttle.interval,
            capacity: u64::from(throttle.burst),
            tokens: u64::from(throttle.burst),
            last: now,
        }
    }

    /// Takes `cost` tokens; returns how long the element must wait.
    fn offer(&mut self, cost: u64, now: Instant) -> Duration {
        self.refill(now);
        if cost <= self.tokens {
            self.tokens -= cost;
            return Duration::ZERO;
        }
        let missing = cost - self.tokens;
        let since_last = now.saturating_duration_since(self.last);
        let owed = mul(self.interval, missing);
        let delay = owed.saturating_sub(since_last);
        self.tokens = 0;
        self.last = now + delay;
        delay
    }

    fn refill(&mut self, now: Instant) {
        if now <= self.last {
            return;
        }
        let elapsed = now - self.last;
        let arrived = (elapsed.as_nanos() / self.interval.as_nanos()) as u64;
        if arrived > 0 {
            self.last += mul(self.interval, arrived);
            self.tokens = self.tokens.saturating_add(arrived).min(self.capacity);
        }
    }
}

/// `interval * n`, saturating instead of overflowing.
fn mul(interval: Duration, n: u64) -> Duration {
    let nanos = interval.as_nanos().saturating_mul(u128::from(n));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

pub(crate) struct ThrottleStage<T, C> {
    upstream: Option<Elements<T>>,
    cost: Arc<C>,
    throttle: Throttle,
    /// Created on first poll, so the bucket starts when the stream does.
    bucket: Option<Bucket>,
    /// The element waiting for its tokens.
    held: Option<T>,
    timer: Option<Pin<Box<Sleep>>>,
}

// Elements are held by value and never pinned.
impl<T, C> Unpin for ThrottleStage<T, C> {}

impl<T, C> ThrottleStage<T, C> {
    pub(crate) fn new(upstream: Elements<T>, throttle: Throttle, cost: Arc<C>) -> Self {
        ThrottleStage {
            upstream: Some(upstream),
            cost,
            throttle,
            bucket: None,
            held: None,
            timer: None,
        }
    }
}

impl<T, C: Fn(&T) -> u32> Stream for ThrottleStage<T, C> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.held.is_none() {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match std::task::ready!(upstream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    let now = Instant::now();
                    let throttle = this.throttle;
                    let bucket = this
                        .bucket
                        .get_or_insert_with(|| Bucket::new(throttle, now));
                    let delay = bucket.offer(u64::from((this.cost)(&item)), now);
                    if delay.is_zero() {
                        return Poll::Ready(Some(Ok(item)));
                    }
                    this.held = Some(item);
                    let deadline = now + delay;
                    match this.timer.as_mut() {
                        Some(timer) => timer.as_mut().reset(deadline),
                        None => this.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                }
                other => {
                    this.upstream = None;
                    return Poll::Ready(other);
                }
            }
        }
        if let Some(timer) = this.timer.as_mut() {
            std::task::ready!(timer.as_mut().poll(cx));
        }
        Poll::Ready(this.held.take().map(Ok))
    }
}

/// The `via_fn` stage of `throttle_weighted`.
pub(crate) fn throttle<T, C>(
    throttle: Throttle,
    cost: C,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    C: Fn(&T) -> u32 + Send + Sync + 'static,
{
    let cost = Arc::new(cost);
    move |upstream| Box::pin(ThrottleStage::new(upstream, throttle, cost.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_spaces_elements() {
        let start = Instant::now();
        let throttle =
            Throttle::new(NonZeroU32::MIN, Duration::from_millis(100)).map(|t| t.with_burst(2));
        let Ok(throttle) = throttle else {
            panic!("valid throttle rejected");
        };
        let mut bucket = Bucket::new(throttle, start);
        assert_eq!(bucket.offer(1, start), Duration::ZERO);
        assert_eq!(bucket.offer(1, start), Duration::ZERO);
        assert_eq!(bucket.offer(1, start), Duration::from_millis(100));
        // The next one pays after the previous debt.
        let later = start + Duration::from_millis(100);
        assert_eq!(bucket.offer(1, later), Duration::from_millis(100));
        // A long pause refills up to the burst only.
        let much_later = start + Duration::from_secs(10);
        assert_eq!(bucket.offer(2, much_later), Duration::ZERO);
        assert_eq!(bucket.offer(1, much_later), Duration::from_millis(100));
    }

    #[test]
    fn zero_interval_is_rejected() {
        let per = Duration::from_nanos(3);
        let cost = NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN);
        assert_eq!(
            Throttle::new(cost, per),
            Err(InvalidThrottle { cost: 10, per })
        );
    }
}
