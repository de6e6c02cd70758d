//! Reads: blocking queries on pooled read connections, run with
//! `spawn_blocking` so the async runtime never waits on SQLite.

use std::sync::{Arc, Mutex};

use ferrocast_persistence::{
    DurableStateRecord, Offset, Payload, PersistenceId, PersistentRepr, Revision, SequenceNr,
    Snapshot, SnapshotMetadata, Tag, TaggedEvent,
};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Semaphore;

use ferrocast_persistence::backend::{
    RowCache, clamp_to_i64, from_i64, serializer_id, time_from_millis,
};

use crate::codec::decode_tags;
use crate::config::SqliteConfig;
use crate::error::SqliteError;
use crate::schema::connect;
use crate::sync::Durability;

/// Idle read connections (WAL: each read sees the latest commit, and
/// returns once that commit is durable, see `sync`).
pub(crate) struct Readers {
    config: SqliteConfig,
    durability: Arc<Durability>,
    idle: Mutex<Vec<Connection>>,
    /// Bounds reads in flight, and so blocking threads and connections.
    permits: Semaphore,
}

impl Readers {
    pub(crate) fn new(config: SqliteConfig, durability: Arc<Durability>) -> Self {
        let permits = Semaphore::new(config.max_readers.get());
        Readers {
            config,
            durability,
            idle: Mutex::new(Vec::new()),
            permits,
        }
    }

    /// Runs `query` on a read connection, off the runtime.
    pub(crate) async fn read<R, F>(self: &Arc<Self>, query: F) -> Result<R, SqliteError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, SqliteError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| SqliteError::Task(e.to_string()))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let taken = me.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match taken {
                Some(c) => c,
                None => connect(&me.config)?,
            };
            let result = query(&conn);
            me.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            // What the query saw may include commits not yet synced.
            me.durability.wait_visible()?;
            result
        })
        .await
        .map_err(|e| SqliteError::Task(e.to_string()))?
    }
}

/// Builds an event from the columns `sequence_nr, serializer_id, manifest,
/// payload, tags, timestamp_ms, writer` starting at `at`.
/// Text columns are read in place (no `String` per column); the
/// identifiers repeated from row to row come from `cache`.
fn event_at(
    row: &rusqlite::Row<'_>,
    at: usize,
    pid: PersistenceId,
    cache: &mut RowCache,
) -> Result<PersistentRepr, SqliteError> {
    Ok(PersistentRepr {
        persistence_id: pid,
        sequence_nr: SequenceNr::new(from_i64(row.get(at)?, "sequence number")?),
        payload: Payload {
            serializer: serializer_id(row.get(at + 1)?)?,
            manifest: cache.manifest(text(row, at + 2)?),
            bytes: row.get(at + 3)?,
        },
        tags: decode_tags(text(row, at + 4)?)?,
        timestamp: time_from_millis(row.get(at + 5)?),
        writer: cache.writer(text(row, at + 6)?)?,
    })
}

/// A text column, borrowed from the row.
fn text<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<&'r str, SqliteError> {
    row.get_ref(index)?
        .as_str()
        .map_err(|e| SqliteError::Corrupt(format!("column {index}: {e}")))
}

pub(crate) fn events_by_tag(
    conn: &Connection,
    tag: &Tag,
    after: Offset,
    max: usize,
) -> Result<Vec<TaggedEvent>, SqliteError> {
    let mut stmt = conn.prepare(
        "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.serializer_id, j.manifest,
                j.payload, j.tags, j.timestamp_ms, j.writer
         FROM event_tags t JOIN journal j ON j.ordering = t.ordering
         WHERE t.tag = ?1 AND t.ordering > ?2
         ORDER BY t.ordering LIMIT ?3",
    )?;
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![tag.as_str(), clamp_to_i64(after.value()), limit])?;
    let mut out = Vec::with_capacity(max.min(1024));
    let mut cache = RowCache::default();
    while let Some(row) = rows.next()? {
        let pid = cache.persistence_id(text(row, 1)?)?;
        out.push(TaggedEvent {
            offset: Offset::new(from_i64(row.get(0)?, "ordering")?),
            event: event_at(row, 2, pid, &mut cache)?,
        });
    }
    Ok(out)
}

/// The highest offset of `tag` (zero if none): an index lookup.
pub(crate) fn latest_offset(conn: &Connection, tag: &Tag) -> Result<Offset, SqliteError> {
    let max: Option<i64> = conn
        .prepare("SELECT max(ordering) FROM event_tags WHERE tag = ?1")?
        .query_row(params![tag.as_str()], |r| r.get(0))?;
    Ok(Offset::new(from_i64(max.unwrap_or(0), "ordering")?))
}

/// A page of a log from one index level (`{level}`): its entries of
/// persistence id `?1` from `?2` to `?3` in sequence order, each row by
/// its ordering.
macro_rules! replay_from {
    ($level:literal) => {
        concat!(
            "SELECT x.sequence_nr, j.serializer_id, j.manifest, j.payload, j.tags,
                    j.timestamp_ms, j.writer
             FROM ",
            $level,
            " x JOIN journal j ON j.ordering = x.ordering
             WHERE x.persistence_id = ?1 AND x.sequence_nr >= ?2 AND x.sequence_nr <= ?3
             ORDER BY x.sequence_nr LIMIT ?4"
        )
    };
}

