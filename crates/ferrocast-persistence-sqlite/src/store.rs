//! [`SqliteStore`]: journal, snapshot store and durable state in one file.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use ferrocast_persistence::backend::{CommitCounters, CommitStats, WriteQueue, check_events};
use ferrocast_persistence::{
    DurableStateError, DurableStateRecord, DurableStateStore, EventsByTag, Journal, JournalError,
    Offset, PersistenceId, PersistentRepr, Revision, SequenceNr, Snapshot, SnapshotError,
    SnapshotStore, Tag, TaggedEvent,
};

use crate::config::{SqliteConfig, Synchronous};
use crate::error::SqliteError;
use crate::reads::{self, Readers};
use crate::sync::Durability;
use crate::writer;

/// The SQLite backend: implements [`Journal`], [`EventsByTag`],
/// [`SnapshotStore`] and [`DurableStateStore`] over one database file in
/// WAL mode.
///
/// Writes go to one writer thread, which commits whatever is queued in one
/// transaction (group commit); reads run on pooled connections with
/// `spawn_blocking`. Nothing blocks the async runtime. Share one store
/// (behind an `Arc`) between all entities of a node: that is what lets
/// their writes share commits.
pub struct SqliteStore {
    writes: WriteQueue<SqliteError>,
    readers: Arc<Readers>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database and starts its writer thread.
    pub async fn open(config: SqliteConfig) -> Result<Self, SqliteError> {
        config.validate()?;
        let counters = Arc::new(CommitCounters::default());
        // Reads wait for the sync of what they see only when commits are
        // synced at all.
        let gated = config.synchronous == Synchronous::Full;
        let durability = Arc::new(Durability::new(gated));
        let writer = writer::start(&config, counters.clone(), durability.clone()).await?;
        Ok(SqliteStore {
            writes: WriteQueue::new(writer, counters, SqliteError::WriterStopped),
            readers: Arc::new(Readers::new(config, durability)),
        })
    }

    /// Commits so far and the write requests they carried: requests per
    /// commit is the group-commit factor.
    pub fn commit_stats(&self) -> CommitStats {
        self.writes.stats()
    }
}

impl Journal for SqliteStore {
    async fn write(&self, events: Vec<PersistentRepr>) -> Result<(), JournalError> {
        check_events(&events, |_| true)?;
        self.writes.write_events(events).await
    }

    async fn replay(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
        max: NonZeroUsize,
    ) -> Result<Vec<PersistentRepr>, JournalError> {
        let pid = persistence_id.clone();
        self.readers
            .read(move |c| reads::replay(c, &pid, from, to, max.get()))
            .await
            .map_err(JournalError::storage)
    }

    async fn highest_sequence_nr(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<SequenceNr, JournalError> {
        let pid = persistence_id.clone();
        self.readers
            .read(move |c| reads::highest(c, &pid))
            .await
            .map_err(JournalError::storage)
    }

    async fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> Result<(), JournalError> {
        self.writes.delete_events(persistence_id, to).await
    }
}

impl EventsByTag for SqliteStore {
    async fn events_by_tag(
        &self,
        tag: &Tag,
        after: Offset,
        max: NonZeroUsize,
    ) -> Result<Vec<TaggedEvent>, JournalError> {
        let tag = tag.clone();
        self.readers
            .read(move |c| reads::events_by_tag(c, &tag, after, max.get()))
            .await
            .map_err(JournalError::storage)
    }

    async fn latest_offset(&self, tag: &Tag) -> Result<Offset, JournalError> {
        let tag = tag.clone();
        self.readers
            .read(move |c| reads::latest_offset(c, &tag))
            .await
            .map_err(JournalError::storage)
    }
}

impl SnapshotStore for SqliteStore {
    async fn save(&self, snapshot: Snapshot) -> Result<(), SnapshotError> {
        self.writes.save_snapshot(snapshot).await
    }

    async fn load_latest(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> Result<Option<Snapshot>, SnapshotError> {
        let pid = persistence_id.clone();
        self.readers
            .read(move |c| reads::latest_snapshot(c, &pid, max))
            .await
            .map_err(SnapshotError::storage)
    }

    async fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> Result<(), SnapshotError> {
        self.writes.delete_snapshots(persistence_id, max).await
    }
}

impl DurableStateStore for SqliteStore {
    async fn get(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<Option<DurableStateRecord>, DurableStateError> {
        let pid = persistence_id.clone();
        self.readers
            .read(move |c| reads::state(c, &pid))
            .await
            .map_err(DurableStateError::storage)
    }

    async fn upsert(&self, record: DurableStateRecord) -> Result<(), DurableStateError> {
        self.writes.upsert_state(record).await
    }

    async fn delete(
        &self,
        persistence_id: &PersistenceId,
        revision: Revision,
    ) -> Result<(), DurableStateError> {
        self.writes.delete_state(persistence_id, revision).await
    }
}
