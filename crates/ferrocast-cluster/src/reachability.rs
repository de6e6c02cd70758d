//! Who sees whom as reachable: one row per observer, gossiped.
//!
//! Each observer owns its row and bumps the row's version whenever it
//! changes it, so merging two tables keeps, per observer, the row with the
//! higher version: rows are never combined, which is what makes the merge
//! commutative without tombstones.

use std::collections::{BTreeMap, BTreeSet};

use ferrocast_remote::UniqueAddress;

/// What one observer says about one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReachabilityStatus {
    /// Heartbeats arrive.
    Reachable,
    /// The failure detector gave up on it.
    Unreachable,
    /// Known dead for good (its incarnation was replaced).
    Terminated,
}

/// One observer's row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObserverRow {
    /// Bumped on every change by the observer.
    pub version: u64,
    /// Subjects that are not plainly reachable (reachable entries are
    /// dropped once all of the row is reachable, to keep gossip small).
    pub subjects: BTreeMap<UniqueAddress, ReachabilityStatus>,
}

/// The reachability table of a gossip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reachability {
    rows: BTreeMap<UniqueAddress, ObserverRow>,
}

impl Reachability {
    /// The empty table: everybody reachable.
    pub fn new() -> Self {
        Reachability::default()
    }

    /// A table from its rows (as decoded from the wire).
    pub fn from_rows(rows: BTreeMap<UniqueAddress, ObserverRow>) -> Self {
        Reachability { rows }
    }

    /// The rows, for encoding and inspection.
    pub fn rows(&self) -> &BTreeMap<UniqueAddress, ObserverRow> {
        &self.rows
    }

    fn change(
        &mut self,
        observer: &UniqueAddress,
        subject: &UniqueAddress,
        status: ReachabilityStatus,
    ) -> bool {
        let row = self.rows.entry(observer.clone()).or_default();
        let current = row
            .subjects
            .get(subject)
            .copied()
            .unwrap_or(ReachabilityStatus::Reachable);
        if current == status || current == ReachabilityStatus::Terminated {
            return false;
        }
        row.version += 1;
        row.subjects.insert(subject.clone(), status);
        if row
            .subjects
            .values()
            .all(|s| *s == ReachabilityStatus::Reachable)
        {
            row.subjects.clear();
        }
        true
    }

    /// Records that `observer` cannot reach `subject`; true if it changed.
    pub fn unreachable(&mut self, observer: &UniqueAddress, subject: &UniqueAddress) -> bool {
        self.change(observer, subject, ReachabilityStatus::Unreachable)
    }

    /// Records that `observer` reaches `subject` again; true if it changed.
    pub fn reachable(&mut self, observer: &UniqueAddress, subject: &UniqueAddress) -> bool {
        self.change(observer, subject, ReachabilityStatus::Reachable)
    }

    /// Records that `subject` is dead for good; true if it changed.
    pub fn terminated(&mut self, observer: &UniqueAddress, subject: &UniqueAddress) -> bool {
        self.change(observer, subject, ReachabilityStatus::Terminated)
    }

    /// What `observer` says about `subject`.
    pub fn status_by(
        &self,
        observer: &UniqueAddress,
        subject: &UniqueAddress,
    ) -> ReachabilityStatus {
        self.rows
            .get(observer)
            .and_then(|r| r.subjects.get(subject).copied())
            .unwrap_or(ReachabilityStatus::Reachable)
    }

    /// The aggregate over all observers: the worst any observer says.
    pub fn status(&self, subject: &UniqueAddress) -> ReachabilityStatus {
        self.rows
            .values()
            .filter_map(|r| r.subjects.get(subject).copied())
            .max()
            .unwrap_or(ReachabilityStatus::Reachable)
    }

    /// True if no observer reports `subject` unreachable or terminated.
    pub fn is_reachable(&self, subject: &UniqueAddress) -> bool {
        self.status(subject) == ReachabilityStatus::Reachable
    }

    /// True if nobody is unreachable.
    pub fn is_all_reachable(&self) -> bool {
        self.rows.values().all(|r| r.subjects.is_empty())
    }

