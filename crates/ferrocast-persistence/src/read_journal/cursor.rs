//! The paging loop under every query stream: one page at a time, on
//! demand, from the last position handed out.
//!
//! ```text
//!            +-- buffer not empty --> hand out the next event
//! next() ----+-- finished ----------> end (after an error: end as well)
//!            +-- buffer empty ------> current: read the end once, then pages
//!                                      until an empty page or the end
//!                                      live: if the last page was short,
//!                                      wait (refresh interval or write
//!                                      signal), then the next page
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, select};
use tokio::sync::watch;

use crate::ids::{PersistenceId, SequenceNr, Tag};
use crate::journal::{Journal, JournalError};
use crate::query::{EventsByTag, Offset, TaggedEvent};
use crate::read_journal::QueryError;
use crate::repr::PersistentRepr;

/// One kind of query: where its events come from and how they are
/// ordered. Positions are offsets or sequence numbers, as `u64`.
pub(crate) trait Pages: Send + Sync + 'static {
    type Item: Send + 'static;

    /// The position of an item: strictly increasing along the query.
    fn position(item: &Self::Item) -> u64;

    /// The position of the latest item present now: where a current query
    /// stops.
    fn end(&self) -> impl Future<Output = Result<u64, JournalError>> + Send;

    /// Up to `max` items after position `after`.
    fn page(
        &self,
        after: u64,
        max: NonZeroUsize,
    ) -> impl Future<Output = Result<Vec<Self::Item>, JournalError>> + Send;
}

/// Events of one tag, by offset.
pub(crate) struct ByTag<J> {
    pub(crate) journal: Arc<J>,
    pub(crate) tag: Tag,
}

impl<J> Clone for ByTag<J> {
    fn clone(&self) -> Self {
        ByTag {
            journal: self.journal.clone(),
            tag: self.tag.clone(),
        }
    }
}

impl<J: EventsByTag> Pages for ByTag<J> {
    type Item = TaggedEvent;

    fn position(item: &TaggedEvent) -> u64 {
        item.offset.value()
    }

    async fn end(&self) -> Result<u64, JournalError> {
        Ok(self.journal.latest_offset(&self.tag).await?.value())
    }

    async fn page(&self, after: u64, max: NonZeroUsize) -> Result<Vec<TaggedEvent>, JournalError> {
        self.journal
            .events_by_tag(&self.tag, Offset::new(after), max)
            .await
    }
}

/// Events of one persistence id up to `to`, by sequence number.
pub(crate) struct ByPersistenceId<J> {
    pub(crate) journal: Arc<J>,
    pub(crate) persistence_id: PersistenceId,
    pub(crate) to: SequenceNr,
}

impl<J> Clone for ByPersistenceId<J> {
    fn clone(&self) -> Self {
        ByPersistenceId {
            journal: self.journal.clone(),
            persistence_id: self.persistence_id.clone(),
            to: self.to,
        }
    }
}

impl<J: Journal> Pages for ByPersistenceId<J> {
    type Item = PersistentRepr;

    fn position(item: &PersistentRepr) -> u64 {
        item.sequence_nr.value()
    }

    async fn end(&self) -> Result<u64, JournalError> {
        let highest = self
            .journal
            .highest_sequence_nr(&self.persistence_id)
            .await?;
        Ok(highest.min(self.to).value())
    }

    async fn page(
        &self,
        after: u64,
        max: NonZeroUsize,
    ) -> Result<Vec<PersistentRepr>, JournalError> {
        let from = SequenceNr::new(after).next();
        self.journal
            .replay(&self.persistence_id, from, self.to, max)
            .await
    }
}

/// Whether the query ends at what is there when it starts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// Ends at the position [`Pages::end`] gives on the first read.
    Current,
    /// Never ends by itself, unless it reaches `limit` (a persistence id
    /// query's `to`).
    Live {
        /// The last position this query hands out, if any.
        limit: Option<u64>,
    },
}

/// How a cursor reads and waits.
pub(crate) struct Pacing {
    pub(crate) page_size: NonZeroUsize,
    pub(crate) refresh_interval: Duration,
    /// Wakes a waiting live query when this process writes.
    pub(crate) wake: Option<watch::Receiver<()>>,
}

/// The state of one running query.
pub(crate) struct Cursor<P: Pages> {
    pages: P,
    mode: Mode,
    pacing: Pacing,
    /// The last position handed out (or the one the query starts after).
    after: u64,
    /// A current query's end, read on the first page.
    end: Option<u64>,
    /// The rest of the last page.
    buffer: VecDeque<P::Item>,
    /// The last page was short: a live query waits before the next.
    caught_up: bool,
    /// Handed out once the buffer is empty, so that the events before it
    /// are not lost.
    failure: Option<QueryError>,
    finished: bool,
}

impl<P: Pages> Cursor<P> {
    pub(crate) fn new(pages: P, mode: Mode, pacing: Pacing, after: u64) -> Self {
        Cursor {
            pages,
            mode,
            pacing,
            after,
            end: None,
            buffer: VecDeque::new(),
            caught_up: false,
            failure: None,
            finished: false,
        }
    }

    /// The next event, the error that ends the query, or `None` at its end.
    pub(crate) async fn next(&mut self) -> Option<Result<P::Item, QueryError>> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Some(Ok(item));
            }
            if let Some(e) = self.failure.take() {
                self.finished = true;
                return Some(Err(e));
            }
            if self.finished {
                return None;
            }
            if let Err(e) = self.fill().await {
                self.failure = Some(e);
            }
        }
    }

    /// Reads the next page into the buffer, or finishes.
    async fn fill(&mut self) -> Result<(), QueryError> {
        let limit = match self.mode {
            Mode::Current => match self.end {
                Some(end) => end,
                None => {
                    let end = self.pages.end().await?;
                    self.end = Some(end);
                    end
                }
            },
            Mode::Live { limit } => {
                if self.caught_up {
                    self.wait().await;
                }
                limit.unwrap_or(u64::MAX)
            }
        };
        if self.after >= limit {
            self.finished = true;
            return Ok(());
        }
        // A write signalled from now on is one this page may miss.
        if let Some(wake) = self.pacing.wake.as_mut() {
            wake.borrow_and_update();
        }
        let page = self.pages.page(self.after, self.pacing.page_size).await?;
        self.caught_up = page.len() < self.pacing.page_size.get();
        if page.is_empty() && matches!(self.mode, Mode::Current) {
            self.finished = true;
        }
        for item in page {
            let got = P::position(&item);
            if got <= self.after {
                // The events before it are handed out first.
                return Err(QueryError::OutOfOrder {
                    after: self.after,
                    got,
                });
            }
            if got > limit {
                self.finished = true;
                break;
            }
            self.after = got;
            self.buffer.push_back(item);
        }
        if self.after >= limit {
            self.finished = true;
        }
        Ok(())
    }

    /// Waits out the refresh interval, or less if a write is signalled.
    async fn wait(&mut self) {
        let mut sleep = pin!(tokio::time::sleep(self.pacing.refresh_interval));
        let notifiers_gone = match self.pacing.wake.as_mut() {
            None => true,
            Some(wake) => matches!(
                select(sleep.as_mut(), pin!(wake.changed())).await,
                Either::Right((Err(_), _))
            ),
        };
        if notifiers_gone {
            // From now on only polling finds writes.
            self.pacing.wake = None;
            sleep.await;
        }
    }
}
