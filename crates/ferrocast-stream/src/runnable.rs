//! [`RunnableGraph`]: a source connected to a sink, ready to run.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::runtime::Handle;

type Factory<M> = dyn Fn() -> (StreamTask, M) + Send + Sync;

/// A closed pipeline. Each [`run`](RunnableGraph::run) materializes it
/// afresh and returns the materialized value; the graph itself stays
/// reusable.
pub struct RunnableGraph<M> {
    factory: Arc<Factory<M>>,
}

impl<M> Clone for RunnableGraph<M> {
    fn clone(&self) -> Self {
        RunnableGraph {
            factory: self.factory.clone(),
        }
    }
}

impl<M> fmt::Debug for RunnableGraph<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunnableGraph(..)")
    }
}

impl<M: 'static> RunnableGraph<M> {
    /// A custom graph: called on every run.
    pub fn from_materializer<F>(materialize: F) -> Self
    where
        F: Fn() -> (StreamTask, M) + Send + Sync + 'static,
    {
        RunnableGraph {
            factory: Arc::new(materialize),
        }
    }

    /// Materializes the graph and spawns its task on the current tokio
    /// runtime. Called outside a runtime, nothing runs and the sink's
    /// completion reports [`StreamErrorKind::Abandoned`](crate::StreamErrorKind::Abandoned).
    pub fn run(&self) -> M {
        let (task, mat) = self.materialize();
        if let Ok(handle) = Handle::try_current() {
            drop(handle.spawn(task));
        }
        mat
    }

    /// Materializes the graph and spawns its task on `runtime`.
    pub fn run_on(&self, runtime: &Handle) -> M {
        let (task, mat) = self.materialize();
        drop(runtime.spawn(task));
        mat
    }

    /// Materializes without spawning: the caller drives the returned task
    /// (awaits it, or spawns it where it likes). Dropping the task cancels
    /// the stream.
    pub fn materialize(&self) -> (StreamTask, M) {
        (self.factory)()
    }
}

/// The future that drives one materialized stream from its sink: it
/// resolves when the sink has finished. Dropping it cancels the stream.
#[must_use = "a stream task does nothing unless awaited or spawned"]
pub struct StreamTask(Pin<Box<dyn Future<Output = ()> + Send + 'static>>);

impl StreamTask {
    /// Wraps the future a custom sink runs.
    pub fn new(task: impl Future<Output = ()> + Send + 'static) -> Self {
        StreamTask(Box::pin(task))
    }
}

impl Future for StreamTask {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for StreamTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamTask(..)")
    }
}
