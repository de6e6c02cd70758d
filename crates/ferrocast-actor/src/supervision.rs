//! Supervision: what a parent does when a child fails.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::actor::ActorError;
use crate::config::ConfigError;
use crate::path::ActorPath;

/// Why an actor failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// A handler or hook returned an error.
    Error(ActorError),
    /// A handler, hook or the factory panicked; the payload as text.
    Panic(String),
    /// A child failed and its parent's strategy escalated.
    Escalated {
        /// The child that failed first.
        child: ActorPath,
        /// Its failure.
        cause: Box<Failure>,
    },
}

impl Failure {
    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let text = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_owned()
        };
        Failure::Panic(text)
    }

    /// True for panics (at any depth of escalation).
    pub fn is_panic(&self) -> bool {
        match self {
            Failure::Panic(_) => true,
            Failure::Escalated { cause, .. } => cause.is_panic(),
            Failure::Error(_) => false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(e) => write!(f, "error: {e}"),
            Failure::Panic(p) => write!(f, "panic: {p}"),
            Failure::Escalated { child, cause } => write!(f, "escalated from {child}: {cause}"),
        }
    }
}

/// A parent's decision about a failed child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Directive {
    /// Keep the state, drop the failed message, go on.
    Resume,
    /// Stop the instance (and its children) and start a fresh one from the
    /// factory, after a backoff. Queued messages are kept.
    Restart,
    /// Stop the child.
    Stop,
    /// Fail the parent with the child's failure.
    Escalate,
}

/// Exponential backoff between restarts: `min * 2^n`, capped at `max`, then
/// stretched by a random factor in `[1, 1 + random_factor]` so that many
/// actors failing together do not restart in lockstep.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Backoff {
    /// Delay before the first restart in a window.
    #[serde(with = "humantime_serde")]
    pub min: Duration,
    /// Upper bound of the delay.
    #[serde(with = "humantime_serde")]
    pub max: Duration,
    /// Jitter, in `[0, 1]`.
    pub random_factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(10),
            random_factor: 0.2,
        }
    }
}

impl Backoff {
    /// No delay at all.
    pub fn none() -> Self {
        Backoff {
            min: Duration::ZERO,
            max: Duration::ZERO,
            random_factor: 0.0,
        }
    }

    /// The delay before restart number `n` (0-based) in the current window;
    /// `unit` is a random number in `[0, 1)`.
    pub fn delay(&self, n: u32, unit: f64) -> Duration {
        if self.min.is_zero() {
            return Duration::ZERO;
        }
        let base = self.min.saturating_mul(1u32 << n.min(30)).min(self.max);
        base.mul_f64(1.0 + self.random_factor * unit.clamp(0.0, 1.0))
    }

    pub(crate) fn validate_at(&self, field: &str) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.random_factor) {
            return Err(ConfigError::invalid(
                format!("{field}.random_factor"),
                "must be between 0 and 1",
            ));
        }
        if self.max < self.min {
            return Err(ConfigError::invalid(
                format!("{field}.max"),
                "must not be less than min",
            ));
        }
        Ok(())
    }
}

type Decider = Arc<dyn Fn(&Failure) -> Directive + Send + Sync>;

/// How a parent treats failing children: a decider maps each failure to a
/// [`Directive`]; restarts are limited to `max_restarts` within `within`
/// (past that the child is stopped) and spaced by a [`Backoff`].
#[derive(Clone)]
pub struct SupervisorStrategy {
    decider: Decider,
    max_restarts: Option<u32>,
    within: Duration,
    backoff: Backoff,
}

impl Default for SupervisorStrategy {
    /// Restart on any failure, at most 10 times within a minute, with the
    /// default backoff (100 ms doubling to 10 s, 20 % jitter).
    fn default() -> Self {
        SupervisorStrategy::restart()
    }
}

