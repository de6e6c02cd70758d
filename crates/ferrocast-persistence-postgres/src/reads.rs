//! Reads: a fixed set of connections, each with its statements prepared
//! once. A tokio-postgres client pipelines concurrent queries, so reads
//! share connections round-robin instead of waiting for one of their own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ferrocast_persistence::{
    DurableStateRecord, Offset, Payload, PersistenceId, PersistentRepr, Revision, SequenceNr,
    Snapshot, SnapshotMetadata, Tag, TaggedEvent,
};
use tokio_postgres::{Client, Row, Statement};

use ferrocast_persistence::backend::{
    RowCache, clamp_to_i64, from_i64, serializer_id, time_from_millis,
};

use crate::codec::tags;
use crate::config::PostgresConfig;
use crate::error::PostgresError;
use crate::schema::connect;

/// One read connection and its statements.
pub(crate) struct Reader {
    client: Client,
    replay: Statement,
    highest: Statement,
    snapshot: Statement,
    state: Statement,
    by_tag: Statement,
    latest_offset: Statement,
}

impl Reader {
    async fn open(config: &PostgresConfig) -> Result<Self, PostgresError> {
        let client = connect(config).await?;
        let s = &config.schema;
        Ok(Reader {
            replay: client
                .prepare(&format!(
                    r#"SELECT sequence_nr, serializer_id, manifest, payload, tags, timestamp_ms, writer
                       FROM "{s}".journal
                       WHERE persistence_id = $1 AND sequence_nr >= $2 AND sequence_nr <= $3
                       ORDER BY sequence_nr LIMIT $4"#
                ))
                .await?,
            highest: client.prepare(&crate::schema::highest_sql(s)).await?,
            snapshot: client
                .prepare(&format!(
                    r#"SELECT sequence_nr, serializer_id, manifest, payload, timestamp_ms
                       FROM "{s}".snapshots WHERE persistence_id = $1 AND sequence_nr <= $2
                       ORDER BY sequence_nr DESC LIMIT 1"#
                ))
                .await?,
            state: client
                .prepare(&format!(
                    r#"SELECT revision, serializer_id, manifest, payload, tag, timestamp_ms
                       FROM "{s}".durable_state WHERE persistence_id = $1"#
                ))
                .await?,
            by_tag: client
                .prepare(&format!(
                    r#"SELECT j.ordering, j.persistence_id, j.sequence_nr, j.serializer_id,
                              j.manifest, j.payload, j.tags, j.timestamp_ms, j.writer
                       FROM "{s}".event_tags t JOIN "{s}".journal j ON j.ordering = t.ordering
                       WHERE t.tag = $1 AND t.ordering > $2
                       ORDER BY t.ordering LIMIT $3"#
                ))
                .await?,
            latest_offset: client
                .prepare(&format!(
                    r#"SELECT max(ordering) FROM "{s}".event_tags WHERE tag = $1"#
                ))
                .await?,
            client,
        })
    }
}

/// The store's read connections, opened on open and again when lost.
pub(crate) struct Readers {
    config: PostgresConfig,
    slots: Vec<Mutex<Option<Arc<Reader>>>>,
    next: AtomicUsize,
}

impl Readers {
    pub(crate) async fn open(config: PostgresConfig) -> Result<Self, PostgresError> {
        let mut slots = Vec::with_capacity(config.readers.get());
        for _ in 0..config.readers.get() {
            slots.push(Mutex::new(Some(Arc::new(Reader::open(&config).await?))));
        }
        Ok(Readers {
            config,
            slots,
            next: AtomicUsize::new(0),
        })
    }

