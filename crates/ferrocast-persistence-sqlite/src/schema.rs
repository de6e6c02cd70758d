//! The schema and how connections are opened.
//!
//! One file in WAL mode: readers never block the writer and see every
//! committed transaction. Integers are SQLite's signed 64-bit; sequence
//! numbers and revisions above `i64::MAX` are refused.

use rusqlite::Connection;

use crate::config::{SqliteConfig, Synchronous};
use crate::error::SqliteError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
    -- The offset of queries by tag: assigned by the single writer in
    -- commit order, never reused (AUTOINCREMENT), even after deletion.
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
    writer         TEXT    NOT NULL,
    UNIQUE (persistence_id, sequence_nr)
);
CREATE TABLE IF NOT EXISTS event_tags (
    tag      TEXT    NOT NULL,
    ordering INTEGER NOT NULL,
    PRIMARY KEY (tag, ordering)
) WITHOUT ROWID;
-- Survives deletion of events, so numbering goes on.
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
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}
