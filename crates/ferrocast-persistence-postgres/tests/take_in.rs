//! Requests queued while a group's first round trip travels join that
//! group: the writer's `BEGIN` waits here for the schema's lock, held by
//! another session, while more writes queue (to logs and states the writer
//! knows and does not know, and one that conflicts); once the lock is
//! free, all of them share one commit, each with its own outcome. A group
//! committed in one round trip has sent everything when it waits: what
//! queues meanwhile is the next group. A group that the callers just
//! answered could still join (started while they are answered, or smaller
//! than their group) takes two round trips, so that they can.

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use common::{TestSchema, event, pid};
use ferrocast_persistence::{
    DurableStateRecord, DurableStateStore, Journal, JournalError, Payload, Revision, SequenceNr,
    SerializerId,
};
use ferrocast_persistence_postgres::PostgresStore;

// Current-thread: a spawned write has queued its request once the test
// task has yielded (its channel has room), so what queues is known.
#[tokio::test]
async fn writes_queued_during_the_first_round_trip_share_its_commit() {
    let schema = TestSchema::new("take_in");
    let store = Arc::new(schema.open().await);
    let (known, unknown, state) = (pid("known"), pid("unknown"), pid("state"));
    store.write(vec![event(&known, 1)]).await.unwrap();
    let before = store.commit_stats();
    let one_round_trip = store.one_round_trip();

    let other = schema.hold_lock().await;
    let spawn_write = |events: Vec<_>| {
        let store: Arc<PostgresStore> = store.clone();
        tokio::spawn(async move { store.write(events).await })
    };
    // A log the writer does not know: two round trips.
    let first = spawn_write(vec![event(&pid("first"), 1)]);
    schema.until_the_writer_waits().await;
    let queued = [
        spawn_write(vec![event(&known, 2), event(&known, 3), event(&known, 4)]),
        spawn_write(vec![event(&unknown, 1)]),
        // `unknown2` has no events: 5 does not continue it.
        spawn_write(vec![event(&pid("unknown2"), 5)]),
    ];
    let upsert = {
        let store = store.clone();
        let state = state.clone();
        tokio::spawn(async move {
            store
                .upsert(DurableStateRecord {
                    persistence_id: state,
                    revision: Revision::new(1),
                    payload: Payload::new(SerializerId::new(100), "s", vec![1]),
                    tag: None,
                    timestamp: SystemTime::UNIX_EPOCH,
                })
                .await
        })
    };
    tokio::task::yield_now().await;
    other.batch_execute("COMMIT").await.unwrap();

    first.await.unwrap().unwrap();
    let [k, u, conflict] = queued;
    k.await.unwrap().unwrap();
    u.await.unwrap().unwrap();
    match conflict.await.unwrap() {
        Err(JournalError::SequenceConflict { expected, .. }) => {
            assert_eq!(expected, SequenceNr::new(1));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    upsert.await.unwrap().unwrap();
    let after = store.commit_stats();
    assert_eq!(
        (
            after.commits - before.commits,
            after.requests - before.requests
        ),
        (1, 5),
        "one group of five requests"
    );
    assert_eq!(store.one_round_trip(), one_round_trip);
    assert_eq!(
        store.highest_sequence_nr(&known).await.unwrap(),
        SequenceNr::new(4)
    );
    assert_eq!(
        store.highest_sequence_nr(&unknown).await.unwrap(),
        SequenceNr::new(1)
    );
    let stored = store.get(&state).await.unwrap().unwrap();
    assert_eq!(stored.revision, Revision::new(1));
}

#[tokio::test]
async fn writes_queued_while_a_one_round_trip_group_waits_are_the_next_group() {
    let schema = TestSchema::new("take_in_one");
    let store = Arc::new(schema.open().await);
    let (a, b) = (pid("a"), pid("b"));
    store.write(vec![event(&a, 1)]).await.unwrap();
    store.write(vec![event(&b, 1)]).await.unwrap();
    let (before, one_before) = (store.commit_stats(), store.one_round_trip());

    let other = schema.hold_lock().await;
    let spawn_write = |events: Vec<_>| {
        let store: Arc<PostgresStore> = store.clone();
        tokio::spawn(async move { store.write(events).await })
    };
    let first = spawn_write(vec![event(&a, 2)]);
    schema.until_the_writer_waits().await;
    let queued = [
        spawn_write(vec![event(&a, 3)]),
        spawn_write(vec![event(&b, 2)]),
    ];
    tokio::task::yield_now().await;
    other.batch_execute("COMMIT").await.unwrap();
    first.await.unwrap().unwrap();
    for write in queued {
        write.await.unwrap().unwrap();
    }
    let (after, one_after) = (store.commit_stats(), store.one_round_trip());
    assert_eq!(
        (
            after.commits - before.commits,
            after.requests - before.requests,
            one_after.commits - one_before.commits,
        ),
        (2, 3, 1),
        "two groups: one request in one round trip; then two, started while \
         the first was answered, in two round trips (its caller could join)"
    );
    assert_eq!(store.highest_sequence_nr(&a).await.unwrap().value(), 3);
    assert_eq!(store.highest_sequence_nr(&b).await.unwrap().value(), 2);
}

#[tokio::test]
async fn a_group_smaller_than_the_last_waits_its_first_round_trip() {
    let schema = TestSchema::new("take_in_smaller");
    let store = Arc::new(schema.open().await);
    let pids = [pid("a"), pid("b"), pid("c"), pid("d")];
    for p in &pids {
        store.write(vec![event(p, 1)]).await.unwrap();
    }
    // A group of three, formed while the writer waits for the lock.
    let other = schema.hold_lock().await;
    let spawn_write = |events: Vec<_>| {
        let store: Arc<PostgresStore> = store.clone();
        tokio::spawn(async move { store.write(events).await })
    };
    let first = spawn_write(vec![event(&pids[0], 2)]);
    schema.until_the_writer_waits().await;
    let three = [1, 2, 3].map(|i| spawn_write(vec![event(&pids[i], 2)]));
    tokio::task::yield_now().await;
    other.batch_execute("COMMIT").await.unwrap();
    first.await.unwrap().unwrap();
    for write in three {
        write.await.unwrap().unwrap();
    }
    let one = store.one_round_trip().commits;
    // One request after a group of three: two round trips. One after one:
    // one round trip.
    store.write(vec![event(&pids[0], 3)]).await.unwrap();
    assert_eq!(store.one_round_trip().commits, one);
    store.write(vec![event(&pids[0], 4)]).await.unwrap();
    assert_eq!(store.one_round_trip().commits, one + 1);
}
