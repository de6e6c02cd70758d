//! Operator semantics, run on tokio with paused time.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::{Instant, sleep};

use crate::test_support::{Boom, kind, ms, nz};
use crate::{
    Flow, Keep, OverflowStrategy, QueueOfferResult, Sink, Source, StreamError, StreamErrorKind,
    StreamOps, Termination, Throttle,
};

#[tokio::test(start_paused = true)]
async fn element_wise_operators_compose_and_blueprints_rerun() {
    let source = Source::iter(1..=20u32)
        .map(|n| n * 3)
        .filter(|n| n % 2 == 0)
        .filter_map(|n| (n != 12).then_some(n / 2))
        .skip(1)
        .take_while(|n| *n < 20)
        .take(10);
    assert_eq!(
        source.clone().run_collect().await.ok(),
        Some(vec![9, 12, 15, 18])
    );
    // A blueprint runs again from scratch.
    assert_eq!(source.run_collect().await.ok(), Some(vec![9, 12, 15, 18]));
    let endless = Source::iter(1..).take(3).run_collect();
    assert_eq!(endless.await.ok(), Some(vec![1, 2, 3]));
}

#[tokio::test(start_paused = true)]
async fn take_zero_and_skip_all() {
    assert_eq!(
        Source::iter(1..=3).take(0).run_collect().await.ok(),
        Some(vec![])
    );
    assert_eq!(
        Source::iter(1..=3).skip(5).run_collect().await.ok(),
        Some(vec![])
    );
}

