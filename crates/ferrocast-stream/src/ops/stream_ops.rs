//! The [`StreamOps`] trait: each operator's contract, built on
//! [`via_fn`](StreamOps::via_fn) with the stage factory of its family
//! module.

use std::future::Future;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use ferrocast_actor::{ActorRef, ReplyTo};
use futures_util::future::FutureExt;

use crate::elements::Elements;
use crate::error::StreamError;
use crate::fuse::Chain;
use crate::queue::OverflowStrategy;
use crate::sink::Sink;
use crate::source::Source;
use crate::sub_flow::{GroupBy, SubFlow};
use crate::supervision::{Decider, Supervision};

use super::throttle::Throttle;
use super::{
    also_to, basic, batch, buffer, combine, delay, flat_map, fold, group_by, grouped, keep_alive,
    map_async, recover, throttle, timeout,
};

/// The per-substream buffer of [`StreamOps::group_by`].
const DEFAULT_SUBSTREAM_BUFFER: NonZeroUsize = match NonZeroUsize::new(16) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// Operators for [`Source`](crate::Source) and [`Flow`](crate::Flow).
///
/// Functions passed to operators are shared by every materialization of
/// the blueprint (hence `Fn + Send + Sync`). An operator error (a `try_`
/// function returning `Err`, a failed future) fails the stream downstream
/// with that error and cancels upstream.
pub trait StreamOps: Sized {
    /// The element type this blueprint emits.
    type Out: Send + 'static;
    /// The same kind of blueprint, emitting `U` instead.
    type Then<U: Send + 'static>;

    /// Appends a custom stage: a function from the upstream element stream
    /// to the stage's output, called once per materialization. The other
    /// operators are built on this.
    fn via_fn<U, F>(self, stage: F) -> Self::Then<U>
    where
        U: Send + 'static,
        F: Fn(Elements<Self::Out>) -> Elements<U> + Send + Sync + 'static;

