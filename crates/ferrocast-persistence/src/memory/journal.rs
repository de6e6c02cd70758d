//! [`InMemoryJournal`].

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::Mutex;

use crate::ids::{PersistenceId, SequenceNr, Tag};
use crate::journal::{Journal, JournalError, validate_batch};
use crate::query::{EventsByTag, Offset, TaggedEvent};
use crate::repr::PersistentRepr;

#[derive(Default)]
struct Log {
    /// Events not deleted, with their offsets, in order; the first one's
    /// number is the lowest kept.
    events: VecDeque<(Offset, PersistentRepr)>,
    /// Survives deletion, so numbering goes on.
    highest: SequenceNr,
}

impl Log {
    fn get(&self, nr: SequenceNr) -> Option<&(Offset, PersistentRepr)> {
        let lowest = self.events.front()?.1.sequence_nr.value();
        let index = usize::try_from(nr.value().checked_sub(lowest)?).ok()?;
        self.events.get(index)
    }
}

#[derive(Default)]
struct Logs {
    logs: HashMap<PersistenceId, Log>,
    /// Per tag, the events carrying it, in offset order.
    tags: HashMap<Tag, Vec<(Offset, PersistenceId, SequenceNr)>>,
    /// The last offset handed out.
    offset: u64,
}

/// A journal in a `HashMap` behind a mutex. Writes are atomic because the
/// whole batch is checked and appended under the lock, which also hands out
/// offsets in visibility order.
#[derive(Default)]
pub struct InMemoryJournal {
    inner: Mutex<Logs>,
}

impl std::fmt::Debug for InMemoryJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryJournal")
            .field("persistence_ids", &super::lock(&self.inner).logs.len())
            .finish()
    }
}

impl InMemoryJournal {
    /// Overwrites the stored payload of one event, to test how readers handle
    /// corrupt or foreign data. Returns false if there is no such event.
    pub fn tamper(
        &self,
        persistence_id: &PersistenceId,
        sequence_nr: SequenceNr,
        edit: impl FnOnce(&mut PersistentRepr),
    ) -> bool {
        let mut inner = super::lock(&self.inner);
        let Some(log) = inner.logs.get_mut(persistence_id) else {
            return false;
        };
        match log
            .events
            .iter_mut()
            .find(|(_, e)| e.sequence_nr == sequence_nr)
        {
            Some((_, event)) => {
                edit(event);
                true
            }
            None => false,
        }
    }
}

impl Journal for InMemoryJournal {
    async fn write(&self, events: Vec<PersistentRepr>) -> Result<(), JournalError> {
        validate_batch(&events)?;
        let Some(first) = events.first() else {
            return Err(JournalError::EmptyBatch);
        };
        let mut guard = super::lock(&self.inner);
        let inner = &mut *guard;
        let log = inner.logs.entry(first.persistence_id.clone()).or_default();
        let expected = log.highest.next();
        if first.sequence_nr != expected || log.highest == SequenceNr::MAX {
            return Err(JournalError::SequenceConflict {
                persistence_id: first.persistence_id.clone(),
                attempted: first.sequence_nr,
                expected,
            });
        }
        if let Some(last) = events.last() {
            log.highest = last.sequence_nr;
        }
        for event in events {
            inner.offset += 1;
            let offset = Offset::new(inner.offset);
            for tag in &event.tags {
                inner.tags.entry(tag.clone()).or_default().push((
                    offset,
                    event.persistence_id.clone(),
                    event.sequence_nr,
                ));
            }
            log.events.push_back((offset, event));
        }
        Ok(())
    }

    async fn replay(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
        max: NonZeroUsize,
    ) -> Result<Vec<PersistentRepr>, JournalError> {
        let inner = super::lock(&self.inner);
        let Some(log) = inner.logs.get(persistence_id) else {
            return Ok(Vec::new());
        };
        let Some(lowest) = log.events.front().map(|(_, e)| e.sequence_nr.value()) else {
            return Ok(Vec::new());
        };
        let skip = usize::try_from(from.value().saturating_sub(lowest)).unwrap_or(usize::MAX);
        Ok(log
            .events
            .iter()
            .skip(skip)
            .map(|(_, e)| e)
            .take_while(|e| e.sequence_nr <= to)
            .take(max.get())
            .cloned()
            .collect())
    }

    async fn highest_sequence_nr(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<SequenceNr, JournalError> {
        Ok(super::lock(&self.inner)
            .logs
            .get(persistence_id)
            .map_or(SequenceNr::ZERO, |log| log.highest))
    }

    async fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> Result<(), JournalError> {
        if let Some(log) = super::lock(&self.inner).logs.get_mut(persistence_id) {
            while log.events.front().is_some_and(|(_, e)| e.sequence_nr <= to) {
                log.events.pop_front();
            }
        }
        Ok(())
    }
}

impl EventsByTag for InMemoryJournal {
    async fn events_by_tag(
        &self,
        tag: &Tag,
        after: Offset,
        max: NonZeroUsize,
    ) -> Result<Vec<TaggedEvent>, JournalError> {
        let inner = super::lock(&self.inner);
        let Some(index) = inner.tags.get(tag) else {
            return Ok(Vec::new());
        };
        let start = index.partition_point(|(offset, _, _)| *offset <= after);
        Ok(index
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter_map(|(_, pid, nr)| inner.logs.get(pid)?.get(*nr))
            .take(max.get())
            .map(|(offset, event)| TaggedEvent {
                offset: *offset,
                event: event.clone(),
            })
            .collect())
    }

    async fn latest_offset(&self, tag: &Tag) -> Result<Offset, JournalError> {
        Ok(super::lock(&self.inner)
            .tags
            .get(tag)
            .and_then(|index| index.last())
            .map_or(Offset::ZERO, |(offset, _, _)| *offset))
    }
}
