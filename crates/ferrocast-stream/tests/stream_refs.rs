//! Stream refs within one node and between two nodes over loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, Context, ReplyTo,
};
use ferrocast_remote::{Registry, RemoteConfig, Remoting};
use ferrocast_stream::{
    Keep, Sink, SinkRef, Source, SourceRef, StreamErrorKind, StreamOps, StreamRefError,
    StreamRefMsg, StreamRefSettings,
};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn source_and_sink_refs_work_within_one_node() {
    let system = ActorSystem::new("local", ActorSystemConfig::default()).unwrap();
    let source_ref = Source::iter(0..1000u64).run_with(Sink::source_ref(&system));
    let got = source_ref.source(&system).run_collect().await.unwrap();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());

    let (sink_ref, collected) = Source::<u64, SinkRef<u64>>::sink_ref(&system)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    let fed = Source::iter(0..500u64).run_with(sink_ref.sink(&system));
    fed.await.unwrap();
    assert_eq!(collected.await.unwrap(), (0..500).collect::<Vec<_>>());
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_consumer_bounds_what_is_in_flight() {
    let system = ActorSystem::new("bounded", ActorSystemConfig::default()).unwrap();
    let produced = Arc::new(AtomicU64::new(0));
    let p = produced.clone();
    let settings = StreamRefSettings {
        buffer_capacity: 8,
        ..StreamRefSettings::default()
    };
    let source_ref = Source::iter(0..200u64)
        .map(move |x| {
            p.fetch_add(1, Ordering::SeqCst);
            x
        })
        .run_with(Sink::source_ref_with(&system, settings.clone()));
    let produced_seen = produced.clone();
    let max_ahead = Arc::new(AtomicU64::new(0));
    let m = max_ahead.clone();
    let consumed = source_ref
        .source_with(&system, settings)
        .map_async(std::num::NonZeroUsize::MIN, move |x| {
            let ahead = produced_seen.load(Ordering::SeqCst) - x;
            m.fetch_max(ahead, Ordering::SeqCst);
            async move {
                // A slow consumer: 10 ms of simulated time per element.
                ferrocast_testkit::time::advance(Duration::from_millis(10)).await;
                x
            }
        })
        .run_collect()
        .await
        .unwrap();
    assert_eq!(consumed.len(), 200);
    // Demand is the buffer (8), topped up at half: the producer is never
    // more than a buffer and one pulled element ahead.
    let ahead = max_ahead.load(Ordering::SeqCst);
    assert!(ahead <= 8 + 2, "producer ran {ahead} elements ahead");
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn an_unused_source_ref_times_out_and_its_consumer_fails() {
    let system = ActorSystem::new("timeout", ActorSystemConfig::default()).unwrap();
    let settings = StreamRefSettings {
        subscription_timeout: Duration::from_millis(100),
        final_termination_signal_deadline: Duration::from_millis(50),
        ..StreamRefSettings::default()
    };
    let source_ref: SourceRef<u64> =
        Source::iter(0..10u64).run_with(Sink::source_ref_with(&system, settings.clone()));
    ferrocast_testkit::time::advance(Duration::from_millis(200)).await;
    let err = source_ref
        .source_with(&system, settings)
        .run_collect()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            StreamErrorKind::StreamRef(StreamRefError::PartnerTerminated)
        ),
        "{err}"
    );
    system.terminate().await;
}

#[tokio::test]
async fn a_source_ref_is_used_once() {
    let system = ActorSystem::new("once", ActorSystemConfig::default()).unwrap();
    let source_ref = Source::from_stream(futures_util::stream::pending::<u64>())
        .run_with(Sink::source_ref(&system));
    let first = source_ref.source(&system).run_collect();
    let second = source_ref.source(&system).run_collect().await.unwrap_err();
    assert!(
        second.to_string().contains("already has a subscriber"),
        "{second}"
    );
    drop(first);
    system.terminate().await;
}

// ---- two nodes ----

#[derive(Serialize, Deserialize)]
enum CollectorMsg {
    /// Consume the ref and answer with everything it emitted.
    Collect(SourceRef<u64>, ReplyTo<Vec<u64>>),
    /// Consume the ref; answer with the error text when it fails.
    ExpectFailure(SourceRef<u64>, ReplyTo<String>),
    /// Run 0..n into the ref.
    Feed(SinkRef<u64>, u64),
    /// Answer with a ref to a stream that never emits.
    ProvidePending(ReplyTo<SourceRef<u64>>),
}

struct Collector;

