//! [`Sink`]: a blueprint of where elements go.

use std::fmt;
use std::sync::{Arc, Mutex};

use futures_util::future::FutureExt;
use futures_util::sink::{Sink as FuturesSink, SinkExt};
use futures_util::stream::StreamExt;

use crate::completion::Completion;
use crate::elements::Elements;
use crate::error::{StreamError, StreamErrorKind};
use crate::runnable::StreamTask;

type Factory<In, M> = dyn Fn(Elements<In>) -> (StreamTask, M) + Send + Sync;

/// A reusable description of a consumer of `In` elements.
///
/// Materializing a sink on top of an element stream gives the [`StreamTask`]
/// that drives the whole stream (running spawns it) and the materialized
/// value, usually a [`Completion`] with the sink's result. A sink pulls one
/// element at a time, so a slow sink slows everything upstream of it: that
/// is back-pressure.
pub struct Sink<In, M> {
    factory: Arc<Factory<In, M>>,
}

impl<In, M> Clone for Sink<In, M> {
    fn clone(&self) -> Self {
        Sink {
            factory: self.factory.clone(),
        }
    }
}

impl<In, M> fmt::Debug for Sink<In, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sink(..)")
    }
}

impl<In: Send + 'static, M: 'static> Sink<In, M> {
    /// A custom sink: called on every run with the element stream, it
    /// returns the task that consumes it and the materialized value.
    pub fn from_materializer<F>(materialize: F) -> Self
    where
        F: Fn(Elements<In>) -> (StreamTask, M) + Send + Sync + 'static,
    {
        Sink {
            factory: Arc::new(materialize),
        }
    }

    /// Materializes this sink on top of `upstream`.
    pub fn materialize(&self, upstream: Elements<In>) -> (StreamTask, M) {
        (self.factory)(upstream)
    }

    /// Changes the materialized value.
    pub fn map_materialized_value<M2, F>(self, f: F) -> Sink<In, M2>
    where
        M2: 'static,
        F: Fn(M) -> M2 + Send + Sync + 'static,
    {
        Sink::from_materializer(move |upstream| {
            let (task, mat) = self.materialize(upstream);
            (task, f(mat))
        })
    }
}

impl<In: Send + 'static> Sink<In, Completion<()>> {
    /// Calls `f` for each element; completes when the stream does.
    pub fn foreach<F>(f: F) -> Self
    where
        F: Fn(In) + Send + Sync + 'static,
    {
        Sink::fold((), move |(), item| f(item))
    }

    /// Consumes and discards every element.
    pub fn ignore() -> Self {
        Sink::fold((), |(), _| ())
    }

    /// Plugs in any `futures::Sink`. Elements are fed one at a time and the
    /// sink is flushed whenever upstream has nothing ready; it is closed
    /// when the stream completes and dropped when it fails. A sink is a
    /// single value, so this runs once; a second run fails with
    /// [`StreamErrorKind::AlreadyMaterialized`].
    pub fn from_sink<S>(sink: S) -> Self
    where
        S: FuturesSink<In> + Send + 'static,
        S::Error: std::error::Error + Send + Sync + 'static,
    {
        let slot = Mutex::new(Some(sink));
        Sink::from_materializer(move |upstream| {
            let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            let (done, completion) = Completion::new();
            let task = StreamTask::new(async move {
                let result = match taken {
                    Some(sink) => forward(upstream, sink).await,
                    None => Err(StreamErrorKind::AlreadyMaterialized.into()),
                };
                done.complete(result);
            });
            (task, completion)
        })
    }
}

impl<In: Send + 'static, A: Send + 'static> Sink<In, Completion<A>> {
    /// Folds the elements into one value, the result of the completion.
    pub fn fold<F>(zero: A, f: F) -> Self
    where
        A: Clone + Sync,
        F: Fn(A, In) -> A + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        Sink::from_materializer(move |mut upstream| {
            let (f, mut acc) = (f.clone(), zero.clone());
            let (done, completion) = Completion::new();
            let task = StreamTask::new(async move {
                let result = loop {
                    match upstream.next().await {
                        Some(Ok(item)) => acc = f(acc, item),
                        Some(Err(e)) => break Err(e),
                        None => break Ok(acc),
                    }
                };
                done.complete(result);
            });
            (task, completion)
        })
    }
}

impl<In: Send + 'static> Sink<In, Completion<Vec<In>>> {
    /// Collects every element; the whole stream is kept in memory.
    pub fn collect() -> Self {
        Sink::from_materializer(|mut upstream| {
            let (done, completion) = Completion::new();
            let task = StreamTask::new(async move {
                let mut all = Vec::new();
                let result = loop {
                    match upstream.next().await {
                        Some(Ok(item)) => all.push(item),
                        Some(Err(e)) => break Err(e),
                        None => break Ok(std::mem::take(&mut all)),
                    }
                };
                done.complete(result);
            });
            (task, completion)
        })
    }
}

impl<In: Send + 'static> Sink<In, Completion<Option<In>>> {
    /// The first element (`None` for an empty stream); cancels upstream as
    /// soon as it has it.
    pub fn first() -> Self {
        Sink::from_materializer(|mut upstream| {
            let (done, completion) = Completion::new();
            let task = StreamTask::new(async move {
                let result = upstream.next().await.transpose();
                drop(upstream);
                done.complete(result);
            });
            (task, completion)
        })
    }

    /// The last element (`None` for an empty stream).
    pub fn last() -> Self {
        Sink::from_materializer(|mut upstream| {
            let (done, completion) = Completion::new();
            let task = StreamTask::new(async move {
                let mut last = None;
                let result = loop {
                    match upstream.next().await {
                        Some(Ok(item)) => last = Some(item),
                        Some(Err(e)) => break Err(e),
                        None => break Ok(last.take()),
                    }
                };
                done.complete(result);
            });
            (task, completion)
        })
    }
}

/// Feeds `upstream` into `sink`, flushing when upstream has nothing ready.
async fn forward<In, S>(mut upstream: Elements<In>, sink: S) -> Result<(), StreamError>
where
    S: FuturesSink<In>,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let mut sink = Box::pin(sink);
    loop {
        let next = match upstream.next().now_or_never() {
            Some(next) => next,
            None => {
                sink.flush().await.map_err(StreamError::failed)?;
                upstream.next().await
            }
        };
        match next {
            Some(Ok(item)) => sink.feed(item).await.map_err(StreamError::failed)?,
            Some(Err(e)) => return Err(e),
            None => return sink.close().await.map_err(StreamError::failed),
        }
    }
}
