//! [`Source`]: a blueprint of a stream with one output.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, Stream, StreamExt};

use crate::completion::Completion;
use crate::elements::{self, Elements, UntilError};
use crate::error::{StreamError, StreamErrorKind};
use crate::flow::Flow;
use crate::fuse::{Chain, Identity, Link, Then};
use crate::ops::StreamOps;
use crate::runnable::RunnableGraph;
use crate::sink::Sink;

type Factory<T, M> = dyn Fn() -> (Elements<T>, M) + Send + Sync;

/// A reusable description of where elements come from.
///
/// A `Source` does nothing until it is run; each run *materializes* it
/// afresh: a new element stream and a new materialized value `M` (`()` when
/// there is nothing to hand out, or a queue handle, a kill switch, ...).
/// Cloning is cheap and clones describe the same stream.
///
/// Adjacent synchronous operators (`map`, `filter`, `scan`, `take`, ...)
/// are *fused*: `C` is the run being built (an [`Identity`] when there is
/// none, the default) and `X` the element type entering it; the run
/// becomes one stage when the source materializes. You name `C` and `X`
/// only to keep a source with a pending run in a variable of explicit
/// type; [`Source::into_plain`] gives a `Source<T, M>` instead.
///
/// ```
/// use ferrocast_stream::{Source, StreamOps};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ferrocast_stream::StreamError> {
/// let evens = Source::iter(1..=10).filter(|n| n % 2 == 0).map(|n| n * 10);
/// assert_eq!(evens.clone().run_collect().await?, vec![20, 40, 60, 80, 100]);
/// assert_eq!(evens.run_fold(0, |a, n| a + n).await?, 300); // runs again
/// # Ok(()) }
/// ```
pub struct Source<T, M = (), C = Identity<T>, X = T> {
    /// Everything before the pending run, emitting its input.
    factory: Arc<Factory<X, M>>,
    /// The pending run of fused operators.
    chain: C,
    _out: PhantomData<fn() -> T>,
}

impl<T, M, C: Clone, X> Clone for Source<T, M, C, X> {
    fn clone(&self) -> Self {
        Source {
            factory: self.factory.clone(),
            chain: self.chain.clone(),
            _out: PhantomData,
        }
    }
}

impl<T, M, C, X> fmt::Debug for Source<T, M, C, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Source(..)")
    }
}

impl<T: Send + 'static> Source<T, ()> {
    /// Plugs in any stream. A stream is a single value, so this source can
    /// run once; a second run fails with [`StreamErrorKind::AlreadyMaterialized`].
    /// Use [`Source::from_stream_fn`] for a reusable source.
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = T> + Send + 'static,
    {
        let slot = Mutex::new(Some(stream));
        Source::from_materializer(move || {
            let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            let elements: Elements<T> = match taken {
                Some(s) => Box::pin(s.map(Ok)),
                None => elements::failed(StreamErrorKind::AlreadyMaterialized.into()),
            };
            (elements, ())
        })
    }

    /// Plugs in a fallible stream: its first `Err` fails the stream (as
    /// [`StreamErrorKind::Failed`]) and nothing after it is read. Runs once, like
    /// [`Source::from_stream`].
    pub fn from_try_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        Source::from_stream(stream).via_fn(|upstream| {
            Box::pin(UntilError::new(upstream.map(|item| match item {
                Ok(Ok(t)) => Ok(t),
                Ok(Err(e)) => Err(StreamError::failed(e)),
                Err(e) => Err(e),
            })))
        })
    }

    /// A reusable source that calls `make` for a fresh stream on each run.
    pub fn from_stream_fn<S, F>(make: F) -> Self
    where
        F: Fn() -> S + Send + Sync + 'static,
        S: Stream<Item = T> + Send + 'static,
    {
        Source::from_materializer(move || (Box::pin(make().map(Ok)) as Elements<T>, ()))
    }

    /// The elements of a collection, cloned for each run.
    pub fn iter<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T> + Clone + Send + Sync + 'static,
        I::IntoIter: Send + 'static,
    {
        Source::from_stream_fn(move || stream::iter(items.clone()))
    }

    /// One element, then completion.
    pub fn single(item: T) -> Self
    where
        T: Clone + Sync,
    {
        Source::iter([item])
    }

    /// Completes at once.
    pub fn empty() -> Self {
        Source::from_stream_fn(stream::empty)
    }

    /// The same element forever (combine with `take`).
    pub fn repeat(item: T) -> Self
    where
        T: Clone + Sync,
    {
        Source::from_stream_fn(move || stream::repeat(item.clone()))
    }

    /// Fails at once with `error`.
    pub fn failed(error: StreamError) -> Self {
        Source::from_materializer(move || (elements::failed(error.clone()), ()))
    }
}

impl<T: Send + 'static, M: 'static> Source<T, M> {
    /// A custom source: `materialize` is called on every run and returns the
    /// element stream together with the materialized value.
    pub fn from_materializer<F>(materialize: F) -> Self
    where
        F: Fn() -> (Elements<T>, M) + Send + Sync + 'static,
    {
        Source {
            factory: Arc::new(materialize),
            chain: Identity::new(),
            _out: PhantomData,
        }
    }
}

