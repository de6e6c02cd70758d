//! The properties the simulator checks, each on its own.
//!
//! - [`History`]: every status change a node observes follows the allowed
//!   transitions (possibly several at once, when it missed gossips); a
//!   member is only removed after someone saw it Down or Exiting; a removed
//!   member never comes back.
//! - [`no_split_brain`]: no two running nodes have downed (or removed) each
//!   other: once the resolver decided, at most one side keeps running.
//! - [`at_most_one_singleton`]: never two singleton instances at once
//!   (counting only nodes whose process runs), checked after every step
//!   and at every start of an instance.
//! - [`converged_all_up`] and [`one_singleton_on_the_oldest`]: the
//!   liveness goals after the heal.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::MembershipEngine;
use crate::member::MemberStatus;

use super::{SimNode, alive_status, tombstones, view};

/// Observed membership history, across all nodes and incarnations.
#[derive(Debug, Default)]
pub struct History {
    /// Every status any node ever saw for a uid.
    ever: BTreeMap<u64, BTreeSet<MemberStatus>>,
    /// What each node saw last, by uid.
    last: BTreeMap<usize, BTreeMap<u64, MemberStatus>>,
    /// Uids each node saw disappear.
    gone: BTreeMap<usize, BTreeSet<u64>>,
    violation: Option<String>,
}

impl History {
    /// Node `i` restarted: a new incarnation starts with no view.
    pub(crate) fn restarted(&mut self, i: usize) {
        self.last.remove(&i);
        self.gone.remove(&i);
    }

    pub(crate) fn violate(&mut self, what: String) {
        if self.violation.is_none() {
            self.violation = Some(what);
        }
    }

    /// Records node `i`'s view after an input.
    pub(crate) fn observe(&mut self, i: usize, engine: &MembershipEngine) {
        let now = view(engine);
        for (uid, status) in &now {
            self.ever.entry(*uid).or_default().insert(*status);
        }
        let before = self.last.remove(&i).unwrap_or_default();
        let gone = self.gone.entry(i).or_default();
        let mut violations = Vec::new();
        for (uid, status) in &now {
            if gone.contains(uid) {
                violations.push(format!(
                    "node {i}: removed member {uid} came back as {status}"
                ));
            }
            if let Some(prev) = before.get(uid) {
                if prev != status && !prev.can_reach(*status) {
                    violations.push(format!(
                        "node {i}: member {uid} went from {prev} to {status}, not an allowed transition"
                    ));
                }
            }
        }
        for (uid, prev) in &before {
            if !now.contains_key(uid) {
                gone.insert(*uid);
                let ever = self.ever.get(uid).cloned().unwrap_or_default();
                if !ever.contains(&MemberStatus::Down) && !ever.contains(&MemberStatus::Exiting) {
                    violations.push(format!(
                        "node {i}: member {uid} removed from {prev} but was never Down or Exiting (ever: {ever:?})"
                    ));
                }
            }
        }
        for v in violations {
            self.violate(v);
        }
        self.last.insert(i, now);
    }

    /// The first violation seen, if any.
    pub(crate) fn take_violation(&mut self) -> Option<String> {
        self.violation.take()
    }
}

/// No two running members have downed or removed each other. A member
/// that is Exiting in its own view does not count: it has handed over
/// (singletons stop at Leaving) and is only waiting to hear of its
/// removal, so the others removing it is its graceful leave completing,
/// not a second half of the cluster.
pub fn no_split_brain(nodes: &[SimNode]) -> Result<(), String> {
    let running: Vec<(
        &MembershipEngine,
        BTreeMap<u64, MemberStatus>,
        BTreeSet<u64>,
    )> = nodes
        .iter()
        .filter_map(|n| n.running())
        .filter(|e| {
            e.self_member()
                .is_some_and(|m| alive_status(m.status) && m.status != MemberStatus::Exiting)
        })
        .map(|e| (e, view(e), tombstones(e)))
        .collect();
    let gave_up_on = |v: &BTreeMap<u64, MemberStatus>, t: &BTreeSet<u64>, uid: u64| {
        t.contains(&uid) || v.get(&uid) == Some(&MemberStatus::Down)
    };
    for (i, (a, va, ta)) in running.iter().enumerate() {
        for (b, vb, tb) in running.iter().skip(i + 1) {
            let (ua, ub) = (a.self_node().uid, b.self_node().uid);
            if gave_up_on(va, ta, ub) && gave_up_on(vb, tb, ua) {
                return Err(format!(
                    "split brain: {} and {} both run and each downed or removed the other",
                    a.self_node(),
                    b.self_node()
                ));
            }
        }
    }
    Ok(())
}

/// Every node runs, every view lists exactly the running incarnations, all
/// Up, converged, and all views are the same version.
pub fn converged_all_up(nodes: &[SimNode]) -> bool {
    let engines: Option<Vec<&MembershipEngine>> = nodes.iter().map(|n| n.running()).collect();
    let Some(engines) = engines else {
        return false;
    };
    let uids: BTreeSet<u64> = engines.iter().map(|e| e.self_node().uid).collect();
    engines.iter().all(|e| {
        let v = view(e);
        v.keys().copied().collect::<BTreeSet<_>>() == uids
            && v.values().all(|s| *s == MemberStatus::Up)
            && e.gossip().convergence(e.self_node())
            && e.gossip().version == engines[0].gossip().version
    })
}

/// At most one node whose process runs has a singleton instance running.
pub fn at_most_one_singleton(nodes: &[SimNode]) -> Result<(), String> {
    // Checked after every step: count first, describe only a violation.
    if nodes.iter().filter(|n| n.runs_singleton()).count() <= 1 {
        return Ok(());
    }
    let running: Vec<String> = nodes
        .iter()
        .filter(|n| n.runs_singleton())
        .filter_map(|n| n.running().map(|e| e.self_node().to_string()))
        .collect();
    if running.len() > 1 {
        return Err(format!(
            "two singletons: instances run on {}",
            running.join(" and ")
        ));
    }
    Ok(())
}

/// Exactly one singleton instance runs, on the oldest member of the
/// (converged) cluster.
pub fn one_singleton_on_the_oldest(nodes: &[SimNode]) -> Result<(), String> {
    let running: Vec<&MembershipEngine> = nodes
        .iter()
        .filter(|n| n.runs_singleton())
        .filter_map(|n| n.running())
        .collect();
    let oldest = nodes
        .iter()
        .filter_map(|n| n.running())
        .filter_map(|e| e.self_member())
        .min_by_key(|m| (m.up_number, m.unique_address.clone()))
        .map(|m| m.unique_address.clone());
    match running.as_slice() {
        [one] if Some(one.self_node()) == oldest.as_ref() => Ok(()),
        [one] => Err(format!(
            "the singleton runs on {}, not on the oldest {oldest:?}",
            one.self_node()
        )),
        [] => Err(format!(
            "no singleton instance runs (oldest: {oldest:?}, states: {:?})",
            nodes
                .iter()
                .map(|n| n.singleton().map(|s| s.state()))
                .collect::<Vec<_>>()
        )),
        many => Err(format!("{} singleton instances run", many.len())),
    }
}
