//! Event-sourced entities on PostgreSQL: many at once (group commit), and
//! recovery after the store is closed and opened again.

mod common;

use std::sync::Arc;

use common::TestSchema;
use ferrocast_persistence::tck;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_entities_persist_concurrently_and_recover_after_reopen() -> Result<(), tck::TckFailure>
{
    let db = TestSchema::new("es");
    let store = Arc::new(db.open().await);
    tck::event_sourced_suite(store.clone(), || async { Arc::new(db.open().await) }).await?;
    // 50 entities, 10 writes each, sharing commits.
    let stats = store.commit_stats();
    assert!(stats.requests >= 500, "{stats:?}");
    assert!(stats.commits <= stats.requests, "{stats:?}");
    Ok(())
}
