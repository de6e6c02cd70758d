//! The [`SnapshotStore`] contract: the state of a persistence id at a
//! sequence number, so recovery need not replay the whole log.

use std::future::Future;
use std::time::SystemTime;

use crate::ids::{PersistenceId, SequenceNr};
use crate::payload::Payload;

/// Which state a snapshot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotMetadata {
    /// The log the state was folded from.
    pub persistence_id: PersistenceId,
    /// The last event folded into the state.
    pub sequence_nr: SequenceNr,
    /// When it was taken (wall clock, for people).
    pub timestamp: SystemTime,
}

/// A serialized state and its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Which state this is.
    pub metadata: SnapshotMetadata,
    /// The serialized state.
    pub payload: Payload,
}

/// Why a snapshot-store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The storage failed.
    #[error("snapshot storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl SnapshotError {
    /// A storage failure from any error.
    pub fn storage(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SnapshotError::Storage(e.into())
    }
}

/// Stores snapshots per persistence id.
///
/// Rules (checked by the [`tck`](crate::tck)): saving a snapshot at a
/// sequence number that already has one replaces it; `load_latest` returns
/// the snapshot with the highest sequence number not above the bound;
/// `delete_up_to` removes those at or below its bound and no others.
pub trait SnapshotStore: Send + Sync + 'static {
    /// Stores `snapshot`.
    fn save(&self, snapshot: Snapshot) -> impl Future<Output = Result<(), SnapshotError>> + Send;

    /// The snapshot of `persistence_id` with the highest sequence number at
    /// or below `max`, if any.
    fn load_latest(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> impl Future<Output = Result<Option<Snapshot>, SnapshotError>> + Send;

    /// Deletes the snapshots of `persistence_id` at or below `max`.
    fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> impl Future<Output = Result<(), SnapshotError>> + Send;
}

impl<S: SnapshotStore> SnapshotStore for std::sync::Arc<S> {
    fn save(&self, snapshot: Snapshot) -> impl Future<Output = Result<(), SnapshotError>> + Send {
        (**self).save(snapshot)
    }

    fn load_latest(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> impl Future<Output = Result<Option<Snapshot>, SnapshotError>> + Send {
        (**self).load_latest(persistence_id, max)
    }

    fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> impl Future<Output = Result<(), SnapshotError>> + Send {
        (**self).delete_up_to(persistence_id, max)
    }
}

/// A snapshot store that keeps nothing: for entities without snapshots.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSnapshots;

impl SnapshotStore for NoSnapshots {
    async fn save(&self, _snapshot: Snapshot) -> Result<(), SnapshotError> {
        Ok(())
    }

    async fn load_latest(
        &self,
        _persistence_id: &PersistenceId,
        _max: SequenceNr,
    ) -> Result<Option<Snapshot>, SnapshotError> {
        Ok(None)
    }

    async fn delete_up_to(
        &self,
        _persistence_id: &PersistenceId,
        _max: SequenceNr,
    ) -> Result<(), SnapshotError> {
        Ok(())
    }
}
