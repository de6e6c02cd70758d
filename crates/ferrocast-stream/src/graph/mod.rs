//! [`GraphBuilder`]: graphs with fan-out and fan-in, beyond straight
//! pipelines.
//!
//! The builder records a *description*: each call adds a node and hands
//! back typed [`Outlet`]s for its outputs; [`build`](GraphBuilder::build)
//! checks that every outlet is connected exactly once and returns a
//! [`RunnableGraph`]. Each run replays the description in order (a node
//! can only use outlets made before it, so that order is topological),
//! materializing every source, flow, junction and sink afresh, and drives
//! all the sinks in one task. Materialized values come back in
//! [`Materialized`], taken out with the typed [`Mat`] keys the builder
//! returned.
//!
//! Junctions: `broadcast` and `balance` fan out (see `junction`), `merge`,
//! `zip` and `concat` fan in (the same stages as the operators).

mod junction;

#[cfg(test)]
mod graph_test;

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::Arc;

use futures_util::stream;

use crate::elements::{self, Elements, UntilError};
use crate::error::StreamError;
use crate::flow::Flow;
use crate::fuse::Chain;
use crate::ops::combine;
use crate::runnable::{RunnableGraph, StreamTask};
use crate::sink::Sink;
use crate::source::Source;

/// What one run of a graph holds while it is being wired.
#[derive(Default)]
struct Wiring {
    /// Each outlet's element stream (an `Elements<T>`), until its
    /// consumer takes it.
    ports: Vec<Option<Box<dyn Any + Send>>>,
    mats: Vec<Option<Box<dyn Any + Send>>>,
    tasks: Vec<StreamTask>,
}

impl Wiring {
    fn put<T: Send + 'static>(&mut self, elements: Elements<T>) {
        self.ports.push(Some(Box::new(elements)));
    }

    /// The stream of outlet `port`. The builder's typed outlets, each used
    /// once, make a miss impossible; it would show as a failed stream.
    fn take<T: Send + 'static>(&mut self, port: usize) -> Elements<T> {
        self.ports
            .get_mut(port)
            .and_then(Option::take)
            .and_then(|boxed| boxed.downcast::<Elements<T>>().ok())
            .map(|elements| *elements)
            .unwrap_or_else(|| elements::failed(StreamError::msg("graph outlet wired twice")))
    }
}

type Node = dyn Fn(&mut Wiring) + Send + Sync;

/// An output of a graph node carrying `T`s, to be connected to exactly one
/// input: a flow, a junction or a sink. Not `Clone`: use `broadcast` to
/// feed several inputs.
#[must_use = "every outlet must be connected before the graph builds"]
pub struct Outlet<T> {
    port: usize,
    /// The builder this outlet belongs to.
    builder: Arc<()>,
    _elements: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Outlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Outlet({})", self.port)
    }
}

/// The key of a materialized value `M` in a graph's [`Materialized`].
pub struct Mat<M> {
    index: usize,
    _value: PhantomData<fn() -> M>,
}

impl<M> Clone for Mat<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Mat<M> {}

impl<M> fmt::Debug for Mat<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mat({})", self.index)
    }
}

/// The materialized values of one run of a graph.
pub struct Materialized {
    values: Vec<Option<Box<dyn Any + Send>>>,
}

impl Materialized {
    /// Takes the value `key` names; `None` if it was taken already.
    pub fn take<M: 'static>(&mut self, key: Mat<M>) -> Option<M> {
        let boxed = self.values.get_mut(key.index)?.take()?;
        boxed.downcast::<M>().ok().map(|value| *value)
    }
}

impl fmt::Debug for Materialized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Materialized({} values)", self.values.len())
    }
}

/// A graph that does not build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// An outlet (numbered in the order outlets were made) was never
    /// connected.
    #[error("outlet {port} is not connected")]
    Unconnected {
        /// The outlet's number.
        port: usize,
    },
    /// An outlet made by another builder was used.
    #[error("an outlet from another graph builder was used")]
    ForeignOutlet,
    /// The graph has no sink, so nothing would run.
    #[error("the graph has no sink")]
    NoSink,
}

