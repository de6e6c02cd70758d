//! Several writers: two stores (as on two nodes) on one schema cannot both
//! extend one log, a writer whose connection is killed reconnects, and a
//! write PostgreSQL cannot store is refused without harming its group.

mod common;

use std::num::NonZeroUsize;
use std::time::SystemTime;

use common::TestSchema;
use ferrocast_persistence::{
    EventsByTag, Journal, JournalError, Offset, Payload, PersistenceId, PersistentRepr, SequenceNr,
    SerializerId, Tag, WriterId,
};

fn event(pid: &PersistenceId, nr: u64, writer: &str) -> PersistentRepr {
    PersistentRepr {
        persistence_id: pid.clone(),
        sequence_nr: SequenceNr::new(nr),
        payload: Payload::new(SerializerId::new(100), "n", nr.to_be_bytes().to_vec()),
        tags: vec![Tag::new("all").unwrap()],
        timestamp: SystemTime::UNIX_EPOCH,
        writer: WriterId::new(writer).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_schema_never_interleave_a_log() {
    let schema = TestSchema::new("two_stores");
    let (a, b) = (schema.open().await, schema.open().await);
    let pid = PersistenceId::new("contested").unwrap();
    for nr in 1..=50 {
        let (ra, rb) = tokio::join!(
            a.write(vec![event(&pid, nr, "a")]),
            b.write(vec![event(&pid, nr, "b")]),
        );
        let wins = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "exactly one writer extends the log: {ra:?} {rb:?}");
        let lost = if ra.is_ok() { rb } else { ra };
        assert!(
            matches!(
                lost,
                Err(JournalError::SequenceConflict { expected, .. }) if expected.value() == nr + 1
            ),
            "{lost:?}"
        );
    }
    let events = a
        .replay(&pid, SequenceNr::ZERO, SequenceNr::MAX, NonZeroUsize::MAX)
        .await
        .unwrap();
    let nrs: Vec<u64> = events.iter().map(|e| e.sequence_nr.value()).collect();
    assert_eq!(nrs, (1..=50).collect::<Vec<_>>());
    // Offsets follow commit order across both stores.
    let tagged = b
        .events_by_tag(&Tag::new("all").unwrap(), Offset::ZERO, NonZeroUsize::MAX)
        .await
        .unwrap();
    assert_eq!(tagged.len(), 50);
    assert!(tagged.windows(2).all(|w| w[0].offset < w[1].offset));
    let by_offset: Vec<u64> = tagged.iter().map(|t| t.event.sequence_nr.value()).collect();
    assert_eq!(by_offset, nrs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_reconnects_after_losing_its_connection() {
    let schema = TestSchema::new("reconnect");
    let store = schema.open().await;
    let pid = PersistenceId::new("p").unwrap();
    store.write(vec![event(&pid, 1, "w")]).await.unwrap();

    let admin = schema.client().await;
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&format!("ferrocast writer {}", schema.name)],
        )
        .await
        .unwrap();
    assert_eq!(killed.len(), 1, "one writer connection");

    // The group that finds the connection dead fails (nothing was sent);
    // the next one runs on a new connection.
    let mut failures = 0;
    loop {
        match store.write(vec![event(&pid, 2, "w")]).await {
            Ok(()) => break,
            Err(JournalError::Storage(_)) if failures < 2 => failures += 1,
            Err(e) => panic!("after {failures} failures: {e}"),
        }
    }
    store.write(vec![event(&pid, 3, "w")]).await.unwrap();
    assert_eq!(store.highest_sequence_nr(&pid).await.unwrap().value(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_postgres_cannot_store_is_an_invalid_batch() {
    let schema = TestSchema::new("nul");
    let store = schema.open().await;
    let pid = PersistenceId::new("p").unwrap();
    let mut bad = event(&pid, 1, "w");
    bad.tags.push(Tag::new("nul\0tag").unwrap());
    let (bad, good) = tokio::join!(
        store.write(vec![bad]),
        store.write(vec![event(&PersistenceId::new("q").unwrap(), 1, "w")]),
    );
    assert!(
        matches!(bad, Err(JournalError::InvalidBatch { .. })),
        "{bad:?}"
    );
    good.unwrap();
    assert_eq!(store.highest_sequence_nr(&pid).await.unwrap().value(), 0);
    store.write(vec![event(&pid, 1, "w")]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_events_deletes_their_tag_rows() {
    let schema = TestSchema::new("delete_tags");
    let store = schema.open().await;
    let pid = PersistenceId::new("p").unwrap();
    let events = (1..=4).map(|nr| event(&pid, nr, "w")).collect();
    store.write(events).await.unwrap();
    store.delete_up_to(&pid, SequenceNr::new(3)).await.unwrap();
    let count: i64 = schema
        .client()
        .await
        .query_one(
            &format!("SELECT count(*) FROM {}", schema.table("event_tags")),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1, "only event 4's tag row is left");
    assert_eq!(store.highest_sequence_nr(&pid).await.unwrap().value(), 4);
}

/// A group that fails on the server fails alone (the writer begins the
/// next group before answering it), and the groups after it still run in
/// transactions of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_failing_on_the_server_does_not_harm_the_next() {
    let schema = TestSchema::new("failing_group");
    let store = std::sync::Arc::new(schema.open().await);
    // A constraint the writer does not know of: its insert of an event
    // of "bad" fails on the server, and with it the whole group.
    schema
        .client()
        .await
        .execute(
            &format!(
                "ALTER TABLE {} ADD CONSTRAINT no_bad CHECK (persistence_id <> 'bad')",
                schema.table("journal")
            ),
            &[],
        )
        .await
        .unwrap();
    let bad = PersistenceId::new("bad").unwrap();
    let pids: Vec<PersistenceId> = (0..300)
        .map(|i| PersistenceId::new(&format!("p{i}")).unwrap())
        .collect();
    let mut writes = tokio::task::JoinSet::new();
    for (i, pid) in pids.iter().enumerate() {
        let (s, pid) = (store.clone(), pid.clone());
        writes.spawn(async move { (i, s.write(vec![event(&pid, 1, "w")]).await) });
        if i == 150 {
            let (store, bad) = (store.clone(), bad.clone());
            writes.spawn(async move { (usize::MAX, store.write(vec![event(&bad, 1, "w")]).await) });
        }
    }
    let mut written = vec![false; pids.len()];
    while let Some(done) = writes.join_next().await {
        match done.unwrap() {
            (usize::MAX, r) => assert!(matches!(r, Err(JournalError::Storage(_))), "{r:?}"),
            (i, Ok(())) => written[i] = true,
            (_, Err(e)) => assert!(matches!(e, JournalError::Storage(_)), "{e}"),
        }
    }
    // Acknowledged means stored; failed means nothing stored.
    for (pid, written) in pids.iter().zip(&written) {
        let highest = store.highest_sequence_nr(pid).await.unwrap().value();
        assert_eq!(highest, u64::from(*written), "{pid}");
        let nr = if *written { 2 } else { 1 };
        store.write(vec![event(pid, nr, "w")]).await.unwrap();
    }
    assert_eq!(store.highest_sequence_nr(&bad).await.unwrap().value(), 0);
    // Every transaction held the lock and committed whole: the table holds
    // exactly the acknowledged events, each log numbered from 1 without
    // gaps.
    let row = schema
        .client()
        .await
        .query_one(
            &format!(
                "SELECT coalesce(sum(c), 0)::int8, coalesce(sum(n - c), 0)::int8 FROM \
                 (SELECT max(sequence_nr) AS n, count(*) AS c FROM {} \
                  GROUP BY persistence_id) t",
                schema.table("journal")
            ),
            &[],
        )
        .await
        .unwrap();
    let (rows, gaps): (i64, i64) = (row.get(0), row.get(1));
    let acknowledged: i64 = written.iter().map(|w| if *w { 2 } else { 1 }).sum();
    assert_eq!((rows, gaps), (acknowledged, 0));
}