    /// The next connection round-robin, reopened if it was lost.
    async fn reader(&self) -> Result<Arc<Reader>, PostgresError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len().max(1);
        let Some(slot) = self.slots.get(i) else {
            return Err(PostgresError::WriterStopped);
        };
        let live = slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|r| !r.client.is_closed());
        if let Some(r) = live {
            return Ok(r);
        }
        let fresh = Arc::new(Reader::open(&self.config).await?);
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh.clone());
        Ok(fresh)
    }

    pub(crate) async fn replay(
        &self,
        pid: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
        max: usize,
    ) -> Result<Vec<PersistentRepr>, PostgresError> {
        let r = self.reader().await?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = r
            .client
            .query(
                &r.replay,
                &[
                    &pid.as_str(),
                    &clamp_to_i64(from.value()),
                    &clamp_to_i64(to.value()),
                    &limit,
                ],
            )
            .await?;
        let mut cache = RowCache::default();
        rows.iter()
            .map(|row| event_at(row, 0, pid.clone(), &mut cache))
            .collect()
    }

    pub(crate) async fn highest(&self, pid: &PersistenceId) -> Result<SequenceNr, PostgresError> {
        let r = self.reader().await?;
        let pids: &[&str] = &[pid.as_str()];
        let row = r.client.query_one(&r.highest, &[&pids]).await?;
        let h = row.try_get(1)?;
        Ok(SequenceNr::new(from_i64(h, "highest sequence number")?))
    }

    pub(crate) async fn events_by_tag(
        &self,
        tag: &Tag,
        after: Offset,
        max: usize,
    ) -> Result<Vec<TaggedEvent>, PostgresError> {
        let r = self.reader().await?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = r
            .client
            .query(
                &r.by_tag,
                &[&tag.as_str(), &clamp_to_i64(after.value()), &limit],
            )
            .await?;
        let mut cache = RowCache::default();
        rows.iter()
            .map(|row| {
                let pid = cache.persistence_id(row.try_get(1)?)?;
                Ok(TaggedEvent {
                    offset: Offset::new(from_i64(row.try_get(0)?, "ordering")?),
                    event: event_at(row, 2, pid, &mut cache)?,
                })
            })
            .collect()
    }

    pub(crate) async fn latest_offset(&self, tag: &Tag) -> Result<Offset, PostgresError> {
        let r = self.reader().await?;
        let row = r
            .client
            .query_one(&r.latest_offset, &[&tag.as_str()])
            .await?;
        let max: Option<i64> = row.try_get(0)?;
        Ok(Offset::new(from_i64(max.unwrap_or(0), "ordering")?))
    }

    pub(crate) async fn latest_snapshot(
        &self,
        pid: &PersistenceId,
        max: SequenceNr,
    ) -> Result<Option<Snapshot>, PostgresError> {
        let r = self.reader().await?;
        let row = r
            .client
            .query_opt(&r.snapshot, &[&pid.as_str(), &clamp_to_i64(max.value())])
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Snapshot {
            metadata: SnapshotMetadata {
                persistence_id: pid.clone(),
                sequence_nr: SequenceNr::new(from_i64(
                    row.try_get(0)?,
                    "snapshot sequence number",
                )?),
                timestamp: time_from_millis(row.try_get(4)?),
            },
            payload: payload_at(&row, 1)?,
        }))
    }

    pub(crate) async fn state(
        &self,
        pid: &PersistenceId,
    ) -> Result<Option<DurableStateRecord>, PostgresError> {
        let r = self.reader().await?;
        let Some(row) = r.client.query_opt(&r.state, &[&pid.as_str()]).await? else {
            return Ok(None);
        };
        let tag: Option<&str> = row.try_get(4)?;
        Ok(Some(DurableStateRecord {
            persistence_id: pid.clone(),
            revision: Revision::new(from_i64(row.try_get(0)?, "revision")?),
            payload: payload_at(&row, 1)?,
            tag: tag.map(Tag::new).transpose().map_err(corrupt)?,
            timestamp: time_from_millis(row.try_get(5)?),
        }))
    }
}

fn corrupt(e: impl std::fmt::Display) -> PostgresError {
    PostgresError::Corrupt(e.to_string())
}

/// The payload in columns `serializer_id, manifest, payload` from `at`.
fn payload_at(row: &Row, at: usize) -> Result<Payload, PostgresError> {
    let manifest: &str = row.try_get(at + 1)?;
    Ok(Payload::new(
        serializer_id(row.try_get(at)?)?,
        manifest,
        row.try_get(at + 2)?,
    ))
}

/// An event from the columns `sequence_nr, serializer_id, manifest,
/// payload, tags, timestamp_ms, writer` starting at `at`.
/// The identifiers repeated from row to row come from `cache`.
fn event_at(
    row: &Row,
    at: usize,
    pid: PersistenceId,
    cache: &mut RowCache,
) -> Result<PersistentRepr, PostgresError> {
    Ok(PersistentRepr {
        persistence_id: pid,
        sequence_nr: SequenceNr::new(from_i64(row.try_get(at)?, "sequence number")?),
        payload: Payload {
            serializer: serializer_id(row.try_get(at + 1)?)?,
            manifest: cache.manifest(row.try_get(at + 2)?),
            bytes: row.try_get(at + 3)?,
        },
        tags: tags(row.try_get(at + 4)?)?,
        timestamp: time_from_millis(row.try_get(at + 5)?),
        writer: cache.writer(row.try_get(at + 6)?)?,
    })
}