    /// Every subject some observer reports unreachable or terminated.
    pub fn all_unreachable_or_terminated(&self) -> BTreeSet<UniqueAddress> {
        self.rows
            .values()
            .flat_map(|r| {
                r.subjects
                    .iter()
                    .filter(|(_, s)| **s != ReachabilityStatus::Reachable)
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Subjects that `observer` itself reports unreachable or terminated.
    pub fn unreachable_by(&self, observer: &UniqueAddress) -> BTreeSet<UniqueAddress> {
        self.rows
            .get(observer)
            .map(|r| {
                r.subjects
                    .iter()
                    .filter(|(_, s)| **s != ReachabilityStatus::Reachable)
                    .map(|(n, _)| n.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Observers that report some subject unreachable.
    pub fn observers_of_unreachable(&self) -> BTreeSet<UniqueAddress> {
        self.rows
            .iter()
            .filter(|(_, r)| {
                r.subjects
                    .values()
                    .any(|s| *s != ReachabilityStatus::Reachable)
            })
            .map(|(o, _)| o.clone())
            .collect()
    }

    /// Observers that report one of `subjects` unreachable (reports about
    /// others, say members already downed, do not count).
    pub fn observers_of(&self, subjects: &BTreeSet<UniqueAddress>) -> BTreeSet<UniqueAddress> {
        self.rows
            .iter()
            .filter(|(_, r)| {
                r.subjects
                    .iter()
                    .any(|(n, s)| *s != ReachabilityStatus::Reachable && subjects.contains(n))
            })
            .map(|(o, _)| o.clone())
            .collect()
    }

    /// The same table without the rows of `observers` (for instance the
    /// downed ones, whose opinion no longer counts).
    pub fn without_observers(&self, observers: &BTreeSet<UniqueAddress>) -> Reachability {
        Reachability {
            rows: self
                .rows
                .iter()
                .filter(|(o, _)| !observers.contains(*o))
                .map(|(o, r)| (o.clone(), r.clone()))
                .collect(),
        }
    }

    /// Forgets `nodes` both as observers and as subjects (they were removed).
    pub fn remove(&mut self, nodes: &BTreeSet<UniqueAddress>) {
        self.rows.retain(|o, _| !nodes.contains(o));
        for row in self.rows.values_mut() {
            row.subjects.retain(|s, _| !nodes.contains(s));
        }
    }

    /// Merges two tables, keeping per observer the row with the higher
    /// version, and only observers and subjects in `allowed` (the members).
    pub fn merge(&self, other: &Reachability, allowed: &BTreeSet<UniqueAddress>) -> Reachability {
        let mut rows = BTreeMap::new();
        for observer in self.rows.keys().chain(other.rows.keys()) {
            if !allowed.contains(observer) || rows.contains_key(observer) {
                continue;
            }
            let row = match (self.rows.get(observer), other.rows.get(observer)) {
                (Some(a), Some(b)) if b.version > a.version => b,
                (Some(a), _) => a,
                (None, Some(b)) => b,
                (None, None) => continue,
            };
            let mut row = row.clone();
            row.subjects.retain(|s, _| allowed.contains(s));
            rows.insert(observer.clone(), row);
        }
        Reachability { rows }
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
    fn aggregate_is_the_worst_observation() {
        let mut r = Reachability::new();
        assert!(r.unreachable(&node(1), &node(3)));
        assert!(!r.unreachable(&node(1), &node(3)), "no change, no bump");
        assert_eq!(r.status(&node(3)), ReachabilityStatus::Unreachable);
        assert!(!r.is_reachable(&node(3)));
        assert!(r.is_reachable(&node(2)));
        r.terminated(&node(2), &node(3));
        assert_eq!(r.status(&node(3)), ReachabilityStatus::Terminated);
        assert!(!r.reachable(&node(2), &node(3)), "terminated is final");
        assert_eq!(r.observers_of_unreachable().len(), 2);
        assert_eq!(r.observers_of(&[node(3)].into()).len(), 2);
        assert!(r.observers_of(&[node(2)].into()).is_empty());
    }

    #[test]
    fn all_reachable_rows_are_compacted() {
        let mut r = Reachability::new();
        r.unreachable(&node(1), &node(3));
        r.reachable(&node(1), &node(3));
        assert!(r.is_all_reachable());
        assert_eq!(r.rows()[&node(1)].version, 2);
    }

    #[test]
    fn merge_keeps_the_newer_row_per_observer() {
        let allowed: BTreeSet<_> = (1..=3).map(node).collect();
        let mut a = Reachability::new();
        a.unreachable(&node(1), &node(3));
        let mut b = a.clone();
        b.reachable(&node(1), &node(3));
        b.unreachable(&node(2), &node(3));
        let m1 = a.merge(&b, &allowed);
        let m2 = b.merge(&a, &allowed);
        assert_eq!(m1, m2, "merge commutes");
        assert_eq!(
            m1.status_by(&node(1), &node(3)),
            ReachabilityStatus::Reachable
        );
        assert_eq!(
            m1.status_by(&node(2), &node(3)),
            ReachabilityStatus::Unreachable
        );
        let only_two: BTreeSet<_> = [node(1), node(2)].into();
        assert!(
            a.merge(&b, &only_two).is_all_reachable(),
            "non-members dropped"
        );
    }
}
