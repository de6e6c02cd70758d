//! Actor stages against real actors, under paused time.

use std::sync::{Arc, Mutex};

use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, AskError, Context, ReplyTo,
};
use tokio::time::sleep;

use crate::test_support::{kind, ms, nz};
use crate::{
    ActorSink, ActorSource, Keep, OverflowStrategy, Sink, Source, StreamError, StreamErrorKind,
    StreamOps,
};

fn system(name: &str) -> ActorSystem {
    match ActorSystem::new(name, ActorSystemConfig::default()) {
        Ok(system) => system,
        Err(e) => panic!("system failed to start: {e}"),
    }
}

/// Answers `n * 2` after `n` milliseconds (so later requests can finish
/// first), and drops requests for 0 without answering.
struct Doubler;

enum DoublerMsg {
    Double(u64, ReplyTo<u64>),
}

impl Actor for Doubler {
    type Msg = DoublerMsg;

    async fn handle(
        &mut self,
        msg: DoublerMsg,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let DoublerMsg::Double(n, reply) = msg;
        if n == 0 {
            return Ok(());
        }
        // Answer from a task so requests overlap inside the actor too.
        tokio::spawn(async move {
            sleep(ms(n)).await;
            let _ = reply.send(n * 2);
        });
        Ok(())
    }
}

fn spawn<A: Actor>(
    system: &ActorSystem,
    name: &str,
    make: impl FnMut() -> A + Send + 'static,
) -> ActorRef<A::Msg> {
    match system.spawn(name, make) {
        Ok(r) => r,
        Err(e) => panic!("spawn failed: {e}"),
    }
}

