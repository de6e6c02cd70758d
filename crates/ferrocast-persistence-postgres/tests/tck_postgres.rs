//! The PostgreSQL backend passes the conformance suite, each check on a
//! fresh schema.

mod common;

use common::TestSchema;
use ferrocast_persistence::tck;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_journal_conforms() -> Result<(), tck::TckFailure> {
    tck::journal_suite(|| async { TestSchema::new("journal").open().await }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_snapshot_store_conforms() -> Result<(), tck::TckFailure> {
    tck::snapshot_store_suite(|| async { TestSchema::new("snapshots").open().await }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_durable_state_conforms() -> Result<(), tck::TckFailure> {
    tck::durable_state_suite(|| async { TestSchema::new("state").open().await }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_by_tag_conforms() -> Result<(), tck::TckFailure> {
    tck::events_by_tag_suite(|| async { TestSchema::new("tags").open().await }).await
}

// Paused time: tokio skips every refresh wait while a query's round trip is
// in flight, so the live checks poll as fast as the server answers; the
// suite's page budget, not a timer, stops a query that never delivers.
#[tokio::test(start_paused = true)]
async fn postgres_query_streams_conform() -> Result<(), tck::TckFailure> {
    tck::query_suite(|| async { TestSchema::new("queries").open().await }).await
}
