//! [`Sink::restart_with_backoff`].

use std::sync::Arc;

use super::inlet::Inlet;
use super::{Backoff, InvalidRestartSettings, RestartSettings};
use crate::completion::Completion;
use crate::runnable::StreamTask;
use crate::sink::Sink;

impl<In: Send + 'static> Sink<In, Completion<()>> {
    /// A sink that runs `make()`'s sink and, whenever it finishes while
    /// upstream still has elements (failing, or completing early like
    /// `Sink::first`), waits a backoff and materializes a fresh one on the
    /// same upstream, as [`RestartSettings`] say (Akka's
    /// `RestartSink.withBackoff`).
    ///
    /// - An element the finished sink had taken but not yet dealt with is
    ///   **lost**; nothing is replayed.
    /// - While backing off, upstream is not pulled (back-pressure).
    /// - A sink shows no progress downstream, so elements do not reset the
    ///   restart count: only [`RestartSettings::max_restarts_within`] does.
    ///   When the restarts are used up, upstream is cancelled.
    /// - The wrapper's [`Completion`] resolves when upstream has ended and
    ///   the current inner sink has finished, or when the restarts are used
    ///   up: to the last inner sink's outcome (its value discarded).
    ///
    /// The inner sink must materialize to a [`Completion`]: that is how the
    /// wrapper learns that it failed. Adapt other sinks with
    /// [`map_materialized_value`](Sink::map_materialized_value).
    ///
    /// Settings that do not [`validate`](RestartSettings::validate) give an
    /// error instead of a sink.
    pub fn restart_with_backoff<R, F>(
        settings: RestartSettings,
        make: F,
    ) -> Result<Self, InvalidRestartSettings>
    where
        R: Send + 'static,
        F: Fn() -> Sink<In, Completion<R>> + Send + Sync + 'static,
    {
        settings.validate()?;
        let make = Arc::new(make);
        Ok(Sink::from_materializer(move |upstream| {
            let inlet = Inlet::new(upstream);
            let mut current = make().materialize(inlet.input());
            let make = make.clone();
            let (done, completion) = Completion::new();
            let task = StreamTask::new(async move {
                let mut backoff = Backoff::new(settings);
                loop {
                    let (task, outcome) = current;
                    task.await;
                    let outcome = outcome.await.map(drop);
                    if inlet.has_ended() || !backoff.schedule() {
                        inlet.cancel();
                        return done.complete(outcome);
                    }
                    std::future::poll_fn(|cx| backoff.poll_wait(cx)).await;
                    current = make().materialize(inlet.input());
                }
            });
            (task, completion)
        }))
    }
}
