//! `Source::queue`: push elements into a running stream from anywhere.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use crate::elements::Elements;
use crate::error::StreamError;
use crate::queue::{OverflowStrategy, Push, Queue, QueueOfferResult, QueueStream};
use crate::source::Source;

impl<T: Send + 'static> Source<T, SourceQueue<T>> {
    /// A source fed through the materialized [`SourceQueue`]. The queue holds
    /// at most `capacity` elements; `strategy` decides what an offer to a
    /// full queue does (`Backpressure`: the offer waits for space).
    ///
    /// The stream completes when [`SourceQueue::complete`] is called or the
    /// last handle is dropped, after the queued elements have been emitted.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use ferrocast_stream::{Keep, OverflowStrategy, QueueOfferResult, Sink, Source};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ferrocast_stream::StreamError> {
    /// let (queue, all) = Source::queue(NonZeroUsize::MIN, OverflowStrategy::Backpressure)
    ///     .to_mat(Sink::collect(), Keep::both)
    ///     .run();
    /// assert!(matches!(queue.offer(1).await, QueueOfferResult::Enqueued));
    /// assert!(matches!(queue.offer(2).await, QueueOfferResult::Enqueued));
    /// queue.complete();
    /// assert_eq!(all.await?, vec![1, 2]);
    /// # Ok(()) }
    /// ```
    pub fn queue(capacity: NonZeroUsize, strategy: OverflowStrategy) -> Self {
        Source::from_materializer(move || {
            let queue = Queue::new(capacity.get(), strategy);
            let elements: Elements<T> = Box::pin(QueueStream {
                queue: queue.clone(),
            });
            let handle = SourceQueue {
                owner: Arc::new(Owner { queue }),
            };
            (elements, handle)
        })
    }
}

/// The materialized handle of [`Source::queue`]. Clones share the queue;
/// when the last one is dropped the stream completes.
pub struct SourceQueue<T> {
    owner: Arc<Owner<T>>,
}

/// Completes the queue when the last handle goes.
struct Owner<T> {
    queue: Arc<Queue<T>>,
}

impl<T> Drop for Owner<T> {
    fn drop(&mut self) {
        self.queue.complete();
    }
}

impl<T> Clone for SourceQueue<T> {
    fn clone(&self) -> Self {
        SourceQueue {
            owner: self.owner.clone(),
        }
    }
}

impl<T> fmt::Debug for SourceQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceQueue")
            .field("len", &self.owner.queue.len())
            .field("closed", &self.owner.queue.is_closed())
            .finish()
    }
}

impl<T> SourceQueue<T> {
    /// Offers an element. Under `Backpressure` this waits while the queue
    /// is full; the result says whether the element is in, was dropped, or
    /// the stream is closed or failed.
    pub async fn offer(&self, item: T) -> QueueOfferResult {
        self.owner.queue.offer(item).await
    }

    /// Offers without waiting: a full `Backpressure` queue gives the element
    /// back as `Err`.
    pub fn try_offer(&self, item: T) -> Result<QueueOfferResult, T> {
        match self.owner.queue.push(item) {
            Push::Done(result) | Push::Rejected(_, result) => Ok(result),
            Push::Full(item) => Err(item),
        }
    }

    /// Completes the stream once the queued elements have been emitted.
    pub fn complete(&self) {
        self.owner.queue.complete();
    }

    /// Fails the stream now with `error`; queued elements are discarded.
    /// No effect once the queue was completed or the stream has ended.
    pub fn fail(&self, error: StreamError) {
        self.owner.queue.fail(error);
    }

    /// True once the stream will take no more elements (completed, failed
    /// or cancelled).
    pub fn is_closed(&self) -> bool {
        self.owner.queue.is_closed()
    }

    /// Elements waiting in the queue.
    pub fn len(&self) -> usize {
        self.owner.queue.len()
    }

    /// True when no element is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
