//! `group_by` and merging substreams: order per key, buffer bounds and
//! back-pressure, the substream limit, failure, cancellation. Paused time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::stream::StreamExt;

use crate::test_support::{kind, nz};
use crate::{Flow, Source, StreamError, StreamErrorKind, StreamOps};

#[tokio::test(start_paused = true)]
async fn merged_substreams_keep_each_keys_order() {
    let out = Source::iter(0..30u32)
        .group_by(nz(3), |n| n % 3)
        .map(|n| n * 10)
        .merge_substreams()
        .run_collect()
        .await;
    let Ok(out) = out else {
        panic!("group_by failed: {out:?}");
    };
    assert_eq!(out.len(), 30);
    for key in 0..3 {
        let of_key: Vec<u32> = out.iter().copied().filter(|n| n / 10 % 3 == key).collect();
        let expected: Vec<u32> = (0..30).filter(|n| n % 3 == key).map(|n| n * 10).collect();
        assert_eq!(of_key, expected);
    }
}

#[tokio::test(start_paused = true)]
async fn per_substream_stages_see_only_their_key() {
    let sums = Flow::<u32>::new()
        .group_by(nz(2), |n| n % 2 == 0)
        .via(Flow::new().fold(0, |a, n| a + n))
        .merge_substreams();
    let mut out = Source::iter(1..=10u32).via(sums).run_collect().await.ok();
    if let Some(out) = out.as_mut() {
        out.sort();
    }
    assert_eq!(out, Some(vec![25, 30]));
}

#[tokio::test(start_paused = true)]
async fn a_new_key_beyond_max_substreams_fails_the_stream() {
    let out = Source::iter(0..10u32)
        .group_by(nz(2), |n| *n)
        .merge_substreams()
        .run_collect()
        .await;
    assert!(matches!(
        kind(out),
        Some(StreamErrorKind::TooManySubstreams { max: 2 })
    ));
}

#[tokio::test(start_paused = true)]
async fn upstream_failure_reaches_every_substream_after_its_elements() {
    let substreams = Source::iter(0..4u32)
        .concat(Source::failed(StreamError::msg("broken")))
        .group_by(nz(2), |n| n % 2)
        .into_substreams();
    let (mut groups, ()) = substreams.materialize();
    let mut runs = Vec::new();
    while let Some(Ok((key, source))) = groups.next().await {
        runs.push((key, source.materialize().0));
    }
    // The groups stream ended with the failure; each substream has its
    // two elements, then the failure.
    assert_eq!(runs.len(), 2);
    for (key, mut substream) in runs {
        assert_eq!(substream.next().await.and_then(Result::ok), Some(key));
        assert_eq!(substream.next().await.and_then(Result::ok), Some(key + 2));
        assert!(matches!(substream.next().await, Some(Err(_))));
        assert!(substream.next().await.is_none());
    }

    let merged = Source::iter(0..4u32)
        .concat(Source::failed(StreamError::msg("broken")))
        .group_by(nz(2), |n| n % 2)
        .merge_substreams()
        .run_collect()
        .await;
    assert!(matches!(kind(merged), Some(StreamErrorKind::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn a_full_substream_buffer_back_pressures_upstream() {
    let pulled = Arc::new(AtomicU32::new(0));
    let counter = pulled.clone();
    let substreams = Source::iter(0..1000u32)
        .map(move |n| {
            counter.fetch_add(1, Ordering::SeqCst);
            n
        })
        .group_by_with_buffer(nz(2), nz(3), |n| n % 2)
        .into_substreams();
    let (mut groups, ()) = substreams.materialize();
    let Some(Ok((0, evens))) = groups.next().await else {
        panic!("no first substream");
    };
    let Some(Ok((1, odds))) = groups.next().await else {
        panic!("no second substream");
    };
    // Looking for a third key, the groups stream fills both buffers (3
    // each) and holds one more element, then waits.
    let third = tokio::spawn(async move { groups.next().await.is_some() });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(pulled.load(Ordering::SeqCst), 7);

    // The odds cannot go past their buffer while the evens' are full.
    let odds = tokio::spawn(odds.take(5).run_collect());
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!odds.is_finished());
    assert_eq!(pulled.load(Ordering::SeqCst), 7);

    let evens = evens.take(6).run_collect().await;
    assert_eq!(evens.ok(), Some(vec![0, 2, 4, 6, 8, 10]));
    let odds = odds.await.ok().and_then(Result::ok);
    assert_eq!(odds, Some(vec![1, 3, 5, 7, 9]));
    third.abort();
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_substream_drops_later_elements_of_its_key() {
    let mut out = Source::iter(0..20u32)
        .group_by(nz(2), |n| n % 2)
        .take(2)
        .merge_substreams()
        .run_collect()
        .await
        .ok();
    if let Some(out) = out.as_mut() {
        out.sort();
    }
    // The keys are not recreated, so their later elements are dropped;
    // the stream completes with upstream.
    assert_eq!(out, Some(vec![0, 1, 2, 3]));

    // Closed keys do not count towards the limit.
    let out = Source::iter(0..30u32)
        .group_by(nz(1), |n| n / 10)
        .take(10)
        .merge_substreams_with_parallelism(nz(1))
        .run_collect()
        .await;
    assert_eq!(out.ok(), Some((0..30).collect()));
}

#[tokio::test(start_paused = true)]
async fn a_substream_source_runs_once() {
    let (mut groups, ()) = Source::iter(0..3u32)
        .group_by(nz(1), |_| ())
        .into_substreams()
        .materialize();
    let Some(Ok(((), source))) = groups.next().await else {
        panic!("no substream");
    };
    drop(groups);
    assert_eq!(source.clone().run_collect().await.ok(), Some(vec![0, 1, 2]));
    assert!(matches!(
        kind(source.run_collect().await),
        Some(StreamErrorKind::AlreadyMaterialized)
    ));
}

#[tokio::test(start_paused = true)]
async fn dropping_everything_cancels_upstream() {
    let (termination, graph) = {
        let source = Source::iter(0..1000u32)
            .via_mat(Flow::watch_termination(), crate::Keep::right)
            .group_by(nz(4), |n| n % 4)
            .merge_substreams()
            .take(5);
        let (elements, termination) = source.materialize();
        (termination, elements)
    };
    let out: Vec<_> = graph.collect().await;
    assert_eq!(out.len(), 5);
    assert_eq!(termination.await.ok(), Some(crate::Termination::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substreams_run_in_their_own_tasks_across_threads() {
    for _ in 0..20 {
        let substreams = Source::iter(0..2000u32)
            .group_by_with_buffer(nz(8), nz(2), |n| n % 8)
            .into_substreams()
            .map(|(key, source)| (key, tokio::spawn(source.run_collect())));
        let Ok(runs) = substreams.run_collect().await else {
            panic!("groups stream failed");
        };
        assert_eq!(runs.len(), 8);
        for (key, run) in runs {
            let got = run.await.ok().and_then(Result::ok);
            let expected: Vec<u32> = (0..2000).filter(|n| n % 8 == key).collect();
            assert_eq!(got, Some(expected));
        }
    }
}
