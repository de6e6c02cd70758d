//! [`QuerySettings`]: page size and refresh interval of query streams.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::config::InvalidConfig;

/// How query streams read the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuerySettings {
    /// Most events one query to the journal returns. A stream holds at most
    /// one page and asks for the next only when its consumer has taken the
    /// last one: this bounds its memory and is its back-pressure.
    pub page_size: NonZeroUsize,
    /// How long a live stream that has caught up waits before it asks the
    /// journal again (Akka's `refresh-interval`). A write signal
    /// ([`ReadJournal::wake_on`](crate::ReadJournal::wake_on)) cuts the
    /// wait short when this process writes.
    pub refresh_interval: Duration,
}

impl Default for QuerySettings {
    fn default() -> Self {
        QuerySettings {
            page_size: NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN),
            refresh_interval: Duration::from_secs(3),
        }
    }
}

impl QuerySettings {
    /// Checks the values: a zero refresh interval would poll the journal
    /// in a busy loop.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.refresh_interval.is_zero() {
            return Err(InvalidConfig {
                field: "refresh_interval",
                reason: "must be above zero",
            });
        }
        Ok(())
    }
}
