//! A journal that fails or holds writes on demand, over the in-memory one.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ferrocast_persistence::{
    InMemoryJournal, Journal, JournalError, PersistenceId, PersistentRepr, SequenceNr,
};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

#[derive(Default)]
pub struct FaultyJournal {
    pub inner: InMemoryJournal,
    /// Writes to fail before writing again.
    fail_next: AtomicUsize,
    /// Write calls so far (failed ones included).
    pub writes: AtomicUsize,
    /// Each write waits for this; a test holds it to keep writes in flight.
    gate: Arc<Mutex<()>>,
    /// Signalled when a write call starts.
    pub write_started: Notify,
    /// Recovery waits for this before it reads the highest sequence number.
    read_gate: Arc<Mutex<()>>,
    /// A sequence number replay leaves out (0: none), as a hole would.
    hidden: AtomicU64,
}

impl FaultyJournal {
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Holds every write until the guard is dropped.
    pub async fn hold_writes(&self) -> OwnedMutexGuard<()> {
        self.gate.clone().lock_owned().await
    }

    /// Holds recoveries until the guard is dropped.
    pub async fn hold_reads(&self) -> OwnedMutexGuard<()> {
        self.read_gate.clone().lock_owned().await
    }

    /// Makes replay leave out event `nr` of every log: a hole in the log.
    pub fn hide(&self, nr: u64) {
        self.hidden.store(nr, Ordering::SeqCst);
    }

    pub fn write_calls(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

impl Journal for FaultyJournal {
    async fn write(&self, events: Vec<PersistentRepr>) -> Result<(), JournalError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.write_started.notify_one();
        drop(self.gate.lock().await);
        let failing = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(JournalError::storage("injected write failure"));
        }
        self.inner.write(events).await
    }

    async fn replay(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
        max: NonZeroUsize,
    ) -> Result<Vec<PersistentRepr>, JournalError> {
        let mut events = self.inner.replay(persistence_id, from, to, max).await?;
        let hidden = self.hidden.load(Ordering::SeqCst);
        events.retain(|e| e.sequence_nr.value() != hidden);
        Ok(events)
    }

    async fn highest_sequence_nr(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<SequenceNr, JournalError> {
        drop(self.read_gate.lock().await);
        self.inner.highest_sequence_nr(persistence_id).await
    }

    async fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> Result<(), JournalError> {
        self.inner.delete_up_to(persistence_id, to).await
    }
}
