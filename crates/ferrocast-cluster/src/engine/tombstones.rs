//! Pruning of tombstones, so the gossip does not grow with every member
//! that was ever removed (Akka's `prune-gossip-tombstones-after`).
//!
//! A tombstone keeps a removed incarnation from being brought back by a
//! stale gossip; a day later no such gossip is assumed to exist any more.
//! Akka stamps each tombstone with the remover's wall clock; the engine
//! reads no clock, so each node counts from when *it* first saw the
//! tombstone (nodes see it within a few gossip rounds of each other), and
//! ignores a tombstone it pruned when a slower node gossips it back, for
//! one more period, so the last copies die out instead of bouncing around.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrocast_remote::UniqueAddress;
use tokio::time::Instant;

use crate::gossip::Gossip;

#[derive(Debug, Clone, Default)]
pub(super) struct Tombstones {
    /// When this node first saw each tombstone of its gossip.
    seen_at: BTreeMap<UniqueAddress, Instant>,
    /// Tombstones pruned here, and when: not taken back from others.
    pruned_at: BTreeMap<UniqueAddress, Instant>,
}

impl Tombstones {
    /// After the gossip may have changed: drop tombstones already pruned
    /// here, and start the clock of new ones.
    pub(super) fn track(&mut self, gossip: &mut Gossip, now: Instant) {
        let in_sync = gossip.tombstones.len() == self.seen_at.len()
            && gossip
                .tombstones
                .iter()
                .all(|t| self.seen_at.contains_key(t));
        if in_sync {
            return;
        }
        gossip
            .tombstones
            .retain(|t| !self.pruned_at.contains_key(t));
        for t in &gossip.tombstones {
            self.seen_at.entry(t.clone()).or_insert(now);
        }
        self.seen_at.retain(|t, _| gossip.tombstones.contains(t));
    }

    /// Drops tombstones older than `after`; true if any was.
    pub(super) fn prune(&mut self, gossip: &mut Gossip, after: Duration, now: Instant) -> bool {
        self.pruned_at
            .retain(|_, at| now.saturating_duration_since(*at) < after);
        let expired: Vec<UniqueAddress> = self
            .seen_at
            .iter()
            .filter(|(_, at)| now.saturating_duration_since(**at) >= after)
            .map(|(t, _)| t.clone())
            .collect();
        for t in &expired {
            gossip.tombstones.remove(t);
            self.seen_at.remove(t);
            self.pruned_at.insert(t.clone(), now);
        }
        !expired.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_remote::NodeAddress;

    fn node(uid: u64) -> UniqueAddress {
        UniqueAddress {
            address: NodeAddress::new("s", "h", 1),
            uid,
        }
    }

    #[test]
    fn tombstones_are_pruned_after_the_period_and_not_taken_back() {
        let day = Duration::from_secs(24 * 3600);
        let t0 = Instant::now();
        let mut g = Gossip::default();
        g.tombstones.insert(node(1));
        let mut t = Tombstones::default();
        t.track(&mut g, t0);
        g.tombstones.insert(node(2));
        t.track(&mut g, t0 + Duration::from_secs(3600));
        assert!(!t.prune(&mut g, day, t0 + day - Duration::from_secs(1)));
        assert!(t.prune(&mut g, day, t0 + day));
        assert_eq!(g.tombstones, [node(2)].into(), "only the older one");
        // A slower node gossips the pruned one back: ignored.
        g.tombstones.insert(node(1));
        t.track(&mut g, t0 + day + Duration::from_secs(5));
        assert_eq!(g.tombstones, [node(2)].into());
        assert!(t.prune(&mut g, day, t0 + day + Duration::from_secs(3600)));
        assert!(g.tombstones.is_empty());
        // After another period the pruned set is forgotten too.
        t.prune(&mut g, day, t0 + 3 * day);
        assert!(t.pruned_at.is_empty() && t.seen_at.is_empty());
    }
}
