//! Recovery: the latest snapshot, then every event after it, in order.

use std::time::Duration;

use crate::behavior::EventSourced;
use crate::ids::{PersistenceId, SequenceNr};
use crate::journal::{Journal, JournalError};
use crate::serialization::DecodeError;
use crate::setup::EventSourcedSetup;
use crate::snapshot_store::{SnapshotError, SnapshotStore};

/// Why recovery failed. The actor fails with it (its supervisor decides, by
/// default a restart with backoff); no event is ever skipped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// An event could not be read: unknown serializer id, unknown manifest,
    /// undecodable bytes or a failed upcaster.
    #[error("recovery of {persistence_id} failed at event {sequence_nr}: {source}")]
    Event {
        /// Whose log.
        persistence_id: PersistenceId,
        /// The event that could not be read.
        sequence_nr: SequenceNr,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// The latest snapshot could not be read.
    #[error("recovery of {persistence_id} failed at the snapshot at {sequence_nr}: {source}")]
    Snapshot {
        /// Whose log.
        persistence_id: PersistenceId,
        /// The snapshot's sequence number.
        sequence_nr: SequenceNr,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// The journal returned events out of order or with a hole (deleted
    /// events not covered by a snapshot).
    #[error("recovery of {persistence_id}: expected event {expected}, the journal has {found:?}")]
    Gap {
        /// Whose log.
        persistence_id: PersistenceId,
        /// The sequence number recovery needed next.
        expected: SequenceNr,
        /// What the journal returned instead (`None`: nothing).
        found: Option<SequenceNr>,
    },
    /// The journal failed.
    #[error("recovery of {persistence_id}: journal failed: {source}")]
    Journal {
        /// Whose log.
        persistence_id: PersistenceId,
        /// Why.
        #[source]
        source: JournalError,
    },
    /// The snapshot store failed.
    #[error("recovery of {persistence_id}: snapshot store failed: {source}")]
    SnapshotStore {
        /// Whose log.
        persistence_id: PersistenceId,
        /// Why.
        #[source]
        source: SnapshotError,
    },
    /// Recovery took longer than the config allows.
    #[error("recovery of {persistence_id} timed out after {after:?}")]
    Timeout {
        /// Whose log.
        persistence_id: PersistenceId,
        /// The configured bound.
        after: Duration,
    },
}

/// Where recovery ended.
pub(crate) struct Recovered {
    /// The last event folded into the state.
    pub(crate) sequence_nr: SequenceNr,
    /// The snapshot recovery started from, if any.
    pub(crate) snapshot: Option<SequenceNr>,
}

/// Rebuilds `state` from the stores, bounded by the recovery timeout.
pub(crate) async fn recover<B, J, S>(
    setup: &EventSourcedSetup<B, J, S>,
    behavior: &mut B,
    state: &mut B::State,
) -> Result<Recovered, RecoveryError>
where
    B: EventSourced,
    J: Journal,
    S: SnapshotStore,
{
    let after = setup.config.recovery_timeout;
    match tokio::time::timeout(after, replay(setup, behavior, state)).await {
        Ok(result) => result,
        Err(_) => Err(RecoveryError::Timeout {
            persistence_id: setup.persistence_id.clone(),
            after,
        }),
    }
}

async fn replay<B, J, S>(
    setup: &EventSourcedSetup<B, J, S>,
    behavior: &mut B,
    state: &mut B::State,
) -> Result<Recovered, RecoveryError>
where
    B: EventSourced,
    J: Journal,
    S: SnapshotStore,
{
    let pid = &setup.persistence_id;
    let mut snapshot = None;
    if let Some(states) = &setup.states {
        let loaded = setup
            .snapshots
            .load_latest(pid, SequenceNr::MAX)
            .await
            .map_err(|source| RecoveryError::SnapshotStore {
                persistence_id: pid.clone(),
                source,
            })?;
        if let Some(snap) = loaded {
            let at = snap.metadata.sequence_nr;
            *state = states
                .decode(&snap.payload)
                .map_err(|source| RecoveryError::Snapshot {
                    persistence_id: pid.clone(),
                    sequence_nr: at,
                    source,
                })?;
            snapshot = Some(at);
        }
    }
    let journal_err = |source| RecoveryError::Journal {
        persistence_id: pid.clone(),
        source,
    };
    let highest = setup
        .journal
        .highest_sequence_nr(pid)
        .await
        .map_err(journal_err)?;
    let first = snapshot.unwrap_or(SequenceNr::ZERO).next();
    let batch = setup.config.replay_batch;
    let mut page = if first <= highest {
        setup
            .journal
            .replay(pid, first, highest, batch)
            .await
            .map_err(journal_err)?
    } else {
        Vec::new()
    };
    let mut next = first;
    while next <= highest {
        let Some(last) = page.last().map(|e| e.sequence_nr) else {
            return Err(RecoveryError::Gap {
                persistence_id: pid.clone(),
                expected: next,
                found: None,
            });
        };
        if last >= highest {
            fold(setup, behavior, state, page, &mut next, highest)?;
            break;
        }
        // The next page is read while this one is folded: the journal's
        // I/O (a blocking thread, a socket) overlaps the decoding.
        let (read, folded) = futures_util::future::join(
            setup.journal.replay(pid, last.next(), highest, batch),
            async { fold(setup, behavior, state, page, &mut next, highest) },
        )
        .await;
        folded?;
        page = read.map_err(journal_err)?;
    }
    // A snapshot newer than the journal (its events were lost) still counts:
    // numbering must never go back.
    let sequence_nr = highest.max(snapshot.unwrap_or(SequenceNr::ZERO));
    Ok(Recovered {
        sequence_nr,
        snapshot,
    })
}

/// Folds one page into `state`, checking that it continues at `next`, up
/// to `highest`; leaves `next` after the last event folded.
fn fold<B, J, S>(
    setup: &EventSourcedSetup<B, J, S>,
    behavior: &mut B,
    state: &mut B::State,
    page: Vec<crate::repr::PersistentRepr>,
    next: &mut SequenceNr,
    highest: SequenceNr,
) -> Result<(), RecoveryError>
where
    B: EventSourced,
{
    let pid = &setup.persistence_id;
    for repr in page {
        if *next > highest {
            break;
        }
        if repr.sequence_nr != *next {
            return Err(RecoveryError::Gap {
                persistence_id: pid.clone(),
                expected: *next,
                found: Some(repr.sequence_nr),
            });
        }
        let event = setup
            .events
            .decode(&repr.payload)
            .map_err(|source| RecoveryError::Event {
                persistence_id: pid.clone(),
                sequence_nr: repr.sequence_nr,
                source,
            })?;
        behavior.on_event(state, &event);
        *next = next.next();
    }
    Ok(())
}
