//! Restarting flows and sinks under paused time: backoff, giving up, the
//! restart window, lost in-flight elements, upstream's end and failure.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::{Instant, sleep};

use crate::test_support::{Boom, kind, ms, nz};
use crate::{
    Completion, Flow, Keep, RestartSettings, Sink, Source, StreamError, StreamErrorKind, StreamOps,
    Termination,
};

fn settings(max_restarts: u32) -> RestartSettings {
    RestartSettings {
        min_backoff: ms(100),
        max_backoff: ms(1000),
        max_restarts,
        max_restarts_within: None,
    }
}

/// `0..n`, one element every `step`.
fn ticking(n: u32, step: u64) -> Source<u32> {
    Source::iter(0..n).map_async(nz(1), move |i| async move {
        sleep(ms(step)).await;
        i
    })
}

/// A flow that fails on `bad` and counts its materializations.
fn failing_on(bad: u32, runs: &Arc<AtomicU32>) -> impl Fn() -> Flow<u32> + Send + Sync + 'static {
    let runs = runs.clone();
    move || {
        runs.fetch_add(1, Ordering::SeqCst);
        // A fused run keeps its type; `into_plain` names it `Flow<u32>`.
        Flow::new()
            .try_map(move |n| if n == bad { Err(Boom(n)) } else { Ok(n) })
            .into_plain()
    }
}

