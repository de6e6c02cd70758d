//! The schema and how connections are opened.
//!
//! One file in WAL mode: readers never block the writer and see every
//! committed transaction. Integers are SQLite's signed 64-bit; sequence
//! numbers and revisions above `i64::MAX` are refused.

use rusqlite::Connection;

use crate::config::{SqliteConfig, Synchronous};
use crate::error::SqliteError;

/// `PRAGMA user_version` of a database with this schema. Versions 1 (the
/// journal's own `UNIQUE (persistence_id, sequence_nr)` index) and 2
/// (`journal_highest` updated by every write) were never released; such
/// files are refused.
pub(crate) const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
    -- The offset of queries by tag: assigned by the single writer in
    -- commit order, never reused (AUTOINCREMENT), even after deletion.
    -- The table is appended to in that order; finding a persistence id's
    -- events goes through the two index tables below.
    ordering       INTEGER PRIMARY KEY AUTOINCREMENT,
    persistence_id TEXT    NOT NULL,
    sequence_nr    INTEGER NOT NULL,
    serializer_id  INTEGER NOT NULL,
    manifest       TEXT    NOT NULL,
    payload        BLOB    NOT NULL,
    -- Length-prefixed list (`3:abc5:hello`, see codec.rs), so replay
    -- needs no join; `event_tags` indexes them for queries.
    tags           TEXT    NOT NULL,
    timestamp_ms   INTEGER NOT NULL,
    writer         TEXT    NOT NULL
);
-- The index by persistence id, in two levels (see `ops.rs`): every
-- write goes to the small `journal_recent`, whose few pages stay hot;
-- the writer moves it into `journal_by_pid` in one sorted pass once it
-- holds `SqliteConfig::recent_index_rows` entries. A key lives in exactly
-- one of the two; both primary keys refuse a duplicate event.
CREATE TABLE IF NOT EXISTS journal_recent (
    persistence_id TEXT    NOT NULL,
    sequence_nr    INTEGER NOT NULL,
    ordering       INTEGER NOT NULL,
    PRIMARY KEY (persistence_id, sequence_nr)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal_by_pid (
    persistence_id TEXT    NOT NULL,
    sequence_nr    INTEGER NOT NULL,
    ordering       INTEGER NOT NULL,
    PRIMARY KEY (persistence_id, sequence_nr)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_tags (
    tag      TEXT    NOT NULL,
    ordering INTEGER NOT NULL,
    PRIMARY KEY (tag, ordering)
) WITHOUT ROWID;
-- A log's highest number when its events were last deleted, so that
-- numbering goes on; otherwise a log's highest number is the last entry
-- of its index (see `ops::HIGHEST`). Kept only at deletions: a row per
-- log updated by every write cost a b-tree write per event.
CREATE TABLE IF NOT EXISTS journal_highest (
    persistence_id TEXT    PRIMARY KEY,
    highest        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    persistence_id TEXT    NOT NULL,
    sequence_nr    INTEGER NOT NULL,
    serializer_id  INTEGER NOT NULL,
    manifest       TEXT    NOT NULL,
    payload        BLOB    NOT NULL,
    timestamp_ms   INTEGER NOT NULL,
    PRIMARY KEY (persistence_id, sequence_nr)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS durable_state (
    persistence_id TEXT    PRIMARY KEY,
    revision       INTEGER NOT NULL,
    serializer_id  INTEGER NOT NULL,
    manifest       TEXT    NOT NULL,
    payload        BLOB    NOT NULL,
    tag            TEXT,
    timestamp_ms   INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Opens a connection with the pragmas every connection needs.
pub(crate) fn connect(config: &SqliteConfig) -> Result<Connection, SqliteError> {
    let conn = Connection::open(&config.path)?;
    conn.busy_timeout(config.busy_timeout)?;
    let sync = match config.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = OFF;"
    ))?;
    Ok(conn)
}

/// Opens the writer's connection: switches the file to WAL and creates the
/// schema.
pub(crate) fn connect_writer(config: &SqliteConfig) -> Result<Connection, SqliteError> {
    let conn = connect(config)?;
    // Negative: a size in KiB rather than in pages.
    let kib = i64::try_from(config.writer_cache_bytes / 1024).unwrap_or(i64::MAX);
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages = i64::try_from(config.checkpoint_bytes)
        .unwrap_or(i64::MAX)
        .checked_div(page)
        .unwrap_or(1000)
        .max(1);
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{kib}; PRAGMA wal_autocheckpoint = {pages};"
    ))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SqliteError::Corrupt(format!(
            "cannot switch to WAL (journal_mode is {mode})"
        )));
    }
    // One transaction, so a second process opening the same new file
    // sees either nothing or the whole stamped schema.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let created = check_version(&conn).and_then(|()| {
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
        Ok(())
    });
    match created {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    Ok(conn)
}

/// Refuses a database written with another schema version: a newer one,
/// the unreleased version 2, or the unreleased version 1 (a `journal`
/// table but no version stamp). A new, empty file passes.
fn check_version(conn: &Connection) -> Result<(), SqliteError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let has_journal: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'journal')",
        [],
        |r| r.get(0),
    )?;
    if version == SCHEMA_VERSION || (version == 0 && !has_journal) {
        return Ok(());
    }
    Err(SqliteError::SchemaVersion {
        found: version,
        expected: SCHEMA_VERSION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_another_schema_version_is_refused_untouched() {
        let dir = std::env::temp_dir().join(format!("ferrocast-schema-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = SqliteConfig::new(dir.join("s.db"));
        // New file: created and stamped; opening it again is fine.
        drop(connect_writer(&config).unwrap());
        let conn = connect_writer(&config).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        // Version 1 had the journal but no stamp.
        conn.execute_batch("PRAGMA user_version = 0").unwrap();
        drop(conn);
        let err = connect_writer(&config).unwrap_err();
        assert!(
            matches!(
                err,
                SqliteError::SchemaVersion {
                    found: 0,
                    expected: SCHEMA_VERSION
                }
            ),
            "{err}"
        );
        let conn = connect(&config).unwrap();
        conn.execute_batch("PRAGMA user_version = 7").unwrap();
        drop(conn);
        let err = connect_writer(&config).unwrap_err();
        assert!(
            matches!(err, SqliteError::SchemaVersion { found: 7, .. }),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
