//! Who heartbeats whom, and the failure detectors of the monitored nodes.
//!
//! Nodes sit on a ring ordered by a hash of their address, the same ring on
//! every node; each node monitors the next `monitored_by_nr_of_members`
//! reachable nodes clockwise (plus the unreachable ones among them, so it
//! notices when they come back). So every node is watched by a bounded
//! number of others, whatever the cluster size.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ferrocast_remote::{DetectorSettings, PhiAccrualDetector, UniqueAddress};
use tokio::time::Instant;

/// FNV-1a over the address and uid: stable across nodes and runs.
fn ring_hash(node: &UniqueAddress) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let text = node.address.to_string();
    for b in text.bytes().chain(node.uid.to_le_bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The nodes `from` monitors on the ring of `nodes`.
pub(crate) fn receivers(
    from: &UniqueAddress,
    nodes: &BTreeSet<UniqueAddress>,
    unreachable: &BTreeSet<UniqueAddress>,
    n: usize,
) -> BTreeSet<UniqueAddress> {
    let mut ring: Vec<(u64, &UniqueAddress)> = nodes
        .iter()
        .chain(std::iter::once(from))
        .map(|a| (ring_hash(a), a))
        .collect();
    ring.sort();
    ring.dedup();
    let start = ring.iter().position(|(_, a)| *a == from).unwrap_or(0);
    let mut chosen = BTreeSet::new();
    let mut reachable = 0;
    for i in 1..ring.len() {
        if reachable >= n {
            break;
        }
        let node = ring[(start + i) % ring.len()].1;
        chosen.insert(node.clone());
        if !unreachable.contains(node) {
            reachable += 1;
        }
    }
    chosen
}

/// Heartbeat sender state of one node.
#[derive(Debug)]
pub(crate) struct Heartbeats {
    settings: DetectorSettings,
    expected_response_after: Duration,
    receivers: BTreeSet<UniqueAddress>,
    detectors: BTreeMap<UniqueAddress, PhiAccrualDetector>,
    /// Receivers that never answered, and when to start suspecting them
    /// anyway (a node that never answers must still become unreachable).
    first_expected: BTreeMap<UniqueAddress, Instant>,
    sequence: u64,
}

impl Heartbeats {
    pub(crate) fn new(settings: DetectorSettings, expected_response_after: Duration) -> Self {
        Heartbeats {
            settings,
            expected_response_after,
            receivers: BTreeSet::new(),
            detectors: BTreeMap::new(),
            first_expected: BTreeMap::new(),
            sequence: 0,
        }
    }

    /// Sets the receivers; new ones get a fresh detector.
    pub(crate) fn set_receivers(&mut self, receivers: BTreeSet<UniqueAddress>, now: Instant) {
        for r in receivers.difference(&self.receivers) {
            self.detectors
                .insert(r.clone(), PhiAccrualDetector::new(self.settings.clone()));
            self.first_expected
                .insert(r.clone(), now + self.expected_response_after);
        }
        self.detectors.retain(|n, _| receivers.contains(n));
        self.first_expected.retain(|n, _| receivers.contains(n));
        self.receivers = receivers;
    }

    pub(crate) fn receivers(&self) -> &BTreeSet<UniqueAddress> {
        &self.receivers
    }

    /// The next sequence number, and starts suspicion of silent receivers.
    pub(crate) fn tick(&mut self, now: Instant) -> u64 {
        let due: Vec<UniqueAddress> = self
            .first_expected
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for n in due {
            self.first_expected.remove(&n);
            if let Some(d) = self.detectors.get_mut(&n) {
                if !d.is_monitoring() {
                    d.heartbeat(now);
                }
            }
        }
        self.sequence += 1;
        self.sequence
    }

    /// A response from `from` arrived.
    pub(crate) fn response(&mut self, from: &UniqueAddress, now: Instant) {
        if let Some(d) = self.detectors.get_mut(from) {
            d.heartbeat(now);
            self.first_expected.remove(from);
        }
    }

    /// False once the detector of a monitored node gives up; nodes not
    /// monitored are available.
    pub(crate) fn is_available(&self, node: &UniqueAddress, now: Instant) -> bool {
        self.detectors.get(node).is_none_or(|d| d.is_available(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_remote::NodeAddress;

    fn node(port: u16) -> UniqueAddress {
        UniqueAddress {
            address: NodeAddress::new("s", "h", port),
            uid: 1,
        }
    }

    #[test]
    fn each_node_is_monitored_by_a_bounded_number_of_others() {
        let nodes: BTreeSet<_> = (1..=20).map(node).collect();
        let mut monitored_by: BTreeMap<UniqueAddress, usize> = BTreeMap::new();
        for n in &nodes {
            let r = receivers(n, &nodes, &BTreeSet::new(), 5);
            assert_eq!(r.len(), 5);
            assert!(!r.contains(n));
            for x in r {
                *monitored_by.entry(x).or_default() += 1;
            }
        }
        assert!(monitored_by.values().all(|c| *c == 5), "{monitored_by:?}");
        let small: BTreeSet<_> = (1..=3).map(node).collect();
        assert_eq!(receivers(&node(1), &small, &BTreeSet::new(), 5).len(), 2);
    }

    #[test]
    fn unreachable_receivers_are_kept_and_replaced() {
        let nodes: BTreeSet<_> = (1..=10).map(node).collect();
        let before = receivers(&node(1), &nodes, &BTreeSet::new(), 3);
        let gone = before.iter().next().unwrap().clone();
        let after = receivers(&node(1), &nodes, &[gone.clone()].into(), 3);
        assert!(after.contains(&gone));
        assert_eq!(after.len(), 4);
    }

    #[test]
    fn silent_receivers_become_unavailable() {
        let t0 = Instant::now();
        let settings = DetectorSettings {
            threshold: 8.0,
            acceptable_heartbeat_pause: Duration::from_secs(3),
            ..DetectorSettings::default()
        };
        let mut h = Heartbeats::new(settings, Duration::from_secs(1));
        h.set_receivers([node(2), node(3)].into(), t0);
        for s in 0..30u64 {
            let now = t0 + Duration::from_secs(s);
            h.tick(now);
            h.response(&node(2), now);
        }
        let now = t0 + Duration::from_secs(30);
        assert!(h.is_available(&node(2), now));
        assert!(!h.is_available(&node(3), now), "never answered");
        assert!(h.is_available(&node(9), now), "not monitored");
        h.set_receivers([node(2)].into(), now);
        assert!(h.is_available(&node(3), now), "no longer monitored");
    }
}
