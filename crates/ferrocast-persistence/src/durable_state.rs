//! The [`DurableStateStore`] contract: one current value per persistence id,
//! updated with an optimistic revision check (the alternative to event
//! sourcing for entities whose history does not matter).

use std::future::Future;
use std::time::SystemTime;

use crate::ids::{PersistenceId, Revision, Tag};
use crate::payload::Payload;

/// A stored value and its revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurableStateRecord {
    /// Whose value.
    pub persistence_id: PersistenceId,
    /// Its revision: 1 for the first write, +1 per update.
    pub revision: Revision,
    /// The serialized value.
    pub payload: Payload,
    /// An optional label for queries by tag.
    pub tag: Option<Tag>,
    /// When it was written (wall clock, for people).
    pub timestamp: SystemTime,
}

/// Why a durable-state call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DurableStateError {
    /// The revision does not follow the stored one: another writer updated
    /// the value first. Nothing was written.
    #[error(
        "revision conflict for {persistence_id}: attempted revision {attempted}, the store expects {expected}"
    )]
    RevisionConflict {
        /// Whose value.
        persistence_id: PersistenceId,
        /// The revision of the rejected write.
        attempted: Revision,
        /// The revision the store would have accepted.
        expected: Revision,
    },
    /// The storage failed.
    #[error("durable state storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DurableStateError {
    /// A storage failure from any error.
    pub fn storage(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DurableStateError::Storage(e.into())
    }
}

/// Stores one value per persistence id with a revision check.
///
/// Rules (checked by the [`tck`](crate::tck)): `upsert` succeeds only when
/// the record's revision is the stored revision plus one (1 for an absent
/// value), otherwise it fails with [`DurableStateError::RevisionConflict`]
/// and changes nothing; `delete` at the stored revision removes the value,
/// and numbering starts again at 1.
pub trait DurableStateStore: Send + Sync + 'static {
    /// The current value, if any.
    fn get(
        &self,
        persistence_id: &PersistenceId,
    ) -> impl Future<Output = Result<Option<DurableStateRecord>, DurableStateError>> + Send;

    /// Stores `record` if `record.revision` is the stored revision plus one.
    fn upsert(
        &self,
        record: DurableStateRecord,
    ) -> impl Future<Output = Result<(), DurableStateError>> + Send;

    /// Deletes the value if its stored revision is `revision`.
    fn delete(
        &self,
        persistence_id: &PersistenceId,
        revision: Revision,
    ) -> impl Future<Output = Result<(), DurableStateError>> + Send;
}
