//! [`QueryProbe`]: a journal wrapper that counts page queries and fails
//! or misbehaves on demand, to test what is built on the page contracts.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::ids::{PersistenceId, SequenceNr, Tag};
use crate::journal::{Journal, JournalError};
use crate::query::{EventsByTag, Offset, TaggedEvent};
use crate::repr::PersistentRepr;

/// The journal `J`, with its page queries (`replay`, `events_by_tag`)
/// counted and, on demand, failed or answered out of order. Every other
/// call goes straight through.
#[derive(Debug)]
pub struct QueryProbe<J> {
    inner: J,
    pages: AtomicUsize,
    largest_page: AtomicUsize,
    /// Page queries left before they fail.
    budget: AtomicUsize,
    fail: AtomicBool,
    misorder: AtomicBool,
}

impl<J> QueryProbe<J> {
    /// Probes `inner`, with an unlimited budget.
    pub fn new(inner: J) -> Self {
        QueryProbe {
            inner,
            pages: AtomicUsize::new(0),
            largest_page: AtomicUsize::new(0),
            budget: AtomicUsize::new(usize::MAX),
            fail: AtomicBool::new(false),
            misorder: AtomicBool::new(false),
        }
    }

    /// The wrapped journal.
    pub fn inner(&self) -> &J {
        &self.inner
    }

    /// Page queries so far.
    pub fn pages(&self) -> usize {
        self.pages.load(Ordering::SeqCst)
    }

    /// The largest `max` a page query asked for.
    pub fn largest_page(&self) -> usize {
        self.largest_page.load(Ordering::SeqCst)
    }

    /// Page queries fail after `n` more: a query that never delivers
    /// fails instead of polling forever.
    pub fn with_budget(self, n: usize) -> Self {
        self.budget.store(n, Ordering::SeqCst);
        self
    }

    /// Page queries fail (with a `Storage` error "disk on fire") while set.
    pub fn fail(&self, yes: bool) {
        self.fail.store(yes, Ordering::SeqCst);
    }

    /// Tag pages end with their first event again while set: a backend
    /// breaking the offset order.
    pub fn misorder(&self, yes: bool) {
        self.misorder.store(yes, Ordering::SeqCst);
    }

    fn asked(&self, max: NonZeroUsize) -> Result<(), JournalError> {
        self.pages.fetch_add(1, Ordering::SeqCst);
        self.largest_page.fetch_max(max.get(), Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(JournalError::storage("disk on fire"));
        }
        self.budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .map(drop)
            .map_err(|_| JournalError::storage("query budget spent: the query never delivered"))
    }
}

impl<J: Journal> Journal for QueryProbe<J> {
    async fn write(&self, events: Vec<PersistentRepr>) -> Result<(), JournalError> {
        self.inner.write(events).await
    }

    async fn replay(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
        max: NonZeroUsize,
    ) -> Result<Vec<PersistentRepr>, JournalError> {
        self.asked(max)?;
        self.inner.replay(persistence_id, from, to, max).await
    }

    async fn highest_sequence_nr(&self, p: &PersistenceId) -> Result<SequenceNr, JournalError> {
        self.inner.highest_sequence_nr(p).await
    }

    async fn delete_up_to(&self, p: &PersistenceId, to: SequenceNr) -> Result<(), JournalError> {
        self.inner.delete_up_to(p, to).await
    }
}

impl<J: EventsByTag> EventsByTag for QueryProbe<J> {
    async fn events_by_tag(
        &self,
        tag: &Tag,
        after: Offset,
        max: NonZeroUsize,
    ) -> Result<Vec<TaggedEvent>, JournalError> {
        self.asked(max)?;
        let mut page = self.inner.events_by_tag(tag, after, max).await?;
        if self.misorder.load(Ordering::SeqCst) {
            if let Some(first) = page.first().cloned() {
                page.push(first);
            }
        }
        Ok(page)
    }

    async fn latest_offset(&self, tag: &Tag) -> Result<Offset, JournalError> {
        self.inner.latest_offset(tag).await
    }
}
