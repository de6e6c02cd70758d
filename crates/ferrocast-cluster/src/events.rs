//! Cluster events: what changed between two gossips, as subscribers see it,
//! and the snapshot a new subscriber starts from.

use std::collections::{BTreeMap, BTreeSet};

use ferrocast_remote::UniqueAddress;

use crate::gossip::Gossip;
use crate::member::{Member, MemberStatus};

/// One change of the cluster as seen by one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A member asked to join.
    MemberJoined(Member),
    /// A member moved to WeaklyUp.
    MemberWeaklyUp(Member),
    /// A member moved to Up.
    MemberUp(Member),
    /// A member is leaving.
    MemberLeft(Member),
    /// A member is exiting.
    MemberExited(Member),
    /// A member was downed.
    MemberDowned(Member),
    /// A member is gone (its status is `Removed`).
    MemberRemoved {
        /// The member, with status `Removed`.
        member: Member,
        /// Its status before removal (Down or Exiting when correct).
        previous_status: MemberStatus,
    },
    /// Some observer can no longer reach the member.
    UnreachableMember(Member),
    /// Every observer reaches the member again.
    ReachableMember(Member),
    /// The leader changed (None: no leader).
    LeaderChanged(Option<UniqueAddress>),
    /// The leader of a role changed.
    RoleLeaderChanged {
        /// The role.
        role: String,
        /// Its new leader.
        leader: Option<UniqueAddress>,
    },
}

/// The state a subscriber starts from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CurrentClusterState {
    /// All members, sorted by address.
    pub members: Vec<Member>,
    /// Members some observer cannot reach.
    pub unreachable: BTreeSet<UniqueAddress>,
    /// Members that have seen the current version.
    pub seen_by: BTreeSet<UniqueAddress>,
    /// The leader.
    pub leader: Option<UniqueAddress>,
    /// The leader of each role.
    pub role_leaders: BTreeMap<String, Option<UniqueAddress>>,
}

impl CurrentClusterState {
    /// The snapshot of `gossip` as `self_node` sees it.
    pub fn of(gossip: &Gossip, self_node: &UniqueAddress) -> Self {
        CurrentClusterState {
            members: gossip.members.values().cloned().collect(),
            unreachable: unreachable_members(gossip),
            seen_by: gossip.overview.seen.clone(),
            leader: gossip.leader(self_node),
            role_leaders: gossip
                .all_roles()
                .into_iter()
                .map(|r| {
                    let l = gossip.role_leader(&r, self_node);
                    (r, l)
                })
                .collect(),
        }
    }
}

fn unreachable_members(g: &Gossip) -> BTreeSet<UniqueAddress> {
    g.reachability_excluding_downed_observers()
        .all_unreachable_or_terminated()
        .into_iter()
        .filter(|n| g.members.contains_key(n))
        .collect()
}

/// The events that lead from `old` to `new`, as `self_node` sees them.
pub fn diff(old: &Gossip, new: &Gossip, self_node: &UniqueAddress) -> Vec<ClusterEvent> {
    let mut events = Vec::new();
    for (node, m) in &new.members {
        if old.member(node).map(|o| o.status) == Some(m.status) {
            continue;
        }
        let e = match m.status {
            MemberStatus::Joining => ClusterEvent::MemberJoined(m.clone()),
            MemberStatus::WeaklyUp => ClusterEvent::MemberWeaklyUp(m.clone()),
            MemberStatus::Up => ClusterEvent::MemberUp(m.clone()),
            MemberStatus::Leaving => ClusterEvent::MemberLeft(m.clone()),
            MemberStatus::Exiting => ClusterEvent::MemberExited(m.clone()),
            MemberStatus::Down => ClusterEvent::MemberDowned(m.clone()),
            MemberStatus::Removed => continue,
        };
        events.push(e);
    }
    for (node, m) in &old.members {
        if !new.members.contains_key(node) {
            let mut member = m.clone();
            member.status = MemberStatus::Removed;
            events.push(ClusterEvent::MemberRemoved {
                member,
                previous_status: m.status,
            });
        }
    }
    let (u_old, u_new) = (unreachable_members(old), unreachable_members(new));
    for n in u_new.difference(&u_old) {
        events.push(ClusterEvent::UnreachableMember(new.members[n].clone()));
    }
    for n in u_old.difference(&u_new) {
        if let Some(m) = new.member(n) {
            events.push(ClusterEvent::ReachableMember(m.clone()));
        }
    }
    let leader = new.leader(self_node);
    if old.leader(self_node) != leader {
        events.push(ClusterEvent::LeaderChanged(leader));
    }
    for role in old.all_roles().union(&new.all_roles()) {
        let leader = new.role_leader(role, self_node);
        if old.role_leader(role, self_node) != leader {
            events.push(ClusterEvent::RoleLeaderChanged {
                role: role.clone(),
                leader,
            });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::AppVersion;
    use ferrocast_remote::NodeAddress;

    fn node(port: u16) -> UniqueAddress {
        UniqueAddress {
            address: NodeAddress::new("s", "h", port),
            uid: port as u64,
        }
    }

    fn member(port: u16, status: MemberStatus, role: Option<&str>) -> Member {
        let mut m = Member::joining(
            node(port),
            role.into_iter().map(String::from).collect(),
            AppVersion::default(),
        );
        m.status = status;
        m
    }

    #[test]
    fn status_changes_become_events() {
        use MemberStatus::*;
        let old = Gossip::with_members([
            member(1, Up, Some("a")),
            member(2, Joining, None),
            member(3, Exiting, None),
        ]);
        let mut new = old.clone();
        new.set_status(&node(2), Up);
        new.remove(&node(3));
        new.members.insert(node(4), member(4, Joining, None));
        let events = diff(&old, &new, &node(1));
        assert!(events.contains(&ClusterEvent::MemberUp(new.members[&node(2)].clone())));
        assert!(events.contains(&ClusterEvent::MemberJoined(new.members[&node(4)].clone())));
        assert!(events.iter().any(|e| matches!(e,
            ClusterEvent::MemberRemoved { member, previous_status: Exiting }
                if member.unique_address == node(3) && member.status == Removed)));
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(diff(&new, &new, &node(1)).is_empty());
    }

    #[test]
    fn reachability_and_leadership_changes_become_events() {
        use MemberStatus::*;
        let old = Gossip::with_members([member(1, Up, Some("a")), member(2, Up, Some("a"))]);
        let mut new = old.clone();
        new.overview.reachability.unreachable(&node(2), &node(1));
        let events = diff(&old, &new, &node(2));
        assert!(events.contains(&ClusterEvent::UnreachableMember(
            old.members[&node(1)].clone()
        )));
        assert!(events.contains(&ClusterEvent::LeaderChanged(Some(node(2)))));
        assert!(events.contains(&ClusterEvent::RoleLeaderChanged {
            role: "a".into(),
            leader: Some(node(2))
        }));
        let back = diff(&new, &old, &node(2));
        assert!(back.contains(&ClusterEvent::ReachableMember(
            old.members[&node(1)].clone()
        )));
    }

    #[test]
    fn snapshot_lists_members_and_leaders() {
        let mut g = Gossip::with_members([
            member(1, MemberStatus::Up, Some("a")),
            member(2, MemberStatus::Up, None),
        ]);
        g.overview.reachability.unreachable(&node(1), &node(2));
        let s = CurrentClusterState::of(&g, &node(1));
        assert_eq!(s.members.len(), 2);
        assert_eq!(s.leader, Some(node(1)));
        assert_eq!(s.unreachable, [node(2)].into());
        assert_eq!(s.role_leaders["a"], Some(node(1)));
    }
}
