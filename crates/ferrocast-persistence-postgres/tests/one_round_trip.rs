//! A group that writes only events to logs the writer knows is committed
//! in one round trip, its insert guarded by the journal identity's last
//! value: groups of known logs take that path (tagged or not; a group
//! with anything else, or a log not known, takes two), another store
//! writing between two groups makes the guarded insert write nothing and
//! the group run again in two round trips, and a failed `COMMIT` is not
//! remembered.

mod common;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::SystemTime;

use common::{TestSchema, event, pid};
use ferrocast_persistence::{
    DurableStateRecord, DurableStateStore, EventsByTag, Journal, JournalError, Offset, Payload,
    PersistenceId, PersistentRepr, Revision, SequenceNr, SerializerId, Tag,
};
use ferrocast_persistence_postgres::{OneRoundTrip, PostgresStore};

fn untagged(pid: &PersistenceId, nr: u64) -> PersistentRepr {
    PersistentRepr {
        tags: Vec::new(),
        ..event(pid, nr)
    }
}

async fn write(store: &PostgresStore, events: Vec<PersistentRepr>) {
    store.write(events).await.unwrap();
}

/// Commits and one-round-trip commits and misses since `before`.
fn since(store: &PostgresStore, before: (u64, OneRoundTrip)) -> (u64, u64, u64) {
    let (commits, one) = (store.commit_stats().commits, store.one_round_trip());
    (
        commits - before.0,
        one.commits - before.1.commits,
        one.misses - before.1.misses,
    )
}

fn now(store: &PostgresStore) -> (u64, OneRoundTrip) {
    (store.commit_stats().commits, store.one_round_trip())
}

async fn numbers(store: &PostgresStore, pid: &PersistenceId) -> Vec<(u64, String)> {
    store
        .replay(pid, SequenceNr::ZERO, SequenceNr::MAX, NonZeroUsize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.sequence_nr.value(), e.writer.as_str().to_owned()))
        .collect()
}

