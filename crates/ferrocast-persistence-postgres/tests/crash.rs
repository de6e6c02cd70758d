//! Crash test: a process persisting at full speed is killed with SIGKILL
//! (its transactions in flight die with its connections); after a new
//! store opens the schema, every acknowledged event is there, in order,
//! with no gaps and no duplicates.

mod common;

use common::TestSchema;
use ferrocast_persistence::tck::scaffold::{
    check_acknowledged, kill_child_after_acks, run_crash_child,
};

/// Set in the child process: the schema to write to (the server is
/// `FERROCAST_PG_URL`, inherited).
const CHILD_ENV: &str = "FERROCAST_PG_CRASH_CHILD";
const WRITERS: u64 = 8;
/// The child stops by itself past this, should the parent be gone.
const MAX_PER_WRITER: u64 = 50_000;
/// Acknowledgements the parent waits for before the kill.
const KILL_AFTER: usize = 2_000;

#[test]
fn acknowledged_events_survive_kill_9() {
    if let Ok(schema) = std::env::var(CHILD_ENV) {
        let open = || async move { TestSchema { name: schema }.open().await };
        return run_crash_child(open, WRITERS, MAX_PER_WRITER);
    }
    // Fails here, with directions, when there is no server.
    common::url();
    let schema = TestSchema::new("crash");
    let acked = kill_child_after_acks(
        "acknowledged_events_survive_kill_9",
        (CHILD_ENV, schema.name.as_ref()),
        KILL_AFTER,
    )
    .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = schema.open().await;
        check_acknowledged(&store, &acked).await.unwrap();
    });
}
