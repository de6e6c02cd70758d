//! `also_to`: sends every element to a side sink as well.
//!
//! The side sink is [`Attached`]: driven inside the stage by the same task
//! (no spawn). Each element is handed to the side before it goes
//! downstream, and the stage does not take the next element from upstream
//! until the side has taken the previous one, so the slower of the two
//! outputs sets the pace. When upstream ends (completes or fails), the
//! stage emits that end only after the side sink has finished, so the side
//! sees every element and the end. If the side sink stops early, the main
//! output carries on alone; dropping the stage drops the side sink's task.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::Stream;

use crate::attached::Attached;
use crate::elements::Elements;
use crate::error::StreamError;
use crate::sink::Sink;

pub(crate) struct AlsoTo<T> {
    upstream: Option<Elements<T>>,
    side: Attached<T>,
    /// Upstream's end, held until the side has finished: `Some(None)` for
    /// completion, `Some(Some(e))` for failure.
    end: Option<Option<StreamError>>,
}

impl<T: Clone + Send + 'static> AlsoTo<T> {
    pub(crate) fn new<M: 'static>(upstream: Elements<T>, sink: &Sink<T, M>) -> Self {
        AlsoTo {
            upstream: Some(upstream),
            side: Attached::new(sink).0,
            end: None,
        }
    }

    /// Emits upstream's end once the side sink has finished.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, StreamError>>> {
        if self.side.drive(cx) {
            return Poll::Pending;
        }
        // Emit the failure once; after it (or completion) the stage is done.
        let failure = self.end.replace(None).flatten();
        Poll::Ready(failure.map(Err))
    }
}

impl<T: Clone + Send + 'static> Stream for AlsoTo<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.end.is_some() {
            return this.poll_end(cx);
        }
        let side_running = this.side.drive(cx);
        if side_running && !this.side.is_free() {
            // The side has not taken the previous element yet.
            return Poll::Pending;
        }
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        match std::task::ready!(upstream.as_mut().poll_next(cx)) {
            Some(Ok(item)) => {
                if side_running {
                    this.side.hand(Ok(item.clone()));
                    this.side.drive(cx);
                }
                Poll::Ready(Some(Ok(item)))
            }
            end => {
                this.upstream = None;
                let failure = end.and_then(Result::err);
                match &failure {
                    Some(e) if this.side.is_running() => this.side.hand(Err(e.clone())),
                    _ => this.side.end(),
                }
                this.end = Some(failure);
                this.poll_end(cx)
            }
        }
    }
}

/// The `via_fn` stage of `also_to`.
pub(crate) fn also_to<T, M>(
    sink: Sink<T, M>,
) -> impl Fn(Elements<T>) -> Elements<T> + Send + Sync + 'static
where
    T: Clone + Send + 'static,
    M: 'static,
{
    move |upstream| Box::pin(AlsoTo::new(upstream, &sink))
}
