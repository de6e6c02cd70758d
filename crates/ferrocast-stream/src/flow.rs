//! [`Flow`]: a blueprint of a processing stage with one input and one output.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::stream::Stream;

use crate::elements::{Elements, UntilError};
use crate::error::StreamError;
use crate::fuse::{Chain, Identity, Link, Then};
use crate::ops::StreamOps;
use crate::sink::Sink;

type Factory<In, Out, M> = dyn Fn(Elements<In>) -> (Elements<Out>, M) + Send + Sync;

/// A reusable description of a stage (or chain of stages) from `In` to `Out`.
///
/// Like every blueprint it can be materialized many times, each time with a
/// fresh materialized value `M`. Operators from [`StreamOps`] append to it.
/// As on [`Source`](crate::Source), adjacent synchronous operators are
/// fused into one stage: `C` is the pending run ([`Identity`] when there is
/// none) and `X` its input type; [`Flow::into_plain`] gives a
/// `Flow<In, Out, M>`.
///
/// ```
/// use ferrocast_stream::{Flow, Source, StreamOps};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ferrocast_stream::StreamError> {
/// let parse = Flow::<&str>::new().filter_map(|s| s.parse::<u32>().ok());
/// let total = Source::iter(["1", "x", "2"]).via(parse).run_fold(0, |a, n| a + n).await?;
/// assert_eq!(total, 3);
/// # Ok(()) }
/// ```
pub struct Flow<In, Out = In, M = (), C = Identity<Out>, X = Out> {
    /// Everything before the pending run, emitting its input.
    factory: Arc<Factory<In, X, M>>,
    /// The pending run of fused operators.
    chain: C,
    _out: PhantomData<fn() -> Out>,
}

impl<In, Out, M, C: Clone, X> Clone for Flow<In, Out, M, C, X> {
    fn clone(&self) -> Self {
        Flow {
            factory: self.factory.clone(),
            chain: self.chain.clone(),
            _out: PhantomData,
        }
    }
}

impl<In, Out, M, C, X> fmt::Debug for Flow<In, Out, M, C, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Flow(..)")
    }
}

impl<T: Send + 'static> Flow<T, T, ()> {
    /// The flow that passes elements through: the start of a chain.
    pub fn new() -> Self {
        Flow::from_materializer(|elements| (elements, ()))
    }
}

impl<T: Send + 'static> Default for Flow<T, T, ()> {
    fn default() -> Self {
        Flow::new()
    }
}

impl<In: Send + 'static, Out: Send + 'static> Flow<In, Out, ()> {
    /// A custom stage written as a function from the upstream element stream
    /// to any stream of results: the way to plug a hand-written `Stream`
    /// into a pipeline. The function is called once per materialization.
    /// After the returned stream yields an `Err`, it is not polled again.
    ///
    /// The rules such a stage follows are in `docs/stream/semantics.md`
    /// ("Writing a custom stage"). A model-serving stage with two inputs:
    /// it scores records with the latest model, taking model updates as
    /// they come without ever waiting for one.
    ///
    /// ```
    /// use std::pin::Pin;
    /// use std::task::{Context, Poll};
    /// use futures_util::stream::Stream;
    /// use ferrocast_stream::{Elements, Flow, Source, StreamError};
    ///
    /// struct Score {
    ///     /// `None` once the model source has completed: the last model stays.
    ///     models: Option<Elements<f64>>,
    ///     records: Elements<f64>,
    ///     model: Option<f64>,
    /// }
    ///
    /// impl Stream for Score {
    ///     type Item = Result<f64, StreamError>;
    ///
    ///     fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
    ///         let this = self.get_mut();
    ///         // Every model update that is ready; a failure fails the stage.
    ///         while let Some(models) = this.models.as_mut() {
    ///             match models.as_mut().poll_next(cx) {
    ///                 Poll::Ready(Some(Ok(model))) => this.model = Some(model),
    ///                 Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
    ///                 Poll::Ready(None) => this.models = None,
    ///                 Poll::Pending => break,
    ///             }
    ///         }
    ///         // Pull one record per output (back-pressure); records that
    ///         // arrive before any model are skipped.
    ///         loop {
    ///             match std::task::ready!(this.records.as_mut().poll_next(cx)) {
    ///                 Some(Ok(x)) => match this.model {
    ///                     Some(weight) => return Poll::Ready(Some(Ok(weight * x))),
    ///                     None => continue,
    ///                 },
    ///                 end => return Poll::Ready(end), // completion or failure
    ///             }
    ///         }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), StreamError> {
    /// let models = Source::single(2.0);
    /// let score = Flow::from_fn(move |records| Score {
    ///     models: Some(models.materialize().0), // fresh for every run
    ///     records,
    ///     model: None,
    /// });
    /// let scores = Source::iter([1.0, 2.0, 3.0]).via(score).run_collect().await?;
    /// assert_eq!(scores, vec![2.0, 4.0, 6.0]);
    /// # Ok(()) }
    /// ```
    pub fn from_fn<S, F>(stage: F) -> Self
    where
        F: Fn(Elements<In>) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<Out, StreamError>> + Send + 'static,
    {
        Flow::from_materializer(move |upstream| {
            (
                Box::pin(UntilError::new(stage(upstream))) as Elements<Out>,
                (),
            )
        })
    }
}

