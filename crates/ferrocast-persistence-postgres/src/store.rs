//! [`PostgresStore`]: journal, snapshot store and durable state in one
//! PostgreSQL schema.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use ferrocast_persistence::backend::{CommitCounters, CommitStats, WriteQueue, check_events};
use ferrocast_persistence::{
    DurableStateError, DurableStateRecord, DurableStateStore, EventsByTag, Journal, JournalError,
    Offset, PersistenceId, PersistentRepr, Revision, SequenceNr, Snapshot, SnapshotError,
    SnapshotStore, Tag, TaggedEvent,
};

use crate::codec::storable;
use crate::config::PostgresConfig;
use crate::error::PostgresError;
use crate::reads::Readers;
use crate::stats::{OneRoundTrip, OneRoundTripCounters};
use crate::writer;

/// The PostgreSQL backend: implements [`Journal`], [`EventsByTag`],
/// [`SnapshotStore`] and [`DurableStateStore`] over the tables of one
/// schema.
///
/// Writes go to one writer thread with its own connection, which commits
/// whatever is queued in one transaction (group commit); reads share a
/// fixed set of connections. Share one store (behind an `Arc`) between all
/// entities of a node: that is what lets their writes share commits.
/// Stores of several processes may share a schema: their writes take turns
/// on the schema's advisory lock.
pub struct PostgresStore {
    writes: WriteQueue<PostgresError>,
    one_round_trip: Arc<OneRoundTripCounters>,
    readers: Readers,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects, creates the schema and tables if missing, and starts the
    /// writer (on a thread of its own; the read connections' I/O tasks run
    /// on the current tokio runtime).
    pub async fn open(config: PostgresConfig) -> Result<Self, PostgresError> {
        config.validate()?;
        let counters = Arc::new(CommitCounters::default());
        let one_round_trip = Arc::new(OneRoundTripCounters::default());
        let writer = writer::start(&config, counters.clone(), one_round_trip.clone()).await?;
        Ok(PostgresStore {
            writes: WriteQueue::new(writer, counters, PostgresError::WriterStopped),
            one_round_trip,
            readers: Readers::open(config).await?,
        })
    }

    /// Commits so far and the write requests they carried: requests per
    /// commit is the group-commit factor.
    pub fn commit_stats(&self) -> CommitStats {
        self.writes.stats()
    }

    /// Of those commits, the groups that took one round trip instead of
    /// two (they wrote only events, to logs whose highest numbers the
    /// writer knew), and the attempts that found another store had written
    /// and ran again in two.
    pub fn one_round_trip(&self) -> OneRoundTrip {
        self.one_round_trip.snapshot()
    }
}

impl Journal for PostgresStore {
    async fn write(&self, events: Vec<PersistentRepr>) -> Result<(), JournalError> {
        // PostgreSQL text cannot hold NUL.
        check_events(&events, storable)?;
        self.writes.write_events(events).await
    }

    async fn replay(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
        max: NonZeroUsize,
    ) -> Result<Vec<PersistentRepr>, JournalError> {
        self.readers
            .replay(persistence_id, from, to, max.get())
            .await
            .map_err(JournalError::storage)
    }

    async fn highest_sequence_nr(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<SequenceNr, JournalError> {
        self.readers
            .highest(persistence_id)
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

impl SnapshotStore for PostgresStore {
    async fn save(&self, snapshot: Snapshot) -> Result<(), SnapshotError> {
        self.writes.save_snapshot(snapshot).await
    }

    async fn load_latest(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> Result<Option<Snapshot>, SnapshotError> {
        self.readers
            .latest_snapshot(persistence_id, max)
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

impl DurableStateStore for PostgresStore {
    async fn get(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<Option<DurableStateRecord>, DurableStateError> {
        self.readers
            .state(persistence_id)
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

impl EventsByTag for PostgresStore {
    async fn events_by_tag(
        &self,
        tag: &Tag,
        after: Offset,
        max: NonZeroUsize,
    ) -> Result<Vec<TaggedEvent>, JournalError> {
        self.readers
            .events_by_tag(tag, after, max.get())
            .await
            .map_err(JournalError::storage)
    }

    async fn latest_offset(&self, tag: &Tag) -> Result<Offset, JournalError> {
        self.readers
            .latest_offset(tag)
            .await
            .map_err(JournalError::storage)
    }
}