impl Actor for Collector {
    type Msg = CollectorMsg;
    async fn handle(
        &mut self,
        msg: CollectorMsg,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let system = ctx.system();
        match msg {
            CollectorMsg::Collect(source_ref, reply) => {
                let done = source_ref.source(&system).run_collect();
                tokio::spawn(async move {
                    let _ = reply.send(done.await.unwrap_or_default());
                });
            }
            CollectorMsg::ExpectFailure(source_ref, reply) => {
                let done = source_ref.source(&system).run_collect();
                tokio::spawn(async move {
                    let text = match done.await {
                        Ok(v) => format!("completed with {} elements", v.len()),
                        Err(e) => e.to_string(),
                    };
                    let _ = reply.send(text);
                });
            }
            CollectorMsg::Feed(sink_ref, n) => {
                drop(Source::iter(0..n).run_with(sink_ref.sink(&system)));
            }
            CollectorMsg::ProvidePending(reply) => {
                let source_ref = Source::from_stream(futures_util::stream::pending::<u64>())
                    .run_with(Sink::source_ref(&system));
                let _ = reply.send(source_ref);
            }
        }
        Ok(())
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register::<CollectorMsg>("test.Collector").unwrap();
    r.register::<StreamRefMsg<u64>>("test.StreamRef.u64")
        .unwrap();
    r.register::<Vec<u64>>("test.VecU64").unwrap();
    r.register::<SourceRef<u64>>("test.SourceRef.u64").unwrap();
    r
}

fn config() -> RemoteConfig {
    let mut c = RemoteConfig::bind("127.0.0.1", 0);
    c.heartbeat_interval = Duration::from_millis(50);
    c.reconnect_backoff_min = Duration::from_millis(20);
    c.reconnect_backoff_max = Duration::from_millis(200);
    c.failure_detector.acceptable_heartbeat_pause = Duration::from_millis(300);
    c.failure_detector.first_heartbeat_estimate = Duration::from_millis(50);
    c.failure_detector.min_std_deviation = Duration::from_millis(20);
    c.failure_detector.threshold = 5.0;
    c
}

async fn node() -> (ActorSystem, Remoting) {
    let system = ActorSystem::new("refs", ActorSystemConfig::default()).unwrap();
    let remoting = Remoting::start(&system, registry(), config())
        .await
        .unwrap();
    (system, remoting)
}

async fn collector_on(
    b: &(ActorSystem, Remoting),
    a: &(ActorSystem, Remoting),
) -> ActorRef<CollectorMsg> {
    let collector = b.0.spawn("collector", || Collector).unwrap();
    let path = b.1.expose(&collector).unwrap();
    let text = format!("{}{}", path.address, path.path);
    a.1.resolve::<CollectorMsg>(&text, WAIT).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ref_crosses_nodes_with_flow_control() {
    let a = node().await;
    let b = node().await;
    let collector = collector_on(&b, &a).await;
    let source_ref = Source::iter(0..20_000u64).run_with(Sink::source_ref(&a.0));
    let got = collector
        .ask(|r| CollectorMsg::Collect(source_ref, r), WAIT)
        .await
        .unwrap();
    assert_eq!(got, (0..20_000).collect::<Vec<_>>());
    a.0.terminate().await;
    b.0.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_ref_crosses_nodes() {
    let a = node().await;
    let b = node().await;
    let collector = collector_on(&b, &a).await;
    let (sink_ref, collected) = Source::<u64, SinkRef<u64>>::sink_ref(&a.0)
        .to_mat(Sink::collect(), Keep::both)
        .run();
    collector.tell(CollectorMsg::Feed(sink_ref, 5_000));
    let got = tokio::time::timeout(WAIT, collected)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, (0..5_000).collect::<Vec<_>>());
    a.0.terminate().await;
    b.0.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_fails_when_the_producing_node_vanishes() {
    let a = node().await;
    let b = node().await;
    // A provider on A hands B a ref to a stream that never emits.
    let provider = collector_on(&a, &b).await;
    let source_ref = provider
        .ask(CollectorMsg::ProvidePending, WAIT)
        .await
        .unwrap();
    let settings = StreamRefSettings {
        final_termination_signal_deadline: Duration::from_millis(100),
        ..StreamRefSettings::default()
    };
    let consumed = source_ref.source_with(&b.0, settings).run_collect();
    // A round trip, so the subscription and its death watch reach A.
    let _ = provider
        .ask(CollectorMsg::ProvidePending, WAIT)
        .await
        .unwrap();
    a.1.shutdown();
    let err = tokio::time::timeout(WAIT, consumed)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            StreamErrorKind::StreamRef(StreamRefError::PartnerTerminated)
        ),
        "{err}"
    );
    a.0.terminate().await;
    b.0.terminate().await;
}