/// The older index level, then the newer one. A move takes the whole of
/// `journal_recent` into `journal_by_pid`, so every number a log has in
/// `journal_by_pid` is below every number it has in `journal_recent`:
/// reading the first level and then the second gives sequence order
/// without a merge.
const REPLAY: [&str; 2] = [
    replay_from!("journal_by_pid"),
    replay_from!("journal_recent"),
];

pub(crate) fn replay(
    conn: &Connection,
    pid: &PersistenceId,
    from: SequenceNr,
    to: SequenceNr,
    max: usize,
) -> Result<Vec<PersistentRepr>, SqliteError> {
    // One read transaction: a move committed between the two statements
    // would otherwise hide the moved entries from both.
    let tx = conn.unchecked_transaction()?;
    let mut out = Vec::with_capacity(max.min(1024));
    let mut cache = RowCache::default();
    for sql in REPLAY {
        let left = max - out.len();
        if left == 0 {
            break;
        }
        let mut stmt = tx.prepare(sql)?;
        let mut rows = stmt.query(params![
            pid.as_str(),
            clamp_to_i64(from.value()),
            clamp_to_i64(to.value()),
            i64::try_from(left).unwrap_or(i64::MAX)
        ])?;
        while let Some(row) = rows.next()? {
            out.push(event_at(row, 0, pid.clone(), &mut cache)?);
        }
    }
    tx.finish()?;
    Ok(out)
}

pub(crate) fn highest(conn: &Connection, pid: &PersistenceId) -> Result<SequenceNr, SqliteError> {
    let h: i64 = conn
        .prepare(crate::ops::HIGHEST)?
        .query_row(params![pid.as_str()], |r| r.get(0))?;
    Ok(SequenceNr::new(from_i64(h, "highest sequence number")?))
}

pub(crate) fn latest_snapshot(
    conn: &Connection,
    pid: &PersistenceId,
    max: SequenceNr,
) -> Result<Option<Snapshot>, SqliteError> {
    let row = conn
        .prepare(
            "SELECT sequence_nr, serializer_id, manifest, payload, timestamp_ms FROM snapshots
             WHERE persistence_id = ?1 AND sequence_nr <= ?2
             ORDER BY sequence_nr DESC LIMIT 1",
        )?
        .query_row(params![pid.as_str(), clamp_to_i64(max.value())], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()?;
    let Some((nr, ser, manifest, bytes, ms)) = row else {
        return Ok(None);
    };
    Ok(Some(Snapshot {
        metadata: SnapshotMetadata {
            persistence_id: pid.clone(),
            sequence_nr: SequenceNr::new(from_i64(nr, "snapshot sequence number")?),
            timestamp: time_from_millis(ms),
        },
        payload: Payload::new(serializer_id(ser)?, manifest.as_str(), bytes),
    }))
}

pub(crate) fn state(
    conn: &Connection,
    pid: &PersistenceId,
) -> Result<Option<DurableStateRecord>, SqliteError> {
    let row = conn
        .prepare(
            "SELECT revision, serializer_id, manifest, payload, tag, timestamp_ms
             FROM durable_state WHERE persistence_id = ?1",
        )?
        .query_row(params![pid.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .optional()?;
    let Some((rev, ser, manifest, bytes, tag, ms)) = row else {
        return Ok(None);
    };
    let tag = match tag {
        Some(t) => Some(Tag::new(&t).map_err(|e| SqliteError::Corrupt(e.to_string()))?),
        None => None,
    };
    Ok(Some(DurableStateRecord {
        persistence_id: pid.clone(),
        revision: Revision::new(from_i64(rev, "revision")?),
        payload: Payload::new(serializer_id(ser)?, manifest.as_str(), bytes),
        tag,
        timestamp: time_from_millis(ms),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SqliteConfig;
    use crate::schema::connect_writer;

    #[test]
    fn replay_and_highest_search_each_index_level_by_its_key_without_sorting() {
        let dir = std::env::temp_dir().join(format!("ferrocast-plan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let conn = connect_writer(&SqliteConfig::new(dir.join("p.db"))).unwrap();
        for (sql, level) in REPLAY.iter().zip(["journal_by_pid", "journal_recent"]) {
            let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let details: Vec<String> = plan
                .query_map(params!["a", 0, 10, 10], |r| r.get(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let text = details.join("\n");
            // A page costs its own rows, however long the log.
            assert!(
                text.contains("SEARCH x USING PRIMARY KEY"),
                "{level}: {text}"
            );
            assert!(
                text.contains("SEARCH j USING INTEGER PRIMARY KEY"),
                "{level}: {text}"
            );
            assert!(!text.contains("TEMP B-TREE"), "{level}: {text}");
            assert!(!text.contains("SCAN"), "{level}: {text}");
        }
        // The highest number: three key searches, each for one row.
        let mut plan = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", crate::ops::HIGHEST))
            .unwrap();
        let details: Vec<String> = plan
            .query_map(params!["a"], |r| r.get(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let text = details.join("\n");
        for level in ["journal_highest", "journal_recent", "journal_by_pid"] {
            assert!(
                text.contains(&format!("SEARCH {level} USING PRIMARY KEY")),
                "{text}"
            );
        }
        assert!(!text.contains("TEMP B-TREE"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
