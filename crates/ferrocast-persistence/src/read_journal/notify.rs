//! [`WriteNotifier`] and [`NotifyingJournal`]: live queries of this process
//! wake when it writes, instead of waiting out their refresh interval.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::sync::watch;

use crate::durable_state::{DurableStateError, DurableStateRecord, DurableStateStore};
use crate::ids::{PersistenceId, Revision, SequenceNr, Tag};
use crate::journal::{Journal, JournalError};
use crate::query::{EventsByTag, Offset, TaggedEvent};
use crate::repr::PersistentRepr;
use crate::snapshot_store::{Snapshot, SnapshotError, SnapshotStore};

/// Tells live queries that events were written. Signals coalesce: a query
/// that was busy sees one signal for any number of writes, then reads them
/// all in its next pages. Cheap to clone; it is only a hint, so a query
/// still finds writes of other processes by polling.
#[derive(Clone, Debug)]
pub struct WriteNotifier {
    tx: Arc<watch::Sender<()>>,
}

impl Default for WriteNotifier {
    fn default() -> Self {
        WriteNotifier {
            tx: Arc::new(watch::Sender::new(())),
        }
    }
}

impl WriteNotifier {
    /// Wakes every live query that waits on this notifier.
    pub fn notify(&self) {
        self.tx.send_replace(());
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.tx.subscribe()
    }
}

/// A journal that signals its [`WriteNotifier`] after every acknowledged
/// write; otherwise it is the journal it wraps (and the snapshot store and
/// durable-state store, if it is those too), so one value can stand for
/// the whole store.
///
/// ```
/// use std::sync::Arc;
/// use ferrocast_persistence::{InMemoryJournal, NotifyingJournal, ReadJournal};
///
/// let journal = Arc::new(NotifyingJournal::new(InMemoryJournal::default()));
/// // Entities persist through `journal`; its live queries wake on their writes.
/// let queries = ReadJournal::new(journal.clone()).wake_on(journal.notifier());
/// # let _ = queries;
/// ```
#[derive(Debug)]
pub struct NotifyingJournal<J> {
    inner: J,
    notifier: WriteNotifier,
}

impl<J> NotifyingJournal<J> {
    /// Wraps `inner` with a new notifier.
    pub fn new(inner: J) -> Self {
        NotifyingJournal {
            inner,
            notifier: WriteNotifier::default(),
        }
    }

    /// What live queries wait on.
    pub fn notifier(&self) -> &WriteNotifier {
        &self.notifier
    }

    /// The wrapped store.
    pub fn inner(&self) -> &J {
        &self.inner
    }
}

impl<J: Journal> Journal for NotifyingJournal<J> {
    async fn write(&self, events: Vec<PersistentRepr>) -> Result<(), JournalError> {
        self.inner.write(events).await?;
        self.notifier.notify();
        Ok(())
    }

    fn replay(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
        max: NonZeroUsize,
    ) -> impl Future<Output = Result<Vec<PersistentRepr>, JournalError>> + Send {
        self.inner.replay(persistence_id, from, to, max)
    }

    fn highest_sequence_nr(
        &self,
        persistence_id: &PersistenceId,
    ) -> impl Future<Output = Result<SequenceNr, JournalError>> + Send {
        self.inner.highest_sequence_nr(persistence_id)
    }

    fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> impl Future<Output = Result<(), JournalError>> + Send {
        Journal::delete_up_to(&self.inner, persistence_id, to)
    }
}

impl<J: EventsByTag> EventsByTag for NotifyingJournal<J> {
    fn events_by_tag(
        &self,
        tag: &Tag,
        after: Offset,
        max: NonZeroUsize,
    ) -> impl Future<Output = Result<Vec<TaggedEvent>, JournalError>> + Send {
        self.inner.events_by_tag(tag, after, max)
    }

    fn latest_offset(
        &self,
        tag: &Tag,
    ) -> impl Future<Output = Result<Offset, JournalError>> + Send {
        self.inner.latest_offset(tag)
    }
}

impl<J: SnapshotStore> SnapshotStore for NotifyingJournal<J> {
    fn save(&self, snapshot: Snapshot) -> impl Future<Output = Result<(), SnapshotError>> + Send {
        self.inner.save(snapshot)
    }

    fn load_latest(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> impl Future<Output = Result<Option<Snapshot>, SnapshotError>> + Send {
        self.inner.load_latest(persistence_id, max)
    }

    fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> impl Future<Output = Result<(), SnapshotError>> + Send {
        SnapshotStore::delete_up_to(&self.inner, persistence_id, max)
    }
}

impl<J: DurableStateStore> DurableStateStore for NotifyingJournal<J> {
    fn get(
        &self,
        persistence_id: &PersistenceId,
    ) -> impl Future<Output = Result<Option<DurableStateRecord>, DurableStateError>> + Send {
        self.inner.get(persistence_id)
    }

    fn upsert(
        &self,
        record: DurableStateRecord,
    ) -> impl Future<Output = Result<(), DurableStateError>> + Send {
        self.inner.upsert(record)
    }

    fn delete(
        &self,
        persistence_id: &PersistenceId,
        revision: Revision,
    ) -> impl Future<Output = Result<(), DurableStateError>> + Send {
        self.inner.delete(persistence_id, revision)
    }
}
