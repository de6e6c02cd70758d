//! Fan-out sinks under paused time.

use std::num::NonZeroUsize;
use std::time::Duration;

use tokio::time::{Instant, sleep};

use crate::{Completion, Flow, Sink, Source, StreamError, StreamErrorKind, StreamOps};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Collects, taking `delay` per element.
fn slow_collect(delay: u64) -> Sink<u32, Completion<Vec<u32>>> {
    Flow::<u32>::new()
        .map_async(NonZeroUsize::MIN, move |n| async move {
            sleep(ms(delay)).await;
            n
        })
        .to_mat(Sink::collect(), crate::Keep::right)
}

async fn results(all: Vec<Completion<Vec<u32>>>) -> Vec<Result<Vec<u32>, StreamError>> {
    let mut out = Vec::new();
    for one in all {
        out.push(one.await);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn broadcast_gives_every_output_everything_at_the_slowest_pace() {
    let start = Instant::now();
    let all =
        Source::iter(1..=4u32).run_with(Sink::broadcast(vec![slow_collect(1), slow_collect(10)]));
    let out = results(all).await;
    assert_eq!(
        out.into_iter().map(Result::ok).collect::<Vec<_>>(),
        vec![Some(vec![1, 2, 3, 4]); 2]
    );
    assert!(start.elapsed() >= ms(40));
}

#[tokio::test(start_paused = true)]
async fn balance_sends_more_to_the_faster_output() {
    let all =
        Source::iter(1..=12u32).run_with(Sink::balance(vec![slow_collect(1), slow_collect(10)]));
    let out: Vec<Vec<u32>> = results(all)
        .await
        .into_iter()
        .map(|r| r.unwrap_or_default())
        .collect();
    assert_eq!(out[0].len() + out[1].len(), 12);
    assert!(
        out[0].len() > out[1].len(),
        "fast {:?} slow {:?}",
        out[0],
        out[1]
    );
}

#[tokio::test(start_paused = true)]
async fn partition_routes_by_function_and_fails_out_of_range() {
    let all = Source::iter(1..=6u32).run_with(Sink::partition(
        vec![Sink::collect(), Sink::collect()],
        |n| usize::from(n % 2 == 0),
    ));
    let out: Vec<_> = results(all).await.into_iter().map(Result::ok).collect();
    assert_eq!(out, vec![Some(vec![1, 3, 5]), Some(vec![2, 4, 6])]);

    let all =
        Source::iter(1..=6u32).run_with(Sink::partition(vec![Sink::collect()], |n| *n as usize));
    let out = results(all).await;
    assert!(matches!(
        out[0].as_ref().err().map(StreamError::kind),
        Some(StreamErrorKind::PartitionOutOfRange {
            index: 1,
            outputs: 1
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn fan_out_failure_reaches_every_output_and_early_finishers_are_left_out() {
    let all = Source::iter(1..=2u32)
        .concat(Source::failed(StreamError::msg("upstream broke")))
        .run_with(Sink::broadcast(vec![slow_collect(5), Sink::collect()]));
    for result in results(all).await {
        assert!(matches!(
            result.as_ref().err().map(StreamError::kind),
            Some(StreamErrorKind::Failed(_))
        ));
    }
    // `first` finishes after one element; the other output gets the rest.
    let (first, rest) = Source::iter(1..=3u32)
        .map(Some)
        .run_with(Sink::broadcast(vec![
            Sink::first().map_materialized_value(|c| (Some(c), None)),
            Sink::collect().map_materialized_value(|c| (None, Some(c))),
        ]))
        .into_iter()
        .fold((None, None), |acc, m| (acc.0.or(m.0), acc.1.or(m.1)));
    let first = match first {
        Some(c) => c.await.ok().flatten().flatten(),
        None => None,
    };
    let rest = match rest {
        Some(c) => c.await.ok(),
        None => None,
    };
    assert_eq!(first, Some(1));
    assert_eq!(rest, Some(vec![Some(1), Some(2), Some(3)]));
}

#[tokio::test(start_paused = true)]
async fn no_outputs_cancels_at_once() {
    let mats: Vec<Completion<()>> = Source::iter(1..=3u32).run_with(Sink::broadcast(Vec::new()));
    assert!(mats.is_empty());
}
