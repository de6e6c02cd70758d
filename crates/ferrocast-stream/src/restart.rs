//! Restarting sources with exponential backoff.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::Stream;
use tokio::time::Sleep;

use crate::elements::Elements;
use crate::error::StreamError;
use crate::source::Source;

/// When and how often a restarting stage starts its inner stream again.
///
/// The `n`th consecutive restart waits `min_backoff * 2^(n-1)`, capped at
/// `max_backoff`. An element passing through resets the count. After
/// `max_restarts` consecutive failures the last failure goes downstream.
/// (No random jitter yet: it needs an injected source of randomness.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartSettings {
    /// The wait before the first restart.
    pub min_backoff: Duration,
    /// The longest wait between restarts.
    pub max_backoff: Duration,
    /// How many consecutive failures are restarted.
    pub max_restarts: u32,
}

impl Default for RestartSettings {
    fn default() -> Self {
        RestartSettings {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_restarts: u32::MAX,
        }
    }
}

/// Restart settings whose backoff range is empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("min_backoff {min:?} is greater than max_backoff {max:?}")]
pub struct InvalidRestartSettings {
    /// The requested minimum.
    pub min: Duration,
    /// The requested maximum.
    pub max: Duration,
}

impl RestartSettings {
    /// Checks that `min_backoff <= max_backoff`.
    pub fn validate(&self) -> Result<(), InvalidRestartSettings> {
        if self.min_backoff > self.max_backoff {
            return Err(InvalidRestartSettings {
                min: self.min_backoff,
                max: self.max_backoff,
            });
        }
        Ok(())
    }

    /// The wait before restart number `n` (1-based) in a row.
    fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.min_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

impl<T: Send + 'static> Source<T, ()> {
    /// A source that runs `make()`'s source and, when it fails, waits a
    /// backoff and runs a fresh one, as [`RestartSettings`] say. It
    /// completes when an inner source completes. Inner materialized values
    /// are discarded. Elements already emitted are not replayed: a restarted
    /// source starts wherever `make` starts it.
    ///
    /// Settings that do not [`validate`](RestartSettings::validate) give an
    /// error instead of a source.
    pub fn restart_on_failures<M, F>(
        settings: RestartSettings,
        make: F,
    ) -> Result<Self, InvalidRestartSettings>
    where
        M: 'static,
        F: Fn() -> Source<T, M> + Send + Sync + 'static,
    {
        settings.validate()?;
        let make = Arc::new(make);
        Ok(Source::from_materializer(move || {
            let stage: Elements<T> = Box::pin(Restart {
                current: Some(make().materialize().0),
                make: make.clone(),
                settings,
                failures: 0,
                waiting: None,
            });
            (stage, ())
        }))
    }
}

struct Restart<T, F> {
    make: Arc<F>,
    current: Option<Elements<T>>,
    settings: RestartSettings,
    /// Consecutive failures.
    failures: u32,
    /// The backoff before the next restart.
    waiting: Option<Pin<Box<Sleep>>>,
}

impl<T, M, F> Stream for Restart<T, F>
where
    T: Send + 'static,
    M: 'static,
    F: Fn() -> Source<T, M>,
{
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(backoff) = this.waiting.as_mut() {
                std::task::ready!(backoff.as_mut().poll(cx));
                this.waiting = None;
                this.current = Some((this.make)().materialize().0);
            }
            let Some(current) = this.current.as_mut() else {
                return Poll::Ready(None);
            };
            match std::task::ready!(current.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    this.failures = 0;
                    return Poll::Ready(Some(Ok(item)));
                }
                Some(Err(e)) => {
                    this.current = None;
                    if this.failures >= this.settings.max_restarts {
                        return Poll::Ready(Some(Err(e)));
                    }
                    this.failures += 1;
                    let wait = this.settings.backoff(this.failures);
                    this.waiting = Some(Box::pin(tokio::time::sleep(wait)));
                }
                None => {
                    this.current = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}