impl<In: Send + 'static, Out: Send + 'static, M: 'static> Flow<In, Out, M> {
    /// A custom stage with a materialized value: called on every run with
    /// the upstream element stream.
    pub fn from_materializer<F>(materialize: F) -> Self
    where
        F: Fn(Elements<In>) -> (Elements<Out>, M) + Send + Sync + 'static,
    {
        Flow {
            factory: Arc::new(materialize),
            chain: Identity::new(),
            _out: PhantomData,
        }
    }
}

impl<In, Out, M, C, X> Flow<In, Out, M, C, X>
where
    In: Send + 'static,
    Out: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = Out>,
{
    /// Appends a fused link to the pending run.
    pub(crate) fn fuse<L: Link<Out>>(self, link: L) -> Flow<In, L::Out, M, Then<C, L>, X> {
        Flow {
            factory: self.factory,
            chain: Then {
                prev: self.chain,
                link,
            },
            _out: PhantomData,
        }
    }

    /// The same flow as a plain `Flow<In, Out, M>`, for a variable or
    /// field of that type. The pending run (if any) stays one fused stage.
    pub fn into_plain(self) -> Flow<In, Out, M> {
        Flow::from_materializer(move |upstream| self.materialize(upstream))
    }

    /// Materializes this flow on top of `upstream`.
    pub fn materialize(&self, upstream: Elements<In>) -> (Elements<Out>, M) {
        let (elements, mat) = (self.factory)(upstream);
        (self.chain.attach(elements), mat)
    }

    /// Appends a flow, keeping this flow's materialized value.
    pub fn via<U, M2, C2, X2>(self, flow: Flow<Out, U, M2, C2, X2>) -> Flow<In, U, M>
    where
        U: Send + 'static,
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = U>,
    {
        self.via_mat(flow, crate::Keep::left)
    }

    /// Appends a flow; `combine` decides the materialized value.
    pub fn via_mat<U, M2, M3, K, C2, X2>(
        self,
        flow: Flow<Out, U, M2, C2, X2>,
        combine: K,
    ) -> Flow<In, U, M3>
    where
        U: Send + 'static,
        M2: 'static,
        M3: 'static,
        K: Fn(M, M2) -> M3 + Send + Sync + 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = U>,
    {
        Flow::from_materializer(move |upstream| {
            let (elements, left) = self.materialize(upstream);
            let (elements, right) = flow.materialize(elements);
            (elements, combine(left, right))
        })
    }

    /// Connects a sink, giving a sink that keeps this flow's materialized
    /// value.
    pub fn to<M2: 'static>(self, sink: Sink<Out, M2>) -> Sink<In, M> {
        self.to_mat(sink, crate::Keep::left)
    }

    /// Connects a sink; `combine` decides the materialized value.
    pub fn to_mat<M2, M3, K>(self, sink: Sink<Out, M2>, combine: K) -> Sink<In, M3>
    where
        M2: 'static,
        M3: 'static,
        K: Fn(M, M2) -> M3 + Send + Sync + 'static,
    {
        Sink::from_materializer(move |upstream| {
            let (elements, left) = self.materialize(upstream);
            let (task, right) = sink.materialize(elements);
            (task, combine(left, right))
        })
    }

    /// Changes the materialized value.
    pub fn map_materialized_value<M2, F>(self, f: F) -> Flow<In, Out, M2, C, X>
    where
        M2: 'static,
        F: Fn(M) -> M2 + Send + Sync + 'static,
    {
        let factory = self.factory;
        Flow {
            factory: Arc::new(move |upstream| {
                let (elements, mat) = factory(upstream);
                (elements, f(mat))
            }),
            chain: self.chain,
            _out: PhantomData,
        }
    }
}

/// The operators that are not fused end the pending run: they take its
/// output as one stage.
impl<In, Out, M, C, X> StreamOps for Flow<In, Out, M, C, X>
where
    In: Send + 'static,
    Out: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = Out>,
{
    type Out = Out;
    type Then<U: Send + 'static> = Flow<In, U, M>;

    fn via_fn<U, F>(self, stage: F) -> Flow<In, U, M>
    where
        U: Send + 'static,
        F: Fn(Elements<Out>) -> Elements<U> + Send + Sync + 'static,
    {
        Flow::from_materializer(move |upstream| {
            let (elements, mat) = self.materialize(upstream);
            (stage(elements), mat)
        })
    }
}
