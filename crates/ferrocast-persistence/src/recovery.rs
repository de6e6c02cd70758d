//! Recovery: the latest snapshot, then every event after it, in order.

use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesOrdered;

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
    #[error(
        "recovery of {persistence_id}: expected event {expected}, the journal has {}",
        describe_found(*.found)
    )]
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

/// What the journal returned in place of the event expected, for
/// [`RecoveryError::Gap`]'s message.
fn describe_found(found: Option<SequenceNr>) -> String {
    match found {
        Some(nr) => format!("event {nr}"),
        None => "nothing more".to_owned(),
    }
}

/// Pages of the journal read at once during recovery, ahead of the one
/// being folded: at most this many times `replay_batch` events are in
/// memory besides the state. One page ahead, a log of 1,000,000 events
/// recovered at about 680,000 events/s from PostgreSQL (its reader
/// connection's one query at a time bounds it) and 1.7 M from SQLite;
/// four ahead, spread over the store's connections, 1.1 M and 2.2 M
/// (measured, 2 cores).
const READ_AHEAD: usize = 4;

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
    // Pages by range: the log is gap-free from `first` to `highest`, so page
    // `k` is the `batch` numbers from `first + k * batch`, and up to
    // `READ_AHEAD` of them are read at once (on as many connections as the
    // journal has) while the one before is folded; a missing event shows
    // as the next event not continuing `next`.
    let read = |from: SequenceNr| {
        let to = from.plus(batch.get() as u64 - 1).min(highest);
        (to, setup.journal.replay(pid, from, to, batch))
    };
    let mut pages = FuturesOrdered::new();
    // The first number not requested yet; `None` once `highest` is.
    let mut unread = (first <= highest).then_some(first);
    let mut page = Vec::new();
    let mut next = first;
    loop {
        while let Some(from) = unread.filter(|_| pages.len() < READ_AHEAD) {
            let (to, page) = read(from);
            pages.push_back(page);
            unread = (to < highest).then(|| to.next());
        }
        // The pages ahead are requested (polled first) before this one is
        // folded: the journal's I/O (a blocking thread, a socket) overlaps
        // the decoding.
        let (read, folded) = futures_util::future::join(pages.next(), async {
            fold(
                setup,
                behavior,
                state,
                std::mem::take(&mut page),
                &mut next,
                highest,
            )
        })
        .await;
        folded?;
        match read {
            Some(read) => page = read.map_err(journal_err)?,
            None => break,
        }
    }
    if next <= highest {
        return Err(RecoveryError::Gap {
            persistence_id: pid.clone(),
            expected: next,
            found: None,
        });
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
