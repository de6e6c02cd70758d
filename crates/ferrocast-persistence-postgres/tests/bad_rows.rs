//! Rows the application cannot read: recovery fails with the same typed
//! errors as on the other backends, naming the persistence id and
//! sequence number; rows the backend cannot read are a storage error. No
//! panic, no skipped event.

mod common;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use common::TestSchema;
use ferrocast_actor::{ActorSystem, ActorSystemConfig};
use ferrocast_persistence::tck::scaffold::{
    Counter, CounterCmd, counter_setup, describe_recovery_failure, first_failure,
};
use ferrocast_persistence::{
    EventSourcedActor, EventSourcedSetup, Journal, JournalError, PersistenceId, QueryError,
    ReadJournal, SequenceNr,
};
use ferrocast_persistence_postgres::{PostgresError, PostgresStore};
use futures_util::StreamExt;

const TIMEOUT: Duration = Duration::from_secs(10);

type Setup = EventSourcedSetup<Counter, PostgresStore>;

fn setup(store: &Arc<PostgresStore>, id: &str) -> Setup {
    counter_setup(store.clone(), &PersistenceId::new(id).unwrap())
}

/// Writes 1, 2, 3 through an actor.
async fn seed(s: &Setup) {
    let system = ActorSystem::new("seed", ActorSystemConfig::default()).unwrap();
    let c = system
        .spawn("c", EventSourcedActor::props(s.clone(), Counter::default))
        .unwrap();
    for n in 1..=3 {
        c.ask(|r| CounterCmd::Add(n, r), TIMEOUT).await.unwrap();
    }
    system.terminate().await;
}

/// Starts the entity under a supervisor that stops it on failure; the
/// first failure's description.
async fn recovery_failure(s: Setup) -> String {
    let failed = first_failure(
        move || EventSourcedActor::props(s.clone(), Counter::default),
        describe_recovery_failure,
        TIMEOUT,
    )
    .await
    .unwrap();
    assert!(failed.child.ask(CounterCmd::Get, TIMEOUT).await.is_err());
    failed.system.terminate().await;
    failed.failure
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

#[tokio::test(start_paused = true)]
async fn a_row_the_backend_cannot_read_fails_a_query_stream_with_a_typed_error() {
    let schema = TestSchema::new("corrupt_query");
    let store = Arc::new(schema.open().await);
    let pid = PersistenceId::new("c-q").unwrap();
    let events = (1..=3).map(|nr| common::event(&pid, nr)).collect();
    store.write(events).await.unwrap();
    tamper(&schema, "c-q", 2, "serializer_id = -1").await;
    let queries = ReadJournal::new(store.clone());
    let found: Vec<_> = queries
        .events_by_persistence_id_stream(&pid, SequenceNr::FIRST, SequenceNr::MAX)
        .collect()
        .await;
    let [Err(QueryError::Journal(JournalError::Storage(e)))] = found.as_slice() else {
        panic!("expected one typed error, got {found:?}");
    };
    assert!(
        matches!(e.downcast_ref::<PostgresError>(), Some(PostgresError::Corrupt(m)) if m.contains("serializer id -1")),
        "{e}"
    );
}
