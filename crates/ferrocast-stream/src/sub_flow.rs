//! [`SubFlow`]: the substreams of a `group_by`, with the stages applied to
//! each of them, until they are merged back.

use std::fmt;
use std::num::NonZeroUsize;

use crate::elements::Elements;
use crate::flow::Flow;
use crate::fuse::Chain;
use crate::ops::StreamOps;
use crate::source::Source;

/// A substream of a `group_by`: its key and a source of its elements (which
/// can run once).
pub type Substream<K, T> = (K, Source<T>);

/// What [`StreamOps::group_by`] on a blueprint `B` returns: the substreams
/// of `B`'s elements, keyed by `K`.
pub type GroupBy<B, K> =
    SubFlow<<B as StreamOps>::Then<Substream<K, <B as StreamOps>::Out>>, <B as StreamOps>::Out>;

/// The keyed substreams made by [`StreamOps::group_by`].
///
/// Operators from [`StreamOps`] (and [`via`](SubFlow::via)) apply to
/// *every substream* separately: `fold` folds each group, `take(2)` keeps
/// two elements per key. [`merge_substreams`](SubFlow::merge_substreams)
/// turns it back into one stream of the kind `group_by` was called on;
/// [`into_substreams`](SubFlow::into_substreams) gives the `(key, source)`
/// pairs themselves.
///
/// ```
/// use std::num::NonZeroUsize;
/// use ferrocast_stream::{Source, StreamOps};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ferrocast_stream::StreamError> {
/// let max_substreams = NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN);
/// let mut sums = Source::iter(1..=10u32)
///     .group_by(max_substreams, |n| n % 2) // odd and even
///     .fold(0, |sum, n| sum + n)           // per substream
///     .merge_substreams()
///     .run_collect()
///     .await?;
/// sums.sort();
/// assert_eq!(sums, vec![25, 30]);
/// # Ok(()) }
/// ```
///
/// `G` is the blueprint of the `(key, source)` pairs (a `Source` or a
/// `Flow`), `In` the substreams' element type before the per-substream
/// stages, `Out` after them.
pub struct SubFlow<G, In, Out = In> {
    /// Emits one `(key, source)` per new key.
    groups: G,
    /// The stages applied to every substream.
    flow: Flow<In, Out>,
}

impl<G: Clone, In, Out> Clone for SubFlow<G, In, Out> {
    fn clone(&self) -> Self {
        SubFlow {
            groups: self.groups.clone(),
            flow: self.flow.clone(),
        }
    }
}

impl<G, In, Out> fmt::Debug for SubFlow<G, In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubFlow(..)")
    }
}

impl<G, In: Send + 'static> SubFlow<G, In, In> {
    pub(crate) fn new(groups: G) -> Self {
        SubFlow {
            groups,
            flow: Flow::new(),
        }
    }
}

impl<G, K, In, Out> SubFlow<G, In, Out>
where
    G: StreamOps<Out = Substream<K, In>>,
    K: Send + 'static,
    In: Send + 'static,
    Out: Send + 'static,
{
    /// Appends `flow` to every substream (its materialized values are
    /// discarded).
    pub fn via<U, M, C, X>(self, flow: Flow<Out, U, M, C, X>) -> SubFlow<G, In, U>
    where
        U: Send + 'static,
        M: 'static,
        X: Send + 'static,
        C: Chain<In = X, Out = U>,
    {
        SubFlow {
            groups: self.groups,
            flow: self.flow.via(flow).map_materialized_value(drop),
        }
    }

    /// Runs every substream and emits their elements as they come: each
    /// substream's order is kept, substreams interleave. Completes when
    /// upstream and all substreams have; fails on the first failure.
    pub fn merge_substreams(self) -> G::Then<Out> {
        self.merge_substreams_with_parallelism(NonZeroUsize::MAX)
    }

    /// Like [`merge_substreams`](SubFlow::merge_substreams), running at
    /// most `parallelism` substreams at once. A substream that is not
    /// running yet does not take elements: once its buffer is full it
    /// back-pressures upstream, and if the running substreams wait for
    /// upstream too, the stream **stalls** (as in Akka). Only use a bound
    /// below `max_substreams` when substreams complete on their own (with
    /// `take`, say).
    pub fn merge_substreams_with_parallelism(self, parallelism: NonZeroUsize) -> G::Then<Out> {
        let flow = self.flow;
        self.groups
            .flat_map_merge(parallelism, move |(_, source)| source.via(flow.clone()))
    }

    /// The substreams themselves, each with the per-substream stages, and
    /// their keys. Each source can run once (a second run fails with
    /// [`AlreadyMaterialized`](crate::StreamErrorKind::AlreadyMaterialized));
    /// dropping one without running it closes its key.
    pub fn into_substreams(self) -> G::Then<Substream<K, Out>> {
        let flow = self.flow;
        self.groups
            .map(move |(key, source)| (key, source.via(flow.clone())))
    }
}

impl<G, In, Out> StreamOps for SubFlow<G, In, Out>
where
    In: Send + 'static,
    Out: Send + 'static,
{
    type Out = Out;
    type Then<U: Send + 'static> = SubFlow<G, In, U>;

    fn via_fn<U, F>(self, stage: F) -> SubFlow<G, In, U>
    where
        U: Send + 'static,
        F: Fn(Elements<Out>) -> Elements<U> + Send + Sync + 'static,
    {
        SubFlow {
            groups: self.groups,
            flow: self.flow.via_fn(stage),
        }
    }
}
