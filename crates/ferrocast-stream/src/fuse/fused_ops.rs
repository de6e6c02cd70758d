//! The fused operators of [`Source`] and [`Flow`]: inherent methods with
//! the names and contracts of their [`StreamOps`] counterparts, which they
//! take precedence over. Each appends a link to the pending run instead of
//! a stage of its own. (Through the trait, as in generic code and on
//! `SubFlow`, the same operators are separate stages.)

use std::sync::Arc;

use super::{Chain, links};
use crate::error::StreamError;
use crate::flow::Flow;
#[cfg(doc)]
use crate::ops::StreamOps;
use crate::source::Source;
use crate::supervision::{Decider, Supervision};

impl<T, M, C, X> Source<T, M, C, X>
where
    T: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = T>,
{
    /// [`StreamOps::map`], fused.
    pub fn map<U, F>(self, f: F) -> Source<U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.fuse(links::Map(Arc::new(f)))
    }

    /// [`StreamOps::try_map`], fused.
    pub fn try_map<U, E, F>(self, f: F) -> Source<U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    {
        self.fuse(links::TryMap {
            f: Arc::new(f),
            decider: None,
        })
    }

    /// [`StreamOps::filter`], fused.
    pub fn filter<F>(self, f: F) -> Source<T, M, impl Chain<In = X, Out = T>, X>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        self.fuse(links::Filter(Arc::new(f)))
    }

    /// [`StreamOps::filter_map`], fused.
    pub fn filter_map<U, F>(self, f: F) -> Source<U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        F: Fn(T) -> Option<U> + Send + Sync + 'static,
    {
        self.fuse(links::FilterMap(Arc::new(f)))
    }

    /// [`StreamOps::stateful_filter_map`], fused: the state is still per
    /// run.
    pub fn stateful_filter_map<S, U, Init, F>(
        self,
        init: Init,
        f: F,
    ) -> Source<U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        S: Send + 'static,
        Init: Fn() -> S + Send + Sync + 'static,
        F: Fn(&mut S, T) -> Option<U> + Send + Sync + 'static,
    {
        self.fuse(links::StatefulFilterMap {
            init: Arc::new(init),
            f: Arc::new(f),
        })
    }

    /// [`StreamOps::scan`], fused.
    pub fn scan<A, F>(self, zero: A, f: F) -> Source<A, M, impl Chain<In = X, Out = A>, X>
    where
        A: Clone + Send + Sync + 'static,
        F: Fn(A, T) -> A + Send + Sync + 'static,
    {
        self.fuse(links::Scan {
            zero,
            f: Arc::new(f),
        })
    }

    /// [`StreamOps::take`], fused: the `n`th element still cancels
    /// upstream at once.
    pub fn take(self, n: u64) -> Source<T, M, impl Chain<In = X, Out = T>, X> {
        self.fuse(links::Take(n))
    }

    /// [`StreamOps::skip`], fused.
    #[doc(alias = "drop")]
    pub fn skip(self, n: u64) -> Source<T, M, impl Chain<In = X, Out = T>, X> {
        self.fuse(links::Skip(n))
    }

    /// [`StreamOps::take_while`], fused.
    pub fn take_while<F>(self, f: F) -> Source<T, M, impl Chain<In = X, Out = T>, X>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        self.fuse(links::TakeWhile(Arc::new(f)))
    }

    /// [`StreamOps::try_map_supervised`], fused: `decider` decides for
    /// this operator's failures only.
    pub fn try_map_supervised<U, E, D, F>(
        self,
        decider: D,
        f: F,
    ) -> Source<U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
        D: Fn(&StreamError) -> Supervision + Send + Sync + 'static,
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    {
        let decider: Arc<Decider> = Arc::new(decider);
        self.fuse(links::TryMap {
            f: Arc::new(f),
            decider: Some(decider),
        })
    }

    /// [`StreamOps::try_stateful_filter_map`], fused: `Restart` starts
    /// this operator's state again, and no other.
    pub fn try_stateful_filter_map<S, U, E, Init, D, F>(
        self,
        init: Init,
        decider: D,
        f: F,
    ) -> Source<U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        S: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
        Init: Fn() -> S + Send + Sync + 'static,
        D: Fn(&StreamError) -> Supervision + Send + Sync + 'static,
        F: Fn(&mut S, T) -> Result<Option<U>, E> + Send + Sync + 'static,
    {
        self.fuse(links::TryStatefulFilterMap {
            init: Arc::new(init),
            f: Arc::new(f),
            decider: Arc::new(decider),
        })
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
    /// [`StreamOps::map`], fused.
    pub fn map<U, F>(self, f: F) -> Flow<In, U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        F: Fn(Out) -> U + Send + Sync + 'static,
    {
        self.fuse(links::Map(Arc::new(f)))
    }

    /// [`StreamOps::try_map`], fused.
    pub fn try_map<U, E, F>(self, f: F) -> Flow<In, U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
        F: Fn(Out) -> Result<U, E> + Send + Sync + 'static,
    {
        self.fuse(links::TryMap {
            f: Arc::new(f),
            decider: None,
        })
    }

    /// [`StreamOps::filter`], fused.
    pub fn filter<F>(self, f: F) -> Flow<In, Out, M, impl Chain<In = X, Out = Out>, X>
    where
        F: Fn(&Out) -> bool + Send + Sync + 'static,
    {
        self.fuse(links::Filter(Arc::new(f)))
    }

    /// [`StreamOps::filter_map`], fused.
    pub fn filter_map<U, F>(self, f: F) -> Flow<In, U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        F: Fn(Out) -> Option<U> + Send + Sync + 'static,
    {
        self.fuse(links::FilterMap(Arc::new(f)))
    }

    /// [`StreamOps::stateful_filter_map`], fused: the state is still per
    /// run.
    pub fn stateful_filter_map<S, U, Init, F>(
        self,
        init: Init,
        f: F,
    ) -> Flow<In, U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        S: Send + 'static,
        Init: Fn() -> S + Send + Sync + 'static,
        F: Fn(&mut S, Out) -> Option<U> + Send + Sync + 'static,
    {
        self.fuse(links::StatefulFilterMap {
            init: Arc::new(init),
            f: Arc::new(f),
        })
    }

    /// [`StreamOps::scan`], fused.
    pub fn scan<A, F>(self, zero: A, f: F) -> Flow<In, A, M, impl Chain<In = X, Out = A>, X>
    where
        A: Clone + Send + Sync + 'static,
        F: Fn(A, Out) -> A + Send + Sync + 'static,
    {
        self.fuse(links::Scan {
            zero,
            f: Arc::new(f),
        })
    }

    /// [`StreamOps::take`], fused: the `n`th element still cancels
    /// upstream at once.
    pub fn take(self, n: u64) -> Flow<In, Out, M, impl Chain<In = X, Out = Out>, X> {
        self.fuse(links::Take(n))
    }

    /// [`StreamOps::skip`], fused.
    #[doc(alias = "drop")]
    pub fn skip(self, n: u64) -> Flow<In, Out, M, impl Chain<In = X, Out = Out>, X> {
        self.fuse(links::Skip(n))
    }

    /// [`StreamOps::take_while`], fused.
    pub fn take_while<F>(self, f: F) -> Flow<In, Out, M, impl Chain<In = X, Out = Out>, X>
    where
        F: Fn(&Out) -> bool + Send + Sync + 'static,
    {
        self.fuse(links::TakeWhile(Arc::new(f)))
    }

    /// [`StreamOps::try_map_supervised`], fused: `decider` decides for
    /// this operator's failures only.
    pub fn try_map_supervised<U, E, D, F>(
        self,
        decider: D,
        f: F,
    ) -> Flow<In, U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
        D: Fn(&StreamError) -> Supervision + Send + Sync + 'static,
        F: Fn(Out) -> Result<U, E> + Send + Sync + 'static,
    {
        let decider: Arc<Decider> = Arc::new(decider);
        self.fuse(links::TryMap {
            f: Arc::new(f),
            decider: Some(decider),
        })
    }

    /// [`StreamOps::try_stateful_filter_map`], fused: `Restart` starts
    /// this operator's state again, and no other.
    pub fn try_stateful_filter_map<S, U, E, Init, D, F>(
        self,
        init: Init,
        decider: D,
        f: F,
    ) -> Flow<In, U, M, impl Chain<In = X, Out = U>, X>
    where
        U: Send + 'static,
        S: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
        Init: Fn() -> S + Send + Sync + 'static,
        D: Fn(&StreamError) -> Supervision + Send + Sync + 'static,
        F: Fn(&mut S, Out) -> Result<Option<U>, E> + Send + Sync + 'static,
    {
        self.fuse(links::TryStatefulFilterMap {
            init: Arc::new(init),
            f: Arc::new(f),
            decider: Arc::new(decider),
        })
    }
}
