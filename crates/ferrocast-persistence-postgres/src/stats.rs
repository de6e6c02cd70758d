//! [`OneRoundTrip`]: how many groups the writer committed in one round
//! trip, and how many it tried to but found another store had written.

use std::sync::atomic::{AtomicU64, Ordering};

/// Groups committed in one round trip (every log known, see
/// [`PostgresStore::one_round_trip`](crate::PostgresStore::one_round_trip)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OneRoundTrip {
    /// Groups committed in one round trip.
    pub commits: u64,
    /// Groups sent that way whose insert wrote nothing because another
    /// store had written events since this writer's last commit; each was
    /// then run again in two round trips.
    pub misses: u64,
}

/// The counts behind [`OneRoundTrip`], updated by the writer's thread.
#[derive(Debug, Default)]
pub(crate) struct OneRoundTripCounters {
    commits: AtomicU64,
    misses: AtomicU64,
}

impl OneRoundTripCounters {
    pub(crate) fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn missed(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> OneRoundTrip {
        OneRoundTrip {
            commits: self.commits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}
