//! Event-sourced entities on PostgreSQL: many at once (group commit), and
//! recovery after the store is closed and opened again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::TestSchema;
use ferrocast_actor::{ActorRef, ActorSystem, ActorSystemConfig, ReplyTo};
use ferrocast_persistence::{
    Effect, EventSourced, EventSourcedActor, EventSourcedConfig, EventSourcedSetup, Json,
    PersistenceId, Serialization, SnapshotPolicy, SnapshotStore,
};
use ferrocast_persistence_postgres::PostgresStore;
use serde::{Deserialize, Serialize};

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Counter;

enum Cmd {
    Add(u64, ReplyTo<u64>),
    Get(ReplyTo<u64>),
}

#[derive(Serialize, Deserialize)]
struct Added(u64);

impl EventSourced for Counter {
    type Command = Cmd;
    type Event = Added;
    type State = u64;

    fn empty_state(&self) -> u64 {
        0
    }

    fn on_command(&mut self, state: &u64, cmd: Cmd) -> Effect<Self> {
        match cmd {
            Cmd::Add(n, reply) => Effect::persist(Added(n)).then_reply(reply, |s| *s),
            Cmd::Get(reply) => {
                let _ = reply.send(*state);
                Effect::none()
            }
        }
    }

    fn on_event(&self, state: &mut u64, event: &Added) {
        *state += event.0;
    }
}

fn spawn(system: &ActorSystem, store: &Arc<PostgresStore>, i: usize) -> ActorRef<Cmd> {
    let setup = EventSourcedSetup::<Counter, _>::new(
        PersistenceId::new(&format!("counter-{i}")).unwrap(),
        store.clone(),
        Serialization::new("counter.added.v1", Json),
    )
    .with_snapshots(store.clone(), Serialization::new("counter.state.v1", Json))
    .with_config(EventSourcedConfig {
        snapshots: SnapshotPolicy::every(4).keep(1),
        ..EventSourcedConfig::default()
    })
    .unwrap();
    system
        .spawn(
            &format!("counter-{i}"),
            EventSourcedActor::props(setup, Counter::default),
        )
        .unwrap()
}

const ENTITIES: usize = 50;
const ADDS: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_entities_persist_concurrently_and_recover_after_reopen() {
    let db = TestSchema::new("es");
    let store = Arc::new(db.open().await);
    let system = ActorSystem::new("one", ActorSystemConfig::default()).unwrap();
    let counters: Vec<_> = (0..ENTITIES).map(|i| spawn(&system, &store, i)).collect();
    let mut tasks = Vec::new();
    for (i, c) in counters.iter().enumerate() {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for _ in 0..ADDS {
                last = c.ask(|r| Cmd::Add(i as u64, r), TIMEOUT).await.unwrap();
            }
            last
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), i as u64 * ADDS);
    }
    let stats = store.commit_stats();
    assert!(stats.requests >= ENTITIES as u64 * ADDS, "{stats:?}");
    assert!(stats.commits <= stats.requests, "{stats:?}");
    system.terminate().await;
    drop(counters);
    let pid = PersistenceId::new("counter-7").unwrap();
    let snap = store
        .load_latest(&pid, ferrocast_persistence::SequenceNr::MAX)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap.metadata.sequence_nr.value(), 8, "every 4, keep 1");
    drop(store);

    let store = Arc::new(db.open().await);
    let system = ActorSystem::new("two", ActorSystemConfig::default()).unwrap();
    for i in 0..ENTITIES {
        let c = spawn(&system, &store, i);
        assert_eq!(c.ask(Cmd::Get, TIMEOUT).await.unwrap(), i as u64 * ADDS);
    }
    system.terminate().await;
}
