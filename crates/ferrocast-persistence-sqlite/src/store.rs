//! [`SqliteStore`]: journal, snapshot store and durable state in one file.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use ferrocast_persistence::{
    DurableStateError, DurableStateRecord, DurableStateStore, EventsByTag, Journal, JournalError,
    Offset, PersistenceId, PersistentRepr, Revision, SequenceNr, Snapshot, SnapshotError,
    SnapshotStore, Tag, TaggedEvent, validate_batch,
};
use tokio::sync::{mpsc, oneshot};

use crate::codec::to_sql;
use crate::config::SqliteConfig;
use crate::error::SqliteError;
use crate::ops::{Op, Outcome};
use crate::reads::{self, Readers};
use crate::writer::{self, CommitStats, Counters, Request};

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
    writer: mpsc::Sender<Request>,
    readers: Arc<Readers>,
    counters: Arc<Counters>,
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
        let counters = Arc::new(Counters::default());
        let writer = writer::start(&config, counters.clone()).await?;
        Ok(SqliteStore {
            writer,
            readers: Arc::new(Readers::new(config)),
            counters,
        })
    }

    /// Commits so far and the write requests they carried: requests per
    /// commit is the group-commit factor.
    pub fn commit_stats(&self) -> CommitStats {
        self.counters.snapshot()
    }

    async fn write(&self, op: Op) -> Result<Outcome, SqliteError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Request { op, reply })
            .await
            .map_err(|_| SqliteError::WriterStopped)?;
        answer.await.map_err(|_| SqliteError::WriterStopped)?
    }
}

fn journal_err(e: SqliteError) -> JournalError {
    JournalError::storage(e)
}

fn snapshot_err(e: SqliteError) -> SnapshotError {
    SnapshotError::storage(e)
}

fn state_err(e: SqliteError) -> DurableStateError {
    DurableStateError::storage(e)
}

impl Journal for SqliteStore {
    async fn write(&self, events: Vec<PersistentRepr>) -> Result<(), JournalError> {
        validate_batch(&events)?;
        let Some(first) = events.first() else {
            return Err(JournalError::EmptyBatch);
        };
        let persistence_id = first.persistence_id.clone();
        let attempted = first.sequence_nr;
        if let Some(last) = events.last() {
            if to_sql(last.sequence_nr.value(), "sequence number").is_err() {
                return Err(JournalError::InvalidBatch {
                    persistence_id,
                    reason: "sequence number beyond SQLite's integer range",
                });
            }
        }
        match SqliteStore::write(self, Op::WriteEvents(events))
            .await
            .map_err(journal_err)?
        {
            Outcome::Done => Ok(()),
            Outcome::SequenceConflict { expected } => Err(JournalError::SequenceConflict {
                persistence_id,
                attempted,
                expected,
            }),
            Outcome::RevisionConflict { .. } => Err(journal_err(SqliteError::Corrupt(
                "revision outcome for an event write".to_owned(),
            ))),
        }
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
            .map_err(journal_err)
    }

    async fn highest_sequence_nr(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<SequenceNr, JournalError> {
        let pid = persistence_id.clone();
        self.readers
            .read(move |c| reads::highest(c, &pid))
            .await
            .map_err(journal_err)
    }

    async fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> Result<(), JournalError> {
        SqliteStore::write(self, Op::DeleteEvents(persistence_id.clone(), to))
            .await
            .map(drop)
            .map_err(journal_err)
    }
}

impl SnapshotStore for SqliteStore {
    async fn save(&self, snapshot: Snapshot) -> Result<(), SnapshotError> {
        SqliteStore::write(self, Op::SaveSnapshot(snapshot))
            .await
            .map(drop)
            .map_err(snapshot_err)
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
            .map_err(snapshot_err)
    }

    async fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> Result<(), SnapshotError> {
        SqliteStore::write(self, Op::DeleteSnapshots(persistence_id.clone(), max))
            .await
            .map(drop)
            .map_err(snapshot_err)
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
            .map_err(state_err)
    }

    async fn upsert(&self, record: DurableStateRecord) -> Result<(), DurableStateError> {
        let persistence_id = record.persistence_id.clone();
        let attempted = record.revision;
        match SqliteStore::write(self, Op::UpsertState(record))
            .await
            .map_err(state_err)?
        {
            Outcome::RevisionConflict { expected } => Err(DurableStateError::RevisionConflict {
                persistence_id,
                attempted,
                expected,
            }),
            _ => Ok(()),
        }
    }

    async fn delete(
        &self,
        persistence_id: &PersistenceId,
        revision: Revision,
    ) -> Result<(), DurableStateError> {
        match SqliteStore::write(self, Op::DeleteState(persistence_id.clone(), revision))
            .await
            .map_err(state_err)?
        {
            Outcome::RevisionConflict { expected } => Err(DurableStateError::RevisionConflict {
                persistence_id: persistence_id.clone(),
                attempted: revision,
                expected,
            }),
            _ => Ok(()),
        }
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
            .map_err(journal_err)
    }
}
