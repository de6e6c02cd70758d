//! Semantics of the substream, windowing, fan-in, keep-alive, batching and
//! restart operators, under paused time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::time::{Instant, sleep};

use crate::test_support::{kind, ms, nz};
use crate::{
    Keep, OverflowStrategy, RestartSettings, Sink, Source, StreamError, StreamErrorKind, StreamOps,
};

/// `0..n`, one element every `step`.
fn ticking(n: u32, step: u64) -> Source<u32> {
    Source::iter(0..n).map_async(nz(1), move |i| async move {
        sleep(ms(step)).await;
        i
    })
}

#[tokio::test(start_paused = true)]
async fn flat_map_concat_runs_inner_sources_in_turn() {
    let out = Source::iter(1..=3u32)
        .flat_map_concat(|n| Source::iter(0..n).map(move |i| n * 10 + i))
        .run_collect()
        .await;
    assert_eq!(out.ok(), Some(vec![10, 20, 21, 30, 31, 32]));
}

#[tokio::test(start_paused = true)]
async fn flat_map_merge_runs_inner_sources_at_once_up_to_breadth() {
    let start = Instant::now();
    let out = Source::iter([30u64, 10, 20])
        .flat_map_merge(nz(2), |step| ticking(2, step).map(move |i| (step, i)))
        .map(move |x| (x, start.elapsed()))
        .run_collect()
        .await;
    // 30 and 10 run at once; 20 starts when 10 ends (at 20 ms).
    assert_eq!(
        out.ok(),
        Some(vec![
            ((10, 0), ms(10)),
            ((10, 1), ms(20)),
            ((30, 0), ms(30)),
            ((20, 0), ms(40)),
            ((30, 1), ms(60)),
            ((20, 1), ms(60)),
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn inner_source_failure_fails_the_stream() {
    let out = Source::iter(1..=3u32)
        .flat_map_merge(nz(2), |n| {
            if n == 2 {
                Source::failed(StreamError::msg("inner"))
            } else {
                Source::single(n)
            }
        })
        .run_collect()
        .await;
    assert!(matches!(kind(out), Some(StreamErrorKind::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn sliding_windows() {
    let windows = |size, step, n: u32| {
        Source::iter(1..=n)
            .sliding(nz(size), nz(step))
            .run_collect()
    };
    assert_eq!(
        windows(3, 1, 5).await.ok(),
        Some(vec![vec![1, 2, 3], vec![2, 3, 4], vec![3, 4, 5]])
    );
    assert_eq!(
        windows(2, 2, 5).await.ok(),
        Some(vec![vec![1, 2], vec![3, 4], vec![5]])
    );
    assert_eq!(
        windows(2, 3, 7).await.ok(),
        Some(vec![vec![1, 2], vec![4, 5], vec![7]])
    );
    assert_eq!(windows(4, 1, 2).await.ok(), Some(vec![vec![1, 2]]));
}

#[tokio::test(start_paused = true)]
async fn zip_with_interleave_merge_sorted() {
    let zipped = Source::iter(1..=3).zip_with(Source::iter(10..), |a, b| a + b);
    assert_eq!(zipped.run_collect().await.ok(), Some(vec![11, 13, 15]));
    let inter = Source::iter(1..=5).interleave(Source::iter(10..=12), nz(2));
    assert_eq!(
        inter.run_collect().await.ok(),
        Some(vec![1, 2, 10, 11, 3, 4, 12, 5])
    );
    let sorted = Source::iter([1, 4, 4, 9]).merge_sorted(Source::iter([2, 4, 10, 11]));
    assert_eq!(
        sorted.run_collect().await.ok(),
        Some(vec![1, 2, 4, 4, 4, 9, 10, 11])
    );
}

#[tokio::test(start_paused = true)]
async fn keep_alive_injects_when_idle() {
    let start = Instant::now();
    let out = Source::iter([0u64, 250])
        .map_async(nz(1), |d| async move {
            sleep(ms(d)).await;
            d
        })
        .keep_alive(ms(100), || 1)
        .map(move |x| (x, start.elapsed()))
        .run_collect()
        .await;
    assert_eq!(
        out.ok(),
        Some(vec![(0, ms(0)), (1, ms(100)), (1, ms(200)), (250, ms(250))])
    );
}

#[tokio::test(start_paused = true)]
async fn recover_with_retries_switches_sources() {
    let out = Source::iter(1..=2)
        .concat(Source::failed(StreamError::msg("first")))
        .recover_with_retries(Some(2), |_| {
            Some(Source::iter(7..=7).concat(Source::failed(StreamError::msg("again"))))
        })
        .run_collect()
        .await;
    // Two switches, then the third failure goes downstream.
    assert!(matches!(kind(out), Some(StreamErrorKind::Failed(_))));
    let (switches, out) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(std::sync::Mutex::new(Vec::new())),
    );
    let (s, o) = (switches.clone(), out.clone());
    let done = Source::iter(1..=2)
        .concat(Source::failed(StreamError::msg("first")))
        .recover_with_retries(Some(2), move |_| {
            s.fetch_add(1, Ordering::SeqCst);
            Some(Source::iter(7..=8))
        })
        .run_foreach(move |n| o.lock().unwrap_or_else(|e| e.into_inner()).push(n));
    assert!(done.await.is_ok());
    assert_eq!(switches.load(Ordering::SeqCst), 1);
    assert_eq!(
        *out.lock().unwrap_or_else(|e| e.into_inner()),
        vec![1, 2, 7, 8]
    );
}

#[tokio::test(start_paused = true)]
async fn batch_and_conflate_take_what_is_ready() {
    let (queue, batches) = Source::queue(nz(16), OverflowStrategy::Backpressure)
        .batch(
            nz(3),
            |n: u32| vec![n],
            |mut v, n| {
                v.push(n);
                v
            },
        )
        .to_mat(Sink::collect(), Keep::both)
        .run();
    for n in 1..=5 {
        queue.offer(n).await;
    }
    sleep(ms(1)).await;
    queue.offer(6).await;
    drop(queue);
    assert_eq!(
        batches.await.ok(),
        Some(vec![vec![1, 2, 3], vec![4, 5], vec![6]])
    );

    let (queue, sums) = Source::queue(nz(16), OverflowStrategy::Backpressure)
        .conflate(|a: u32, b| a + b)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    for n in 1..=4 {
        queue.offer(n).await;
    }
    drop(queue);
    assert_eq!(sums.await.ok(), Some(vec![10]));
}

#[tokio::test(start_paused = true)]
async fn restart_on_failures_backs_off_and_gives_up() {
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    let settings = RestartSettings {
        min_backoff: ms(100),
        max_backoff: ms(300),
        max_restarts: 3,
        max_restarts_within: None,
    };
    let source = Source::restart_on_failures(settings, move || {
        let run = counter.fetch_add(1, Ordering::SeqCst);
        Source::single(run).concat(Source::failed(StreamError::msg("flaky")))
    });
    let Ok(source) = source else {
        panic!("valid settings rejected");
    };
    let start = Instant::now();
    let out = source
        .take(4)
        .map(move |run| (run, start.elapsed()))
        .run_collect()
        .await;
    // Each run emitted an element, which reset the failure count: every
    // restart waits the minimum backoff, and restarts never run out.
    assert_eq!(
        out.ok(),
        Some(vec![(0, ms(0)), (1, ms(100)), (2, ms(200)), (3, ms(300))])
    );
    assert_eq!(runs.load(Ordering::SeqCst), 4);

    // Without elements in between, failures are consecutive: backoff
    // 100, 200, 300 (capped), then the fourth failure goes downstream.
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    let Ok(source) = Source::restart_on_failures(settings, move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Source::<u32>::failed(StreamError::msg("down"))
    }) else {
        panic!("valid settings rejected");
    };
    let start = Instant::now();
    let out = source.run_collect().await;
    assert!(matches!(kind(out), Some(StreamErrorKind::Failed(_))));
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    assert_eq!(start.elapsed(), ms(600));
}

#[tokio::test(start_paused = true)]
async fn restart_settings_are_validated() {
    let settings = RestartSettings {
        min_backoff: ms(10),
        max_backoff: ms(1),
        max_restarts: 1,
        max_restarts_within: None,
    };
    assert!(Source::restart_on_failures(settings, || Source::single(1)).is_err());
}

#[tokio::test(start_paused = true)]
async fn also_to_feeds_a_side_sink_at_the_slower_pace() {
    let side = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = side.clone();
    let slow_side = crate::Flow::<u32>::new()
        .map_async(nz(1), |n| async move {
            sleep(ms(10)).await;
            n
        })
        .to(Sink::foreach(move |n| {
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(n)
        }));
    let start = Instant::now();
    let main = Source::iter(1..=3u32)
        .also_to(slow_side)
        .run_collect()
        .await;
    assert_eq!(main.ok(), Some(vec![1, 2, 3]));
    // The main output completed only after the side had everything.
    assert_eq!(
        *side.lock().unwrap_or_else(|e| e.into_inner()),
        vec![1, 2, 3]
    );
    assert!(
        start.elapsed() >= ms(30),
        "paced by the side: {:?}",
        start.elapsed()
    );

    // A failure reaches both.
    let (side_done_tx, side_done) = tokio::sync::oneshot::channel();
    let side_done_tx = std::sync::Mutex::new(Some(side_done_tx));
    let watching = crate::Flow::<u32>::new()
        .via_mat(crate::Flow::watch_termination(), Keep::right)
        .to_mat(Sink::ignore(), Keep::left)
        .map_materialized_value(move |end| {
            if let Some(tx) = side_done_tx
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                tokio::spawn(async move {
                    let _ = tx.send(end.await);
                });
            }
        });
    let out = Source::iter(1..=2u32)
        .concat(Source::failed(StreamError::msg("broken")))
        .also_to(watching)
        .run_collect()
        .await;
    assert!(matches!(kind(out), Some(StreamErrorKind::Failed(_))));
    let side_end = side_done.await.unwrap_or(Ok(crate::Termination::Completed));
    assert!(matches!(kind(side_end), Some(StreamErrorKind::Failed(_))));

    // A side sink that stops early leaves the main output running.
    let main = Source::iter(1..=4u32)
        .also_to(Sink::first())
        .run_collect()
        .await;
    assert_eq!(main.ok(), Some(vec![1, 2, 3, 4]));
}

#[tokio::test(start_paused = true)]
async fn delay_shifts_elements_and_bounds_what_it_holds() {
    let start = Instant::now();
    let out = ticking(4, 10)
        .delay(ms(100), nz(8))
        .map(move |n| (n, start.elapsed()))
        .run_collect()
        .await;
    assert_eq!(
        out.ok(),
        Some(vec![(0, ms(110)), (1, ms(120)), (2, ms(130)), (3, ms(140))])
    );
    // With room for one, the second element is pulled only after the first
    // has gone: 100 ms each.
    let start = Instant::now();
    let out = Source::iter(0..3u32)
        .delay(ms(100), nz(1))
        .map(move |n| (n, start.elapsed()))
        .run_collect()
        .await;
    assert_eq!(
        out.ok(),
        Some(vec![(0, ms(100)), (1, ms(200)), (2, ms(300))])
    );
    let failed = Source::iter(1..=2u32)
        .concat(Source::failed(StreamError::msg("late")))
        .delay(ms(50), nz(4))
        .run_collect();
    assert!(matches!(
        kind(failed.await),
        Some(StreamErrorKind::Failed(_))
    ));
}

#[derive(Debug, thiserror::Error)]
#[error("bad input {0}")]
struct BadInput(u32);

#[tokio::test(start_paused = true)]
async fn supervised_stages_resume_restart_or_stop() {
    use crate::Supervision;
    let resume_odd = |e: &StreamError| match e.downcast_ref::<BadInput>() {
        Some(BadInput(n)) if n % 2 == 1 => Supervision::Resume,
        _ => Supervision::Stop,
    };
    let check = |n: u32| if n % 3 == 0 { Err(BadInput(n)) } else { Ok(n) };
    let resumed = Source::iter(1..=5)
        .try_map_supervised(resume_odd, check)
        .run_collect();
    assert_eq!(resumed.await.ok(), Some(vec![1, 2, 4, 5]));
    let stopped = Source::iter(1..=7)
        .try_map_supervised(resume_odd, check)
        .run_collect();
    assert!(matches!(
        kind(stopped.await),
        Some(StreamErrorKind::Failed(_))
    ));

    let async_resumed = Source::iter(1..=5)
        .try_map_async_supervised(
            nz(3),
            |_| Supervision::Resume,
            move |n| async move { check(n).map_err(StreamError::failed) },
        )
        .run_collect();
    assert_eq!(async_resumed.await.ok(), Some(vec![1, 2, 4, 5]));

    // A running sum that rejects 0: resume keeps the sum, restart resets it.
    let summing = |decision: Supervision| {
        Source::iter([1u32, 2, 0, 3])
            .try_stateful_filter_map(
                || 0u32,
                move |_| decision,
                |sum, n| {
                    if n == 0 {
                        return Err(BadInput(n));
                    }
                    *sum += n;
                    Ok(Some(*sum))
                },
            )
            .run_collect()
    };
    assert_eq!(summing(Supervision::Resume).await.ok(), Some(vec![1, 3, 6]));
    assert_eq!(
        summing(Supervision::Restart).await.ok(),
        Some(vec![1, 3, 3])
    );
    assert!(summing(Supervision::Stop).await.is_err());

    // Upstream failures are not the stage's to decide.
    let upstream_failed = Source::iter(1..=2u32)
        .concat(Source::failed(StreamError::msg("upstream")))
        .try_map_supervised(|_| Supervision::Resume, check)
        .run_collect();
    assert!(upstream_failed.await.is_err());
}
