//! Operator fusion: a run of adjacent synchronous operators (`map`,
//! `filter`, `scan`, `take`, ...) becomes **one** stage.
//!
//! A [`Source`](crate::Source) or [`Flow`](crate::Flow) keeps the run it is
//! building as a [`Chain`] in its type: each synchronous operator appends a
//! link (`Then<previous, link>`), so the whole run is one concrete type and
//! the compiler inlines the user functions into each other. When something
//! else comes next (an asynchronous or fan-in stage, a custom stage, `via`,
//! a sink), the run is materialized as one boxed stage, [`FusedStage`],
//! that pulls upstream once per input element and passes it through every
//! link in one call: no `Elements` (no dynamic dispatch) between the links.
//!
//! ```text
//! upstream ──▶ FusedStage { map ▸ filter ▸ map ▸ scan } ──▶ downstream
//!              one poll, one box; each link: push(item) -> Step
//! ```
//!
//! Each link keeps its stage's semantics: its own state per run, its own
//! supervision decisions, `take`/`take_while` dropping upstream as soon as
//! they are done. `links` holds the links; the public operators are in
//! `fused_ops`.

mod fused_ops;
pub(crate) mod links;

#[cfg(test)]
mod fuse_test;

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;

/// What one link (or a whole chain) does with one element.
#[doc(hidden)]
#[derive(Debug)]
pub enum Step<T> {
    /// Emit this element.
    Emit(T),
    /// Emit nothing; pull the next element.
    Skip,
    /// Emit this element, then complete (and cancel upstream).
    Last(T),
    /// Complete now (and cancel upstream).
    Complete,
    /// Fail the stream with this error (and cancel upstream).
    Fail(StreamError),
}

/// A pending run of fused synchronous operators from `In` to `Out`: the
/// third type parameter of [`Source`](crate::Source) and
/// [`Flow`](crate::Flow). [`Identity`] is the empty run. The implementations
/// are the crate's own; the methods are internal.
pub trait Chain: Clone + Send + Sync + 'static {
    /// The element type entering the run.
    type In: Send + 'static;
    /// The element type leaving it.
    type Out: Send + 'static;
    /// One materialization's state (the links' counters, accumulators,
    /// user state).
    #[doc(hidden)]
    type State: Send + 'static;

    /// Fresh state for a new run.
    #[doc(hidden)]
    fn start(&self) -> Self::State;

    /// What the run emits before it needs an element (`scan`'s zero, a
    /// `take(0)` completing), downstream links first.
    #[doc(hidden)]
    fn pending(&self, state: &mut Self::State) -> Option<Step<Self::Out>>;

    /// Passes one upstream element through the run.
    #[doc(hidden)]
    fn push(&self, state: &mut Self::State, item: Self::In) -> Step<Self::Out>;

    /// Materializes the run on top of `upstream`: one [`FusedStage`], or
    /// `upstream` itself when the run is empty.
    #[doc(hidden)]
    fn attach(&self, upstream: Elements<Self::In>) -> Elements<Self::Out>;
}

/// The empty run: elements pass unchanged and nothing is added.
pub struct Identity<T>(PhantomData<fn(T) -> T>);

impl<T> Identity<T> {
    pub(crate) fn new() -> Self {
        Identity(PhantomData)
    }
}

impl<T> Clone for Identity<T> {
    fn clone(&self) -> Self {
        Identity::new()
    }
}

impl<T> std::fmt::Debug for Identity<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity")
    }
}

impl<T: Send + 'static> Chain for Identity<T> {
    type In = T;
    type Out = T;
    type State = ();

    fn start(&self) {}

    #[inline(always)]
    fn pending(&self, _: &mut ()) -> Option<Step<T>> {
        None
    }

    #[inline(always)]
    fn push(&self, _: &mut (), item: T) -> Step<T> {
        Step::Emit(item)
    }

    fn attach(&self, upstream: Elements<T>) -> Elements<T> {
        upstream
    }
}

