//! The write operations of a group transaction, on statements prepared
//! once per writer connection.
//!
//! # The two-level index by persistence id
//!
//! Replay needs the events of one persistence id in sequence order, so the
//! journal is indexed by `(persistence_id, sequence_nr)`. With one index
//! and many entities writing at once, every event lands on the leaf page
//! where its entity's log ends: a group commit of 1,000 entities dirties
//! about 1,000 pages, and SQLite's WAL writes each dirty page whole (4 KiB
//! for a 100-byte event). Measured here, that capped a hand-written writer
//! at about 36,000 events/s, while the same rows without the index went at
//! 200,000.
//!
//! So an event's index entry goes first to `journal_recent`, which stays
//! small (at most about `SqliteConfig::recent_index_rows` entries): a group
//! commit dirties its few pages, whatever the number of entities. Once it
//! is full, the writer moves it into `journal_by_pid` within the same
//! transaction, in key order: each entity's run of entries then fills its
//! leaf page in one write. A key is in exactly one level at any commit,
//! and each level's primary key refuses a duplicate. A move empties
//! `journal_recent`, so a log's numbers there are all above its numbers in
//! `journal_by_pid`: replay reads the older level, then the newer, in one
//! read transaction (`reads::replay`); deletions ask both at once
//! (`pid_range!`).

use ferrocast_persistence::backend::{
    WriteOp as Op, WriteOutcome as Outcome, clamp_to_i64, from_i64, millis, to_i64,
};
use ferrocast_persistence::{
    DurableStateRecord, PersistenceId, PersistentRepr, Revision, SequenceNr,
};
use rusqlite::{Connection, OptionalExtension, Statement, params};

use crate::codec::encode_tags;
use crate::error::SqliteError;
use crate::known::KnownHighest;

/// The orderings and sequence numbers of persistence id `?1`'s events
/// from `?2` to `?3`, from both index levels, each level in sequence order.
/// (A macro so that other statements can `concat!` it.)
macro_rules! pid_range {
    () => {
        "SELECT ordering, sequence_nr FROM journal_by_pid
         WHERE persistence_id = ?1 AND sequence_nr >= ?2 AND sequence_nr <= ?3
         UNION ALL
         SELECT ordering, sequence_nr FROM journal_recent
         WHERE persistence_id = ?1 AND sequence_nr >= ?2 AND sequence_nr <= ?3"
    };
}

/// The highest sequence number of persistence id `?1` (zero if none): the
/// last entry of its log in the index levels, or what `journal_highest`
/// kept when its events were deleted, whichever is higher. Three key
/// searches; no write keeps a per-log row up to date.
pub(crate) const HIGHEST: &str = "SELECT max(
     coalesce((SELECT highest FROM journal_highest WHERE persistence_id = ?1), 0),
     coalesce((SELECT sequence_nr FROM journal_recent WHERE persistence_id = ?1
               ORDER BY sequence_nr DESC LIMIT 1), 0),
     coalesce((SELECT sequence_nr FROM journal_by_pid WHERE persistence_id = ?1
               ORDER BY sequence_nr DESC LIMIT 1), 0))";

/// Every statement the writer runs, prepared once: at hundreds of requests
/// per commit, preparing per request would cost more than the inserts.
pub(crate) struct Statements<'c> {
    conn: &'c Connection,
    known: KnownHighest,
    begin: Statement<'c>,
    data_version: Statement<'c>,
    commit: Statement<'c>,
    rollback: Statement<'c>,
    pub(crate) savepoint: Statement<'c>,
    pub(crate) release: Statement<'c>,
    pub(crate) rollback_to: Statement<'c>,
    highest: Statement<'c>,
    insert_event: Statement<'c>,
    set_highest: Statement<'c>,
    insert_tag: Statement<'c>,
    insert_recent: Statement<'c>,
    move_recent: Statement<'c>,
    clear_recent: Statement<'c>,
    count_recent: Statement<'c>,
    delete_by_pid: Statement<'c>,
    delete_recent: Statement<'c>,
    delete_tags: Statement<'c>,
    delete_events: Statement<'c>,
    save_snapshot: Statement<'c>,
    delete_snapshots: Statement<'c>,
    state_revision: Statement<'c>,
    upsert_state: Statement<'c>,
    delete_state: Statement<'c>,
}

