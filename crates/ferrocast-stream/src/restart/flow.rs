//! [`Flow::restart_on_failures`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::Stream;

use super::inlet::Inlet;
use super::{Backoff, InvalidRestartSettings, RestartSettings};
use crate::elements::Elements;
use crate::error::StreamError;
use crate::flow::Flow;
use crate::fuse::Chain;

impl<In: Send + 'static, Out: Send + 'static> Flow<In, Out, ()> {
    /// A flow that runs `make()`'s flow and, when it fails, waits a
    /// backoff and materializes a fresh one on the same upstream, as
    /// [`RestartSettings`] say (Akka's `RestartFlow.onFailuresWithBackoff`).
    ///
    /// - Elements the failed flow had taken from upstream but not emitted
    ///   (in a `map_async`, a `buffer`, a partial `grouped`) are **lost**;
    ///   nothing is replayed.
    /// - While backing off, upstream is not pulled (back-pressure).
    /// - It completes when the inner flow completes. Once upstream has
    ///   completed or failed, a failure of the inner flow (including
    ///   upstream's own failure passing through it) goes downstream: there
    ///   is nothing left to restart on.
    /// - Inner materialized values are discarded.
    ///
    /// ```
    /// use ferrocast_stream::{Flow, RestartSettings, Source, StreamError, StreamOps};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Fails on 3; the restarted flow carries on with the next element.
    /// let flaky = || Flow::<u32>::new().try_map(|n| {
    ///     if n == 3 { Err(StreamError::msg("bad element")) } else { Ok(n * 10) }
    /// });
    /// let flow = Flow::restart_on_failures(RestartSettings::default(), flaky)?;
    /// let out = Source::iter(1..=5).via(flow).run_collect().await?;
    /// assert_eq!(out, vec![10, 20, 40, 50]);
    /// # Ok(()) }
    /// ```
    ///
    /// Settings that do not [`validate`](RestartSettings::validate) give an
    /// error instead of a flow.
    pub fn restart_on_failures<M, C, X, F>(
        settings: RestartSettings,
        make: F,
    ) -> Result<Self, InvalidRestartSettings>
    where
        M: 'static,
        X: Send + 'static,
        C: Chain<In = X, Out = Out>,
        F: Fn() -> Flow<In, Out, M, C, X> + Send + Sync + 'static,
    {
        settings.validate()?;
        let make = Arc::new(make);
        Ok(Flow::from_materializer(move |upstream| {
            let inlet = Inlet::new(upstream);
            let current = make().materialize(inlet.input()).0;
            let stage: Elements<Out> = Box::pin(RestartFlow {
                make: make.clone(),
                inlet,
                current: Some(current),
                backoff: Backoff::new(settings),
            });
            (stage, ())
        }))
    }
}

struct RestartFlow<In, Out, F> {
    make: Arc<F>,
    inlet: Inlet<In>,
    /// The running inner flow; `None` while backing off or after the end.
    current: Option<Elements<Out>>,
    backoff: Backoff,
}

impl<In, Out, M, C, X, F> Stream for RestartFlow<In, Out, F>
where
    In: Send + 'static,
    Out: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = Out>,
    F: Fn() -> Flow<In, Out, M, C, X>,
{
    type Item = Result<Out, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.backoff.is_waiting() {
                std::task::ready!(this.backoff.poll_wait(cx));
                this.current = Some((this.make)().materialize(this.inlet.input()).0);
            }
            let Some(current) = this.current.as_mut() else {
                return Poll::Ready(None);
            };
            match std::task::ready!(current.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    this.backoff.reset();
                    return Poll::Ready(Some(Ok(item)));
                }
                Some(Err(e)) => {
                    // Drop the failed flow (and what it holds) first.
                    this.current = None;
                    if this.inlet.has_ended() || !this.backoff.schedule() {
                        this.inlet.cancel();
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                None => {
                    this.current = None;
                    this.inlet.cancel();
                    return Poll::Ready(None);
                }
            }
        }
    }
}
