//! Restart wrappers with exponential backoff: [`Source::restart_on_failures`],
//! [`Flow::restart_on_failures`](crate::Flow::restart_on_failures) and
//! [`Sink::restart_with_backoff`](crate::Sink::restart_with_backoff).
//!
//! Each wrapper materializes its inner stage afresh after a failure, once a
//! [`Backoff`] has waited. The flow and sink wrappers keep their upstream in
//! an [`Inlet`] that hands it to one inner stage at a time, so a restart
//! re-attaches the same upstream to a new inner stage.
//!
//! [`Source::restart_on_failures`]: crate::Source::restart_on_failures

mod flow;
mod inlet;
mod sink;
mod source;

#[cfg(test)]
mod restart_test;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// When and how often a restarting stage starts its inner stage again.
///
/// The `n`th consecutive restart waits `min_backoff * 2^(n-1)`, capped at
/// `max_backoff`. After `max_restarts` consecutive restarts the next
/// failure goes downstream. The count starts again from zero when an
/// element passes out of a restarting source or flow, and, if
/// `max_restarts_within` is set, when the last restart is longer ago than
/// that window (Akka's `maxRestartsWithin`). (No random jitter yet: it
/// needs an injected source of randomness.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartSettings {
    /// The wait before the first restart.
    pub min_backoff: Duration,
    /// The longest wait between restarts.
    pub max_backoff: Duration,
    /// How many consecutive failures are restarted.
    pub max_restarts: u32,
    /// A failure more than this long after the last restart starts the
    /// count (and the backoff) again. `None`: only elements reset it.
    pub max_restarts_within: Option<Duration>,
}

impl Default for RestartSettings {
    fn default() -> Self {
        RestartSettings {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_restarts: u32::MAX,
            max_restarts_within: None,
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

/// The restart count and the wait before the next restart, shared by the
/// three wrappers.
pub(crate) struct Backoff {
    settings: RestartSettings,
    /// Restarts since the count was last reset.
    restarts: u32,
    /// When the inner stage was last restarted, for `max_restarts_within`.
    restarted_at: Option<Instant>,
    /// The wait before the next restart, while it runs.
    waiting: Option<Pin<Box<Sleep>>>,
}

impl Backoff {
    pub(crate) fn new(settings: RestartSettings) -> Self {
        Backoff {
            settings,
            restarts: 0,
            restarted_at: None,
            waiting: None,
        }
    }

    /// The inner stage made progress: the next failure is a first one.
    pub(crate) fn reset(&mut self) {
        self.restarts = 0;
    }

    /// The inner stage ended. Starts the wait before a restart and returns
    /// true, or returns false when the restarts are used up.
    pub(crate) fn schedule(&mut self) -> bool {
        if let (Some(within), Some(at)) = (self.settings.max_restarts_within, self.restarted_at) {
            if at.elapsed() > within {
                self.restarts = 0;
            }
        }
        if self.restarts >= self.settings.max_restarts {
            return false;
        }
        self.restarts += 1;
        let wait = self.settings.backoff(self.restarts);
        self.waiting = Some(Box::pin(tokio::time::sleep(wait)));
        true
    }

    /// Ready when no restart is being waited for (any more).
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(wait) = self.waiting.as_mut() {
            std::task::ready!(wait.as_mut().poll(cx));
            self.waiting = None;
            self.restarted_at = Some(Instant::now());
        }
        Poll::Ready(())
    }

    /// True while a restart is being waited for.
    pub(crate) fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }
}