    /// Transforms each element.
    fn map<U, F>(self, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        F: Fn(Self::Out) -> U + Send + Sync + 'static,
    {
        self.via_fn(basic::map(f))
    }

    /// Transforms each element with a function that may fail; an `Err`
    /// fails the stream with [`StreamErrorKind::Failed`](crate::StreamErrorKind::Failed).
    fn try_map<U, E, F>(self, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
        F: Fn(Self::Out) -> Result<U, E> + Send + Sync + 'static,
    {
        self.via_fn(basic::try_map(f, None))
    }

    /// Keeps the elements for which `f` is true.
    fn filter<F>(self, f: F) -> Self::Then<Self::Out>
    where
        F: Fn(&Self::Out) -> bool + Send + Sync + 'static,
    {
        self.via_fn(basic::filter(f))
    }

    /// Transforms each element, dropping those mapped to `None`.
    fn filter_map<U, F>(self, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        F: Fn(Self::Out) -> Option<U> + Send + Sync + 'static,
    {
        self.via_fn(basic::filter_map(f))
    }

    /// Like [`filter_map`](StreamOps::filter_map) with state: each
    /// materialization starts with `init()`, and `f` may change it. This is
    /// the simplest way to write a custom stateful stage, such as one that
    /// keeps the latest model and scores records with it:
    ///
    /// ```
    /// use ferrocast_stream::{Source, StreamOps};
    ///
    /// enum Input { Model(f64), Record(f64) }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ferrocast_stream::StreamError> {
    /// let models = Source::iter([2.0, 10.0]).map(Input::Model);
    /// let records = Source::iter([1.0, 2.0, 3.0]).map(Input::Record);
    /// let scores = models
    ///     .interleave(records, std::num::NonZeroUsize::MIN)
    ///     .stateful_filter_map(|| None::<f64>, |model, input| match input {
    ///         // A new model replaces the old one without stopping the stream.
    ///         Input::Model(weight) => { *model = Some(weight); None }
    ///         // Records that arrive before any model are skipped.
    ///         Input::Record(x) => model.map(|weight| weight * x),
    ///     })
    ///     .run_collect()
    ///     .await?;
    /// assert_eq!(scores, vec![2.0, 20.0, 30.0]);
    /// # Ok(()) }
    /// ```
    ///
    /// For stages that need more (timers, several inputs, custom
    /// completion), implement `futures::Stream` over the upstream
    /// [`Elements`] and attach it with [`via_fn`](StreamOps::via_fn) or
    /// [`Flow::from_fn`](crate::Flow::from_fn).
    fn stateful_filter_map<S, U, Init, F>(self, init: Init, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        S: Send + 'static,
        Init: Fn() -> S + Send + Sync + 'static,
        F: Fn(&mut S, Self::Out) -> Option<U> + Send + Sync + 'static,
    {
        self.via_fn(basic::stateful_filter_map(init, f))
    }

    /// Runs `f` on up to `parallelism` elements at once and emits the
    /// results in upstream order. A result that is ready early waits for
    /// the ones before it.
    fn map_async<U, Fut, F>(self, parallelism: NonZeroUsize, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        Fut: Future<Output = U> + Send + 'static,
        F: Fn(Self::Out) -> Fut + Send + Sync + 'static,
    {
        self.try_map_async(parallelism, move |item| f(item).map(Ok::<U, StreamError>))
    }

    /// [`map_async`](StreamOps::map_async) with futures that may fail: the
    /// first `Err` in emission order fails the stream with it.
    fn try_map_async<U, Fut, F>(self, parallelism: NonZeroUsize, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        Fut: Future<Output = Result<U, StreamError>> + Send + 'static,
        F: Fn(Self::Out) -> Fut + Send + Sync + 'static,
    {
        self.via_fn(map_async::map_async(parallelism.get(), true, None, f))
    }

    /// Runs `f` on up to `parallelism` elements at once and emits results
    /// as they complete.
    fn map_async_unordered<U, Fut, F>(self, parallelism: NonZeroUsize, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        Fut: Future<Output = U> + Send + 'static,
        F: Fn(Self::Out) -> Fut + Send + Sync + 'static,
    {
        self.try_map_async_unordered(parallelism, move |item| f(item).map(Ok::<U, StreamError>))
    }

    /// [`map_async_unordered`](StreamOps::map_async_unordered) with futures
    /// that may fail: the first `Err` to complete fails the stream.
    fn try_map_async_unordered<U, Fut, F>(self, parallelism: NonZeroUsize, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        Fut: Future<Output = Result<U, StreamError>> + Send + 'static,
        F: Fn(Self::Out) -> Fut + Send + Sync + 'static,
    {
        self.via_fn(map_async::map_async(parallelism.get(), false, None, f))
    }

    /// Emits `zero`, then the running accumulation after each element.
    fn scan<A, F>(self, zero: A, f: F) -> Self::Then<A>
    where
        A: Clone + Send + Sync + 'static,
        F: Fn(A, Self::Out) -> A + Send + Sync + 'static,
    {
        self.via_fn(fold::scan(zero, f))
    }

    /// Emits one element when upstream completes: the fold of all elements
    /// (`zero` for an empty stream).
    fn fold<A, F>(self, zero: A, f: F) -> Self::Then<A>
    where
        A: Clone + Send + Sync + 'static,
        F: Fn(A, Self::Out) -> A + Send + Sync + 'static,
    {
        self.via_fn(fold::fold(zero, f))
    }

    /// Like [`fold`](StreamOps::fold) seeded with the first element; an
    /// empty stream completes without emitting.
    fn reduce<F>(self, f: F) -> Self::Then<Self::Out>
    where
        F: Fn(Self::Out, Self::Out) -> Self::Out + Send + Sync + 'static,
    {
        self.via_fn(fold::reduce(f))
    }

    /// Emits the first `n` elements, then completes and cancels upstream.
    fn take(self, n: u64) -> Self::Then<Self::Out> {
        self.via_fn(basic::take(n))
    }

    /// Discards the first `n` elements (Akka's `drop`).
    #[doc(alias = "drop")]
    fn skip(self, n: u64) -> Self::Then<Self::Out> {
        self.via_fn(basic::skip(n))
    }

    /// Emits elements while `f` holds; at the first that fails it,
    /// completes and cancels upstream.
    fn take_while<F>(self, f: F) -> Self::Then<Self::Out>
    where
        F: Fn(&Self::Out) -> bool + Send + Sync + 'static,
    {
        self.via_fn(basic::take_while(f))
    }

    /// Emits groups of `size` elements; the last group may be smaller.
    fn grouped(self, size: NonZeroUsize) -> Self::Then<Vec<Self::Out>> {
        self.via_fn(grouped::grouped(size.get()))
    }

    /// Emits a group when it has `size` elements or when `window` has
    /// passed since its first element arrived, whichever comes first.
    /// Never emits an empty group.
    fn grouped_within(self, size: NonZeroUsize, window: Duration) -> Self::Then<Vec<Self::Out>> {
        self.via_fn(grouped::grouped_within(size.get(), window))
    }

    /// Splits the stream into one substream per key, by `key(&element)`,
    /// each with a buffer of 16 elements; see
    /// [`group_by_with_buffer`](StreamOps::group_by_with_buffer).
    fn group_by<K, F>(self, max_substreams: NonZeroUsize, key: F) -> GroupBy<Self, K>
    where
        K: Eq + Hash + Clone + Send + 'static,
        F: Fn(&Self::Out) -> K + Send + Sync + 'static,
    {
        self.group_by_with_buffer(max_substreams, DEFAULT_SUBSTREAM_BUFFER, key)
    }

    /// Splits the stream into one substream per key. The result is a
    /// [`SubFlow`]: operators on it apply to each substream, and
    /// [`merge_substreams`](SubFlow::merge_substreams) joins them again.
    ///
    /// - Each substream keeps its elements' order and holds at most
    ///   `buffer` of them; when the buffer of the element's key is full,
    ///   upstream waits, so a slow substream slows the whole stream.
    /// - A new key while `max_substreams` substreams are open fails the
    ///   stream (every substream, and the merged stream) with
    ///   [`TooManySubstreams`](crate::StreamErrorKind::TooManySubstreams).
    /// - Upstream's completion or failure reaches every substream after
    ///   the elements it holds.
    /// - A substream that is cancelled (dropped, or completed early by a
    ///   `take`) closes its key: later elements with that key are
    ///   **dropped**, not given a new substream, and the key no longer
    ///   counts towards `max_substreams`. Every key seen is remembered.
    fn group_by_with_buffer<K, F>(
        self,
        max_substreams: NonZeroUsize,
        buffer: NonZeroUsize,
        key: F,
    ) -> GroupBy<Self, K>
    where
        K: Eq + Hash + Clone + Send + 'static,
        F: Fn(&Self::Out) -> K + Send + Sync + 'static,
    {
        let key: Arc<group_by::KeyFn<K, Self::Out>> = Arc::new(key);
        SubFlow::new(self.via_fn(group_by::group_by(max_substreams.get(), buffer.get(), key)))
    }

    /// Limits the rate to the [`Throttle`]'s, each element costing one
    /// token. Elements are delayed, never dropped.
    fn throttle(self, throttle: Throttle) -> Self::Then<Self::Out> {
        self.throttle_weighted(throttle, |_| 1)
    }

    /// Limits the rate, each element costing `cost(&element)` tokens.
    fn throttle_weighted<C>(self, throttle: Throttle, cost: C) -> Self::Then<Self::Out>
    where
        C: Fn(&Self::Out) -> u32 + Send + Sync + 'static,
    {
        self.via_fn(throttle::throttle(throttle, cost))
    }

    /// Decouples upstream from downstream with a queue of at most
    /// `capacity` elements, filled by a task of its own while downstream
    /// is busy; `strategy` decides what happens when it is full.
    fn buffer(self, capacity: NonZeroUsize, strategy: OverflowStrategy) -> Self::Then<Self::Out> {
        self.via_fn(buffer::buffer(capacity.get(), strategy))
    }

    /// Emits the elements of both this and `other` as they come, taking
    /// turns when both are ready. Completes when both have; fails when
    /// either does. `other`'s materialized value is discarded.
    fn merge<M2, C2, X2>(self, other: Source<Self::Out, M2, C2, X2>) -> Self::Then<Self::Out>
    where
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = Self::Out>,
    {
        self.via_fn(combine::merge(other.into_plain()))
    }

    /// Pairs each element with one of `other`'s; completes as soon as
    /// either side does. `other`'s materialized value is discarded.
    fn zip<U, M2, C2, X2>(self, other: Source<U, M2, C2, X2>) -> Self::Then<(Self::Out, U)>
    where
        U: Send + 'static,
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = U>,
    {
        self.via_fn(combine::zip(other.into_plain()))
    }

    /// Emits all of this stream's elements, then `other`'s. `other` is
    /// materialized with this stage but pulled only after this stream
    /// completes; its materialized value is discarded.
    fn concat<M2, C2, X2>(self, other: Source<Self::Out, M2, C2, X2>) -> Self::Then<Self::Out>
    where
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = Self::Out>,
    {
        self.via_fn(combine::concat(other.into_plain()))
    }

    /// On failure, emits `f(&error)` as a last element and completes; if
    /// `f` returns `None` the failure goes on downstream.
    fn recover<F>(self, f: F) -> Self::Then<Self::Out>
    where
        F: Fn(&StreamError) -> Option<Self::Out> + Send + Sync + 'static,
    {
        self.via_fn(recover::recover(f))
    }

    /// Asks `actor` for each element: `make(element, reply_to)` builds the
    /// request; up to `parallelism` asks are in flight and the answers are
    /// emitted in element order. An ask that fails (no answer within
    /// `timeout`, actor terminated, request dropped) fails the stream with
    /// [`StreamErrorKind::Ask`](crate::StreamErrorKind::Ask).
    fn ask<R, M, F>(
        self,
        parallelism: NonZeroUsize,
        actor: ActorRef<M>,
        timeout: Duration,
        make: F,
    ) -> Self::Then<R>
    where
        R: Send + 'static,
        M: Send + 'static,
        F: Fn(Self::Out, ReplyTo<R>) -> M + Send + Sync + 'static,
    {
        self.try_map_async(parallelism, crate::actor::ask::asker(actor, timeout, make))
    }

    /// Fails with [`StreamErrorKind::IdleTimeout`](crate::StreamErrorKind::IdleTimeout) when no element passes for
    /// `after` (counted from the first pull, then from each element).
    fn idle_timeout(self, after: Duration) -> Self::Then<Self::Out> {
        self.via_fn(timeout::timeout(timeout::Kind::Idle, after))
    }

    /// Fails with [`StreamErrorKind::CompletionTimeout`](crate::StreamErrorKind::CompletionTimeout) when the stream has
    /// not completed `after` the first pull.
    fn completion_timeout(self, after: Duration) -> Self::Then<Self::Out> {
        self.via_fn(timeout::timeout(timeout::Kind::Completion, after))
    }

    /// Emits windows of `size` elements, each starting `step` elements
    /// after the previous one. If the stream ends with elements not yet in
    /// any window, a last shorter window holds them.
    fn sliding(self, size: NonZeroUsize, step: NonZeroUsize) -> Self::Then<Vec<Self::Out>>
    where
        Self::Out: Clone,
    {
        self.via_fn(grouped::sliding(size.get(), step.get()))
    }

    /// Aggregates the elements that are ready when downstream pulls, up to
    /// `max` per batch: `seed` starts a batch, `aggregate` adds to it. Only
    /// useful when upstream produces on its own (behind a `buffer`, a queue
    /// or actor source); otherwise each batch holds one element.
    fn batch<S, Seed, Agg>(self, max: NonZeroUsize, seed: Seed, aggregate: Agg) -> Self::Then<S>
    where
        S: Send + 'static,
        Seed: Fn(Self::Out) -> S + Send + Sync + 'static,
        Agg: Fn(S, Self::Out) -> S + Send + Sync + 'static,
    {
        self.via_fn(batch::batch(max.get(), seed, aggregate))
    }

    /// Folds all ready elements into one with `aggregate` when downstream
    /// pulls (see [`batch`](StreamOps::batch) for when that matters).
    fn conflate<F>(self, aggregate: F) -> Self::Then<Self::Out>
    where
        F: Fn(Self::Out, Self::Out) -> Self::Out + Send + Sync + 'static,
    {
        self.batch(NonZeroUsize::MAX, |item| item, aggregate)
    }

    /// Emits the elements of the source `f` makes for each element, one
    /// source after the other.
    fn flat_map_concat<U, M2, C2, X2, F>(self, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = U>,
        F: Fn(Self::Out) -> Source<U, M2, C2, X2> + Send + Sync + 'static,
    {
        self.via_fn(flat_map::flat_map_concat(f))
    }

    /// Runs up to `breadth` of the sources `f` makes at once and emits their
    /// elements as they come.
    fn flat_map_merge<U, M2, C2, X2, F>(self, breadth: NonZeroUsize, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = U>,
        F: Fn(Self::Out) -> Source<U, M2, C2, X2> + Send + Sync + 'static,
    {
        self.via_fn(flat_map::flat_map_merge(breadth.get(), f))
    }

    /// Combines each element with one of `other`'s using `f`; completes as
    /// soon as either side does.
    fn zip_with<U, V, M2, C2, X2, F>(self, other: Source<U, M2, C2, X2>, f: F) -> Self::Then<V>
    where
        U: Send + 'static,
        V: Send + 'static,
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = U>,
        F: Fn(Self::Out, U) -> V + Send + Sync + 'static,
    {
        self.via_fn(combine::zip_with(other.into_plain(), f))
    }

    /// Emits `segment` elements from this stream, then `segment` from
    /// `other`, and so on; when one completes the other's rest follows.
    fn interleave<M2, C2, X2>(
        self,
        other: Source<Self::Out, M2, C2, X2>,
        segment: NonZeroUsize,
    ) -> Self::Then<Self::Out>
    where
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = Self::Out>,
    {
        self.via_fn(combine::interleave(other.into_plain(), segment.get()))
    }

    /// Merges two sorted streams into one sorted stream: waits for an
    /// element from each side and emits the smaller (this side on ties).
    fn merge_sorted<M2, C2, X2>(self, other: Source<Self::Out, M2, C2, X2>) -> Self::Then<Self::Out>
    where
        Self::Out: Ord,
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = Self::Out>,
    {
        self.via_fn(combine::merge_sorted(other.into_plain()))
    }

    /// Injects `make()` whenever no element has passed for `max_idle`.
    fn keep_alive<F>(self, max_idle: Duration, make: F) -> Self::Then<Self::Out>
    where
        F: Fn() -> Self::Out + Send + Sync + 'static,
    {
        self.via_fn(keep_alive::keep_alive(max_idle, make))
    }

    /// On failure, continues with the source `f` makes for the error, at
    /// most `attempts` times (`None`: no limit); when `f` returns `None` or
    /// the attempts are used up, the failure goes on downstream.
    fn recover_with_retries<M2, C2, X2, F>(
        self,
        attempts: Option<u32>,
        f: F,
    ) -> Self::Then<Self::Out>
    where
        M2: 'static,
        X2: Send + 'static,
        C2: Chain<In = X2, Out = Self::Out>,
        F: Fn(&StreamError) -> Option<Source<Self::Out, M2, C2, X2>> + Send + Sync + 'static,
    {
        self.via_fn(recover::recover_with_retries(attempts, f))
    }

    /// Sends every element to `sink` as well, before passing it on; the
    /// slower of the two sets the pace. The stream's end (completion or
    /// failure) reaches `sink` too, and goes downstream after `sink` has
    /// finished. `sink` is driven by this stream's task; its materialized
    /// value is discarded.
    fn also_to<M2: 'static>(self, sink: Sink<Self::Out, M2>) -> Self::Then<Self::Out>
    where
        Self::Out: Clone,
    {
        self.via_fn(also_to::also_to(sink))
    }

    /// Emits each element `by` after it arrived, in order. At most
    /// `capacity` elements wait in the stage; then upstream is
    /// back-pressured.
    fn delay(self, by: Duration, capacity: NonZeroUsize) -> Self::Then<Self::Out> {
        self.via_fn(delay::delay(by, capacity.get()))
    }

    /// [`try_map`](StreamOps::try_map) where `decider` chooses what an `Err`
    /// does: [`Supervision::Stop`] fails the stream, `Resume` and `Restart`
    /// drop the element and go on.
    fn try_map_supervised<U, E, D, F>(self, decider: D, f: F) -> Self::Then<U>
    where
        U: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
        D: Fn(&StreamError) -> Supervision + Send + Sync + 'static,
        F: Fn(Self::Out) -> Result<U, E> + Send + Sync + 'static,
    {
        self.via_fn(basic::try_map(f, Some(Arc::new(decider))))
    }

    /// [`try_map_async`](StreamOps::try_map_async) where `decider` chooses
    /// what a failed future does: `Stop` fails the stream, `Resume` and
    /// `Restart` drop its element and go on (order is kept for the rest).
    fn try_map_async_supervised<U, Fut, D, F>(
        self,
        parallelism: NonZeroUsize,
        decider: D,
        f: F,
    ) -> Self::Then<U>
    where
        U: Send + 'static,
        Fut: Future<Output = Result<U, StreamError>> + Send + 'static,
        D: Fn(&StreamError) -> Supervision + Send + Sync + 'static,
        F: Fn(Self::Out) -> Fut + Send + Sync + 'static,
    {
        let decider: Arc<Decider> = Arc::new(decider);
        self.via_fn(map_async::map_async(
            parallelism.get(),
            true,
            Some(decider),
            f,
        ))
    }

    /// [`stateful_filter_map`](StreamOps::stateful_filter_map) with a
    /// function that may fail; `decider` chooses: `Stop` fails the stream,
    /// `Resume` drops the element and keeps the state, `Restart` drops the
    /// element and starts again from `init()`.
    fn try_stateful_filter_map<S, U, E, Init, D, F>(
        self,
        init: Init,
        decider: D,
        f: F,
    ) -> Self::Then<U>
    where
        U: Send + 'static,
        S: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
        Init: Fn() -> S + Send + Sync + 'static,
        D: Fn(&StreamError) -> Supervision + Send + Sync + 'static,
        F: Fn(&mut S, Self::Out) -> Result<Option<U>, E> + Send + Sync + 'static,
    {
        self.via_fn(basic::try_stateful_filter_map(init, Arc::new(decider), f))
    }
}
