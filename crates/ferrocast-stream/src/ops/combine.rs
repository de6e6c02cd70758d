//! Fan-in stages: `merge` (whichever is ready, fairly), `zip` (pairs),
//! `concat` (one after the other).
//!
//! A failure of either input fails the stage at once and cancels the other.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;
use crate::ops::basic::Map;
use crate::source::Source;

pub(crate) struct Merge<T> {
    /// The inputs; `None` once completed.
    inputs: [Option<Elements<T>>; 2],
    /// Which input is asked first next time, so neither starves.
    first: usize,
}

impl<T> Merge<T> {
    pub(crate) fn new(left: Elements<T>, right: Elements<T>) -> Self {
        Merge {
            inputs: [Some(left), Some(right)],
            first: 0,
        }
    }
}

impl<T> Stream for Merge<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        for i in [this.first, 1 - this.first] {
            let Some(input) = this.inputs[i].as_mut() else {
                continue;
            };
            match input.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    this.first = 1 - i;
                    return Poll::Ready(Some(Ok(item)));
                }
                Poll::Ready(Some(Err(e))) => {
                    this.inputs = [None, None];
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => this.inputs[i] = None,
                Poll::Pending => {}
            }
        }
        if this.inputs.iter().all(Option::is_none) {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

pub(crate) struct Zip<A, B> {
    left: Option<Elements<A>>,
    right: Option<Elements<B>>,
    /// An element from one side waiting for its partner.
    left_item: Option<A>,
    right_item: Option<B>,
}

// Elements are held by value and never pinned.
impl<A, B> Unpin for Zip<A, B> {}

impl<A, B> Zip<A, B> {
    pub(crate) fn new(left: Elements<A>, right: Elements<B>) -> Self {
        Zip {
            left: Some(left),
            right: Some(right),
            left_item: None,
            right_item: None,
        }
    }

    fn finish<R>(&mut self, end: Option<StreamError>) -> Poll<Option<Result<R, StreamError>>> {
        self.left = None;
        self.right = None;
        self.left_item = None;
        self.right_item = None;
        Poll::Ready(end.map(Err))
    }
}

/// Polls one input into its slot; `Err(end)` when the stage must end.
fn fill<T>(
    input: &mut Option<Elements<T>>,
    slot: &mut Option<T>,
    cx: &mut Context<'_>,
) -> Result<(), Option<StreamError>> {
    if slot.is_some() {
        return Ok(());
    }
    let Some(stream) = input.as_mut() else {
        return Err(None);
    };
    match stream.as_mut().poll_next(cx) {
        Poll::Ready(Some(Ok(item))) => {
            *slot = Some(item);
            Ok(())
        }
        Poll::Ready(Some(Err(e))) => Err(Some(e)),
        Poll::Ready(None) => Err(None),
        Poll::Pending => Ok(()),
    }
}

impl<A, B> Stream for Zip<A, B> {
    type Item = Result<(A, B), StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Err(end) = fill(&mut this.left, &mut this.left_item, cx) {
            return this.finish(end);
        }
        if let Err(end) = fill(&mut this.right, &mut this.right_item, cx) {
            return this.finish(end);
        }
        match (this.left_item.take(), this.right_item.take()) {
            (Some(a), Some(b)) => Poll::Ready(Some(Ok((a, b)))),
            (a, b) => {
                this.left_item = a;
                this.right_item = b;
                Poll::Pending
            }
        }
    }
}

pub(crate) struct Concat<T> {
    first: Option<Elements<T>>,
    second: Option<Elements<T>>,
}

impl<T> Concat<T> {
    pub(crate) fn new(first: Elements<T>, second: Elements<T>) -> Self {
        Concat {
            first: Some(first),
            second: Some(second),
        }
    }
}

impl<T> Stream for Concat<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.as_mut() {
            match std::task::ready!(first.as_mut().poll_next(cx)) {
                Some(Ok(item)) => return Poll::Ready(Some(Ok(item))),
                Some(Err(e)) => {
                    this.first = None;
                    this.second = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => this.first = None,
            }
        }
        let Some(second) = this.second.as_mut() else {
            return Poll::Ready(None);
        };
        let item = std::task::ready!(second.as_mut().poll_next(cx));
        if !matches!(item, Some(Ok(_))) {
            this.second = None;
        }
        Poll::Ready(item)
    }
}

pub(crate) struct Interleave<T> {
    inputs: [Option<Elements<T>>; 2],
    segment: usize,
    /// The input being drained and how many of its elements are left in
    /// the current segment.
    current: usize,
    left_in_segment: usize,
}

