//! The gossiped membership state: members, who has seen this version, who
//! reaches whom, and a vector clock; with Akka's merge, convergence and
//! leader rules.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use ferrocast_remote::UniqueAddress;

use crate::member::{Member, MemberStatus};
use crate::reachability::Reachability;
use crate::vclock::{ClockOrdering, VectorClock};

/// Seen-set and reachability: the part of a gossip that is about the
/// gossip itself rather than about membership.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GossipOverview {
    /// Members that have seen exactly this version.
    pub seen: BTreeSet<UniqueAddress>,
    /// Who reaches whom.
    pub reachability: Reachability,
}

/// The membership state one node holds and gossips.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gossip {
    /// Members sorted by address (then uid): this order picks the leader.
    pub members: BTreeMap<UniqueAddress, Member>,
    /// Seen-set and reachability.
    pub overview: GossipOverview,
    /// Orders gossips; bumped by whoever changes the membership.
    pub version: VectorClock,
    /// Removed incarnations, so a stale gossip cannot bring them back.
    pub tombstones: BTreeSet<UniqueAddress>,
}

impl Gossip {
    /// A gossip with just these members, seen by nobody.
    pub fn with_members(members: impl IntoIterator<Item = Member>) -> Self {
        Gossip {
            members: members
                .into_iter()
                .map(|m| (m.unique_address.clone(), m))
                .collect(),
            ..Gossip::default()
        }
    }

    /// The member of this incarnation, if any.
    pub fn member(&self, node: &UniqueAddress) -> Option<&Member> {
        self.members.get(node)
    }

    /// True if `node` has seen this version.
    pub fn seen_by(&self, node: &UniqueAddress) -> bool {
        self.overview.seen.contains(node)
    }

    /// Marks this version as seen by `node`.
    pub fn mark_seen(&mut self, node: &UniqueAddress) {
        self.overview.seen.insert(node.clone());
    }

    /// Records a change made by `by`: bump the clock, only `by` has seen it.
    pub fn changed_by(&mut self, by: &UniqueAddress) {
        self.version.increment(by);
        self.overview.seen.clear();
        self.overview.seen.insert(by.clone());
    }

    /// Sets a member's status; false (and no change) if the transition is
    /// not allowed.
    pub fn set_status(&mut self, node: &UniqueAddress, status: MemberStatus) -> bool {
        match self.members.get_mut(node) {
            Some(m) if m.status.can_transition_to(status) => {
                m.status = status;
                true
            }
            _ => false,
        }
    }

    /// Drops a member for good: tombstone, and forget its clock entry,
    /// seen mark and reachability rows.
    pub fn remove(&mut self, node: &UniqueAddress) {
        self.members.remove(node);
        self.tombstones.insert(node.clone());
        self.version.prune(node);
        self.overview.seen.remove(node);
        self.overview.reachability.remove(&[node.clone()].into());
    }

    /// The reachability table without the opinions of downed members.
    pub fn reachability_excluding_downed_observers(&self) -> Cow<'_, Reachability> {
        let downed: BTreeSet<UniqueAddress> = self
            .members
            .values()
            .filter(|m| m.status == MemberStatus::Down)
            .filter(|m| {
                self.overview
                    .reachability
                    .rows()
                    .contains_key(&m.unique_address)
            })
            .map(|m| m.unique_address.clone())
            .collect();
        if downed.is_empty() {
            Cow::Borrowed(&self.overview.reachability)
        } else {
            Cow::Owned(self.overview.reachability.without_observers(&downed))
        }
    }

    /// Merges two gossips (Akka's `Gossip.merge`): tombstones are united,
    /// each member keeps its highest-priority version, a member known to one
    /// side only is dropped if tombstoned or on its way out (the other side
    /// already removed it), reachability keeps the newer row per observer,
    /// the clocks merge, and nobody has seen the result yet.
    pub fn merge(&self, other: &Gossip) -> Gossip {
        let tombstones: BTreeSet<_> = self.tombstones.union(&other.tombstones).cloned().collect();
        let mut version = self.version.merge(&other.version);
        for t in &tombstones {
            version.prune(t);
        }
        let mut members = BTreeMap::new();
        for node in self.members.keys().chain(other.members.keys()) {
            if members.contains_key(node) || tombstones.contains(node) {
                continue;
            }
            let merged = match (self.members.get(node), other.members.get(node)) {
                (Some(a), Some(b)) => Member::highest_priority(a.clone(), b.clone()),
                (Some(m), None) | (None, Some(m)) => {
                    if m.status.is_on_the_way_out() {
                        continue;
                    }
                    m.clone()
                }
                (None, None) => continue,
            };
            members.insert(node.clone(), merged);
        }
        let allowed: BTreeSet<_> = members.keys().cloned().collect();
        let reachability = self
            .overview
            .reachability
            .merge(&other.overview.reachability, &allowed);
        Gossip {
            members,
            overview: GossipOverview {
                seen: BTreeSet::new(),
                reachability,
            },
            version,
            tombstones,
        }
    }

    /// How this gossip's version relates to `other`'s.
    pub fn compare(&self, other: &Gossip) -> ClockOrdering {
        self.version.compare(&other.version)
    }

    /// True if the state has converged as `self_node` sees it: no member
    /// except those Down or Exiting is unreachable, and every Up or Leaving
    /// member has seen this version.
    pub fn convergence(&self, self_node: &UniqueAddress) -> bool {
        let reachability = self.reachability_excluding_downed_observers();
        let unreachable_blocks = reachability
            .all_unreachable_or_terminated()
            .iter()
            .filter(|n| *n != self_node)
            .filter_map(|n| self.members.get(n))
            .any(|m| !m.status.is_on_the_way_out());
        let unseen = self
            .members
            .values()
            .any(|m| m.status.needs_seen_for_convergence() && !self.seen_by(&m.unique_address));
        !unreachable_blocks && !unseen
    }

    /// The leader among `candidates` (Akka's `leaderOf`): the first
    /// reachable one (self counts as reachable) in address order with
    /// status Up or Leaving, else the best by status rank; never Down.
    fn leader_of<'a>(
        &self,
        candidates: impl Iterator<Item = &'a Member>,
        self_node: &UniqueAddress,
    ) -> Option<UniqueAddress> {
        let reachability = &self.overview.reachability;
        let reachable: Vec<&Member> = candidates
            .filter(|m| m.status != MemberStatus::Down && m.status != MemberStatus::Removed)
            .filter(|m| {
                &m.unique_address == self_node || reachability.is_reachable(&m.unique_address)
            })
            .collect();
        reachable
            .iter()
            .find(|m| m.status.is_leader_status())
            .or_else(|| reachable.iter().min_by_key(|m| m.status.leader_rank()))
            .map(|m| m.unique_address.clone())
    }

    /// The cluster leader as `self_node` sees it.
    pub fn leader(&self, self_node: &UniqueAddress) -> Option<UniqueAddress> {
        self.leader_of(self.members.values(), self_node)
    }

    /// The leader among the members with `role`.
    pub fn role_leader(&self, role: &str, self_node: &UniqueAddress) -> Option<UniqueAddress> {
        self.leader_of(
            self.members.values().filter(|m| m.has_role(role)),
            self_node,
        )
    }

    /// Every role some member has.
    pub fn all_roles(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.roles.iter().cloned())
            .collect()
    }

    /// The youngest up number in use (0 if none is up yet).
    pub(crate) fn max_up_number(&self) -> u32 {
        self.members
            .values()
            .map(|m| m.up_number)
            .filter(|n| *n != u32::MAX)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
#[path = "gossip_test.rs"]
mod tests;
