//! A group smaller than the last one answered goes on in parts: while its
//! first part is inserted (here held up by another session's row with the
//! same key), the requests queued meanwhile are its next part, in the
//! same transaction, and the group commits once. A part that fails fails
//! every request of the group, those of earlier parts too.

mod common;

use std::sync::Arc;

use common::{TestSchema, event, pid};
use ferrocast_persistence::backend::CommitStats;
use ferrocast_persistence::{Journal, JournalError, PersistenceId, SequenceNr};
use ferrocast_persistence_postgres::{PostgresStore, tokio_postgres};
use tokio::task::JoinHandle;

type Write = JoinHandle<Result<(), JournalError>>;

fn spawn_write(store: &Arc<PostgresStore>, pid: &PersistenceId, nr: u64) -> Write {
    let (store, e) = (store.clone(), event(pid, nr));
    tokio::spawn(async move { store.write(vec![e]).await })
}

/// `n + 1` logs with two events each, the last group answered holding `n`
/// requests (the second events of all logs but the first: formed while
/// the writer waited for the schema's lock). A group of fewer requests
/// after it expects more callers back, and goes on in parts.
async fn after_a_group_of(
    schema: &TestSchema,
    n: usize,
) -> (Arc<PostgresStore>, Vec<PersistenceId>) {
    let store = Arc::new(schema.open().await);
    let pids: Vec<PersistenceId> = (0..=n).map(|i| pid(&format!("p{i}"))).collect();
    for p in &pids {
        store.write(vec![event(p, 1)]).await.unwrap();
    }
    let other = schema.hold_lock().await;
    let first = spawn_write(&store, &pids[0], 2);
    schema.until_the_writer_waits().await;
    let group: Vec<Write> = pids[1..]
        .iter()
        .map(|p| spawn_write(&store, p, 2))
        .collect();
    tokio::task::yield_now().await;
    other.batch_execute("COMMIT").await.unwrap();
    all_written(std::iter::once(first).chain(group)).await;
    (store, pids)
}

/// Another session inserts `pid`'s event `nr` and holds it uncommitted:
/// the writer's insert of the same key waits for that transaction.
async fn hold_row(schema: &TestSchema, pid: &PersistenceId, nr: i64) -> tokio_postgres::Client {
    let other = schema.client().await;
    other.batch_execute("BEGIN").await.unwrap();
    other
        .execute(
            &format!(
                "INSERT INTO {} (persistence_id, sequence_nr, serializer_id, manifest, \
                 payload, tags, timestamp_ms, writer) \
                 VALUES ($1, $2, 100, 'n', '\\x00', '{{}}', 0, 'other')",
                schema.table("journal")
            ),
            &[&pid.as_str(), &nr],
        )
        .await
        .unwrap();
    other
}

/// `a`'s third event alone, its insert waiting for a held row, while `b`
/// and `c`'s third events queue; then the row is rolled back.
async fn three_writes_in_two_parts(
    schema: &TestSchema,
    store: &Arc<PostgresStore>,
    pids: &[PersistenceId],
) -> [Write; 3] {
    let other = hold_row(schema, &pids[0], 3).await;
    let first = spawn_write(store, &pids[0], 3);
    schema.until_the_writer_waits_on("transactionid").await;
    let [b, c] = [1, 2].map(|i| spawn_write(store, &pids[i], 3));
    tokio::task::yield_now().await;
    other.batch_execute("ROLLBACK").await.unwrap();
    [first, b, c]
}

fn since(before: CommitStats, after: CommitStats) -> (u64, u64) {
    (
        after.commits - before.commits,
        after.requests - before.requests,
    )
}

/// Waits for `writes`, every one of which must succeed.
async fn all_written(writes: impl IntoIterator<Item = Write>) {
    for write in writes {
        write.await.unwrap().unwrap();
    }
}

async fn highest(store: &PostgresStore, pids: &[PersistenceId]) -> Vec<u64> {
    let mut all = Vec::new();
    for p in pids {
        all.push(store.highest_sequence_nr(p).await.unwrap().value());
    }
    all
}

// Current-thread: a spawned write has queued its request once the test
// task has yielded (its channel has room), so what queues is known.
#[tokio::test]
async fn writes_queued_while_a_part_is_inserted_share_its_commit() {
    let schema = TestSchema::new("parts");
    let (store, pids) = after_a_group_of(&schema, 3).await;
    let before = store.commit_stats();

    all_written(three_writes_in_two_parts(&schema, &store, &pids).await).await;
    assert_eq!(
        since(before, store.commit_stats()),
        (1, 3),
        "one commit of three requests, in two parts"
    );
    assert_eq!(highest(&store, &pids).await, [3, 3, 3, 2]);
    let replayed = store
        .replay(
            &pids[0],
            SequenceNr::ZERO,
            SequenceNr::MAX,
            std::num::NonZeroUsize::MAX,
        )
        .await
        .unwrap();
    assert_eq!(
        replayed
            .iter()
            .map(|e| e.writer.as_str())
            .collect::<Vec<_>>(),
        ["w", "w", "w"],
        "the other session's row was rolled back"
    );
}

#[tokio::test]
async fn a_failed_part_fails_the_requests_of_earlier_parts() {
    let schema = TestSchema::new("parts_fail");
    let (store, pids) = after_a_group_of(&schema, 3).await;
    let failing = schema
        .fail_commits_when(&format!(
            "NEW.persistence_id = '{}' AND NEW.writer = 'w'",
            pids[2]
        ))
        .await;
    let before = store.commit_stats();

    let writes = three_writes_in_two_parts(&schema, &store, &pids).await;
    for write in writes {
        assert!(
            matches!(write.await.unwrap(), Err(JournalError::Storage(_))),
            "every request of the group fails"
        );
    }
    assert_eq!(since(before, store.commit_stats()), (1, 3));
    assert_eq!(
        highest(&store, &pids).await,
        [2, 2, 2, 2],
        "nothing written"
    );

    schema.stop_failing(&failing).await;
    for p in &pids[..3] {
        store.write(vec![event(p, 3)]).await.unwrap();
    }
    assert_eq!(highest(&store, &pids).await, [3, 3, 3, 2]);
}

#[tokio::test]
async fn a_group_goes_on_for_eight_parts_at_most() {
    let schema = TestSchema::new("parts_max");
    let (store, pids) = after_a_group_of(&schema, 10).await;
    let before = store.commit_stats();
    // Nine writes, each queued while the part before waits for a row.
    let mut held = Vec::new();
    for p in &pids[..9] {
        held.push(hold_row(&schema, p, 3).await);
    }
    let mut writes = vec![spawn_write(&store, &pids[0], 3)];
    schema.until_the_writer_waits_on("transactionid").await;
    for i in 1..9 {
        writes.push(spawn_write(&store, &pids[i], 3));
        tokio::task::yield_now().await;
        held[i - 1].batch_execute("ROLLBACK").await.unwrap();
        schema.until_the_writer_waits_on("transactionid").await;
    }
    held[8].batch_execute("ROLLBACK").await.unwrap();
    all_written(writes).await;
    assert_eq!(
        since(before, store.commit_stats()),
        (2, 9),
        "eight parts in one commit; the ninth write is the next group"
    );
    assert_eq!(highest(&store, &pids[..9]).await, [3; 9]);
}
