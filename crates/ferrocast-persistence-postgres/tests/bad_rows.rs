//! Rows the application cannot read: recovery fails with the same typed
//! errors as on the other backends, naming the persistence id and
//! sequence number; rows the backend cannot read are a storage error. No
//! panic, no skipped event.

mod common;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use common::TestSchema;
use common::supervisor::{GetChild, Supervisor};
use ferrocast_actor::{ActorSystem, ActorSystemConfig, Directive, Failure, ReplyTo};
use ferrocast_persistence::{
    DecodeError, Effect, EventSourced, EventSourcedActor, EventSourcedSetup, Journal, JournalError,
    Json, PersistenceId, RecoveryError, SequenceNr, Serialization,
};
use ferrocast_persistence_postgres::{PostgresError, PostgresStore};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

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

type Setup = EventSourcedSetup<Counter, PostgresStore>;

fn setup(store: &Arc<PostgresStore>, id: &str) -> Setup {
    EventSourcedSetup::new(
        PersistenceId::new(id).unwrap(),
        store.clone(),
        Serialization::new("counter.added.v1", Json),
    )
}

/// Writes 1, 2, 3 through an actor.
async fn seed(s: &Setup) {
    let system = ActorSystem::new("seed", ActorSystemConfig::default()).unwrap();
    let c = system
        .spawn("c", EventSourcedActor::props(s.clone(), Counter::default))
        .unwrap();
    for n in 1..=3 {
        c.ask(|r| Cmd::Add(n, r), TIMEOUT).await.unwrap();
    }
    system.terminate().await;
}

fn describe(failure: &Failure) -> String {
    let Failure::Error(e) = failure else {
        return format!("other: {failure}");
    };
    match e.downcast_ref::<RecoveryError>() {
        Some(RecoveryError::Event {
            persistence_id,
            sequence_nr,
            source,
        }) => {
            let kind = match source {
                DecodeError::UnknownSerializer { serializer, .. } => {
                    format!("unknown-serializer-{serializer}")
                }
                DecodeError::Malformed { .. } => "malformed".to_owned(),
                other => format!("{other}"),
            };
            format!("event {persistence_id} {sequence_nr} {kind}")
        }
        Some(other) => format!("recovery: {other}"),
        None => format!("error: {e}"),
    }
}

/// Starts the entity under a supervisor that stops it on failure; the
/// first failure's description.
async fn recovery_failure(s: Setup) -> String {
    let system = ActorSystem::new("check", ActorSystemConfig::default()).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sup = system
        .spawn("sup", move || {
            Supervisor::new(
                EventSourcedActor::props(s.clone(), Counter::default),
                Directive::Stop,
                tx.clone(),
                describe,
            )
        })
        .unwrap();
    let seen = tokio::time::timeout(TIMEOUT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    let child = sup.ask(GetChild, TIMEOUT).await.unwrap().unwrap();
    assert!(child.ask(Cmd::Get, TIMEOUT).await.is_err());
    system.terminate().await;
    seen
}

async fn tamper(schema: &TestSchema, id: &str, nr: i64, set: &str) {
    let sql = format!(
        "UPDATE {} SET {set} WHERE persistence_id = $1 AND sequence_nr = $2",
        schema.table("journal")
    );
    let n = schema
        .client()
        .await
        .execute(&sql, &[&id, &nr])
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_serializer_fails_recovery_naming_id_and_sequence_nr() {
    let schema = TestSchema::new("bad_ser");
    let store = Arc::new(schema.open().await);
    let s = setup(&store, "c-u");
    seed(&s).await;
    tamper(&schema, "c-u", 2, "serializer_id = 999").await;
    assert_eq!(
        recovery_failure(s).await,
        "event c-u 2 unknown-serializer-999"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_bytes_fail_recovery_naming_id_and_sequence_nr() {
    let schema = TestSchema::new("bad_bytes");
    let store = Arc::new(schema.open().await);
    let s = setup(&store, "c-m");
    seed(&s).await;
    tamper(&schema, "c-m", 3, "payload = '\\x7b6e6f74'::bytea").await;
    assert_eq!(recovery_failure(s).await, "event c-m 3 malformed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_the_backend_cannot_read_are_typed_storage_errors() {
    let schema = TestSchema::new("corrupt");
    let store = Arc::new(schema.open().await);
    let s = setup(&store, "c-c");
    seed(&s).await;
    let pid = PersistenceId::new("c-c").unwrap();
    for (nr, set, what) in [
        (1, "serializer_id = -1", "serializer id -1"),
        (2, "tags = ARRAY['']", "tags column"),
        (3, "writer = ''", ""),
    ] {
        tamper(&schema, "c-c", nr, set).await;
        let from = SequenceNr::new(nr as u64);
        let err = store
            .replay(&pid, from, from, NonZeroUsize::MIN)
            .await
            .unwrap_err();
        let JournalError::Storage(source) = &err else {
            panic!("{err:?}");
        };
        let corrupt = source.downcast_ref::<PostgresError>();
        assert!(
            matches!(corrupt, Some(PostgresError::Corrupt(m)) if m.contains(what)),
            "{nr}: {err}"
        );
    }
}