/// The journal's rows, its tag rows, and the identity's last value: equal
/// when every event was written once, with its tag, and no identity value
/// was taken without a row.
async fn rows_tags_identity(schema: &TestSchema) -> (i64, i64, i64) {
    let row = schema
        .client()
        .await
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM {j}), (SELECT count(*) FROM {t}), \
                 (SELECT last_value FROM pg_sequences WHERE schemaname = $1)",
                j = schema.table("journal"),
                t = schema.table("event_tags"),
            ),
            &[&schema.name],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_of_known_logs_take_one_round_trip() {
    let schema = TestSchema::new("one_rt");
    let store = Arc::new(schema.open().await);
    let (p, q, s) = (pid("p"), pid("q"), pid("s"));

    // Not known yet: two round trips.
    let before = now(&store);
    write(&store, vec![event(&p, 1)]).await;
    write(&store, vec![untagged(&q, 1)]).await;
    assert_eq!(since(&store, before), (2, 0, 0));

    // Known, tagged or not: one.
    let before = now(&store);
    write(&store, vec![event(&p, 2), event(&p, 3)]).await;
    write(&store, vec![untagged(&q, 2)]).await;
    assert_eq!(since(&store, before), (2, 2, 0));

    // A conflict alone proves nothing it could guard: two round trips.
    let before = now(&store);
    assert!(matches!(
        store.write(vec![event(&p, 9)]).await,
        Err(JournalError::SequenceConflict { expected, .. }) if expected.value() == 4
    ));
    // So does a group with a durable state.
    store
        .upsert(DurableStateRecord {
            persistence_id: s.clone(),
            revision: Revision::new(1),
            payload: Payload::new(SerializerId::new(100), "s", vec![1]),
            tag: None,
            timestamp: SystemTime::UNIX_EPOCH,
        })
        .await
        .unwrap();
    assert_eq!(since(&store, before), (2, 0, 0));

    // Steady state, one write at a time: every group in one round trip.
    let before = now(&store);
    for nr in 4..=23 {
        write(&store, vec![event(&p, nr)]).await;
    }
    assert_eq!(since(&store, before), (20, 20, 0));

    // Many entities, each known, with one write in flight: the groups take
    // one round trip or, when their callers are still coming back, two
    // (see take_in.rs); none misses, and every write lands once.
    let pids: Vec<PersistenceId> = (0..50).map(|i| pid(&format!("e{i}"))).collect();
    for pid in &pids {
        write(&store, vec![untagged(pid, 1)]).await;
    }
    let before = now(&store);
    let mut writes = tokio::task::JoinSet::new();
    for (i, pid) in pids.iter().enumerate() {
        let (store, pid) = (store.clone(), pid.clone());
        writes.spawn(async move {
            for nr in 2..=5 {
                let e = if i % 2 == 0 {
                    event(&pid, nr)
                } else {
                    untagged(&pid, nr)
                };
                store.write(vec![e]).await.unwrap();
            }
        });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap();
    }
    let (_, one, misses) = since(&store, before);
    assert!(one > 0 && misses == 0, "{one} {misses}");
    for pid in &pids {
        assert_eq!(store.highest_sequence_nr(pid).await.unwrap().value(), 5);
    }
    // Tagged events have their tag rows.
    let tagged = store
        .events_by_tag(
            &Tag::new("orders").unwrap(),
            Offset::ZERO,
            NonZeroUsize::MAX,
        )
        .await
        .unwrap();
    assert_eq!(tagged.len(), 23 + 25 * 4);
    let (rows, tags, identity) = rows_tags_identity(&schema).await;
    assert_eq!((rows, tags, identity), (2 + 23 + 50 * 5, 23 + 25 * 4, rows));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_store_writing_between_two_groups_makes_the_guarded_insert_write_nothing() {
    let schema = TestSchema::new("one_rt_other");
    let (a, b) = (schema.open().await, schema.open().await);
    let (p, x) = (pid("p"), pid("x"));
    write(&a, vec![event(&p, 1)]).await;
    write(&a, vec![event(&p, 2)]).await;
    let before = now(&a);

    // `b` writes another log: `a`'s numbers are still right, but it cannot
    // tell; its insert writes nothing, and the group runs again.
    write(
        &b,
        vec![PersistentRepr {
            writer: ferrocast_persistence::WriterId::new("b").unwrap(),
            ..event(&x, 1)
        }],
    )
    .await;
    write(&a, vec![untagged(&p, 3)]).await;
    assert_eq!(since(&a, before), (1, 0, 1), "one miss, run again");

    // The next group reads up front; then nobody else wrote, and the one
    // after goes in one round trip again.
    write(&a, vec![event(&p, 4)]).await;
    write(&a, vec![event(&p, 5)]).await;
    assert_eq!(since(&a, before), (3, 1, 1));

    // `b` extends `p`: `a`'s next number is wrong, and the group run again
    // says so.
    let b_event = |nr| PersistentRepr {
        writer: ferrocast_persistence::WriterId::new("b").unwrap(),
        ..untagged(&p, nr)
    };
    write(&b, vec![b_event(6)]).await;
    let result = a.write(vec![event(&p, 6)]).await;
    assert!(
        matches!(
            &result,
            Err(JournalError::SequenceConflict { expected, .. }) if expected.value() == 7
        ),
        "{result:?}"
    );
    assert_eq!(since(&a, before), (4, 1, 2));
    write(&a, vec![event(&p, 7)]).await;
    write(&a, vec![event(&p, 8)]).await;
    assert_eq!(since(&a, before), (6, 2, 2));

    let expected: Vec<(u64, String)> = (1..=8)
        .map(|nr| (nr, if nr == 6 { "b" } else { "w" }.to_owned()))
        .collect();
    assert_eq!(numbers(&a, &p).await, expected);
    assert_eq!(numbers(&b, &x).await, [(1, "b".to_owned())]);
    // Nothing written twice, no tag row lost, no identity value taken by
    // an insert that wrote nothing (untagged at 3, tagged at 6).
    let (rows, tags, identity) = rows_tags_identity(&schema).await;
    assert_eq!((rows, tags, identity), (9, 7, 9));
}

/// A group sent in one round trip whose `COMMIT` fails (a deferred
/// trigger) is not acknowledged, leaves nothing, and is not remembered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_round_trip_group_failing_at_commit_is_not_remembered() {
    let schema = TestSchema::new("one_rt_commit");
    let store = schema.open().await;
    let p = pid("p");
    write(&store, vec![event(&p, 1)]).await;
    let admin = schema.fail_commits_when("NEW.sequence_nr = 2").await;
    let before = now(&store);
    let failed = store.write(vec![event(&p, 2), event(&p, 3)]).await;
    assert!(
        matches!(failed, Err(JournalError::Storage(_))),
        "{failed:?}"
    );
    assert_eq!(store.highest_sequence_nr(&p).await.unwrap().value(), 1);
    schema.stop_failing(&admin).await;
    // Forgotten: two round trips, then one again.
    write(&store, vec![event(&p, 2)]).await;
    write(&store, vec![event(&p, 3)]).await;
    assert_eq!(since(&store, before), (3, 1, 0));
    let nrs: Vec<u64> = numbers(&store, &p).await.iter().map(|n| n.0).collect();
    assert_eq!(nrs, [1, 2, 3]);
}
