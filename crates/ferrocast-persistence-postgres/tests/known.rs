//! The writer remembers the highest numbers it committed and trusts them
//! only while the journal's identity shows nobody else wrote: another
//! store writing between two groups, a rolled-back foreign insert, an
//! identity with a cache, a role that may not read the identity and a
//! failing `COMMIT` must never make it accept a wrong sequence number or
//! refuse a right one.

mod common;

use std::num::NonZeroUsize;

use common::{TestSchema, event, pid};
use ferrocast_persistence::{Journal, JournalError, PersistenceId, SequenceNr};
use ferrocast_persistence_postgres::PostgresStore;

async fn write(store: &PostgresStore, pid: &PersistenceId, nrs: std::ops::RangeInclusive<u64>) {
    let events = nrs.map(|nr| event(pid, nr)).collect();
    store.write(events).await.unwrap();
}

fn assert_conflict(result: Result<(), JournalError>, next: u64) {
    assert!(
        matches!(
            &result,
            Err(JournalError::SequenceConflict { expected, .. }) if expected.value() == next
        ),
        "expected a conflict naming {next}: {result:?}"
    );
}

async fn numbers(store: &PostgresStore, pid: &PersistenceId) -> Vec<u64> {
    store
        .replay(pid, SequenceNr::ZERO, SequenceNr::MAX, NonZeroUsize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| e.sequence_nr.value())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_store_writing_between_two_groups_is_noticed() {
    let schema = TestSchema::new("known_other");
    let (a, b) = (schema.open().await, schema.open().await);
    let (p, q) = (pid("p"), pid("q"));
    write(&a, &p, 1..=1).await;
    write(&a, &q, 1..=1).await;
    // `a` remembers p at 1; `b` extends it.
    write(&b, &p, 2..=2).await;
    assert_conflict(a.write(vec![event(&p, 2)]).await, 3);
    write(&a, &p, 3..=3).await;
    write(&a, &q, 2..=2).await;
    // And the other way round.
    assert_conflict(b.write(vec![event(&p, 3)]).await, 4);
    write(&b, &p, 4..=4).await;
    write(&a, &p, 5..=5).await;
    assert_eq!(numbers(&a, &p).await, [1, 2, 3, 4, 5]);
    assert_eq!(numbers(&b, &q).await, [1, 2]);
}

/// A rolled-back insert takes identity values without leaving rows: the
/// writer reads again and accepts what follows its own numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_foreign_insert_means_reading_again() {
    let schema = TestSchema::new("known_rollback");
    let store = schema.open().await;
    let p = pid("p");
    write(&store, &p, 1..=2).await;
    schema
        .client()
        .await
        .batch_execute(&format!(
            "BEGIN; INSERT INTO {} (persistence_id, sequence_nr, serializer_id, manifest, \
             payload, tags, timestamp_ms, writer) VALUES ('p', 3, 100, 'n', '', '{{}}', 0, 'x'); \
             ROLLBACK",
            schema.table("journal")
        ))
        .await
        .unwrap();
    assert_conflict(store.write(vec![event(&p, 4)]).await, 3);
    write(&store, &p, 3..=4).await;
    assert_eq!(numbers(&store, &p).await, [1, 2, 3, 4]);
}

/// With a cache, a session hands out identity values it fetched earlier
/// without moving the identity's last value, so that value no longer
/// shows another writer's inserts. Here `b` writes event 11 with a cached
/// value while the last value is exactly what `a`'s own commit left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_with_a_cache_is_not_trusted() {
    let schema = TestSchema::new("known_cache");
    let (a, b) = (schema.open().await, schema.open().await);
    schema
        .client()
        .await
        .batch_execute(&format!(
            "ALTER TABLE {} ALTER COLUMN ordering SET CACHE 10",
            schema.table("journal")
        ))
        .await
        .unwrap();
    let (p, x) = (pid("p"), pid("x"));
    // `b` fetches values 1..=10 and keeps 2..=10.
    write(&b, &x, 1..=1).await;
    // `a` reads 10 as the last value and takes 11..=20: 10 + 10.
    write(&a, &p, 1..=10).await;
    // `b` inserts with value 2: the last value stays 20.
    write(&b, &p, 11..=11).await;
    assert_conflict(a.write(vec![event(&p, 11)]).await, 12);
    write(&a, &p, 12..=12).await;
    assert_eq!(numbers(&a, &p).await, (1..=12).collect::<Vec<_>>());
}

