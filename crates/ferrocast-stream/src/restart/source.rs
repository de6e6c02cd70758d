//! [`Source::restart_on_failures`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::Stream;

use super::{Backoff, InvalidRestartSettings, RestartSettings};
use crate::elements::Elements;
use crate::error::StreamError;
use crate::fuse::Chain;
use crate::source::Source;

impl<T: Send + 'static> Source<T, ()> {
    /// A source that runs `make()`'s source and, when it fails, waits a
    /// backoff and runs a fresh one, as [`RestartSettings`] say. It
    /// completes when an inner source completes. Inner materialized values
    /// are discarded. Elements already emitted are not replayed: a restarted
    /// source starts wherever `make` starts it.
    ///
    /// Settings that do not [`validate`](RestartSettings::validate) give an
    /// error instead of a source.
    pub fn restart_on_failures<M, C, X, F>(
        settings: RestartSettings,
        make: F,
    ) -> Result<Self, InvalidRestartSettings>
    where
        M: 'static,
        X: Send + 'static,
        C: Chain<In = X, Out = T>,
        F: Fn() -> Source<T, M, C, X> + Send + Sync + 'static,
    {
        settings.validate()?;
        let make = Arc::new(make);
        Ok(Source::from_materializer(move || {
            let stage: Elements<T> = Box::pin(Restart {
                current: Some(make().materialize().0),
                make: make.clone(),
                backoff: Backoff::new(settings),
            });
            (stage, ())
        }))
    }
}

struct Restart<T, F> {
    make: Arc<F>,
    /// The running inner source; `None` while backing off or after the end.
    current: Option<Elements<T>>,
    backoff: Backoff,
}

impl<T, M, C, X, F> Stream for Restart<T, F>
where
    T: Send + 'static,
    M: 'static,
    X: Send + 'static,
    C: Chain<In = X, Out = T>,
    F: Fn() -> Source<T, M, C, X>,
{
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.backoff.is_waiting() {
                std::task::ready!(this.backoff.poll_wait(cx));
                this.current = Some((this.make)().materialize().0);
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
                    this.current = None;
                    if !this.backoff.schedule() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                None => {
                    this.current = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}