/// Builds a graph of sources, flows, junctions and sinks.
///
/// ```
/// use std::num::NonZeroUsize;
/// use ferrocast_stream::{Flow, GraphBuilder, Sink, Source, StreamOps};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A diamond: every number goes down two branches, zipped back together.
/// let mut b = GraphBuilder::new();
/// let numbers = b.source(Source::iter(1..=3u32));
/// let two = NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN);
/// let mut branches = b.broadcast(numbers, two).into_iter();
/// let (Some(left), Some(right)) = (branches.next(), branches.next()) else {
///     unreachable!("broadcast gives as many outlets as asked");
/// };
/// let doubled = b.via(left, Flow::new().map(|n| n * 2));
/// let squared = b.via(right, Flow::new().map(|n| n * n));
/// let pairs = b.zip(doubled, squared);
/// let out = b.to(pairs, Sink::collect());
/// let graph = b.build()?;
///
/// let mut run = graph.run();
/// let pairs = run.take(out).ok_or("taken twice")?.await?;
/// assert_eq!(pairs, vec![(2, 1), (4, 4), (6, 9)]);
/// # Ok(()) }
/// ```
pub struct GraphBuilder {
    nodes: Vec<Box<Node>>,
    /// Per outlet: connected yet?
    connected: Vec<bool>,
    mats: usize,
    sinks: usize,
    /// The first misuse, reported by `build`.
    error: Option<GraphError>,
    /// Identifies this builder's outlets.
    id: Arc<()>,
}

impl fmt::Debug for GraphBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GraphBuilder({} nodes)", self.nodes.len())
    }
}

