//! Two stores on one file (two processes, or a store reopened while the
//! old one still runs): each writer remembers the highest numbers it has
//! seen, and must forget them once the other commits, so that a second
//! writer of a persistence id is refused, never interleaved.

mod common;

use std::num::NonZeroUsize;
use std::time::SystemTime;

use common::TempDb;
use ferrocast_persistence::{
    Journal, JournalError, Payload, PersistenceId, PersistentRepr, SequenceNr, SerializerId,
    WriterId,
};

fn event(pid: &str, nr: u64, writer: &str) -> PersistentRepr {
    PersistentRepr {
        persistence_id: PersistenceId::new(pid).unwrap(),
        sequence_nr: SequenceNr::new(nr),
        payload: Payload::new(SerializerId::new(100), "n", nr.to_be_bytes().to_vec()),
        tags: Vec::new(),
        timestamp: SystemTime::UNIX_EPOCH,
        writer: WriterId::new(writer).unwrap(),
    }
}

fn conflict_expecting(result: Result<(), JournalError>, expected: u64) {
    match result {
        Err(JournalError::SequenceConflict { expected: e, .. }) => {
            assert_eq!(e, SequenceNr::new(expected));
        }
        other => panic!("expected a sequence conflict expecting {expected}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_fell_behind_another_store_is_refused() {
    let db = TempDb::new("two");
    let first = db.open("j.db").await;
    let second = db.open("j.db").await;
    // `first` learns a's end (2) by writing it.
    first
        .write(vec![event("a", 1, "first"), event("a", 2, "first")])
        .await
        .unwrap();
    // `second` reads that end from the file and goes on.
    conflict_expecting(second.write(vec![event("a", 2, "second")]).await, 3);
    second.write(vec![event("a", 3, "second")]).await.unwrap();
    // `first` still remembers 2 as a's end: it must notice the other
    // commit and refuse, then accept the true next number.
    conflict_expecting(first.write(vec![event("a", 3, "first")]).await, 4);
    first.write(vec![event("a", 4, "first")]).await.unwrap();
    // Writes to other logs in between change nothing of that.
    second.write(vec![event("b", 1, "second")]).await.unwrap();
    conflict_expecting(second.write(vec![event("a", 4, "second")]).await, 5);
    // Once `second` has deleted a's events, no stored key stands in the
    // way of a stale `first`: only the highest number can refuse it.
    second.write(vec![event("a", 5, "second")]).await.unwrap();
    let pid = PersistenceId::new("a").unwrap();
    second.delete_up_to(&pid, SequenceNr::new(5)).await.unwrap();
    conflict_expecting(first.write(vec![event("a", 5, "first")]).await, 6);
    first.write(vec![event("a", 6, "first")]).await.unwrap();
    let events = first
        .replay(
            &pid,
            SequenceNr::new(1),
            SequenceNr::MAX,
            NonZeroUsize::new(100).unwrap(),
        )
        .await
        .unwrap();
    let writers: Vec<(u64, &str)> = events
        .iter()
        .map(|e| (e.sequence_nr.value(), e.writer.as_str()))
        .collect();
    assert_eq!(writers, [(6, "first")]);
}
