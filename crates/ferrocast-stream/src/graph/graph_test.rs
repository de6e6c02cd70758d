//! Graphs: fan-out and fan-in junctions, several sinks, materialized
//! values, failure and cancellation, build errors. Paused time.

use tokio::time::{Instant, sleep};

use crate::test_support::{kind, ms, nz};
use crate::{
    Flow, GraphBuilder, GraphError, Keep, Sink, Source, StreamError, StreamErrorKind, StreamOps,
};

/// Two outlets of a junction.
fn two<T>(outlets: Vec<crate::Outlet<T>>) -> (crate::Outlet<T>, crate::Outlet<T>) {
    let mut outlets = outlets.into_iter();
    match (outlets.next(), outlets.next()) {
        (Some(a), Some(b)) => (a, b),
        _ => panic!("a junction of two gave fewer outlets"),
    }
}

#[tokio::test(start_paused = true)]
async fn broadcast_feeds_every_sink_at_the_slowest_pace() {
    let mut b = GraphBuilder::new();
    let numbers = b.source(Source::iter(1..=4u32));
    let (fast, slow) = two(b.broadcast(numbers, nz(2)));
    let slow = b.via(
        slow,
        Flow::new().map_async(nz(1), |n| async move {
            sleep(ms(10)).await;
            n
        }),
    );
    let fast_key = b.to(fast, Sink::collect());
    let slow_key = b.to(slow, Sink::collect());
    let Ok(graph) = b.build() else {
        panic!("graph did not build");
    };
    let start = Instant::now();
    let mut run = graph.run();
    let (Some(fast), Some(slow)) = (run.take(fast_key), run.take(slow_key)) else {
        panic!("materialized values missing");
    };
    assert_eq!(fast.await.ok(), Some(vec![1, 2, 3, 4]));
    assert_eq!(slow.await.ok(), Some(vec![1, 2, 3, 4]));
    assert_eq!(start.elapsed(), ms(40));
    // Each value can be taken once.
    assert!(run.take(fast_key).is_none());
}

#[tokio::test(start_paused = true)]
async fn balance_and_merge_process_each_element_once() {
    let mut b = GraphBuilder::new();
    let numbers = b.source(Source::iter(0..20u32));
    let (left, right) = two(b.balance(numbers, nz(2)));
    let slow = |tag: u32| {
        Flow::new().map_async(nz(1), move |n: u32| async move {
            sleep(ms(u64::from(tag))).await;
            (tag, n)
        })
    };
    let left = b.via(left, slow(1));
    let right = b.via(right, slow(3));
    let merged = b.merge([left, right]);
    let out = b.to(merged, Sink::collect());
    let Ok(graph) = b.build() else {
        panic!("graph did not build");
    };
    let Some(out) = graph.run().take(out) else {
        panic!("no completion");
    };
    let Ok(out) = out.await else {
        panic!("graph failed");
    };
    let mut numbers: Vec<u32> = out.iter().map(|(_, n)| *n).collect();
    numbers.sort();
    assert_eq!(numbers, (0..20).collect::<Vec<_>>());
    // The faster branch took more.
    let fast = out.iter().filter(|(tag, _)| *tag == 1).count();
    assert!(fast > 10, "fast branch took {fast} of 20");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_broadcast_output_is_left_out() {
    let mut b = GraphBuilder::new();
    let numbers = b.source(Source::iter(1..=5u32));
    let (first, all) = two(b.broadcast(numbers, nz(2)));
    let first = b.to(first, Sink::first());
    let all = b.to(all, Sink::collect());
    let Ok(graph) = b.build() else {
        panic!("graph did not build");
    };
    let mut run = graph.run();
    let (Some(first), Some(all)) = (run.take(first), run.take(all)) else {
        panic!("materialized values missing");
    };
    assert_eq!(first.await.ok(), Some(Some(1)));
    assert_eq!(all.await.ok(), Some(vec![1, 2, 3, 4, 5]));
}

#[tokio::test(start_paused = true)]
async fn upstream_failure_reaches_every_branch() {
    let mut b = GraphBuilder::new();
    let numbers = b.source(Source::iter(1..=2u32).concat(Source::failed(StreamError::msg("x"))));
    let (left, right) = two(b.broadcast(numbers, nz(2)));
    let left = b.to(left, Sink::collect());
    let right = b.to(right, Sink::ignore());
    let Ok(graph) = b.build() else {
        panic!("graph did not build");
    };
    let mut run = graph.run();
    let (Some(left), Some(right)) = (run.take(left), run.take(right)) else {
        panic!("materialized values missing");
    };
    assert!(matches!(kind(left.await), Some(StreamErrorKind::Failed(_))));
    assert!(matches!(
        kind(right.await),
        Some(StreamErrorKind::Failed(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn graphs_rerun_and_hand_out_source_values() {
    let mut b = GraphBuilder::new();
    let (ticks, switch) = b.source_mat(
        Source::repeat(1u32)
            .map_async(nz(1), |n| async move {
                sleep(ms(10)).await;
                n
            })
            .via_mat(Flow::kill_switch(), Keep::right),
    );
    let words = b.source(Source::iter(["a", "b"]).map(|_| 100u32));
    let all = b.concat(words, ticks);
    let total = b.to(all, Sink::fold(0u32, |a, n| a + n));
    let Ok(graph) = b.build() else {
        panic!("graph did not build");
    };
    for _ in 0..2 {
        let mut run = graph.run();
        let (Some(switch), Some(total)) = (run.take(switch), run.take(total)) else {
            panic!("materialized values missing");
        };
        sleep(ms(35)).await;
        switch.shutdown();
        assert_eq!(total.await.ok(), Some(203));
    }
}

#[test]
fn misuse_gives_typed_errors() {
    let mut b = GraphBuilder::new();
    let numbers = b.source(Source::iter(1..=2u32));
    let (left, _dropped) = two(b.balance(numbers, nz(2)));
    let _ = b.to(left, Sink::ignore());
    assert_eq!(b.build().err(), Some(GraphError::Unconnected { port: 2 }));

    let mut b = GraphBuilder::new();
    let _ = b.via(b_source(&mut GraphBuilder::new()), Flow::<u32>::new());
    assert_eq!(b.build().err(), Some(GraphError::ForeignOutlet));

    let mut b = GraphBuilder::new();
    let numbers = b.source(Source::iter(1..=2u32));
    let _ = b.merge([numbers]);
    assert_eq!(b.build().err(), Some(GraphError::Unconnected { port: 1 }));

    assert_eq!(GraphBuilder::new().build().err(), Some(GraphError::NoSink));
}

fn b_source(b: &mut GraphBuilder) -> crate::Outlet<u32> {
    b.source(Source::single(1u32))
}
