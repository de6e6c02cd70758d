//! Query streams on SQLite, under paused time: a live query over a
//! `NotifyingJournal` follows this process's writes, and a row the store
//! cannot read fails the stream with a typed error. (How long a live
//! query waits is checked on the in-memory journal: SQLite's writer
//! thread lets paused time run ahead while it commits.)

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use common::TempDb;
use ferrocast_persistence::{
    Journal, JournalError, NotifyingJournal, Offset, Payload, PersistenceId, PersistentRepr,
    QueryError, ReadJournal, SequenceNr, SerializerId, Tag, WriterId,
};
use ferrocast_persistence_sqlite::SqliteError;
use futures_util::StreamExt;

fn event(pid: &str, nr: u64) -> PersistentRepr {
    PersistentRepr {
        persistence_id: PersistenceId::new(pid).unwrap(),
        sequence_nr: SequenceNr::new(nr),
        payload: Payload::new(SerializerId::new(100), "n", nr.to_be_bytes().to_vec()),
        tags: vec![Tag::new("orders").unwrap()],
        timestamp: SystemTime::UNIX_EPOCH,
        writer: WriterId::new("w").unwrap(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_live_tag_query_wakes_on_this_process_writes() {
    let db = TempDb::new("live");
    let store = Arc::new(NotifyingJournal::new(db.open("q.db").await));
    let queries = ReadJournal::new(store.clone()).wake_on(store.notifier());
    let orders = Tag::new("orders").unwrap();
    store.write(vec![event("a", 1)]).await.unwrap();
    let mut live = queries.events_by_tag_stream(&orders, Offset::ZERO);
    let first = live.next().await.unwrap().unwrap();
    let writes = async {
        for nr in 2..=4 {
            store.write(vec![event("a", nr)]).await.unwrap();
        }
    };
    let (found, ()) = tokio::join!(
        async {
            let mut found = vec![first];
            for _ in 0..3 {
                found.push(live.next().await.unwrap().unwrap());
            }
            found
        },
        writes
    );
    let numbers: Vec<u64> = found.iter().map(|t| t.event.sequence_nr.value()).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert!(found.windows(2).all(|w| w[0].offset < w[1].offset));
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_row_fails_the_query_with_a_typed_error() {
    let db = TempDb::new("corrupt");
    let store = Arc::new(db.open("q.db").await);
    store
        .write((1..=3).map(|nr| event("c", nr)).collect())
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(db.dir.join("q.db")).unwrap();
    conn.execute(
        "UPDATE journal SET serializer_id = -1 WHERE sequence_nr = 2",
        [],
    )
    .unwrap();
    let queries = ReadJournal::new(store.clone());
    for found in [
        queries
            .current_events_by_tag_stream(&Tag::new("orders").unwrap(), Offset::ZERO)
            .map(|r| r.map(|t| t.event))
            .collect::<Vec<_>>()
            .await,
        queries
            .events_by_persistence_id_stream(
                &PersistenceId::new("c").unwrap(),
                SequenceNr::FIRST,
                SequenceNr::MAX,
            )
            .collect::<Vec<_>>()
            .await,
    ] {
        let [Err(QueryError::Journal(JournalError::Storage(e)))] = found.as_slice() else {
            panic!("expected one typed error, got {found:?}");
        };
        assert!(
            matches!(e.downcast_ref::<SqliteError>(), Some(SqliteError::Corrupt(m)) if m.contains("serializer id -1")),
            "{e}"
        );
    }
}