/// One fused operator: the per-element logic of a synchronous stage.
pub(crate) trait Link<In>: Clone + Send + Sync + 'static {
    type Out: Send + 'static;
    /// Per-run state (a counter, an accumulator, user state).
    type State: Send + 'static;

    fn start(&self) -> Self::State;

    /// What to emit before the next element, if anything.
    #[inline(always)]
    fn pending(&self, _state: &mut Self::State) -> Option<Step<Self::Out>> {
        None
    }

    fn push(&self, state: &mut Self::State, item: In) -> Step<Self::Out>;
}

/// A run followed by one more link.
#[derive(Clone)]
pub(crate) struct Then<C, L> {
    pub(crate) prev: C,
    pub(crate) link: L,
}

impl<C, L> Then<C, L>
where
    C: Chain,
    L: Link<C::Out>,
{
    /// Passes what `prev` produced through `link`. `Last` stays last:
    /// the link still sees the element, then the run completes.
    #[inline(always)]
    fn feed(&self, state: &mut L::State, step: Step<C::Out>) -> Step<L::Out> {
        match step {
            Step::Emit(item) => self.link.push(state, item),
            Step::Skip => Step::Skip,
            Step::Last(item) => match self.link.push(state, item) {
                Step::Emit(out) | Step::Last(out) => Step::Last(out),
                Step::Skip | Step::Complete => Step::Complete,
                Step::Fail(e) => Step::Fail(e),
            },
            Step::Complete => Step::Complete,
            Step::Fail(e) => Step::Fail(e),
        }
    }
}

impl<C, L> Chain for Then<C, L>
where
    C: Chain,
    L: Link<C::Out>,
{
    type In = C::In;
    type Out = L::Out;
    type State = (C::State, L::State);

    fn start(&self) -> Self::State {
        (self.prev.start(), self.link.start())
    }

    #[inline(always)]
    fn pending(&self, state: &mut Self::State) -> Option<Step<L::Out>> {
        // Downstream first: a `scan` emits its zero before anything that
        // comes through it, as the unfused stages do.
        if let Some(step) = self.link.pending(&mut state.1) {
            return Some(step);
        }
        loop {
            match self.feed(&mut state.1, self.prev.pending(&mut state.0)?) {
                Step::Skip => continue,
                step => return Some(step),
            }
        }
    }

    #[inline(always)]
    fn push(&self, state: &mut Self::State, item: C::In) -> Step<L::Out> {
        let step = self.prev.push(&mut state.0, item);
        self.feed(&mut state.1, step)
    }

    fn attach(&self, upstream: Elements<C::In>) -> Elements<L::Out> {
        Box::pin(FusedStage {
            upstream: Some(upstream),
            state: self.start(),
            chain: self.clone(),
        })
    }
}

/// A materialized run: one stream for all its links.
pub(crate) struct FusedStage<C: Chain> {
    /// `None` once the run has ended: dropping it cancels upstream.
    upstream: Option<Elements<C::In>>,
    chain: C,
    state: C::State,
}

// The state is held by value and never pinned.
impl<C: Chain> Unpin for FusedStage<C> {}

impl<C: Chain> std::fmt::Debug for FusedStage<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FusedStage(..)")
    }
}

impl<C: Chain> Stream for FusedStage<C> {
    type Item = Result<C::Out, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(upstream) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            let step = match this.chain.pending(&mut this.state) {
                Some(step) => step,
                None => match ready!(upstream.as_mut().poll_next(cx)) {
                    Some(Ok(item)) => this.chain.push(&mut this.state, item),
                    Some(Err(e)) => Step::Fail(e),
                    None => Step::Complete,
                },
            };
            return Poll::Ready(match step {
                Step::Emit(out) => Some(Ok(out)),
                Step::Skip => continue,
                Step::Last(out) => {
                    // Done: cancel upstream now rather than on the next pull.
                    this.upstream = None;
                    Some(Ok(out))
                }
                Step::Complete => {
                    this.upstream = None;
                    None
                }
                Step::Fail(e) => {
                    this.upstream = None;
                    Some(Err(e))
                }
            });
        }
    }
}