#[tokio::test(start_paused = true)]
async fn restarted_flow_continues_with_the_next_elements_after_a_backoff() {
    let runs = Arc::new(AtomicU32::new(0));
    let Ok(flow) = Flow::restart_on_failures(settings(3), failing_on(3, &runs)) else {
        panic!("valid settings rejected");
    };
    let start = Instant::now();
    let out = Source::iter(1..=5u32)
        .via(flow)
        .map(move |n| (n, start.elapsed()))
        .run_collect()
        .await;
    // 3 failed the first flow and was lost; the second took over after
    // the minimum backoff.
    assert_eq!(
        out.ok(),
        Some(vec![(1, ms(0)), (2, ms(0)), (4, ms(100)), (5, ms(100))])
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn restarted_flow_gives_up_after_max_restarts_and_cancels_upstream() {
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    let Ok(flow) = Flow::restart_on_failures(settings(2), move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Flow::<u32>::new().try_map(|n| Err::<u32, _>(Boom(n)))
    }) else {
        panic!("valid settings rejected");
    };
    let start = Instant::now();
    let (upstream, out) = Source::iter(0..100u32)
        .via_mat(Flow::watch_termination(), Keep::right)
        .via(flow)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    let err = out.await.err();
    // Three runs, each failing on its first element: backoffs 100 + 200.
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), ms(300));
    assert_eq!(
        err.and_then(|e| e.downcast_ref::<Boom>().map(|b| b.0)),
        Some(2)
    );
    assert_eq!(upstream.await.ok(), Some(Termination::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn restart_window_resets_the_count() {
    let always_fails = |runs: &Arc<AtomicU32>| {
        let runs = runs.clone();
        move || {
            runs.fetch_add(1, Ordering::SeqCst);
            Flow::<u32>::new().try_map(|n| Err::<u32, _>(Boom(n)))
        }
    };
    // Failures 1000 ms apart, more than the 500 ms window after each
    // restart: the count starts again every time and the stream outlives
    // its one allowed restart, completing with upstream.
    let runs = Arc::new(AtomicU32::new(0));
    let windowed = RestartSettings {
        max_restarts_within: Some(ms(500)),
        ..settings(1)
    };
    let Ok(flow) = Flow::restart_on_failures(windowed, always_fails(&runs)) else {
        panic!("valid settings rejected");
    };
    let out = ticking(4, 1000).via(flow).run_collect().await;
    assert_eq!(out.ok(), Some(vec![]));
    assert_eq!(runs.load(Ordering::SeqCst), 5);

    // Without the window the second failure is the end.
    let runs = Arc::new(AtomicU32::new(0));
    let Ok(flow) = Flow::restart_on_failures(settings(1), always_fails(&runs)) else {
        panic!("valid settings rejected");
    };
    let out = ticking(4, 1000).via(flow).run_collect().await;
    assert!(matches!(kind(out), Some(StreamErrorKind::Failed(_))));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn elements_in_flight_in_a_failed_flow_are_lost() {
    let Ok(flow) = Flow::restart_on_failures(settings(3), || {
        Flow::<u32>::new()
            .try_map(|n| if n == 4 { Err(Boom(n)) } else { Ok(n) })
            .grouped(nz(2))
    }) else {
        panic!("valid settings rejected");
    };
    let out = Source::iter(1..=6u32).via(flow).run_collect().await;
    // 3 sat in the failed flow's partial group.
    assert_eq!(out.ok(), Some(vec![vec![1, 2], vec![5, 6]]));
}

#[tokio::test(start_paused = true)]
async fn upstream_failure_passes_through_a_restarting_flow() {
    let runs = Arc::new(AtomicU32::new(0));
    let Ok(flow) = Flow::restart_on_failures(settings(3), failing_on(100, &runs)) else {
        panic!("valid settings rejected");
    };
    let out = Source::iter(1..=2u32)
        .concat(Source::failed(StreamError::msg("upstream broke")))
        .via(flow)
        .run_collect()
        .await;
    assert!(matches!(kind(out), Some(StreamErrorKind::Failed(_))));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// A sink recording what it saw, failing on `bad`.
fn recording_sink(
    bad: u32,
    seen: &Arc<Mutex<Vec<u32>>>,
) -> impl Fn() -> Sink<u32, Completion<()>> + Send + Sync + 'static {
    let seen = seen.clone();
    move || {
        let seen = seen.clone();
        Flow::<u32>::new()
            .try_map(move |n| if n == bad { Err(Boom(n)) } else { Ok(n) })
            .to_mat(
                Sink::foreach(move |n| seen.lock().unwrap_or_else(|e| e.into_inner()).push(n)),
                Keep::right,
            )
    }
}

#[tokio::test(start_paused = true)]
async fn restarted_sink_takes_over_after_a_failure() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let Ok(sink) = Sink::restart_with_backoff(settings(3), recording_sink(3, &seen)) else {
        panic!("valid settings rejected");
    };
    let start = Instant::now();
    let done = Source::iter(1..=5u32).run_with(sink).await;
    assert!(done.is_ok());
    assert_eq!(start.elapsed(), ms(100));
    // 3 was taken by the failing sink and lost.
    assert_eq!(
        *seen.lock().unwrap_or_else(|e| e.into_inner()),
        vec![1, 2, 4, 5]
    );
}

#[tokio::test(start_paused = true)]
async fn sink_that_completes_early_is_restarted_with_growing_backoff() {
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    let firsts = Arc::new(Mutex::new(Vec::new()));
    let recorded = firsts.clone();
    let Ok(sink) = Sink::restart_with_backoff(settings(10), move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let recorded = recorded.clone();
        Sink::first().map_materialized_value(move |first: Completion<Option<u32>>| {
            let recorded = recorded.clone();
            let (done, completion) = Completion::new();
            tokio::spawn(async move {
                let first = first.await;
                if let Ok(Some(n)) = &first {
                    recorded.lock().unwrap_or_else(|e| e.into_inner()).push(*n);
                }
                done.complete(first);
            });
            completion
        })
    }) else {
        panic!("valid settings rejected");
    };
    let start = Instant::now();
    let done = Source::iter(1..=3u32).run_with(sink).await;
    assert!(done.is_ok());
    // Three sinks took one element each; the fourth saw the end. Elements
    // do not reset a sink's count: backoffs 100, 200, 400.
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    assert_eq!(start.elapsed(), ms(700));
    assert_eq!(
        *firsts.lock().unwrap_or_else(|e| e.into_inner()),
        vec![1, 2, 3]
    );
}

#[tokio::test(start_paused = true)]
async fn restarted_sink_gives_up_and_cancels_upstream() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let Ok(sink) = Sink::restart_with_backoff(settings(2), recording_sink(0, &seen)) else {
        panic!("valid settings rejected");
    };
    let (upstream, done) = Source::repeat(0u32)
        .via_mat(Flow::watch_termination(), Keep::right)
        .to_mat(sink, Keep::both)
        .run();
    let err = done.await.err();
    assert_eq!(
        err.and_then(|e| e.downcast_ref::<Boom>().map(|b| b.0)),
        Some(0)
    );
    assert_eq!(upstream.await.ok(), Some(Termination::Cancelled));
    assert!(seen.lock().unwrap_or_else(|e| e.into_inner()).is_empty());
}

#[tokio::test(start_paused = true)]
async fn upstream_failure_reaches_a_restarting_sink_once() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let Ok(sink) = Sink::restart_with_backoff(settings(3), recording_sink(100, &seen)) else {
        panic!("valid settings rejected");
    };
    let done = Source::iter(1..=2u32)
        .concat(Source::failed(StreamError::msg("upstream broke")))
        .run_with(sink)
        .await;
    assert!(matches!(kind(done), Some(StreamErrorKind::Failed(_))));
    assert_eq!(*seen.lock().unwrap_or_else(|e| e.into_inner()), vec![1, 2]);
}

#[tokio::test(start_paused = true)]
async fn invalid_settings_are_refused_for_flows_and_sinks() {
    let bad = RestartSettings {
        min_backoff: ms(10),
        max_backoff: ms(1),
        ..RestartSettings::default()
    };
    assert!(Flow::restart_on_failures(bad, Flow::<u32>::new).is_err());
    assert!(Sink::restart_with_backoff(bad, Sink::<u32, _>::ignore).is_err());
}
