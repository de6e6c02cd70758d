//! The SQLite backend passes the conformance suite, each check on a fresh
//! database file. The journal's suites run twice: with the default
//! settings, and with the first level of the index by persistence id moved
//! every 2 events, so that reads and deletions meet entries in both levels.

mod common;

use common::TempDb;
use ferrocast_persistence::tck;

/// A test running `suite` on fresh files of one throwaway directory, each
/// opened by `open` (`db`, the file name).
macro_rules! conforms {
    ($(#[$attr:meta])* $test:ident, $suite:ident, |$db:ident, $file:ident| $open:expr) => {
        $(#[$attr])*
        async fn $test() -> Result<(), tck::TckFailure> {
            let dir = TempDb::new(stringify!($test));
            let mut n = 0;
            tck::$suite(|| {
                n += 1;
                let $file = format!("{n}.db");
                let $db = &dir;
                async move { $open.await }
            })
            .await
        }
    };
}

conforms!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    sqlite_journal_conforms,
    journal_suite,
    |db, file| db.open(&file)
);
conforms!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    sqlite_journal_conforms_across_index_levels,
    journal_suite,
    |db, file| db.open_moving_index(&file, 2)
);
conforms!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    sqlite_snapshot_store_conforms,
    snapshot_store_suite,
    |db, file| db.open(&file)
);
conforms!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    sqlite_durable_state_conforms,
    durable_state_suite,
    |db, file| db.open(&file)
);
conforms!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    sqlite_events_by_tag_conforms,
    events_by_tag_suite,
    |db, file| db.open(&file)
);
conforms!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    sqlite_events_by_tag_conforms_across_index_levels,
    events_by_tag_suite,
    |db, file| db.open_moving_index(&file, 2)
);
conforms!(
    #[tokio::test(start_paused = true)]
    sqlite_query_streams_conform,
    query_suite,
    |db, file| db.open(&file)
);
conforms!(
    #[tokio::test(start_paused = true)]
    sqlite_query_streams_conform_across_index_levels,
    query_suite,
    |db, file| db.open_moving_index(&file, 2)
);
