//! The [`Journal`] contract: an append-only event log per persistence id.

use std::future::Future;
use std::num::NonZeroUsize;

use crate::ids::{PersistenceId, SequenceNr};
use crate::repr::PersistentRepr;

/// Why a journal call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The batch does not continue the log: another writer appended first
    /// (two incarnations of one entity), or this writer's view is stale.
    /// Nothing of the batch was written.
    #[error(
        "sequence conflict for {persistence_id}: batch starts at {attempted}, the log expects {expected}"
    )]
    SequenceConflict {
        /// The log.
        persistence_id: PersistenceId,
        /// The first sequence number of the rejected batch.
        attempted: SequenceNr,
        /// The number the log would have accepted (its highest plus one).
        expected: SequenceNr,
    },
    /// A batch without events. Nothing was written.
    #[error("empty batch")]
    EmptyBatch,
    /// The batch is malformed: for several persistence ids, or with
    /// sequence numbers that are not consecutive. Nothing was written.
    #[error("invalid batch for {persistence_id}: {reason}")]
    InvalidBatch {
        /// The (first) log the batch names.
        persistence_id: PersistenceId,
        /// What is wrong.
        reason: &'static str,
    },
    /// The storage failed (I/O, connection, corruption). Whether the batch
    /// was written is unknown; the writer must recover before writing again.
    #[error("journal storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl JournalError {
    /// A storage failure from any error.
    pub fn storage(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        JournalError::Storage(e.into())
    }
}

/// Checks the shape of a batch for `write`: non-empty, one persistence id,
/// consecutive sequence numbers. Backends call it before touching storage.
pub fn validate_batch(events: &[PersistentRepr]) -> Result<(), JournalError> {
    let Some(first) = events.first() else {
        return Err(JournalError::EmptyBatch);
    };
    if first.sequence_nr == SequenceNr::ZERO {
        return Err(JournalError::InvalidBatch {
            persistence_id: first.persistence_id.clone(),
            reason: "sequence numbers start at 1",
        });
    }
    for pair in events.windows(2) {
        if pair[1].persistence_id != first.persistence_id {
            return Err(JournalError::InvalidBatch {
                persistence_id: first.persistence_id.clone(),
                reason: "events for more than one persistence id",
            });
        }
        if pair[0].sequence_nr.value().checked_add(1) != Some(pair[1].sequence_nr.value()) {
            return Err(JournalError::InvalidBatch {
                persistence_id: first.persistence_id.clone(),
                reason: "sequence numbers are not consecutive",
            });
        }
    }
    Ok(())
}

/// An append-only log of events per persistence id.
///
/// The rules every backend keeps (the [`tck`](crate::tck) checks them):
///
/// - **Atomic batches.** [`write`](Journal::write) stores all events of a
///   batch or none, and readers never see part of a batch.
/// - **Gap-free and single-writer.** A batch must start exactly at the
///   highest stored sequence number plus one; otherwise nothing is written
///   and the call fails with [`JournalError::SequenceConflict`]. Two writers
///   of one persistence id therefore never interleave: the second one to
///   write fails and must recover.
/// - **Durable when acknowledged.** `write` returns `Ok` only once the batch
///   survives a crash of the process (for persistent backends).
/// - **Deletion keeps the count.** After
///   [`delete_up_to`](Journal::delete_up_to), the deleted events are no
///   longer replayed but [`highest_sequence_nr`](Journal::highest_sequence_nr)
///   is unchanged, so numbering goes on.
pub trait Journal: Send + Sync + 'static {
    /// Appends `events` (one persistence id, consecutive numbers, see
    /// [`validate_batch`]) atomically.
    fn write(
        &self,
        events: Vec<PersistentRepr>,
    ) -> impl Future<Output = Result<(), JournalError>> + Send;

    /// Up to `max` events of `persistence_id` with `from <= sequence_nr <=
    /// to`, in order. Deleted events are skipped.
    fn replay(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
        max: NonZeroUsize,
    ) -> impl Future<Output = Result<Vec<PersistentRepr>, JournalError>> + Send;

    /// The highest sequence number ever written for `persistence_id`
    /// (deleted events included), or zero.
    fn highest_sequence_nr(
        &self,
        persistence_id: &PersistenceId,
    ) -> impl Future<Output = Result<SequenceNr, JournalError>> + Send;

    /// Deletes the events of `persistence_id` up to and including `to`.
    fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> impl Future<Output = Result<(), JournalError>> + Send;
}

impl<J: Journal> Journal for std::sync::Arc<J> {
    fn write(
        &self,
        events: Vec<PersistentRepr>,
    ) -> impl Future<Output = Result<(), JournalError>> + Send {
        (**self).write(events)
    }

    fn replay(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
        max: NonZeroUsize,
    ) -> impl Future<Output = Result<Vec<PersistentRepr>, JournalError>> + Send {
        (**self).replay(persistence_id, from, to, max)
    }

    fn highest_sequence_nr(
        &self,
        persistence_id: &PersistenceId,
    ) -> impl Future<Output = Result<SequenceNr, JournalError>> + Send {
        (**self).highest_sequence_nr(persistence_id)
    }

    fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> impl Future<Output = Result<(), JournalError>> + Send {
        (**self).delete_up_to(persistence_id, to)
    }
}