impl<T> Interleave<T> {
    pub(crate) fn new(left: Elements<T>, right: Elements<T>, segment: usize) -> Self {
        Interleave {
            inputs: [Some(left), Some(right)],
            segment,
            current: 0,
            left_in_segment: segment,
        }
    }
}

impl<T> Stream for Interleave<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.inputs.iter().all(Option::is_none) {
                return Poll::Ready(None);
            }
            let i = this.current;
            let Some(input) = this.inputs[i].as_mut() else {
                // This side is done: the other emits the rest.
                this.current = 1 - i;
                this.left_in_segment = usize::MAX;
                continue;
            };
            match std::task::ready!(input.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    this.left_in_segment -= 1;
                    if this.left_in_segment == 0 && this.inputs[1 - i].is_some() {
                        this.current = 1 - i;
                        this.left_in_segment = this.segment;
                    }
                    return Poll::Ready(Some(Ok(item)));
                }
                Some(Err(e)) => {
                    this.inputs = [None, None];
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.inputs[i] = None;
                    this.current = 1 - i;
                    this.left_in_segment = usize::MAX;
                }
            }
        }
    }
}

pub(crate) struct MergeSorted<T> {
    inputs: [Option<Elements<T>>; 2],
    /// The head of each input, waiting to be compared.
    heads: [Option<T>; 2],
}

// Elements are held by value and never pinned.
impl<T> Unpin for MergeSorted<T> {}

impl<T> MergeSorted<T> {
    pub(crate) fn new(left: Elements<T>, right: Elements<T>) -> Self {
        MergeSorted {
            inputs: [Some(left), Some(right)],
            heads: [None, None],
        }
    }
}

impl<T: Ord> Stream for MergeSorted<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Both heads are needed before choosing, unless a side has ended.
        for i in 0..2 {
            if this.heads[i].is_some() {
                continue;
            }
            match fill(&mut this.inputs[i], &mut this.heads[i], cx) {
                Ok(()) => {}
                Err(Some(e)) => {
                    this.inputs = [None, None];
                    this.heads = [None, None];
                    return Poll::Ready(Some(Err(e)));
                }
                Err(None) => this.inputs[i] = None,
            }
        }
        let waiting = (0..2).any(|i| this.heads[i].is_none() && this.inputs[i].is_some());
        if waiting {
            return Poll::Pending;
        }
        let pick = match (&this.heads[0], &this.heads[1]) {
            (Some(a), Some(b)) => usize::from(b < a),
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (None, None) => return Poll::Ready(None),
        };
        Poll::Ready(this.heads[pick].take().map(Ok))
    }
}

// Stage factories for `StreamOps`: each materializes `other` with the
// stage and discards its materialized value.

pub(crate) fn merge<T, M>(
    other: Source<T, M>,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    M: 'static,
{
    move |upstream| Box::pin(Merge::new(upstream, other.materialize().0))
}

pub(crate) fn zip<T, U, M>(
    other: Source<U, M>,
) -> impl Fn(Elements<T>) -> Elements<(T, U)> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    M: 'static,
{
    move |upstream| Box::pin(Zip::new(upstream, other.materialize().0))
}

pub(crate) fn zip_with<T, U, V, M, F>(
    other: Source<U, M>,
    f: F,
) -> impl Fn(Elements<T>) -> Elements<V> + Send + Sync + 'static
where
    T: Send + 'static,
    U: Send + 'static,
    V: Send + 'static,
    M: 'static,
    F: Fn(T, U) -> V + Send + Sync + 'static,
{
    let f = Arc::new(f);
    move |upstream| {
        let f = f.clone();
        Box::pin(Map {
            upstream: Box::pin(Zip::new(upstream, other.materialize().0)),
            f: Arc::new(move |(a, b)| f(a, b)),
        })
    }
}

pub(crate) fn concat<T, M>(
    other: Source<T, M>,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    M: 'static,
{
    move |upstream| Box::pin(Concat::new(upstream, other.materialize().0))
}

pub(crate) fn interleave<T, M>(
    other: Source<T, M>,
    segment: usize,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Send + 'static,
    M: 'static,
{
    move |upstream| Box::pin(Interleave::new(upstream, other.materialize().0, segment))
}

pub(crate) fn merge_sorted<T, M>(
    other: Source<T, M>,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Ord + Send + 'static,
    M: 'static,
{
    move |upstream| Box::pin(MergeSorted::new(upstream, other.materialize().0))
}