#[tokio::test(start_paused = true)]
async fn ask_stage_keeps_order_with_parallelism() {
    let system = system("ask-order");
    let doubler = spawn(&system, "doubler", || Doubler);
    let out = Source::iter([50u64, 10, 30, 20])
        .ask(nz(4), doubler, ms(1000), DoublerMsg::Double)
        .run_collect()
        .await;
    assert_eq!(out.ok(), Some(vec![100, 20, 60, 40]));
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn ask_stage_fails_on_timeout_and_no_reply() {
    let system = system("ask-fail");
    let doubler = spawn(&system, "doubler", || Doubler);
    let slow = Source::iter([10u64, 500])
        .ask(nz(2), doubler.clone(), ms(100), DoublerMsg::Double)
        .run_collect();
    assert!(matches!(
        kind(slow.await),
        Some(StreamErrorKind::Ask(AskError::Timeout(_)))
    ));
    let dropped = Source::iter([10u64, 0])
        .ask(nz(2), doubler, ms(100), DoublerMsg::Double)
        .run_collect();
    assert!(matches!(
        kind(dropped.await),
        Some(StreamErrorKind::Ask(AskError::NoReply))
    ));
    system.terminate().await;
}

/// What the acknowledging sink's actor saw.
#[derive(Debug, Default)]
struct Log {
    events: Vec<String>,
    unacked: usize,
    peak_unacked: usize,
}

struct SlowConsumer {
    log: Arc<Mutex<Log>>,
}

enum ConsumerMsg {
    Element(u32, ReplyTo<()>),
    Complete,
    Failed(StreamError),
}

impl SlowConsumer {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Actor for SlowConsumer {
    type Msg = ConsumerMsg;

    async fn handle(
        &mut self,
        msg: ConsumerMsg,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        match msg {
            ConsumerMsg::Element(n, ack) => {
                {
                    let mut log = self.log();
                    log.unacked += 1;
                    log.peak_unacked = log.peak_unacked.max(log.unacked);
                    log.events.push(format!("element {n}"));
                }
                sleep(ms(20)).await;
                self.log().unacked -= 1;
                let _ = ack.send(());
            }
            ConsumerMsg::Complete => self.log().events.push("complete".into()),
            ConsumerMsg::Failed(e) => self.log().events.push(format!("failed: {e}")),
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn actor_sink_waits_for_each_acknowledgement() {
    let system = system("ack-sink");
    let log = Arc::new(Mutex::new(Log::default()));
    let shared = log.clone();
    let consumer = spawn(&system, "consumer", move || SlowConsumer {
        log: shared.clone(),
    });
    let sink = ActorSink::with_backpressure(
        consumer,
        ConsumerMsg::Element,
        || ConsumerMsg::Complete,
        ConsumerMsg::Failed,
    );
    let start = tokio::time::Instant::now();
    let done = Source::iter(1..=5u32).run_with(sink.clone()).await;
    assert!(done.is_ok());
    assert_eq!(
        start.elapsed(),
        ms(100),
        "one element at a time, 20 ms each"
    );
    let failed = Source::iter(6..=6u32)
        .concat(Source::failed(StreamError::msg("upstream broke")))
        .run_with(sink)
        .await;
    assert!(matches!(kind(failed), Some(StreamErrorKind::Failed(_))));
    sleep(ms(50)).await;
    let (peak, events) = {
        let log = log.lock().unwrap_or_else(|e| e.into_inner());
        (log.peak_unacked, log.events.clone())
    };
    assert_eq!(peak, 1);
    assert_eq!(
        events,
        vec![
            "element 1",
            "element 2",
            "element 3",
            "element 4",
            "element 5",
            "complete",
            "element 6",
            "failed: stage failed: upstream broke",
        ]
    );
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn actor_sink_fails_when_the_actor_is_gone() {
    let system = system("ack-gone");
    let log = Arc::new(Mutex::new(Log::default()));
    let consumer = spawn(&system, "consumer", move || SlowConsumer {
        log: log.clone(),
    });
    system.stop(&consumer);
    sleep(ms(10)).await;
    let sink = ActorSink::with_backpressure(
        consumer,
        ConsumerMsg::Element,
        || ConsumerMsg::Complete,
        ConsumerMsg::Failed,
    );
    let out = Source::iter(1..=3u32).run_with(sink).await;
    assert!(matches!(
        kind(out),
        Some(StreamErrorKind::Ask(AskError::Terminated))
    ));
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn actor_source_emits_what_is_told_until_the_end_marker() {
    let system = system("actor-source");
    let (actor, all) =
        ActorSource::actor_ref(&system, nz(8), OverflowStrategy::Backpressure, |n: &i32| {
            *n < 0
        })
        .map(|n| n * 10)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    actor.tell(1);
    assert!(actor.try_tell(2).is_ok());
    assert!(actor.send(3).await.is_ok());
    actor.tell(-1);
    assert_eq!(all.await.ok(), Some(vec![10, 20, 30]));
    // The stream is over: the reference is terminated and refuses messages.
    assert!(actor.is_terminated());
    assert!(actor.try_tell(4).is_err());
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn actor_source_backpressures_send_and_can_be_asked_through() {
    let system = system("actor-source-bp");
    let (actor, all) =
        ActorSource::actor_ref(&system, nz(1), OverflowStrategy::Backpressure, |_: &u32| {
            false
        })
        .map_async(nz(1), |n| async move {
            sleep(ms(100)).await;
            n
        })
        .take(3)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    let start = tokio::time::Instant::now();
    for n in 0..3 {
        assert!(actor.send(n).await.is_ok());
    }
    // One in the slow stage, one in the buffer: the third send waited.
    assert_eq!(start.elapsed(), ms(100));
    assert!(matches!(
        actor.try_tell(7),
        Err(ferrocast_actor::TrySendError::Full(7))
    ));
    assert_eq!(all.await.ok(), Some(vec![0, 1, 2]));
    assert!(actor.is_terminated(), "take cancelled the source");
    system.terminate().await;
}

/// Watches a reference and reports its termination.
struct Watcher {
    target: ActorRef<u32>,
    told: Option<tokio::sync::oneshot::Sender<()>>,
}

enum WatcherMsg {
    Gone,
}

impl Actor for Watcher {
    type Msg = WatcherMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.watch_with(&self.target, WatcherMsg::Gone);
        Ok(())
    }

    async fn handle(
        &mut self,
        msg: WatcherMsg,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let WatcherMsg::Gone = msg;
        if let Some(told) = self.told.take() {
            let _ = told.send(());
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_actor_source_tells_its_watchers() {
    let system = system("actor-source-watch");
    let (actor, first) =
        ActorSource::actor_ref(&system, nz(4), OverflowStrategy::DropNew, |_: &u32| false)
            .to_mat(Sink::first(), Keep::both)
            .run();
    let (tx, gone) = tokio::sync::oneshot::channel();
    let mut tx = Some(tx);
    let target = actor.clone();
    let _watcher = spawn(&system, "watcher", move || Watcher {
        target: target.clone(),
        told: tx.take(),
    });
    sleep(ms(1)).await;
    actor.tell(5);
    assert_eq!(first.await.ok(), Some(Some(5)));
    // Sink::first cancelled the source: the watcher hears of it.
    assert!(tokio::time::timeout(ms(100), gone).await.is_ok());
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn what_an_actor_source_cannot_take_from_tell_is_a_dead_letter() {
    let system = system("actor-source-dead-letters");
    let (actor, all) =
        ActorSource::actor_ref(&system, nz(1), OverflowStrategy::DropNew, |n: &u32| {
            *n == 99
        })
        .to_mat(Sink::collect(), Keep::both)
        .run();
    let before = system.dead_letter_count();
    // Nothing pulls before the stream task runs: one fits, two are dropped.
    actor.tell(1);
    actor.tell(2);
    actor.tell(3);
    assert_eq!(system.dead_letter_count(), before + 2);
    actor.tell(99);
    assert_eq!(all.await.ok(), Some(vec![1]));
    // After the end, `tell` is refused: a dead letter too.
    actor.tell(4);
    assert_eq!(system.dead_letter_count(), before + 3);
    system.terminate().await;
}
