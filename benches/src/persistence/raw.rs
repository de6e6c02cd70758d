//! Raw rusqlite: the same rows, in the tables `ferrocast-persistence-sqlite` itself creates
//! (its store opens the file first): `journal` and the two levels of its index by
//! persistence id, `journal_recent` and `journal_by_pid` (`journal_highest` is written only
//! at deletions). Written and read by hand on one connection with prepared statements, WAL
//! and the same `synchronous`: the practical limit of one SQLite file.
//!
//! - One entity: every event is its own transaction (insert the event and its index entry,
//!   commit), since each must be durable before the next is sent.
//! - 1,000 entities: with one persist in flight per entity, a hand-written writer commits
//!   one event of every entity per transaction (1,000 events, one fsync).
//! - The first index level is moved into the second (one `INSERT .. SELECT`) within the
//!   transaction that brings it to `SqliteConfig::recent_index_rows` entries (the library's
//!   default), as the library does.
//! - Replay: in one read transaction, one `SELECT` per index level (older level first),
//!   each row by its ordering, every column read into owned values.
//!
//! It skips what the library does on top: the sequence-number check before a write (the
//! index levels' primary keys still refuse a duplicate), the writer thread and its channel,
//! actors, asks, serialization and paging.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, ensure};
use ferrocast_persistence_sqlite::{SqliteConfig, SqliteStore};
use rusqlite::{Connection, params};

use super::{ENTITIES, MANIFEST, SERIALIZER_ID, Sizes, Sync};
use crate::harness::Measured;

const INSERT: &str = "INSERT INTO journal
    (persistence_id, sequence_nr, serializer_id, manifest, payload, tags, timestamp_ms, writer)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const INSERT_RECENT: &str =
    "INSERT INTO journal_recent (persistence_id, sequence_nr, ordering) VALUES (?1, ?2, ?3)";

/// Moves the first index level into the second.
const MOVE_RECENT: &str = "INSERT INTO journal_by_pid (persistence_id, sequence_nr, ordering)
    SELECT persistence_id, sequence_nr, ordering FROM journal_recent;
    DELETE FROM journal_recent;";

const WRITER: &str = "bench";

/// The prepared statements of a write and the first index level's size.
struct Writes<'c> {
    conn: &'c Connection,
    insert: rusqlite::Statement<'c>,
    insert_recent: rusqlite::Statement<'c>,
    recent: u64,
    /// `SqliteConfig::recent_index_rows`' default.
    recent_limit: u64,
}

impl<'c> Writes<'c> {
    fn prepare(conn: &'c Connection) -> Result<Self> {
        Ok(Writes {
            conn,
            insert: conn.prepare(INSERT)?,
            insert_recent: conn.prepare(INSERT_RECENT)?,
            recent: 0,
            recent_limit: u64::try_from(SqliteConfig::new("").recent_index_rows.get())?,
        })
    }

    /// Writes event `nr` of `pid` (and its index entry) inside the caller's transaction.
    fn event(&mut self, pid: &str, nr: u64) -> Result<()> {
        let nr_sql = i64::try_from(nr)?;
        self.insert.execute(params![
            pid,
            nr_sql,
            SERIALIZER_ID,
            MANIFEST,
            &super::payload(nr)[..],
            "",
            now_ms(),
            WRITER,
        ])?;
        let ordering = self.conn.last_insert_rowid();
        self.insert_recent.execute(params![pid, nr_sql, ordering])?;
        self.recent += 1;
        Ok(())
    }

    /// Before the caller's commit: moves the first index level if it is full.
    fn before_commit(&mut self) -> Result<()> {
        if self.recent >= self.recent_limit {
            self.conn.execute_batch(MOVE_RECENT)?;
            self.recent = 0;
        }
        Ok(())
    }
}

fn open(db: &Path, sync: Sync) -> Result<Connection> {
    create_schema(db)?;
    let conn = Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let sync = match sync {
        Sync::Full => "FULL",
        Sync::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = OFF;"
    ))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    ensure!(mode.eq_ignore_ascii_case("wal"), "journal_mode is {mode}");
    Ok(conn)
}

