//! Stream lifecycle: materialization and running, kill switches,
//! termination watching, cancellation, the queue source, and plugging
//! `futures` streams and sinks in and out. Paused time throughout.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::{Instant, sleep};

use crate::test_support::{Boom, kind, ms, nz};
use crate::{
    Flow, Keep, OverflowStrategy, QueueOfferResult, Sink, Source, StreamError, StreamErrorKind,
    StreamOps, Termination,
};

#[tokio::test(start_paused = true)]
async fn a_single_stream_source_runs_once() {
    let source = Source::from_stream(futures_util::stream::iter(vec![1, 2]));
    assert_eq!(source.clone().run_collect().await.ok(), Some(vec![1, 2]));
    assert!(matches!(
        kind(source.run_collect().await),
        Some(StreamErrorKind::AlreadyMaterialized)
    ));
}

#[tokio::test(start_paused = true)]
async fn unique_kill_switch_shutdown_and_abort() {
    let graph = Source::repeat(1u32)
        .via_mat(Flow::watch_termination(), Keep::right)
        .map_async(nz(1), |n| async move {
            sleep(ms(10)).await;
            n
        })
        .via_mat(Flow::kill_switch(), Keep::both)
        .to_mat(Sink::fold(0u32, |a, n| a + n), Keep::both);

    let ((upstream, switch), total) = graph.run();
    sleep(ms(55)).await;
    switch.shutdown();
    assert_eq!(total.await.ok(), Some(5));
    assert_eq!(upstream.await.ok(), Some(Termination::Cancelled));

    let ((_, switch), total) = graph.run();
    sleep(ms(25)).await;
    switch.abort(Boom(9));
    let err = total.await.err();
    assert!(matches!(
        err.as_ref().map(StreamError::kind),
        Some(StreamErrorKind::Aborted(_))
    ));
    assert_eq!(
        err.and_then(|e| e.downcast_ref::<Boom>().map(|b| b.0)),
        Some(9)
    );
}

#[tokio::test(start_paused = true)]
async fn shared_kill_switch_stops_every_stream() {
    let switch = crate::SharedKillSwitch::new();
    let run = || {
        Source::repeat(1u32)
            .map_async(nz(1), |n| async move {
                sleep(ms(10)).await;
                n
            })
            .via(switch.flow())
            .run_fold(0u32, |a, n| a + n)
    };
    let (a, b) = (run(), run());
    sleep(ms(35)).await;
    switch.shutdown();
    assert_eq!(a.await.ok(), Some(3));
    assert_eq!(b.await.ok(), Some(3));
    // A stage materialized after the switch fired ends at once.
    assert_eq!(run().await.ok(), Some(0));
}