#[tokio::test(start_paused = true)]
async fn operator_error_fails_downstream_and_cancels_upstream() {
    let (upstream_end, result) = Source::iter(1..=10u32)
        .via_mat(Flow::watch_termination(), Keep::right)
        .try_map(|n| if n == 3 { Err(Boom(n)) } else { Ok(n) })
        .map(|n| n * 10)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    let err = result.await.err();
    assert_eq!(
        err.as_ref()
            .and_then(|e| e.downcast_ref::<Boom>())
            .map(|b| b.0),
        Some(3)
    );
    // The failing stage dropped its upstream: the source was cancelled.
    assert_eq!(upstream_end.await.ok(), Some(Termination::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn source_failure_reaches_the_sink_and_elements_before_it_pass() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let stream = futures_util::stream::iter(vec![Ok(1), Ok(2), Err(Boom(7)), Ok(4)]);
    let result = Source::from_try_stream(stream)
        .map(|n: u32| n + 1)
        .run_foreach(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .await;
    assert!(matches!(&result, Err(e) if e.downcast_ref::<Boom>().is_some()));
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn map_async_keeps_order_and_bounds_parallelism() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    let start = Instant::now();
    let out = Source::iter(0..12u64)
        .map_async(nz(3), move |n| {
            let (r, p) = (r.clone(), p.clone());
            async move {
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                // Later elements finish first within each window.
                sleep(ms(100 - n * 5)).await;
                r.fetch_sub(1, Ordering::SeqCst);
                n
            }
        })
        .run_collect()
        .await;
    assert_eq!(out.ok(), Some((0..12).collect::<Vec<_>>()));
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    // Parallel, not sequential: well under 12 * ~70 ms.
    assert!(start.elapsed() < ms(500), "took {:?}", start.elapsed());
}

#[tokio::test(start_paused = true)]
async fn map_async_unordered_emits_in_completion_order() {
    let out = Source::iter([30u64, 10, 20])
        .map_async_unordered(nz(3), |n| async move {
            sleep(ms(n)).await;
            n
        })
        .run_collect()
        .await;
    assert_eq!(out.ok(), Some(vec![10, 20, 30]));
}

#[tokio::test(start_paused = true)]
async fn failed_future_fails_the_stream() {
    let out = Source::iter(1..=5u32)
        .try_map_async(nz(2), |n| async move {
            if n == 2 {
                Err(StreamError::msg("bad"))
            } else {
                Ok(n)
            }
        })
        .run_collect()
        .await;
    assert!(matches!(kind(out), Some(StreamErrorKind::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn scan_fold_reduce() {
    let scan = Source::iter(1..=4).scan(0, |a, n| a + n).run_collect();
    assert_eq!(scan.await.ok(), Some(vec![0, 1, 3, 6, 10]));
    let fold = Source::iter(1..=4).fold(100, |a, n| a + n).run_collect();
    assert_eq!(fold.await.ok(), Some(vec![110]));
    let empty_fold = Source::<u32>::empty().fold(7, |a, n| a + n).run_collect();
    assert_eq!(empty_fold.await.ok(), Some(vec![7]));
    let reduce = Source::iter(1..=4).reduce(|a, b| a * b).run_collect();
    assert_eq!(reduce.await.ok(), Some(vec![24]));
    let empty_reduce = Source::<u32>::empty().reduce(|a, b| a + b).run_collect();
    assert_eq!(empty_reduce.await.ok(), Some(vec![]));
    let empty_scan = Source::<u32>::empty().scan(5, |a, n| a + n).run_collect();
    assert_eq!(empty_scan.await.ok(), Some(vec![5]));
}

#[tokio::test(start_paused = true)]
async fn grouped_by_count() {
    let out = Source::iter(1..=7).grouped(nz(3)).run_collect().await;
    assert_eq!(out.ok(), Some(vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]));
}

#[tokio::test(start_paused = true)]
async fn grouped_within_emits_on_count_or_time() {
    let (queue, groups) = Source::queue(nz(16), OverflowStrategy::Backpressure)
        .grouped_within(nz(3), ms(100))
        .map(|g| (g, Instant::now()))
        .to_mat(Sink::collect(), Keep::both)
        .run();
    let start = Instant::now();
    for n in 1..=4 {
        queue.offer(n).await;
    }
    sleep(ms(250)).await;
    queue.offer(5).await;
    sleep(ms(30)).await;
    queue.offer(6).await;
    drop(queue);
    let groups = groups.await.unwrap_or_default();
    let shape: Vec<(Vec<i32>, Duration)> =
        groups.into_iter().map(|(g, at)| (g, at - start)).collect();
    assert_eq!(
        shape,
        vec![
            (vec![1, 2, 3], ms(0)), // full
            (vec![4], ms(100)),     // window of its first element
            (vec![5, 6], ms(280)),  // upstream completed
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn throttle_allows_burst_then_spaces_elements() {
    let Ok(throttle) = Throttle::new(NonZeroU32::MIN, ms(100)).map(|t| t.with_burst(2)) else {
        panic!("valid throttle rejected");
    };
    let start = Instant::now();
    let times = Source::iter(0..5)
        .throttle(throttle)
        .map(move |_| start.elapsed())
        .run_collect()
        .await;
    assert_eq!(
        times.ok(),
        Some(vec![ms(0), ms(0), ms(100), ms(200), ms(300)])
    );
}

#[tokio::test(start_paused = true)]
async fn throttle_weighted_charges_cost() {
    let Ok(throttle) = Throttle::new(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN), ms(1000))
        .map(|t| t.with_burst(0))
    else {
        panic!("valid throttle rejected");
    };
    let start = Instant::now();
    let times = Source::iter([1u32, 5, 2])
        .throttle_weighted(throttle, |n| *n)
        .map(move |_| start.elapsed())
        .run_collect()
        .await;
    // 100 ms per token: 1, then 5, then 2 tokens.
    assert_eq!(times.ok(), Some(vec![ms(100), ms(600), ms(800)]));
}

/// Runs 1..=100 through `buffer(4, strategy)` and collects what survives.
async fn through_buffer(strategy: OverflowStrategy, last: u32) -> Result<Vec<u32>, StreamError> {
    Source::iter(1..=last)
        .buffer(nz(4), strategy)
        .run_collect()
        .await
}

#[tokio::test(start_paused = true)]
async fn buffer_overflow_strategies() {
    // The upstream task fills the buffer before the consumer runs again.
    let bp = through_buffer(OverflowStrategy::Backpressure, 100).await;
    assert_eq!(bp.ok(), Some((1..=100).collect()));
    let head = through_buffer(OverflowStrategy::DropHead, 100).await;
    assert_eq!(head.ok(), Some(vec![97, 98, 99, 100]));
    let tail = through_buffer(OverflowStrategy::DropTail, 100).await;
    assert_eq!(tail.ok(), Some(vec![1, 2, 3, 100]));
    let new = through_buffer(OverflowStrategy::DropNew, 100).await;
    assert_eq!(new.ok(), Some(vec![1, 2, 3, 4]));
    let all = through_buffer(OverflowStrategy::DropBuffer, 99).await;
    assert_eq!(all.ok(), Some(vec![97, 98, 99]));
    let fail = through_buffer(OverflowStrategy::Fail, 100).await;
    assert!(matches!(
        kind(fail),
        Some(StreamErrorKind::BufferOverflow { capacity: 4 })
    ));
}

/// Counts elements between the source and the sink.
#[derive(Debug, Default)]
struct InFlight {
    produced: AtomicUsize,
    consumed: AtomicUsize,
    peak: AtomicUsize,
}

impl InFlight {
    fn produce(&self) {
        let produced = self.produced.fetch_add(1, Ordering::SeqCst) + 1;
        let in_flight = produced - self.consumed.load(Ordering::SeqCst);
        self.peak.fetch_max(in_flight, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn slow_sink_bounds_memory_through_buffer_and_map_async() {
    let count = Arc::new(InFlight::default());
    let (p, c) = (count.clone(), count.clone());
    let done = Source::iter(0..1_000u32)
        .map(move |n| {
            p.produce();
            n
        })
        .buffer(nz(8), OverflowStrategy::Backpressure)
        .map_async(nz(4), |n| async move { n })
        .map_async(nz(1), |n| async move {
            sleep(ms(10)).await; // the slow consumer
            n
        })
        .run_foreach(move |_| {
            c.consumed.fetch_add(1, Ordering::SeqCst);
        });
    assert!(done.await.is_ok());
    assert_eq!(count.consumed.load(Ordering::SeqCst), 1_000);
    // buffer 8 + one in the buffer's hand + 4 in the first map_async + 1 in
    // the slow stage, at most.
    let peak = count.peak.load(Ordering::SeqCst);
    assert!(peak <= 8 + 1 + 4 + 1, "peak in flight {peak}");
    assert!(
        peak >= 8,
        "the buffer should fill while the sink is slow: {peak}"
    );
}

#[tokio::test(start_paused = true)]
async fn merge_takes_both_and_completes_when_both_do() {
    let ticks = |step: u64, tag: u32| {
        Source::iter(0..3u64).map_async(nz(1), move |n| async move {
            sleep(ms(step)).await;
            tag * 10 + n as u32
        })
    };
    let out = ticks(10, 1).merge(ticks(25, 2)).run_collect().await;
    assert_eq!(out.ok(), Some(vec![10, 11, 20, 12, 21, 22]));
}

#[tokio::test(start_paused = true)]
async fn merge_fails_when_either_input_fails() {
    let out = Source::iter(1..=3)
        .merge(Source::failed(StreamError::msg("right failed")))
        .run_collect()
        .await;
    assert!(matches!(kind(out), Some(StreamErrorKind::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn zip_and_concat() {
    let zip = Source::iter(1..=3)
        .zip(Source::iter(["a", "b"]))
        .run_collect();
    assert_eq!(zip.await.ok(), Some(vec![(1, "a"), (2, "b")]));
    let concat = Source::iter(1..=2)
        .concat(Source::iter(7..=8))
        .run_collect();
    assert_eq!(concat.await.ok(), Some(vec![1, 2, 7, 8]));
}

#[tokio::test(start_paused = true)]
async fn recover_emits_a_last_element() {
    let out = Source::iter(1..=5u32)
        .try_map(|n| if n == 3 { Err(Boom(n)) } else { Ok(n) })
        .recover(|e| e.downcast_ref::<Boom>().map(|b| b.0 * 100))
        .run_collect()
        .await;
    assert_eq!(out.ok(), Some(vec![1, 2, 300]));
    let unrecovered = Source::<u32>::failed(StreamError::msg("x"))
        .recover(|_| None)
        .run_collect();
    assert!(unrecovered.await.is_err());
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_fails_a_stalled_stream() {
    let (queue, result) = Source::queue(nz(4), OverflowStrategy::Backpressure)
        .idle_timeout(ms(100))
        .to_mat(Sink::collect(), Keep::both)
        .run();
    queue.offer(1).await;
    sleep(ms(90)).await;
    queue.offer(2).await;
    sleep(ms(90)).await; // still alive: the timer restarted at 2
    queue.offer(3).await;
    let start = Instant::now();
    let out = result.await;
    assert!(matches!(kind(out), Some(StreamErrorKind::IdleTimeout(d)) if d == ms(100)));
    assert_eq!(start.elapsed(), ms(100));
    // The timeout cancelled the source.
    assert!(matches!(
        queue.offer(4).await,
        QueueOfferResult::QueueClosed
    ));
}

#[tokio::test(start_paused = true)]
async fn completion_timeout_fails_a_long_stream() {
    let out = Source::repeat(1u8)
        .map_async(nz(1), |n| async move {
            sleep(ms(30)).await;
            n
        })
        .completion_timeout(ms(100))
        .run_collect()
        .await;
    assert!(matches!(
        kind(out),
        Some(StreamErrorKind::CompletionTimeout(_))
    ));
    let fast = Source::iter(1..=3)
        .completion_timeout(ms(100))
        .run_collect();
    assert_eq!(fast.await.ok(), Some(vec![1, 2, 3]));
}