impl SupervisorStrategy {
    /// Restart on any failure (10 restarts per minute, default backoff).
    pub fn restart() -> Self {
        SupervisorStrategy {
            decider: Arc::new(|_| Directive::Restart),
            max_restarts: Some(10),
            within: Duration::from_secs(60),
            backoff: Backoff::default(),
        }
    }

    /// Stop the child on any failure.
    pub fn stop() -> Self {
        SupervisorStrategy::restart().with_decider(|_| Directive::Stop)
    }

    /// Resume the child on any failure.
    pub fn resume() -> Self {
        SupervisorStrategy::restart().with_decider(|_| Directive::Resume)
    }

    /// Escalate every failure to this actor's own parent.
    pub fn escalate() -> Self {
        SupervisorStrategy::restart().with_decider(|_| Directive::Escalate)
    }

    /// Decides per failure.
    pub fn with_decider(
        mut self,
        decider: impl Fn(&Failure) -> Directive + Send + Sync + 'static,
    ) -> Self {
        self.decider = Arc::new(decider);
        self
    }

    /// At most `max` restarts within `within`; one more stops the child.
    pub fn with_limit(mut self, max: u32, within: Duration) -> Self {
        self.max_restarts = Some(max);
        self.within = within;
        self
    }

    /// No limit on restarts.
    pub fn unlimited(mut self) -> Self {
        self.max_restarts = None;
        self
    }

    /// Spacing between restarts.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The directive for a failure.
    pub fn decide(&self, failure: &Failure) -> Directive {
        (self.decider)(failure)
    }

    pub(crate) fn max_restarts(&self) -> Option<u32> {
        self.max_restarts
    }

    pub(crate) fn within(&self) -> Duration {
        self.within
    }

    pub(crate) fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

impl fmt::Debug for SupervisorStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorStrategy")
            .field("max_restarts", &self.max_restarts)
            .field("within", &self.within)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// Restarts of one child in the current window (kept by the parent).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RestartStats {
    pub(crate) count: u32,
    pub(crate) window_start: tokio::time::Instant,
}

impl RestartStats {
    /// Counts one more restart at `now`; returns the restart's 0-based
    /// number in the window, or `None` when the limit is exceeded.
    pub(crate) fn record(
        &mut self,
        strategy: &SupervisorStrategy,
        now: tokio::time::Instant,
    ) -> Option<u32> {
        if now.saturating_duration_since(self.window_start) > strategy.within() {
            self.count = 0;
            self.window_start = now;
        }
        self.count += 1;
        match strategy.max_restarts() {
            Some(max) if self.count > max => None,
            _ => Some(self.count - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(1),
            random_factor: 0.0,
        };
        assert_eq!(b.delay(0, 0.5), Duration::from_millis(100));
        assert_eq!(b.delay(1, 0.5), Duration::from_millis(200));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(800));
        assert_eq!(b.delay(4, 0.5), Duration::from_secs(1));
        assert_eq!(b.delay(60, 0.5), Duration::from_secs(1));
    }

    #[test]
    fn backoff_jitter_stretches_within_factor() {
        let b = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(1),
            random_factor: 0.5,
        };
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(100));
        // 100 ms * (1 + 0.5 * 0.999_999) = 149.999_95 ms: just under the bound.
        let top = b.delay(0, 0.999_999);
        assert!(
            top > Duration::from_micros(149_999) && top < Duration::from_millis(150),
            "{top:?}"
        );
    }

    #[test]
    fn restart_limit_applies_within_window() {
        let s = SupervisorStrategy::restart().with_limit(2, Duration::from_secs(10));
        let t0 = tokio::time::Instant::now();
        let mut stats = RestartStats {
            count: 0,
            window_start: t0,
        };
        assert_eq!(stats.record(&s, t0), Some(0));
        assert_eq!(stats.record(&s, t0), Some(1));
        assert_eq!(stats.record(&s, t0), None);
        // A new window starts counting again.
        assert_eq!(stats.record(&s, t0 + Duration::from_secs(11)), Some(0));
    }
}
