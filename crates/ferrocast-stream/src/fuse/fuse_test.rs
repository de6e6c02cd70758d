//! Fused runs keep the semantics of the separate stages: the same
//! elements, per-operator supervision, cancellation as soon as a `take` is
//! done, fresh state per run, materialized values.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::stream::{self, Stream, StreamExt};

use crate::test_support::{Boom, kind};
use crate::{Flow, Keep, Sink, Source, StreamError, StreamErrorKind, StreamOps, Supervision};

/// An endless upstream that counts its pulls and notes when it is dropped
/// (cancelled).
struct Probe {
    next: u32,
    pulls: Arc<AtomicU32>,
    dropped: Arc<AtomicBool>,
}

impl Stream for Probe {
    type Item = u32;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
        self.pulls.fetch_add(1, Ordering::SeqCst);
        self.next += 1;
        Poll::Ready(Some(self.next))
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

/// A reusable source of 1, 2, 3, ... and its pull counter and drop flag.
fn probe() -> (Source<u32>, Arc<AtomicU32>, Arc<AtomicBool>) {
    let pulls = Arc::new(AtomicU32::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let (p, d) = (pulls.clone(), dropped.clone());
    let source = Source::from_stream_fn(move || Probe {
        next: 0,
        pulls: p.clone(),
        dropped: d.clone(),
    });
    (source, pulls, dropped)
}

#[tokio::test]
async fn a_fused_run_emits_what_the_separate_stages_do() {
    let fused = Source::iter(1..=40u32)
        .map(|n| n * 3)
        .filter(|n| n % 2 == 1)
        .skip(2)
        .filter_map(|n| (n % 5 != 0).then_some(n + 1))
        .scan(0u32, |acc, n| acc + n)
        .take_while(|total| *total < 400)
        .take(6);
    // The trait's operators are separate stages.
    let source = Source::iter(1..=40u32);
    let source = StreamOps::map(source, |n| n * 3);
    let source = StreamOps::filter(source, |n| n % 2 == 1);
    let source = StreamOps::skip(source, 2);
    let source = StreamOps::filter_map(source, |n| (n % 5 != 0).then_some(n + 1));
    let source = StreamOps::scan(source, 0u32, |acc, n| acc + n);
    let source = StreamOps::take_while(source, |total| *total < 400);
    let separate = StreamOps::take(source, 6);

    let expected = separate.run_collect().await.ok();
    assert_eq!(expected, Some(vec![0, 22, 50, 84, 124, 176]));
    assert_eq!(fused.run_collect().await.ok(), expected);
}

#[tokio::test]
async fn supervision_decides_per_operator_inside_a_run() {
    // `Resume` in the middle: the element is dropped, the `scan` after it
    // keeps its total.
    let resumed = Source::iter(1..=5u32)
        .map(|n| n * 10)
        .try_map_supervised(
            |_| Supervision::Resume,
            |n| if n == 30 { Err(Boom(n)) } else { Ok(n) },
        )
        .scan(0u32, |acc, n| acc + n)
        .run_collect()
        .await;
    assert_eq!(resumed.ok(), Some(vec![0, 10, 30, 70, 120]));

    // `Restart` resets that operator's state only: the running count
    // starts again, the `scan` downstream does not.
    let restarted = Source::iter(1..=6u32)
        .try_stateful_filter_map(
            || 0u32,
            |_| Supervision::Restart,
            |seen, n| {
                *seen += 1;
                if n == 3 {
                    Err(Boom(n))
                } else {
                    Ok(Some(*seen))
                }
            },
        )
        .scan(0u32, |acc, n| acc + n)
        .run_collect()
        .await;
    // Counts 1, 2, (3 fails: restart), 1, 2, 3.
    assert_eq!(restarted.ok(), Some(vec![0, 1, 3, 4, 6, 9]));

    // `Stop` fails the stream downstream and cancels upstream.
    let (source, _, dropped) = probe();
    let stopped = source
        .map(|n| n + 1)
        .try_map_supervised(
            |_| Supervision::Stop,
            |n| if n == 4 { Err(Boom(n)) } else { Ok(n) },
        )
        .filter(|_| true)
        .run_collect()
        .await;
    assert!(matches!(kind(stopped), Some(StreamErrorKind::Failed(_))));
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test]
async fn take_in_a_run_cancels_upstream_with_its_last_element() {
    let (source, pulls, dropped) = probe();
    let (mut elements, ()) = source
        .map(|n| n * 2)
        .filter(|n| n % 3 != 0)
        .take(2)
        .materialize();
    assert_eq!(elements.next().await.transpose().ok(), Some(Some(2)));
    assert!(!dropped.load(Ordering::SeqCst));
    // 4 is the last: upstream is gone before downstream asks again.
    assert_eq!(elements.next().await.transpose().ok(), Some(Some(4)));
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(pulls.load(Ordering::SeqCst), 2);
    assert!(elements.next().await.is_none());

    // `take_while` likewise, at its first refused element.
    let (source, pulls, dropped) = probe();
    let out = source.map(|n| n * 10).take_while(|n| *n < 35).run_collect();
    assert_eq!(out.await.ok(), Some(vec![10, 20, 30]));
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(pulls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn scan_zero_and_take_zero_need_no_upstream_element() {
    let (source, pulls, dropped) = probe();
    let first = source
        .clone()
        .map(|n| n + 1)
        .scan(7u32, |a, n| a + n)
        .take(1);
    assert_eq!(first.run_collect().await.ok(), Some(vec![7]));
    assert_eq!(pulls.load(Ordering::SeqCst), 0);
    assert!(dropped.load(Ordering::SeqCst));

    let none = source.scan(7u32, |a, n| a + n).take(0).run_collect();
    assert_eq!(none.await.ok(), Some(vec![]));
    assert_eq!(pulls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn upstream_failure_passes_through_a_run() {
    let failed = Source::<u32>::failed(StreamError::failed(Boom(1)))
        .map(|n| n + 1)
        .scan(5u32, |a, n| a + n);
    let (mut elements, ()) = failed.materialize();
    assert_eq!(elements.next().await.transpose().ok(), Some(Some(5)));
    let error = elements.next().await.transpose().err();
    assert_eq!(
        error.and_then(|e| e.downcast_ref::<Boom>().map(|b| b.0)),
        Some(1)
    );
    assert!(elements.next().await.is_none());
}

#[tokio::test]
async fn every_run_starts_fresh_and_keeps_materialized_values() {
    let flow = Flow::<u32>::new()
        .skip(1)
        .stateful_filter_map(
            || 0u32,
            |count, n| {
                *count += 1;
                Some(n * 100 + *count)
            },
        )
        .take(2);
    let graph = Source::iter(1..=5u32)
        .via_mat(Flow::kill_switch(), Keep::right)
        .via(flow)
        .map(|n| n + 1)
        .to_mat(Sink::collect(), Keep::both);
    for _ in 0..2 {
        let (switch, out) = graph.run();
        assert_eq!(out.await.ok(), Some(vec![202, 303]));
        switch.shutdown(); // a kill switch per run, already complete
    }

    // Elements taken by concurrent runs of one blueprint stay apart.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let source = Source::from_stream_fn(|| stream::iter(1..=3u32)).map(move |n| {
        log.lock().unwrap_or_else(|e| e.into_inner()).push(n);
        n
    });
    let (a, b) = (source.clone().run_collect(), source.run_collect());
    assert_eq!(a.await.ok(), Some(vec![1, 2, 3]));
    assert_eq!(b.await.ok(), Some(vec![1, 2, 3]));
    assert_eq!(seen.lock().map(|s| s.len()).ok(), Some(6));
}