impl<T, M, C, X> Source<T, M, C, X>
where
    T: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = T>,
{
    /// Appends a fused link to the pending run.
    pub(crate) fn fuse<L: Link<T>>(self, link: L) -> Source<L::Out, M, Then<C, L>, X> {
        Source {
            factory: self.factory,
            chain: Then {
                prev: self.chain,
                link,
            },
            _out: PhantomData,
        }
    }

    /// The same source as a plain `Source<T, M>`, for a variable or field
    /// of that type. The pending run (if any) stays one fused stage.
    pub fn into_plain(self) -> Source<T, M> {
        Source::from_materializer(move || self.materialize())
    }

    /// Materializes without running: the element stream (poll it from any
    /// task, or hand it to code that takes a `Stream`) and the materialized
    /// value. Stages that need a runtime (`buffer`, timers) expect the stream
    /// to be polled on tokio.
    pub fn materialize(&self) -> (Elements<T>, M) {
        let (elements, mat) = (self.factory)();
        (self.chain.attach(elements), mat)
    }

    /// Appends a flow, keeping this source's materialized value.
    pub fn via<U, M2, C2, X2>(self, flow: Flow<T, U, M2, C2, X2>) -> Source<U, M>
    where
        U: Send + 'static,
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = U>,
    {
        self.via_mat(flow, crate::Keep::left)
    }

    /// Appends a flow; `combine` decides the materialized value (see
    /// [`Keep`](crate::Keep)).
    pub fn via_mat<U, M2, M3, K, C2, X2>(
        self,
        flow: Flow<T, U, M2, C2, X2>,
        combine: K,
    ) -> Source<U, M3>
    where
        U: Send + 'static,
        M2: 'static,
        M3: 'static,
        K: Fn(M, M2) -> M3 + Send + Sync + 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = U>,
    {
        Source::from_materializer(move || {
            let (elements, left) = self.materialize();
            let (elements, right) = flow.materialize(elements);
            (elements, combine(left, right))
        })
    }

    /// Connects a sink, keeping this source's materialized value.
    pub fn to<M2: 'static>(self, sink: Sink<T, M2>) -> RunnableGraph<M> {
        self.to_mat(sink, crate::Keep::left)
    }

    /// Connects a sink; `combine` decides the materialized value.
    pub fn to_mat<M2, M3, K>(self, sink: Sink<T, M2>, combine: K) -> RunnableGraph<M3>
    where
        M2: 'static,
        M3: 'static,
        K: Fn(M, M2) -> M3 + Send + Sync + 'static,
    {
        RunnableGraph::from_materializer(move || {
            let (elements, left) = self.materialize();
            let (task, right) = sink.materialize(elements);
            (task, combine(left, right))
        })
    }

    /// Connects `sink` and runs on the current tokio runtime, returning the
    /// sink's materialized value.
    pub fn run_with<M2: 'static>(self, sink: Sink<T, M2>) -> M2 {
        self.to_mat(sink, crate::Keep::right).run()
    }

    /// Runs, calling `f` for each element.
    pub fn run_foreach<F>(self, f: F) -> Completion<()>
    where
        F: Fn(T) + Send + Sync + 'static,
    {
        self.run_with(Sink::foreach(f))
    }

    /// Runs, folding the elements into one value.
    pub fn run_fold<A, F>(self, zero: A, f: F) -> Completion<A>
    where
        A: Clone + Send + Sync + 'static,
        F: Fn(A, T) -> A + Send + Sync + 'static,
    {
        self.run_with(Sink::fold(zero, f))
    }

    /// Runs, collecting every element. The whole stream is kept in memory.
    pub fn run_collect(self) -> Completion<Vec<T>> {
        self.run_with(Sink::collect())
    }

    /// Changes the materialized value.
    pub fn map_materialized_value<M2, F>(self, f: F) -> Source<T, M2, C, X>
    where
        M2: 'static,
        F: Fn(M) -> M2 + Send + Sync + 'static,
    {
        let factory = self.factory;
        Source {
            factory: Arc::new(move || {
                let (elements, mat) = factory();
                (elements, f(mat))
            }),
            chain: self.chain,
            _out: PhantomData,
        }
    }
}

/// The operators that are not fused end the pending run: they take its
/// output as one stage.
impl<T, M, C, X> StreamOps for Source<T, M, C, X>
where
    T: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = T>,
{
    type Out = T;
    type Then<U: Send + 'static> = Source<U, M>;

    fn via_fn<U, F>(self, stage: F) -> Source<U, M>
    where
        U: Send + 'static,
        F: Fn(Elements<T>) -> Elements<U> + Send + Sync + 'static,
    {
        Source::from_materializer(move || {
            let (elements, mat) = self.materialize();
            (stage(elements), mat)
        })
    }
}
