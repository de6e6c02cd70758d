//! Crash test: a process persisting at full speed is killed with SIGKILL;
//! after reopening, every acknowledged event is there, in order, with no
//! gaps and no duplicates.

mod common;

use common::TempDb;
use ferrocast_persistence::tck::scaffold::{
    check_acknowledged, kill_child_after_acks, run_crash_child,
};
use ferrocast_persistence_sqlite::{SqliteConfig, SqliteStore, Synchronous};

/// Set in the child process: the database to write to.
const CHILD_ENV: &str = "FERROCAST_SQLITE_CRASH_CHILD";
const WRITERS: u64 = 8;
/// The child stops by itself past this, should the parent be gone.
const MAX_PER_WRITER: u64 = 50_000;
/// Acknowledgements the parent waits for before the kill.
const KILL_AFTER: usize = 2_000;

fn config(path: &std::path::Path) -> SqliteConfig {
    let mut config = SqliteConfig::new(path);
    config.synchronous = Synchronous::Normal;
    config
}

#[test]
fn acknowledged_events_survive_kill_9() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let open = || async move { SqliteStore::open(config(path.as_ref())).await.unwrap() };
        return run_crash_child(open, WRITERS, MAX_PER_WRITER);
    }
    let db = TempDb::new("crash");
    let path = db.dir.join("crash.db");
    let acked = kill_child_after_acks(
        "acknowledged_events_survive_kill_9",
        (CHILD_ENV, path.as_os_str()),
        KILL_AFTER,
    )
    .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(config(&path)).await.unwrap();
        check_acknowledged(&store, &acked).await.unwrap();
    });
}