/// Creates the tables the rows go to by opening (and closing) the library's
/// own store on `db`: the same schema by construction, untimed.
fn create_schema(db: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    rt.block_on(SqliteStore::open(SqliteConfig::new(db)))?;
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One event per transaction, sequentially.
pub(crate) fn persist_1(db: &Path, sync: Sync, sizes: Sizes) -> Result<Measured> {
    let conn = open(db, sync)?;
    let mut begin = conn.prepare("BEGIN IMMEDIATE")?;
    let mut commit = conn.prepare("COMMIT")?;
    let mut writes = Writes::prepare(&conn)?;
    let mut one = |nr: u64| -> Result<()> {
        begin.execute([])?;
        writes.event("entity-0", nr)?;
        writes.before_commit()?;
        commit.execute([])?;
        Ok(())
    };
    let mut nr = 0;
    for _ in 0..sizes.warmup {
        nr += 1;
        one(nr)?;
    }
    let mut latencies = Vec::with_capacity(sizes.single);
    let started = Instant::now();
    for _ in 0..sizes.single {
        nr += 1;
        let t = Instant::now();
        one(nr)?;
        latencies.push(t.elapsed());
    }
    let total = started.elapsed();
    Ok(super::single_entity_metrics(total, latencies))
}

/// Rounds of one event per entity, each round one transaction.
pub(crate) fn persist_1000(db: &Path, sync: Sync, sizes: Sizes) -> Result<Measured> {
    let conn = open(db, sync)?;
    let mut begin = conn.prepare("BEGIN IMMEDIATE")?;
    let mut commit = conn.prepare("COMMIT")?;
    let mut writes = Writes::prepare(&conn)?;
    let pids: Vec<String> = (0..ENTITIES).map(|i| format!("entity-{i}")).collect();
    let rounds = (sizes.many / ENTITIES) as u64;
    let started = Instant::now();
    for nr in 1..=rounds {
        begin.execute([])?;
        for pid in &pids {
            writes.event(pid, nr)?;
        }
        writes.before_commit()?;
        commit.execute([])?;
    }
    let total = started.elapsed();
    let events = rounds * ENTITIES as u64;
    Ok(vec![
        (
            "persist_1000_entities".to_owned(),
            events as f64 / total.as_secs_f64(),
        ),
        (
            "1000_entities_events_per_commit".to_owned(),
            ENTITIES as f64,
        ),
    ])
}

/// Fills one log (untimed, transactions of 10,000), then reads it back, one `SELECT` per
/// index level.
pub(crate) fn replay(db: &Path, sizes: Sizes) -> Result<Measured> {
    const PID: &str = "replayed";
    let conn = open(db, Sync::Full)?;
    {
        let mut writes = Writes::prepare(&conn)?;
        let mut nr = 0u64;
        while nr < sizes.replay as u64 {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            for _ in 0..10_000.min(sizes.replay as u64 - nr) {
                nr += 1;
                writes.event(PID, nr)?;
            }
            writes.before_commit()?;
            conn.execute_batch("COMMIT")?;
        }
    }
    // A reader of its own, as a recovering process would have.
    let reader = open(db, Sync::Full)?;
    let started = Instant::now();
    let tx = reader.unchecked_transaction()?;
    let mut expected = 1i64;
    let mut bytes = 0usize;
    for level in ["journal_by_pid", "journal_recent"] {
        let mut select = tx.prepare(&format!(
            "SELECT x.sequence_nr, j.serializer_id, j.manifest, j.payload, j.tags,
                    j.timestamp_ms, j.writer
             FROM {level} x JOIN journal j ON j.ordering = x.ordering
             WHERE x.persistence_id = ?1 AND x.sequence_nr >= ?2 AND x.sequence_nr <= ?3
             ORDER BY x.sequence_nr"
        ))?;
        let mut rows = select.query(params![PID, 1i64, i64::MAX])?;
        while let Some(row) = rows.next()? {
            let nr: i64 = row.get(0)?;
            ensure!(nr == expected, "expected event {expected}, read {nr}");
            let _serializer: i64 = row.get(1)?;
            let _manifest: String = row.get(2)?;
            let payload: Vec<u8> = row.get(3)?;
            let _tags: String = row.get(4)?;
            let _timestamp: i64 = row.get(5)?;
            let _writer: String = row.get(6)?;
            bytes += payload.len();
            expected += 1;
        }
    }
    tx.finish()?;
    let total = started.elapsed();
    let read = (expected - 1) as usize;
    ensure!(read == sizes.replay, "read {read} events");
    ensure!(
        bytes == read * super::EVENT_BYTES,
        "read {bytes} payload bytes"
    );
    Ok(vec![(
        "replay".to_owned(),
        sizes.replay as f64 / total.as_secs_f64(),
    )])
}
