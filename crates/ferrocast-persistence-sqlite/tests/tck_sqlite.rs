//! The SQLite backend passes the conformance suite, each check on a fresh
//! database file.

mod common;

use common::TempDb;
use ferrocast_persistence::tck;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_journal_conforms() -> Result<(), tck::TckFailure> {
    let db = TempDb::new("tck-journal");
    let mut n = 0;
    tck::journal_suite(|| {
        n += 1;
        let file = format!("j{n}.db");
        let db = &db;
        async move { db.open(&file).await }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_snapshot_store_conforms() -> Result<(), tck::TckFailure> {
    let db = TempDb::new("tck-snapshots");
    let mut n = 0;
    tck::snapshot_store_suite(|| {
        n += 1;
        let file = format!("s{n}.db");
        let db = &db;
        async move { db.open(&file).await }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_durable_state_conforms() -> Result<(), tck::TckFailure> {
    let db = TempDb::new("tck-state");
    let mut n = 0;
    tck::durable_state_suite(|| {
        n += 1;
        let file = format!("d{n}.db");
        let db = &db;
        async move { db.open(&file).await }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_events_by_tag_conforms() -> Result<(), tck::TckFailure> {
    let db = TempDb::new("tck-tags");
    let mut n = 0;
    tck::events_by_tag_suite(|| {
        n += 1;
        let file = format!("t{n}.db");
        let db = &db;
        async move { db.open(&file).await }
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn sqlite_query_streams_conform() -> Result<(), tck::TckFailure> {
    let db = TempDb::new("tck-queries");
    let mut n = 0;
    tck::query_suite(|| {
        n += 1;
        let file = format!("q{n}.db");
        let db = &db;
        async move { db.open(&file).await }
    })
    .await
}
