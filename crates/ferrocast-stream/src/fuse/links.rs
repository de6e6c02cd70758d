//! The links of fused runs: the per-element logic of each synchronous
//! operator, with the same semantics as the unfused stages in
//! `ops::basic` and `ops::fold` (which `SubFlow` and generic `StreamOps`
//! code still use).

use std::sync::Arc;

use super::{Link, Step};
use crate::error::StreamError;
use crate::ops::basic::decide;
use crate::supervision::{Decider, Supervision};

/// `map`.
pub(crate) struct Map<F>(pub(crate) Arc<F>);

/// `filter`.
pub(crate) struct Filter<F>(pub(crate) Arc<F>);

/// `filter_map`.
pub(crate) struct FilterMap<F>(pub(crate) Arc<F>);

/// `take_while`.
pub(crate) struct TakeWhile<F>(pub(crate) Arc<F>);

// Closures need not be `Clone`; the links share them.
macro_rules! clone_arc_link {
    ($($link:ident),*) => {$(
        impl<F> Clone for $link<F> {
            fn clone(&self) -> Self {
                $link(self.0.clone())
            }
        }
    )*};
}
clone_arc_link!(Map, Filter, FilterMap, TakeWhile);

impl<T, U, F> Link<T> for Map<F>
where
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    type Out = U;
    type State = ();

    fn start(&self) {}

    #[inline(always)]
    fn push(&self, _: &mut (), item: T) -> Step<U> {
        Step::Emit((self.0)(item))
    }
}

impl<T, F> Link<T> for Filter<F>
where
    T: Send + 'static,
    F: Fn(&T) -> bool + Send + Sync + 'static,
{
    type Out = T;
    type State = ();

    fn start(&self) {}

    #[inline(always)]
    fn push(&self, _: &mut (), item: T) -> Step<T> {
        if (self.0)(&item) {
            Step::Emit(item)
        } else {
            Step::Skip
        }
    }
}

impl<T, U, F> Link<T> for FilterMap<F>
where
    U: Send + 'static,
    F: Fn(T) -> Option<U> + Send + Sync + 'static,
{
    type Out = U;
    type State = ();

    fn start(&self) {}

    #[inline(always)]
    fn push(&self, _: &mut (), item: T) -> Step<U> {
        match (self.0)(item) {
            Some(out) => Step::Emit(out),
            None => Step::Skip,
        }
    }
}

impl<T, F> Link<T> for TakeWhile<F>
where
    T: Send + 'static,
    F: Fn(&T) -> bool + Send + Sync + 'static,
{
    type Out = T;
    type State = ();

    fn start(&self) {}

    #[inline(always)]
    fn push(&self, _: &mut (), item: T) -> Step<T> {
        if (self.0)(&item) {
            Step::Emit(item)
        } else {
            Step::Complete
        }
    }
}

/// `try_map` and `try_map_supervised` (`decider`: `None` stops on every
/// error).
pub(crate) struct TryMap<F> {
    pub(crate) f: Arc<F>,
    pub(crate) decider: Option<Arc<Decider>>,
}

impl<F> Clone for TryMap<F> {
    fn clone(&self) -> Self {
        TryMap {
            f: self.f.clone(),
            decider: self.decider.clone(),
        }
    }
}

impl<T, U, E, F> Link<T> for TryMap<F>
where
    U: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
    F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
{
    type Out = U;
    type State = ();

    fn start(&self) {}

    #[inline(always)]
    fn push(&self, _: &mut (), item: T) -> Step<U> {
        match (self.f)(item) {
            Ok(out) => Step::Emit(out),
            Err(e) => {
                let error = StreamError::failed(e);
                match decide(self.decider.as_deref(), &error) {
                    Supervision::Stop => Step::Fail(error),
                    // No state to restart: both drop the element.
                    Supervision::Resume | Supervision::Restart => Step::Skip,
                }
            }
        }
    }
}

/// `stateful_filter_map`.
pub(crate) struct StatefulFilterMap<Init, F> {
    pub(crate) init: Arc<Init>,
    pub(crate) f: Arc<F>,
}

impl<Init, F> Clone for StatefulFilterMap<Init, F> {
    fn clone(&self) -> Self {
        StatefulFilterMap {
            init: self.init.clone(),
            f: self.f.clone(),
        }
    }
}

impl<T, S, U, Init, F> Link<T> for StatefulFilterMap<Init, F>
where
    S: Send + 'static,
    U: Send + 'static,
    Init: Fn() -> S + Send + Sync + 'static,
    F: Fn(&mut S, T) -> Option<U> + Send + Sync + 'static,
{
    type Out = U;
    type State = S;

    fn start(&self) -> S {
        (self.init)()
    }

    #[inline(always)]
    fn push(&self, state: &mut S, item: T) -> Step<U> {
        match (self.f)(state, item) {
            Some(out) => Step::Emit(out),
            None => Step::Skip,
        }
    }
}