impl Default for GraphBuilder {
    fn default() -> Self {
        GraphBuilder::new()
    }
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        GraphBuilder {
            nodes: Vec::new(),
            connected: Vec::new(),
            mats: 0,
            sinks: 0,
            error: None,
            id: Arc::new(()),
        }
    }

    fn outlet<T>(&mut self) -> Outlet<T> {
        self.connected.push(false);
        Outlet {
            port: self.connected.len() - 1,
            builder: self.id.clone(),
            _elements: PhantomData,
        }
    }

    /// Marks `outlet` connected and gives its port, or records why not.
    fn connect<T>(&mut self, outlet: Outlet<T>) -> usize {
        if !Arc::ptr_eq(&outlet.builder, &self.id) {
            self.error.get_or_insert(GraphError::ForeignOutlet);
            return usize::MAX;
        }
        if let Some(connected) = self.connected.get_mut(outlet.port) {
            *connected = true;
        }
        outlet.port
    }

    fn mat<M>(&mut self) -> Mat<M> {
        self.mats += 1;
        Mat {
            index: self.mats - 1,
            _value: PhantomData,
        }
    }

    fn node(&mut self, node: impl Fn(&mut Wiring) + Send + Sync + 'static) {
        self.nodes.push(Box::new(node));
    }

    /// Adds a source; its materialized value is discarded.
    pub fn source<T, M, C, X>(&mut self, source: Source<T, M, C, X>) -> Outlet<T>
    where
        T: Send + 'static,
        M: 'static,
        X: Send + 'static,
        C: Chain<In = X, Out = T>,
    {
        self.node(move |wiring| wiring.put(source.materialize().0));
        self.outlet()
    }

    /// Adds a source and keeps its materialized value.
    pub fn source_mat<T, M, C, X>(&mut self, source: Source<T, M, C, X>) -> (Outlet<T>, Mat<M>)
    where
        T: Send + 'static,
        M: Send + 'static,
        X: Send + 'static,
        C: Chain<In = X, Out = T>,
    {
        let key = self.mat::<M>();
        self.node(move |wiring| {
            let (elements, mat) = source.materialize();
            wiring.put(elements);
            wiring.mats.push(Some(Box::new(mat)));
        });
        (self.outlet(), key)
    }

    /// Runs `from`'s elements through `flow`; its materialized value is
    /// discarded.
    pub fn via<T, U, M, C, X>(&mut self, from: Outlet<T>, flow: Flow<T, U, M, C, X>) -> Outlet<U>
    where
        T: Send + 'static,
        U: Send + 'static,
        M: 'static,
        X: Send + 'static,
        C: Chain<In = X, Out = U>,
    {
        let port = self.connect(from);
        self.node(move |wiring| {
            let upstream = wiring.take::<T>(port);
            wiring.put(flow.materialize(upstream).0);
        });
        self.outlet()
    }

    /// Ends `from` in `sink`, returning the key of its materialized value.
    pub fn to<T, M>(&mut self, from: Outlet<T>, sink: Sink<T, M>) -> Mat<M>
    where
        T: Send + 'static,
        M: Send + 'static,
    {
        let port = self.connect(from);
        let key = self.mat::<M>();
        self.sinks += 1;
        self.node(move |wiring| {
            let upstream = wiring.take::<T>(port);
            let (task, mat) = sink.materialize(upstream);
            wiring.tasks.push(task);
            wiring.mats.push(Some(Box::new(mat)));
        });
        key
    }

    /// Gives every element of `from` to each of `outputs` outlets. The
    /// next element is pulled when every output still running has taken
    /// the previous one; an output that cancels is left out.
    pub fn broadcast<T>(&mut self, from: Outlet<T>, outputs: NonZeroUsize) -> Vec<Outlet<T>>
    where
        T: Clone + Send + 'static,
    {
        self.fan_out(from, outputs, junction::Mode::Broadcast(T::clone))
    }

    /// Gives each element of `from` to whichever of `outputs` outlets asks
    /// first, so faster branches take more.
    pub fn balance<T: Send + 'static>(
        &mut self,
        from: Outlet<T>,
        outputs: NonZeroUsize,
    ) -> Vec<Outlet<T>> {
        self.fan_out(from, outputs, junction::Mode::Balance)
    }

    fn fan_out<T: Send + 'static>(
        &mut self,
        from: Outlet<T>,
        outputs: NonZeroUsize,
        mode: junction::Mode<T>,
    ) -> Vec<Outlet<T>> {
        let port = self.connect(from);
        let clone_mode = move || match &mode {
            junction::Mode::Broadcast(clone) => junction::Mode::Broadcast(*clone),
            junction::Mode::Balance => junction::Mode::Balance,
        };
        self.node(move |wiring| {
            let upstream = wiring.take::<T>(port);
            for output in junction::outputs(upstream, outputs.get(), clone_mode()) {
                wiring.put(output);
            }
        });
        (0..outputs.get()).map(|_| self.outlet()).collect()
    }

    /// Emits the elements of all `inputs` as they come; completes when all
    /// have, fails when any does (cancelling the others). No inputs: an
    /// empty stream.
    pub fn merge<T: Send + 'static>(
        &mut self,
        inputs: impl IntoIterator<Item = Outlet<T>>,
    ) -> Outlet<T> {
        let ports: Vec<usize> = inputs.into_iter().map(|i| self.connect(i)).collect();
        self.node(move |wiring| {
            let inputs: Vec<Elements<T>> = ports.iter().map(|&p| wiring.take::<T>(p)).collect();
            let merged: Elements<T> = Box::pin(UntilError::new(stream::select_all(inputs)));
            wiring.put(merged);
        });
        self.outlet()
    }

    /// Pairs the elements of `left` and `right` by position; completes as
    /// soon as either does.
    pub fn zip<A, B>(&mut self, left: Outlet<A>, right: Outlet<B>) -> Outlet<(A, B)>
    where
        A: Send + 'static,
        B: Send + 'static,
    {
        let (left, right) = (self.connect(left), self.connect(right));
        self.node(move |wiring| {
            let (left, right) = (wiring.take::<A>(left), wiring.take::<B>(right));
            let zipped: Elements<(A, B)> = Box::pin(combine::Zip::new(left, right));
            wiring.put(zipped);
        });
        self.outlet()
    }

    /// Emits all of `first`, then all of `second` (pulled only after
    /// `first` completes).
    pub fn concat<T: Send + 'static>(&mut self, first: Outlet<T>, second: Outlet<T>) -> Outlet<T> {
        let (first, second) = (self.connect(first), self.connect(second));
        self.node(move |wiring| {
            let (first, second) = (wiring.take::<T>(first), wiring.take::<T>(second));
            let both: Elements<T> = Box::pin(combine::Concat::new(first, second));
            wiring.put(both);
        });
        self.outlet()
    }

    /// Checks the graph and makes it runnable: every outlet connected,
    /// none from another builder, at least one sink. Running it drives all
    /// sinks in one task, which ends when they all have.
    pub fn build(self) -> Result<RunnableGraph<Materialized>, GraphError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if let Some(port) = self.connected.iter().position(|c| !c) {
            return Err(GraphError::Unconnected { port });
        }
        if self.sinks == 0 {
            return Err(GraphError::NoSink);
        }
        let nodes: Arc<Vec<Box<Node>>> = Arc::new(self.nodes);
        Ok(RunnableGraph::from_materializer(move || {
            let mut wiring = Wiring::default();
            for node in nodes.iter() {
                node(&mut wiring);
            }
            let sinks = futures_util::future::join_all(wiring.tasks);
            let task = StreamTask::new(async move {
                sinks.await;
            });
            (
                task,
                Materialized {
                    values: wiring.mats,
                },
            )
        }))
    }
}
