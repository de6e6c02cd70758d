//! [`PostgresStore`]: journal, snapshot store and durable state in one
//! PostgreSQL schema.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use ferrocast_persistence::{
    DurableStateError, DurableStateRecord, DurableStateStore, EventsByTag, Journal, JournalError,
    Offset, PersistenceId, PersistentRepr, Revision, SequenceNr, Snapshot, SnapshotError,
    SnapshotStore, Tag, TaggedEvent, validate_batch,
};
use tokio::sync::{mpsc, oneshot};

use crate::codec::{storable, to_sql};
use crate::config::PostgresConfig;
use crate::error::PostgresError;
use crate::plan::{Op, Outcome};
use crate::reads::Readers;
use crate::writer::{self, CommitStats, Counters, Request};

/// The PostgreSQL backend: implements [`Journal`], [`EventsByTag`],
/// [`SnapshotStore`] and [`DurableStateStore`] over the tables of one
/// schema.
///
/// Writes go to one writer task with its own connection, which commits
/// whatever is queued in one transaction (group commit); reads share a
/// fixed set of connections. Share one store (behind an `Arc`) between all
/// entities of a node: that is what lets their writes share commits.
/// Stores of several processes may share a schema: their writes take turns
/// on the schema's advisory lock.
pub struct PostgresStore {
    writer: mpsc::Sender<Request>,
    readers: Readers,
    counters: Arc<Counters>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects, creates the schema and tables if missing, and starts the
    /// writer task (on the current tokio runtime, as are the connections'
    /// I/O tasks).
    pub async fn open(config: PostgresConfig) -> Result<Self, PostgresError> {
        config.validate()?;
        let counters = Arc::new(Counters::default());
        let writer = writer::start(&config, counters.clone()).await?;
        Ok(PostgresStore {
            writer,
            readers: Readers::open(config).await?,
            counters,
        })
    }

    /// Commits so far and the write requests they carried: requests per
    /// commit is the group-commit factor.
    pub fn commit_stats(&self) -> CommitStats {
        self.counters.snapshot()
    }

    async fn write(&self, op: Op) -> Result<Outcome, PostgresError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Request { op, reply })
            .await
            .map_err(|_| PostgresError::WriterStopped)?;
        answer.await.map_err(|_| PostgresError::WriterStopped)?
    }
}

fn journal_err(e: PostgresError) -> JournalError {
    JournalError::storage(e)
}

fn snapshot_err(e: PostgresError) -> SnapshotError {
    SnapshotError::storage(e)
}

fn state_err(e: PostgresError) -> DurableStateError {
    DurableStateError::storage(e)
}

impl Journal for PostgresStore {
    async fn write(&self, events: Vec<PersistentRepr>) -> Result<(), JournalError> {
        validate_batch(&events)?;
        let Some(first) = events.first() else {
            return Err(JournalError::EmptyBatch);
        };
        let persistence_id = first.persistence_id.clone();
        let attempted = first.sequence_nr;
        let texts_ok = events.iter().all(|e| {
            storable(e.payload.manifest.as_str())
                && storable(e.writer.as_str())
                && storable(e.persistence_id.as_str())
                && e.tags.iter().all(|t| storable(t.as_str()))
        });
        if !texts_ok {
            return Err(JournalError::InvalidBatch {
                persistence_id,
                reason: "text containing NUL, which PostgreSQL cannot store",
            });
        }
        if let Some(last) = events.last() {
            if to_sql(last.sequence_nr.value(), "sequence number").is_err() {
                return Err(JournalError::InvalidBatch {
                    persistence_id,
                    reason: "sequence number beyond PostgreSQL's bigint range",
                });
            }
        }
        match PostgresStore::write(self, Op::WriteEvents(events))
            .await
            .map_err(journal_err)?
        {
            Outcome::Done => Ok(()),
            Outcome::SequenceConflict { expected } => Err(JournalError::SequenceConflict {
                persistence_id,
                attempted,
                expected,
            }),
            Outcome::RevisionConflict { .. } => Err(journal_err(PostgresError::Corrupt(
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
        self.readers
            .replay(persistence_id, from, to, max.get())
            .await
            .map_err(journal_err)
    }

    async fn highest_sequence_nr(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<SequenceNr, JournalError> {
        self.readers
            .highest(persistence_id)
            .await
            .map_err(journal_err)
    }

    async fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> Result<(), JournalError> {
        PostgresStore::write(self, Op::DeleteEvents(persistence_id.clone(), to))
            .await
            .map(drop)
            .map_err(journal_err)
    }
}

impl SnapshotStore for PostgresStore {
    async fn save(&self, snapshot: Snapshot) -> Result<(), SnapshotError> {
        PostgresStore::write(self, Op::SaveSnapshot(snapshot))
            .await
            .map(drop)
            .map_err(snapshot_err)
    }

    async fn load_latest(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> Result<Option<Snapshot>, SnapshotError> {
        self.readers
            .latest_snapshot(persistence_id, max)
            .await
            .map_err(snapshot_err)
    }

    async fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> Result<(), SnapshotError> {
        PostgresStore::write(self, Op::DeleteSnapshots(persistence_id.clone(), max))
            .await
            .map(drop)
            .map_err(snapshot_err)
    }
}

impl DurableStateStore for PostgresStore {
    async fn get(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<Option<DurableStateRecord>, DurableStateError> {
        self.readers.state(persistence_id).await.map_err(state_err)
    }

    async fn upsert(&self, record: DurableStateRecord) -> Result<(), DurableStateError> {
        let persistence_id = record.persistence_id.clone();
        let attempted = record.revision;
        match PostgresStore::write(self, Op::UpsertState(record))
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
        match PostgresStore::write(self, Op::DeleteState(persistence_id.clone(), revision))
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
            .map_err(journal_err)
    }
}