/// A role that may write the tables but not read the identity sequence
/// (tables created by another role) still writes: it reads every log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_rights_on_the_identity_still_writes() {
    let schema = TestSchema::new("known_grants");
    // Creates the schema and tables as the server's superuser.
    drop(schema.open().await);
    let role = format!("r_{}", schema.name);
    let admin = schema.client().await;
    admin
        .batch_execute(&format!(
            r#"CREATE ROLE {role} LOGIN;
               GRANT USAGE, CREATE ON SCHEMA "{s}" TO {role};
               GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{s}" TO {role};"#,
            s = schema.name
        ))
        .await
        .unwrap();
    let mut config = schema.config();
    config.connection.user(&role);
    let store = PostgresStore::open(config).await.unwrap();
    let p = pid("p");
    write(&store, &p, 1..=1).await;
    write(&store, &p, 2..=3).await;
    assert_conflict(store.write(vec![event(&p, 3)]).await, 4);
    assert_eq!(numbers(&store, &p).await, [1, 2, 3]);
    drop(store);
}

/// A group whose `COMMIT` fails (a deferred trigger) is not acknowledged
/// and leaves nothing, and the writer's next groups number on from what
/// was committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_failing_at_commit_is_not_remembered() {
    let schema = TestSchema::new("known_commit");
    let store = schema.open().await;
    let admin = schema
        .fail_commits_when("NEW.persistence_id = 'boom'")
        .await;
    let (p, boom) = (pid("p"), pid("boom"));
    write(&store, &p, 1..=1).await;
    let failed = store
        .write((1..=2).map(|nr| event(&boom, nr)).collect())
        .await;
    assert!(
        matches!(failed, Err(JournalError::Storage(_))),
        "{failed:?}"
    );
    assert_eq!(store.highest_sequence_nr(&boom).await.unwrap().value(), 0);
    schema.stop_failing(&admin).await;
    write(&store, &boom, 1..=1).await;
    write(&store, &p, 2..=2).await;
    assert_eq!(numbers(&store, &boom).await, [1]);
    assert_eq!(numbers(&store, &p).await, [1, 2]);
}

/// The server's default isolation may be stricter than READ COMMITTED: a
/// transaction's snapshot would then be taken by the statement that waits
/// for the lock, before the previous holder committed. The writer must
/// still see that commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stricter_default_isolation_still_sees_the_previous_lock_holder() {
    let schema = TestSchema::new("known_isolation");
    let mut config = schema.config();
    config
        .connection
        .options("-c default_transaction_isolation=repeatable\\ read");
    let store = std::sync::Arc::new(PostgresStore::open(config).await.unwrap());
    let p = pid("p");
    write(&store, &p, 1..=1).await;

    // Another writer holds the schema's lock.
    let other = schema.hold_lock().await;
    let waiting = {
        let store = store.clone();
        let p = p.clone();
        tokio::spawn(async move { store.write(vec![event(&p, 2)]).await })
    };
    schema.until_the_writer_waits().await;
    other
        .batch_execute(&format!(
            "INSERT INTO {} (persistence_id, sequence_nr, serializer_id, manifest, payload, \
             tags, timestamp_ms, writer) VALUES ('p', 2, 100, 'n', '', '{{}}', 0, 'x'); \
             INSERT INTO {} (persistence_id, highest) VALUES ('p', 2) \
             ON CONFLICT (persistence_id) DO UPDATE SET highest = 2; COMMIT",
            schema.table("journal"),
            schema.table("journal_highest")
        ))
        .await
        .unwrap();
    assert_conflict(waiting.await.unwrap(), 3);
    write(&store, &p, 3..=3).await;
    assert_eq!(numbers(&store, &p).await, [1, 2, 3]);
}