/// `try_stateful_filter_map`: `Restart` starts its state again from
/// `init()`, and only its own state.
pub(crate) struct TryStatefulFilterMap<Init, F> {
    pub(crate) init: Arc<Init>,
    pub(crate) f: Arc<F>,
    pub(crate) decider: Arc<Decider>,
}

impl<Init, F> Clone for TryStatefulFilterMap<Init, F> {
    fn clone(&self) -> Self {
        TryStatefulFilterMap {
            init: self.init.clone(),
            f: self.f.clone(),
            decider: self.decider.clone(),
        }
    }
}

impl<T, S, U, E, Init, F> Link<T> for TryStatefulFilterMap<Init, F>
where
    S: Send + 'static,
    U: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
    Init: Fn() -> S + Send + Sync + 'static,
    F: Fn(&mut S, T) -> Result<Option<U>, E> + Send + Sync + 'static,
{
    type Out = U;
    type State = S;

    fn start(&self) -> S {
        (self.init)()
    }

    #[inline(always)]
    fn push(&self, state: &mut S, item: T) -> Step<U> {
        let error = match (self.f)(state, item) {
            Ok(Some(out)) => return Step::Emit(out),
            Ok(None) => return Step::Skip,
            Err(e) => StreamError::failed(e),
        };
        match (self.decider)(&error) {
            Supervision::Stop => Step::Fail(error),
            Supervision::Resume => Step::Skip,
            Supervision::Restart => {
                *state = (self.init)();
                Step::Skip
            }
        }
    }
}

/// `scan`: emits its zero before the first element, then the running
/// accumulation.
pub(crate) struct Scan<A, F> {
    pub(crate) zero: A,
    pub(crate) f: Arc<F>,
}

impl<A: Clone, F> Clone for Scan<A, F> {
    fn clone(&self) -> Self {
        Scan {
            zero: self.zero.clone(),
            f: self.f.clone(),
        }
    }
}

/// A `scan`'s per-run state.
pub(crate) struct ScanState<A> {
    acc: A,
    zero_emitted: bool,
}

impl<T, A, F> Link<T> for Scan<A, F>
where
    A: Clone + Send + Sync + 'static,
    F: Fn(A, T) -> A + Send + Sync + 'static,
{
    type Out = A;
    type State = ScanState<A>;

    fn start(&self) -> ScanState<A> {
        ScanState {
            acc: self.zero.clone(),
            zero_emitted: false,
        }
    }

    #[inline(always)]
    fn pending(&self, state: &mut ScanState<A>) -> Option<Step<A>> {
        if state.zero_emitted {
            return None;
        }
        state.zero_emitted = true;
        Some(Step::Emit(state.acc.clone()))
    }

    #[inline(always)]
    fn push(&self, state: &mut ScanState<A>, item: T) -> Step<A> {
        let next = (self.f)(state.acc.clone(), item);
        state.acc = next.clone();
        Step::Emit(next)
    }
}

/// `take(n)`: the `n`th element is the last; `take(0)` completes at once.
#[derive(Clone)]
pub(crate) struct Take(pub(crate) u64);

impl<T: Send + 'static> Link<T> for Take {
    type Out = T;
    /// Elements still to emit.
    type State = u64;

    fn start(&self) -> u64 {
        self.0
    }

    #[inline(always)]
    fn pending(&self, remaining: &mut u64) -> Option<Step<T>> {
        (*remaining == 0).then_some(Step::Complete)
    }

    #[inline(always)]
    fn push(&self, remaining: &mut u64, item: T) -> Step<T> {
        match *remaining {
            0 => Step::Complete,
            1 => {
                *remaining = 0;
                Step::Last(item)
            }
            _ => {
                *remaining -= 1;
                Step::Emit(item)
            }
        }
    }
}

/// `skip(n)` (Akka's `drop`).
#[derive(Clone)]
pub(crate) struct Skip(pub(crate) u64);

impl<T: Send + 'static> Link<T> for Skip {
    type Out = T;
    /// Elements still to drop.
    type State = u64;

    fn start(&self) -> u64 {
        self.0
    }

    #[inline(always)]
    fn push(&self, remaining: &mut u64, item: T) -> Step<T> {
        if *remaining > 0 {
            *remaining -= 1;
            Step::Skip
        } else {
            Step::Emit(item)
        }
    }
}
