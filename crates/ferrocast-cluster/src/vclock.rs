//! Vector clocks over node incarnations, for ordering gossips.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use ferrocast_remote::UniqueAddress;

/// How two clocks relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockOrdering {
    /// The left clock happened before the right one.
    Before,
    /// The left clock happened after the right one.
    After,
    /// Both are equal.
    Same,
    /// Neither dominates: the histories diverged.
    Concurrent,
}

/// A vector clock: one counter per node incarnation that changed the state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VectorClock {
    versions: BTreeMap<UniqueAddress, u64>,
}

impl VectorClock {
    /// The empty clock (before everything).
    pub fn new() -> Self {
        VectorClock::default()
    }

    /// This clock with `node`'s counter advanced by one.
    pub fn increment(&mut self, node: &UniqueAddress) {
        *self.versions.entry(node.clone()).or_insert(0) += 1;
    }

    /// The counter of `node` (0 if it never changed anything).
    pub fn get(&self, node: &UniqueAddress) -> u64 {
        self.versions.get(node).copied().unwrap_or(0)
    }

    /// The entries, for encoding.
    pub fn entries(&self) -> impl Iterator<Item = (&UniqueAddress, u64)> {
        self.versions.iter().map(|(k, v)| (k, *v))
    }

    /// A clock from its entries (as decoded from the wire); zero counters
    /// are left out, as if never incremented.
    pub fn from_entries(entries: impl IntoIterator<Item = (UniqueAddress, u64)>) -> Self {
        VectorClock {
            versions: entries.into_iter().filter(|(_, v)| *v > 0).collect(),
        }
    }

    /// The pointwise maximum of both clocks.
    pub fn merge(&self, other: &VectorClock) -> VectorClock {
        let mut versions = self.versions.clone();
        for (node, &v) in &other.versions {
            let e = versions.entry(node.clone()).or_insert(0);
            *e = (*e).max(v);
        }
        VectorClock { versions }
    }

    /// Drops the entry of a removed node, so clocks do not grow forever.
    pub fn prune(&mut self, node: &UniqueAddress) {
        self.versions.remove(node);
    }

    /// How `self` relates to `other`.
    pub fn compare(&self, other: &VectorClock) -> ClockOrdering {
        let mut less = false;
        let mut greater = false;
        for node in self.versions.keys().chain(other.versions.keys()) {
            match self.get(node).cmp(&other.get(node)) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
            if less && greater {
                return ClockOrdering::Concurrent;
            }
        }
        match (less, greater) {
            (false, false) => ClockOrdering::Same,
            (true, false) => ClockOrdering::Before,
            (false, true) => ClockOrdering::After,
            (true, true) => ClockOrdering::Concurrent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_remote::NodeAddress;

    fn node(uid: u64) -> UniqueAddress {
        UniqueAddress {
            address: NodeAddress::new("s", "h", uid as u16),
            uid,
        }
    }

    #[test]
    fn increments_order_clocks() {
        let a = VectorClock::new();
        let mut b = a.clone();
        b.increment(&node(1));
        assert_eq!(a.compare(&b), ClockOrdering::Before);
        assert_eq!(b.compare(&a), ClockOrdering::After);
        assert_eq!(b.compare(&b.clone()), ClockOrdering::Same);
    }

    #[test]
    fn divergent_histories_are_concurrent_and_merge_dominates_both() {
        let mut a = VectorClock::new();
        a.increment(&node(1));
        let mut b = a.clone();
        a.increment(&node(1));
        b.increment(&node(2));
        assert_eq!(a.compare(&b), ClockOrdering::Concurrent);
        let m = a.merge(&b);
        assert_eq!(m.compare(&a), ClockOrdering::After);
        assert_eq!(m.compare(&b), ClockOrdering::After);
        assert_eq!(m.get(&node(1)), 2);
        assert_eq!(m.get(&node(2)), 1);
        assert_eq!(a.merge(&b), b.merge(&a), "merge commutes");
    }

    #[test]
    fn prune_forgets_a_node() {
        let mut a = VectorClock::new();
        a.increment(&node(1));
        a.increment(&node(2));
        a.prune(&node(1));
        assert_eq!(a.get(&node(1)), 0);
        assert_eq!(a.entries().count(), 1);
    }
}