#[tokio::test(start_paused = true)]
async fn watch_termination_reports_completion_and_failure() {
    let (end, done) = Source::iter(1..=3)
        .via_mat(Flow::watch_termination(), Keep::right)
        .to_mat(Sink::ignore(), Keep::both)
        .run();
    assert!(done.await.is_ok());
    assert_eq!(end.await.ok(), Some(Termination::Completed));

    let (end, _) = Source::<u32>::failed(StreamError::msg("x"))
        .via_mat(Flow::watch_termination(), Keep::right)
        .to_mat(Sink::ignore(), Keep::both)
        .run();
    assert!(matches!(kind(end.await), Some(StreamErrorKind::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn cancellation_propagates_upstream_from_an_early_sink() {
    let (end, first) = Source::repeat(5u32)
        .via_mat(Flow::watch_termination(), Keep::right)
        .map(|n| n + 1)
        .to_mat(Sink::first(), Keep::both)
        .run();
    assert_eq!(first.await.ok(), Some(Some(6)));
    assert_eq!(end.await.ok(), Some(Termination::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn queue_source_offer_results() {
    let (queue, all) = Source::queue(nz(2), OverflowStrategy::DropNew)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    // The stream's task has not run yet: the queue fills.
    assert!(matches!(queue.offer(1).await, QueueOfferResult::Enqueued));
    assert!(matches!(queue.offer(2).await, QueueOfferResult::Enqueued));
    assert!(matches!(queue.offer(3).await, QueueOfferResult::Dropped));
    queue.complete();
    assert!(matches!(
        queue.offer(4).await,
        QueueOfferResult::QueueClosed
    ));
    assert_eq!(all.await.ok(), Some(vec![1, 2]));

    let (queue, all) = Source::queue(nz(1), OverflowStrategy::Fail)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    assert!(matches!(queue.offer(1).await, QueueOfferResult::Enqueued));
    let QueueOfferResult::Failure(overflow) = queue.offer(2).await else {
        panic!("the second offer should overflow");
    };
    assert!(matches!(
        overflow.kind(),
        StreamErrorKind::BufferOverflow { capacity: 1 }
    ));
    assert!(matches!(
        kind(all.await),
        Some(StreamErrorKind::BufferOverflow { .. })
    ));
    assert!(matches!(queue.offer(3).await, QueueOfferResult::Failure(_)));

    let (queue, all) = Source::<u32, _>::queue(nz(4), OverflowStrategy::Backpressure)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    queue.fail(StreamError::msg("owner gave up"));
    assert!(matches!(kind(all.await), Some(StreamErrorKind::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn queue_source_backpressure_makes_offer_wait() {
    let (queue, done) = Source::queue(nz(1), OverflowStrategy::Backpressure)
        .map_async(nz(1), |n: u32| async move {
            sleep(ms(100)).await;
            n
        })
        .to_mat(Sink::collect(), Keep::both)
        .run();
    let start = Instant::now();
    for n in 0..4 {
        assert!(matches!(queue.offer(n).await, QueueOfferResult::Enqueued));
    }
    // One element in the slow stage, one in the queue: the fourth offer
    // waited for two of them to finish.
    assert_eq!(start.elapsed(), ms(200));
    assert!(matches!(queue.try_offer(9), Err(9)));
    drop(queue);
    assert_eq!(done.await.ok(), Some(vec![0, 1, 2, 3]));
}

#[tokio::test(start_paused = true)]
async fn cancelled_queue_source_refuses_offers() {
    let (queue, first) = Source::queue(nz(4), OverflowStrategy::Backpressure)
        .to_mat(Sink::first(), Keep::both)
        .run();
    queue.offer(1).await;
    assert_eq!(first.await.ok(), Some(Some(1)));
    assert!(matches!(
        queue.offer(2).await,
        QueueOfferResult::QueueClosed
    ));
    assert!(queue.is_closed());
}

/// A minimal `futures::Sink` that records what it gets.
#[derive(Debug, Default)]
struct Recorder {
    items: Arc<std::sync::Mutex<Vec<u32>>>,
    closed: Arc<std::sync::atomic::AtomicBool>,
}

impl futures_util::sink::Sink<u32> for Recorder {
    type Error = Boom;

    fn poll_ready(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Boom>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn start_send(self: std::pin::Pin<&mut Self>, item: u32) -> Result<(), Boom> {
        if item == 99 {
            return Err(Boom(item));
        }
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(item);
        Ok(())
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Boom>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Boom>> {
        self.closed.store(true, Ordering::SeqCst);
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn any_futures_sink_plugs_in() {
    let recorder = Recorder::default();
    let (items, closed) = (recorder.items.clone(), recorder.closed.clone());
    let sink = Sink::from_sink(recorder);
    assert!(Source::iter(1..=3).run_with(sink.clone()).await.is_ok());
    assert_eq!(
        *items.lock().unwrap_or_else(|e| e.into_inner()),
        vec![1, 2, 3]
    );
    assert!(closed.load(Ordering::SeqCst));
    assert!(matches!(
        kind(Source::iter(1..=3).run_with(sink).await),
        Some(StreamErrorKind::AlreadyMaterialized)
    ));
    let failing = Sink::from_sink(Recorder::default());
    let out = Source::iter([1, 99, 2]).run_with(failing).await;
    assert!(matches!(&out, Err(e) if e.downcast_ref::<Boom>().is_some()));
}

#[tokio::test(start_paused = true)]
async fn materialized_sources_plug_out_as_streams() {
    use futures_util::stream::StreamExt;
    let (elements, ()) = Source::iter(1..=3).map(|n| n * 2).materialize();
    let out: Vec<_> = elements.collect().await;
    assert_eq!(
        out.into_iter().filter_map(Result::ok).collect::<Vec<_>>(),
        vec![2, 4, 6]
    );
}

#[tokio::test(start_paused = true)]
async fn flows_compose_into_sinks_and_map_materialized_values() {
    let sink = Flow::<u32>::new()
        .map(|n| n + 1)
        .to_mat(Sink::fold(0, |a, n| a + n), Keep::right)
        .map_materialized_value(|total| (total, "tagged"));
    let (total, tag) = Source::iter(1..=3).run_with(sink);
    assert_eq!(tag, "tagged");
    assert_eq!(total.await.ok(), Some(9));
}

#[test]
fn running_outside_a_runtime_abandons_the_stream() {
    let mut done = Source::iter(1..=3).run_collect();
    let result = done.try_result().unwrap_or(Ok(Vec::new()));
    assert!(matches!(kind(result), Some(StreamErrorKind::Abandoned)));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_stage_abandons_the_stream() {
    let explode = |n: u32| {
        if n == 2 {
            panic!("stage panicked on purpose");
        }
        n
    };
    let inline = Source::iter(1..=3).map(explode).run_collect();
    assert!(matches!(
        kind(inline.await),
        Some(StreamErrorKind::Abandoned)
    ));
    // Behind a buffer the panic happens in the buffer's own task.
    let buffered = Source::iter(1..=3)
        .map(explode)
        .buffer(nz(4), OverflowStrategy::Backpressure)
        .run_collect();
    assert!(matches!(
        kind(buffered.await),
        Some(StreamErrorKind::Abandoned)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_graph_can_be_driven_inline_and_dropping_its_task_cancels_it() {
    let graph = Source::repeat(1u32)
        .via_mat(Flow::watch_termination(), Keep::right)
        .map_async(nz(1), |n| async move {
            sleep(ms(10)).await;
            n
        })
        .to_mat(Sink::fold(0u32, |a, n| a + n), Keep::both);
    let (task, (upstream, total)) = graph.materialize();
    // Drive it here for a while, then drop it.
    assert!(tokio::time::timeout(ms(35), task).await.is_err());
    assert_eq!(upstream.await.ok(), Some(Termination::Cancelled));
    assert!(matches!(
        kind(total.await),
        Some(StreamErrorKind::Abandoned)
    ));

    let runtime = tokio::runtime::Handle::current();
    let (_, total) = Source::iter(1..=3)
        .to_mat(Sink::fold(0, |a, n| a + n), Keep::both)
        .run_on(&runtime);
    assert_eq!(total.await.ok(), Some(6));
}
