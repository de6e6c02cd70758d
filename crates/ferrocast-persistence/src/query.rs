//! The page contract of queries across persistence ids: [`EventsByTag`],
//! resumable by [`Offset`]. The streams built on it are in
//! [`ReadJournal`](crate::ReadJournal).

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;

use crate::ids::Tag;
use crate::journal::JournalError;
use crate::repr::PersistentRepr;

/// A position in a journal's tag queries: strictly increasing in the order
/// events became visible, never reused. [`Offset::ZERO`] is before the
/// first event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Offset(u64);

impl Offset {
    /// Before every event.
    pub const ZERO: Offset = Offset(0);

    /// An offset from its value.
    pub const fn new(value: u64) -> Self {
        Offset(value)
    }

    /// The number.
    pub const fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An event found by a query, with the offset to resume after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedEvent {
    /// Where this event is in the query's order.
    pub offset: Offset,
    /// The event.
    pub event: PersistentRepr,
}

/// The "current events by tag" query: a page of the events carrying a tag,
/// across all persistence ids, in offset order.
///
/// Rules (checked by the [`tck`](crate::tck)): offsets are strictly
/// increasing within and across pages; an event is visible to the query
/// only once every event with a smaller offset is, so a reader that resumes
/// after the last offset it saw misses nothing; deleted events are not
/// returned. [`ReadJournal`](crate::ReadJournal) turns these pages into
/// current and live streams.
pub trait EventsByTag: Send + Sync + 'static {
    /// Up to `max` events tagged `tag` with offsets above `after`.
    fn events_by_tag(
        &self,
        tag: &Tag,
        after: Offset,
        max: NonZeroUsize,
    ) -> impl Future<Output = Result<Vec<TaggedEvent>, JournalError>> + Send;

    /// The offset of the latest visible event tagged `tag`, or
    /// [`Offset::ZERO`] if there is none: where a *current* query that
    /// starts now stops. It may name a deleted event, but is never below a
    /// visible one.
    fn latest_offset(&self, tag: &Tag)
    -> impl Future<Output = Result<Offset, JournalError>> + Send;
}

impl<J: EventsByTag> EventsByTag for std::sync::Arc<J> {
    fn events_by_tag(
        &self,
        tag: &Tag,
        after: Offset,
        max: NonZeroUsize,
    ) -> impl Future<Output = Result<Vec<TaggedEvent>, JournalError>> + Send {
        (**self).events_by_tag(tag, after, max)
    }

    fn latest_offset(
        &self,
        tag: &Tag,
    ) -> impl Future<Output = Result<Offset, JournalError>> + Send {
        (**self).latest_offset(tag)
    }
}
