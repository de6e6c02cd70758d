//! `buffer`: an explicit asynchronous boundary with a bound and an overflow
//! strategy.
//!
//! Everything else in a stream runs inside the one task that drives the
//! sink, pulled element by element. A buffer instead runs its upstream in a
//! task of its own (spawned on the first pull), which keeps pushing into a
//! bounded [`Queue`] while downstream is busy. When the queue is full the
//! [`OverflowStrategy`] decides: wait (back-pressure) or drop or fail. The
//! queue never holds more than its capacity; the upstream task holds at most
//! one more element while it waits for space.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{Stream, StreamExt};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::elements::Elements;
use crate::error::{StreamError, StreamErrorKind};
use crate::queue::{OverflowStrategy, Queue, QueueOfferResult, QueueStream};

pub(crate) struct Buffer<T> {
    /// Upstream until the first pull hands it to the upstream task.
    upstream: Option<Elements<T>>,
    output: QueueStream<T>,
    task: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Buffer<T> {
    pub(crate) fn new(upstream: Elements<T>, capacity: usize, strategy: OverflowStrategy) -> Self {
        Buffer {
            upstream: Some(upstream),
            output: QueueStream {
                queue: Queue::new(capacity, strategy),
            },
            task: None,
        }
    }
}

/// Moves upstream's elements into the queue until either side is done.
async fn pump<T>(mut upstream: Elements<T>, queue: Arc<Queue<T>>) {
    let guard = Unfinished(queue);
    loop {
        match upstream.next().await {
            Some(Ok(item)) => match guard.0.offer(item).await {
                QueueOfferResult::Enqueued | QueueOfferResult::Dropped => {}
                QueueOfferResult::QueueClosed | QueueOfferResult::Failure(_) => return,
            },
            Some(Err(e)) => return guard.0.fail(e),
            None => return guard.0.complete(),
        }
    }
}

/// Fails the queue if the upstream task ends without finishing it (a
/// panic upstream), so downstream does not wait forever. After a normal
/// end, failing a completed, failed or closed queue changes nothing.
struct Unfinished<T>(Arc<Queue<T>>);

impl<T> Drop for Unfinished<T> {
    fn drop(&mut self) {
        self.0.fail(StreamErrorKind::Abandoned.into());
    }
}

impl<T: Send + 'static> Stream for Buffer<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(upstream) = this.upstream.take() {
            let Ok(runtime) = Handle::try_current() else {
                // Not on tokio: the upstream task cannot exist.
                this.output.queue.fail(StreamErrorKind::Abandoned.into());
                return this.output.queue.poll_pop(cx);
            };
            this.task = Some(runtime.spawn(pump(upstream, this.output.queue.clone())));
        }
        Pin::new(&mut this.output).poll_next(cx)
    }
}

impl<T> Drop for Buffer<T> {
    fn drop(&mut self) {
        // Cancels upstream: the task drops it when aborted.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The `via_fn` stage of `buffer`.
pub(crate) fn buffer<T: Send + 'static>(
    capacity: usize,
    strategy: OverflowStrategy,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static {
    move |upstream| Box::pin(Buffer::new(upstream, capacity, strategy))
}
