//! The in-memory backend passes the conformance suite.

use ferrocast_persistence::{InMemoryDurableState, InMemoryJournal, InMemorySnapshotStore, tck};

#[tokio::test]
async fn in_memory_journal_conforms() -> Result<(), tck::TckFailure> {
    tck::journal_suite(|| async { InMemoryJournal::default() }).await
}

#[tokio::test]
async fn in_memory_snapshot_store_conforms() -> Result<(), tck::TckFailure> {
    tck::snapshot_store_suite(|| async { InMemorySnapshotStore::default() }).await
}

#[tokio::test]
async fn in_memory_durable_state_conforms() -> Result<(), tck::TckFailure> {
    tck::durable_state_suite(|| async { InMemoryDurableState::default() }).await
}

#[tokio::test]
async fn in_memory_events_by_tag_conforms() -> Result<(), tck::TckFailure> {
    tck::events_by_tag_suite(|| async { InMemoryJournal::default() }).await
}

#[tokio::test(start_paused = true)]
async fn in_memory_query_streams_conform() -> Result<(), tck::TckFailure> {
    tck::query_suite(|| async { InMemoryJournal::default() }).await
}
