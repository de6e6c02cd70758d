//! [`EventSourcedConfig`] and [`SnapshotPolicy`].

use std::num::{NonZeroU64, NonZeroUsize};
use std::time::Duration;

/// A configuration value is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config {field}: {reason}")]
pub struct InvalidConfig {
    /// Which field.
    pub field: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

/// When to take snapshots and how many to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Take a snapshot each time the sequence number crosses a multiple of
    /// this (`None`: only when
    /// [`EventSourced::snapshot_when`](crate::EventSourced::snapshot_when)
    /// says so).
    pub every: Option<NonZeroU64>,
    /// Snapshots to keep per persistence id; older ones are deleted after a
    /// new one is saved.
    pub keep: NonZeroUsize,
    /// Also delete the events covered by the oldest kept snapshot: bounds the
    /// journal, at the price of the history.
    pub delete_events: bool,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy {
            every: None,
            keep: NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN),
            delete_events: false,
        }
    }
}

impl SnapshotPolicy {
    /// A snapshot every `n` events (none if `n` is 0), keeping 2.
    pub fn every(n: u64) -> Self {
        SnapshotPolicy {
            every: NonZeroU64::new(n),
            ..SnapshotPolicy::default()
        }
    }

    /// Keeps the last `k` snapshots (at least 1).
    pub fn keep(mut self, k: usize) -> Self {
        self.keep = NonZeroUsize::new(k).unwrap_or(NonZeroUsize::MIN);
        self
    }

    /// Deletes events covered by the oldest kept snapshot.
    pub fn delete_events(mut self, yes: bool) -> Self {
        self.delete_events = yes;
        self
    }
}

/// How an event-sourced actor talks to its stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSourcedConfig {
    /// Events read per journal call during recovery: bounds memory. 8,192
    /// by default: large enough that the cost per query vanishes (on
    /// PostgreSQL, recovery then reads as fast as one streamed query),
    /// small enough to hold (about 2 MB of 100-byte events, two pages at
    /// a time with the prefetch).
    pub replay_batch: NonZeroUsize,
    /// Longest a journal write may take before the actor fails (and its
    /// supervisor restarts it, which recovers from what was stored).
    pub write_timeout: Duration,
    /// Longest the whole recovery may take before the actor fails.
    pub recovery_timeout: Duration,
    /// Snapshots: taken only if the setup has a snapshot store.
    pub snapshots: SnapshotPolicy,
}

impl Default for EventSourcedConfig {
    fn default() -> Self {
        EventSourcedConfig {
            replay_batch: NonZeroUsize::new(8192).unwrap_or(NonZeroUsize::MIN),
            write_timeout: Duration::from_secs(10),
            recovery_timeout: Duration::from_secs(30),
            snapshots: SnapshotPolicy::default(),
        }
    }
}

impl EventSourcedConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.write_timeout.is_zero() {
            return Err(InvalidConfig {
                field: "write_timeout",
                reason: "must be positive",
            });
        }
        if self.recovery_timeout.is_zero() {
            return Err(InvalidConfig {
                field: "recovery_timeout",
                reason: "must be positive",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_zero_timeouts_do_not() {
        assert!(EventSourcedConfig::default().validate().is_ok());
        let bad = EventSourcedConfig {
            write_timeout: Duration::ZERO,
            ..EventSourcedConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "write_timeout");
        assert_eq!(SnapshotPolicy::every(0).every, None);
        assert_eq!(SnapshotPolicy::every(5).keep(0).keep.get(), 1);
    }
}