impl<'c> Statements<'c> {
    pub(crate) fn prepare(conn: &'c Connection) -> Result<Self, SqliteError> {
        Ok(Statements {
            conn,
            known: KnownHighest::default(),
            begin: conn.prepare("BEGIN IMMEDIATE")?,
            data_version: conn.prepare("PRAGMA data_version")?,
            commit: conn.prepare("COMMIT")?,
            rollback: conn.prepare("ROLLBACK")?,
            savepoint: conn.prepare("SAVEPOINT request")?,
            release: conn.prepare("RELEASE request")?,
            rollback_to: conn.prepare("ROLLBACK TO request")?,
            highest: conn.prepare(HIGHEST)?,
            insert_event: conn.prepare(
                "INSERT INTO journal
                 (persistence_id, sequence_nr, serializer_id, manifest, payload, tags, timestamp_ms, writer)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?,
            set_highest: conn.prepare(
                "INSERT INTO journal_highest (persistence_id, highest) VALUES (?1, ?2)
                 ON CONFLICT (persistence_id) DO UPDATE SET highest = excluded.highest",
            )?,
            insert_tag: conn.prepare("INSERT INTO event_tags (tag, ordering) VALUES (?1, ?2)")?,
            insert_recent: conn.prepare(
                "INSERT INTO journal_recent (persistence_id, sequence_nr, ordering)
                 VALUES (?1, ?2, ?3)",
            )?,
            // A scan of a WITHOUT ROWID table runs in key order.
            move_recent: conn.prepare(
                "INSERT INTO journal_by_pid (persistence_id, sequence_nr, ordering)
                 SELECT persistence_id, sequence_nr, ordering FROM journal_recent",
            )?,
            clear_recent: conn.prepare("DELETE FROM journal_recent")?,
            count_recent: conn.prepare("SELECT count(*) FROM journal_recent")?,
            delete_tags: conn.prepare(concat!(
                "DELETE FROM event_tags WHERE ordering IN (SELECT ordering FROM (",
                pid_range!(),
                "))"
            ))?,
            delete_events: conn.prepare(concat!(
                "DELETE FROM journal WHERE ordering IN (SELECT ordering FROM (",
                pid_range!(),
                "))"
            ))?,
            delete_by_pid: conn.prepare(
                "DELETE FROM journal_by_pid WHERE persistence_id = ?1 AND sequence_nr <= ?2",
            )?,
            delete_recent: conn.prepare(
                "DELETE FROM journal_recent WHERE persistence_id = ?1 AND sequence_nr <= ?2",
            )?,
            save_snapshot: conn.prepare(
                "INSERT OR REPLACE INTO snapshots
                 (persistence_id, sequence_nr, serializer_id, manifest, payload, timestamp_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?,
            delete_snapshots: conn.prepare(
                "DELETE FROM snapshots WHERE persistence_id = ?1 AND sequence_nr <= ?2",
            )?,
            state_revision: conn
                .prepare("SELECT revision FROM durable_state WHERE persistence_id = ?1")?,
            upsert_state: conn.prepare(
                "INSERT OR REPLACE INTO durable_state
                 (persistence_id, revision, serializer_id, manifest, payload, tag, timestamp_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?,
            delete_state: conn.prepare("DELETE FROM durable_state WHERE persistence_id = ?1")?,
        })
    }

    /// Begins a group's transaction (taking the write lock).
    pub(crate) fn begin(&mut self) -> Result<(), SqliteError> {
        self.begin.execute([])?;
        let version: i64 = self.data_version.query_row([], |r| r.get(0))?;
        self.known.begin(version);
        Ok(())
    }

    /// Commits the group's transaction.
    pub(crate) fn commit(&mut self) -> Result<(), SqliteError> {
        self.commit.execute([])?;
        Ok(())
    }

    /// Rolls the group's transaction back, if one is open. Harmless when
    /// none is: it then fails, and that failure is ignored.
    pub(crate) fn rollback(&mut self) {
        self.known.forget();
        let _ = self.rollback.execute([]);
    }

    /// Runs `op`. A conflict is decided before anything is written, so an
    /// outcome other than `Done` leaves the database as it was; an `Err`
    /// may leave part of the request written, and the caller must roll it
    /// back.
    pub(crate) fn apply(&mut self, op: &Op) -> Result<Outcome, SqliteError> {
        match op {
            Op::WriteEvents(events) => self.write_events(events),
            Op::DeleteEvents(pid, to) => {
                // The log's highest number may be among the deleted:
                // keep it, so that numbering goes on.
                let highest = self.highest(pid.as_str())?;
                if highest > 0 {
                    self.set_highest.execute(params![pid.as_str(), highest])?;
                }
                let range = params![pid.as_str(), 0_i64, clamp_to_i64(to.value())];
                self.delete_tags.execute(range)?;
                self.delete_events.execute(range)?;
                let upto = params![pid.as_str(), clamp_to_i64(to.value())];
                self.delete_by_pid.execute(upto)?;
                self.delete_recent.execute(upto)?;
                Ok(Outcome::Done)
            }
            Op::SaveSnapshot(s) => {
                let m = &s.metadata;
                self.save_snapshot.execute(params![
                    m.persistence_id.as_str(),
                    to_i64(m.sequence_nr.value(), "snapshot sequence number")?,
                    s.payload.serializer.value(),
                    s.payload.manifest.as_str(),
                    s.payload.bytes,
                    millis(m.timestamp),
                ])?;
                Ok(Outcome::Done)
            }
            Op::DeleteSnapshots(pid, max) => {
                self.delete_snapshots
                    .execute(params![pid.as_str(), clamp_to_i64(max.value())])?;
                Ok(Outcome::Done)
            }
            Op::UpsertState(r) => self.upsert_state(r),
            Op::DeleteState(pid, revision) => {
                let current = self.state_revision(pid)?;
                if current != *revision {
                    return Ok(Outcome::RevisionConflict { expected: current });
                }
                self.delete_state.execute(params![pid.as_str()])?;
                Ok(Outcome::Done)
            }
        }
    }

    fn write_events(&mut self, events: &[PersistentRepr]) -> Result<Outcome, SqliteError> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return Ok(Outcome::Done);
        };
        let id = &first.persistence_id;
        let pid = id.as_str();
        let highest = match self.known.get(id) {
            Some(h) => h,
            None => {
                let h = self.highest(pid)?;
                self.known.set(id, h);
                h
            }
        };
        let highest = SequenceNr::new(from_i64(highest, "highest sequence number")?);
        let expected = highest.next();
        if first.sequence_nr != expected || highest == SequenceNr::MAX {
            return Ok(Outcome::SequenceConflict { expected });
        }
        for e in events {
            let nr = to_i64(e.sequence_nr.value(), "sequence number")?;
            self.insert_event.execute(params![
                pid,
                nr,
                e.payload.serializer.value(),
                e.payload.manifest.as_str(),
                e.payload.bytes,
                encode_tags(&e.tags),
                millis(e.timestamp),
                e.writer.as_str(),
            ])?;
            let ordering = self.conn.last_insert_rowid();
            self.insert_recent.execute(params![pid, nr, ordering])?;
            if !e.tags.is_empty() {
                for tag in &e.tags {
                    self.insert_tag.execute(params![tag.as_str(), ordering])?;
                }
            }
        }
        let last = to_i64(last.sequence_nr.value(), "sequence number")?;
        self.known.set(id, last);
        Ok(Outcome::Done)
    }

    /// The stored highest number of `pid` ([`HIGHEST`]).
    fn highest(&mut self, pid: &str) -> Result<i64, SqliteError> {
        Ok(self.highest.query_row(params![pid], |r| r.get(0))?)
    }

    /// Entries in the first index level.
    pub(crate) fn recent_index_rows(&mut self) -> Result<u64, SqliteError> {
        let n: i64 = self.count_recent.query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Moves the first index level into the second (inside the caller's
    /// transaction).
    pub(crate) fn move_recent_index(&mut self) -> Result<(), SqliteError> {
        self.move_recent.execute([])?;
        self.clear_recent.execute([])?;
        Ok(())
    }

    fn state_revision(&mut self, pid: &PersistenceId) -> Result<Revision, SqliteError> {
        let current: Option<i64> = self
            .state_revision
            .query_row(params![pid.as_str()], |r| r.get(0))
            .optional()?;
        Ok(Revision::new(from_i64(current.unwrap_or(0), "revision")?))
    }

    fn upsert_state(&mut self, r: &DurableStateRecord) -> Result<Outcome, SqliteError> {
        let current = self.state_revision(&r.persistence_id)?;
        let expected = current.next();
        if r.revision != expected || current == Revision::new(u64::MAX) {
            return Ok(Outcome::RevisionConflict { expected });
        }
        self.upsert_state.execute(params![
            r.persistence_id.as_str(),
            to_i64(r.revision.value(), "revision")?,
            r.payload.serializer.value(),
            r.payload.manifest.as_str(),
            r.payload.bytes,
            r.tag.as_ref().map(|t| t.as_str()),
            millis(r.timestamp),
        ])?;
        Ok(Outcome::Done)
    }
}
