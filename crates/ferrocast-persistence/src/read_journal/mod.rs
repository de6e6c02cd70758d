//! [`ReadJournal`]: queries as streams, built once on the page contracts
//! ([`Journal::replay`], [`EventsByTag`]) so that every backend has them.
//!
//! Each query comes in two kinds, as in Akka's persistence query:
//! *current* (ends with the events present when it starts) and *live*
//! (never ends: once caught up it asks again every
//! [`QuerySettings::refresh_interval`], or sooner on a
//! [`WriteNotifier`] signal). Each is a ferrocast-stream [`Source`] and,
//! for code that wants no stream stages, a plain [`QueryStream`].
//!
//! # Layout
//! - `settings`: [`QuerySettings`]; `error`: [`QueryError`].
//! - `cursor`: the paging loop every query runs.
//! - `notify`: [`WriteNotifier`], [`NotifyingJournal`].

mod cursor;
mod error;
mod notify;
mod settings;

#[cfg(test)]
mod read_journal_test;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use ferrocast_stream::{Elements, Source, StreamError};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::watch;

pub use error::QueryError;
pub use notify::{NotifyingJournal, WriteNotifier};
pub use settings::QuerySettings;

use crate::config::InvalidConfig;
use crate::ids::{PersistenceId, SequenceNr, Tag};
use crate::journal::Journal;
use crate::query::{EventsByTag, Offset, TaggedEvent};
use crate::repr::PersistentRepr;
use cursor::{ByPersistenceId, ByTag, Cursor, Mode, Pacing, Pages};

/// A query as a plain stream: events, then either the end (current
/// queries, or a live persistence id query that reached its `to`) or one
/// [`QueryError`] after which nothing follows.
pub type QueryStream<T> = Pin<Box<dyn Stream<Item = Result<T, QueryError>> + Send + 'static>>;

/// Queries over a journal, as streams (Akka's `ReadJournal`).
///
/// ```
/// use std::sync::Arc;
/// use ferrocast_persistence::{InMemoryJournal, Offset, ReadJournal, Tag};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queries = ReadJournal::new(Arc::new(InMemoryJournal::default()));
/// let tagged = queries
///     .current_events_by_tag(&Tag::new("cart")?, Offset::ZERO)
///     .run_collect()
///     .await?;
/// assert!(tagged.is_empty());
/// // `events_by_tag` is the live query: it goes on after the last event,
/// // and resumes after any offset it handed out.
/// # Ok(()) }
/// ```
///
/// Every stream reads one page of at most
/// [`QuerySettings::page_size`] events at a time, and the next only when
/// its consumer took the last: back-pressure reaches the journal. A
/// stream runs as many times as it is materialized, each run from its
/// start position.
pub struct ReadJournal<J> {
    journal: Arc<J>,
    settings: QuerySettings,
    wake: Option<watch::Receiver<()>>,
}

impl<J> Clone for ReadJournal<J> {
    fn clone(&self) -> Self {
        ReadJournal {
            journal: self.journal.clone(),
            settings: self.settings,
            wake: self.wake.clone(),
        }
    }
}

impl<J> fmt::Debug for ReadJournal<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadJournal")
            .field("settings", &self.settings)
            .field("wakes_on_writes", &self.wake.is_some())
            .finish_non_exhaustive()
    }
}

impl<J: Journal> ReadJournal<J> {
    /// Queries over `journal` with default settings (pages of 256, a
    /// refresh every 3 s).
    pub fn new(journal: Arc<J>) -> Self {
        ReadJournal {
            journal,
            settings: QuerySettings::default(),
            wake: None,
        }
    }

    /// The same queries with other settings, if they are valid.
    pub fn with_settings(mut self, settings: QuerySettings) -> Result<Self, InvalidConfig> {
        settings.validate()?;
        self.settings = settings;
        Ok(self)
    }

    /// Live queries also wake when `notifier` signals a write (see
    /// [`NotifyingJournal`]), so that this process's writes reach them
    /// without waiting out the refresh interval.
    pub fn wake_on(mut self, notifier: &WriteNotifier) -> Self {
        self.wake = Some(notifier.subscribe());
        self
    }

    /// The journal the queries read.
    pub fn journal(&self) -> &Arc<J> {
        &self.journal
    }

    /// The settings in use.
    pub fn settings(&self) -> &QuerySettings {
        &self.settings
    }

    /// The events of `persistence_id` with `from <= sequence_nr <= to`
    /// that are stored when the stream starts, in order; then the end.
    /// Resume after an event with `from` = its number + 1.
    pub fn current_events_by_persistence_id(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
    ) -> Source<PersistentRepr> {
        self.source(
            self.by_persistence_id(persistence_id, to),
            Mode::Current,
            from.prev().value(),
        )
    }

    /// The events of `persistence_id` from `from`, including those written
    /// later; ends after the event numbered `to` (never, for
    /// [`SequenceNr::MAX`]).
    pub fn events_by_persistence_id(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
    ) -> Source<PersistentRepr> {
        let mode = Mode::Live {
            limit: Some(to.value()),
        };
        self.source(
            self.by_persistence_id(persistence_id, to),
            mode,
            from.prev().value(),
        )
    }

    /// [`current_events_by_persistence_id`](Self::current_events_by_persistence_id)
    /// as a plain stream.
    pub fn current_events_by_persistence_id_stream(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
    ) -> QueryStream<PersistentRepr> {
        let cursor = self.cursor(
            self.by_persistence_id(persistence_id, to),
            Mode::Current,
            from.prev().value(),
        );
        run(cursor)
    }

    /// [`events_by_persistence_id`](Self::events_by_persistence_id) as a
    /// plain stream.
    pub fn events_by_persistence_id_stream(
        &self,
        persistence_id: &PersistenceId,
        from: SequenceNr,
        to: SequenceNr,
    ) -> QueryStream<PersistentRepr> {
        let mode = Mode::Live {
            limit: Some(to.value()),
        };
        run(self.cursor(
            self.by_persistence_id(persistence_id, to),
            mode,
            from.prev().value(),
        ))
    }

    fn by_persistence_id(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> ByPersistenceId<J> {
        ByPersistenceId {
            journal: self.journal.clone(),
            persistence_id: persistence_id.clone(),
            to,
        }
    }

    /// A cursor over `pages` that hands out what comes after position
    /// `after`.
    fn cursor<P: Pages>(&self, pages: P, mode: Mode, after: u64) -> Cursor<P> {
        let pacing = Pacing {
            page_size: self.settings.page_size,
            refresh_interval: self.settings.refresh_interval,
            wake: self.wake.clone(),
        };
        Cursor::new(pages, mode, pacing, after)
    }

    /// A source that runs a fresh cursor each time it is materialized.
    fn source<P>(&self, pages: P, mode: Mode, after: u64) -> Source<P::Item>
    where
        P: Pages + Clone,
    {
        let me = self.clone();
        Source::from_materializer(move || {
            let stream = run(me.cursor(pages.clone(), mode, after));
            let elements: Elements<P::Item> =
                Box::pin(stream.map(|r| r.map_err(StreamError::failed)));
            (elements, ())
        })
    }
}

impl<J: Journal + EventsByTag> ReadJournal<J> {
    /// The events tagged `tag` with offsets above `after` that are visible
    /// when the stream starts, in offset order; then the end. Resume after
    /// the last [`TaggedEvent::offset`] handed out.
    pub fn current_events_by_tag(&self, tag: &Tag, after: Offset) -> Source<TaggedEvent> {
        self.source(self.by_tag(tag), Mode::Current, after.value())
    }

    /// The events tagged `tag` with offsets above `after`, including those
    /// written later; never ends by itself.
    pub fn events_by_tag(&self, tag: &Tag, after: Offset) -> Source<TaggedEvent> {
        let mode = Mode::Live { limit: None };
        self.source(self.by_tag(tag), mode, after.value())
    }

    /// [`current_events_by_tag`](Self::current_events_by_tag) as a plain
    /// stream.
    pub fn current_events_by_tag_stream(
        &self,
        tag: &Tag,
        after: Offset,
    ) -> QueryStream<TaggedEvent> {
        run(self.cursor(self.by_tag(tag), Mode::Current, after.value()))
    }

    /// [`events_by_tag`](Self::events_by_tag) as a plain stream.
    pub fn events_by_tag_stream(&self, tag: &Tag, after: Offset) -> QueryStream<TaggedEvent> {
        let mode = Mode::Live { limit: None };
        run(self.cursor(self.by_tag(tag), mode, after.value()))
    }

    fn by_tag(&self, tag: &Tag) -> ByTag<J> {
        ByTag {
            journal: self.journal.clone(),
            tag: tag.clone(),
        }
    }
}

/// The cursor as a stream.
fn run<P: Pages>(cursor: Cursor<P>) -> QueryStream<P::Item> {
    Box::pin(stream::unfold(cursor, |mut cursor| async move {
        let item = cursor.next().await?;
        Some((item, cursor))
    }))
}
