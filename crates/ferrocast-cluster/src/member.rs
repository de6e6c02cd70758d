//! Members and their life cycle.
//!
//! ```text
//!  Joining ──► WeaklyUp ──► Up ──► Leaving ──► Exiting ──► Removed
//!     │           │          │        │           │           ▲
//!     └───────────┴──────────┴────────┴───────────┴──► Down ──┘
//! ```
//!
//! Every allowed transition moves *up* the merge precedence
//! `Joining < WeaklyUp < Up < Leaving < Exiting < Down < Removed`, which is
//! what lets concurrent gossips merge by picking the higher status.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use ferrocast_remote::UniqueAddress;

/// Where a member is in its life cycle (Akka's `MemberStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberStatus {
    /// Asked to join; not yet moved up by the leader.
    Joining,
    /// Moved up while the cluster could not converge (some member
    /// unreachable), so it can serve before the partition heals.
    WeaklyUp,
    /// A full member.
    Up,
    /// Asked to leave gracefully.
    Leaving,
    /// The leader saw `Leaving` converge; the node is handing over.
    Exiting,
    /// Declared dead (by an operator or the split brain resolver).
    Down,
    /// Gone: no longer in the gossip (kept only as a tombstone).
    Removed,
}

impl MemberStatus {
    /// All statuses, in merge precedence order.
    pub const ALL: [MemberStatus; 7] = [
        MemberStatus::Joining,
        MemberStatus::WeaklyUp,
        MemberStatus::Up,
        MemberStatus::Leaving,
        MemberStatus::Exiting,
        MemberStatus::Down,
        MemberStatus::Removed,
    ];

    /// True if one step may move a member from `self` to `to` (Akka's
    /// `Member.allowedTransitions`).
    pub fn can_transition_to(self, to: MemberStatus) -> bool {
        use MemberStatus::*;
        matches!(
            (self, to),
            (Joining, WeaklyUp | Up | Leaving | Down | Removed)
                | (WeaklyUp, Up | Leaving | Down | Removed)
                | (Up, Leaving | Down | Removed)
                | (Leaving, Exiting | Down | Removed)
                | (Exiting, Down | Removed)
                | (Down, Removed)
        )
    }

    /// True if a chain of allowed transitions leads from `self` to `to`
    /// (an observer that missed a gossip sees such jumps).
    pub fn can_reach(self, to: MemberStatus) -> bool {
        let mut frontier = vec![self];
        let mut seen = BTreeSet::new();
        while let Some(s) = frontier.pop() {
            for next in MemberStatus::ALL {
                if s.can_transition_to(next) && seen.insert(next) {
                    if next == to {
                        return true;
                    }
                    frontier.push(next);
                }
            }
        }
        false
    }

    /// Statuses whose members must have seen a gossip for convergence.
    pub(crate) fn needs_seen_for_convergence(self) -> bool {
        matches!(self, MemberStatus::Up | MemberStatus::Leaving)
    }

    /// Statuses that may be leader before any other.
    pub(crate) fn is_leader_status(self) -> bool {
        matches!(self, MemberStatus::Up | MemberStatus::Leaving)
    }

    /// Unreachable members with these statuses neither block convergence
    /// nor survive a merge in which the other side already removed them.
    pub(crate) fn is_on_the_way_out(self) -> bool {
        matches!(self, MemberStatus::Down | MemberStatus::Exiting)
    }

    /// Rank for the fallback leader choice (Akka's `leaderStatusOrdering`):
    /// lower is preferred.
    pub(crate) fn leader_rank(self) -> u8 {
        match self {
            MemberStatus::Up | MemberStatus::Leaving => 0,
            MemberStatus::WeaklyUp => 1,
            MemberStatus::Joining => 2,
            MemberStatus::Exiting => 3,
            MemberStatus::Down | MemberStatus::Removed => 4,
        }
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The version of the application a node runs, for rolling updates:
/// dot-separated parts compare numerically when both are numbers
/// (`1.10.0 > 1.9.3`), as text otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AppVersion(pub String);

impl AppVersion {
    /// A version from its text.
    pub fn new(text: impl Into<String>) -> Self {
        AppVersion(text.into())
    }
}

impl Ord for AppVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let mut a = self.0.split('.');
        let mut b = other.0.split('.');
        loop {
            match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => {
                    let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                        (Ok(x), Ok(y)) => x.cmp(&y),
                        _ => x.cmp(y),
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
            }
        }
    }
}

impl PartialOrd for AppVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for AppVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One node incarnation as the cluster knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Which incarnation of which node.
    pub unique_address: UniqueAddress,
    /// Life-cycle status.
    pub status: MemberStatus,
    /// Roles, for role leaders and role-scoped strategies.
    pub roles: BTreeSet<String>,
    /// The application version it runs.
    pub app_version: AppVersion,
    /// Age: assigned by the leader when the member moves up, smaller is
    /// older. `u32::MAX` until then.
    pub up_number: u32,
}

impl Member {
    /// A new member in `Joining`.
    pub fn joining(
        unique_address: UniqueAddress,
        roles: BTreeSet<String>,
        app_version: AppVersion,
    ) -> Self {
        Member {
            unique_address,
            status: MemberStatus::Joining,
            roles,
            app_version,
            up_number: u32::MAX,
        }
    }

    /// True if it has the role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// True if `self` is older than `other` (ties broken by address, so
    /// exactly one of two different members is older).
    pub fn is_older_than(&self, other: &Member) -> bool {
        (self.up_number, &self.unique_address) < (other.up_number, &other.unique_address)
    }

    /// The one of two versions of the same member that a merge keeps: the
    /// higher status, and for equal statuses the older (Akka's
    /// `highestPriorityOf`).
    pub fn highest_priority(a: Member, b: Member) -> Member {
        match a.status.cmp(&b.status) {
            Ordering::Greater => a,
            Ordering::Less => b,
            Ordering::Equal => {
                if b.up_number < a.up_number {
                    b
                } else {
                    a
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MemberStatus::*;

    #[test]
    fn transitions_follow_akka() {
        assert!(Joining.can_transition_to(Up));
        assert!(Joining.can_transition_to(WeaklyUp));
        assert!(Up.can_transition_to(Leaving));
        assert!(Leaving.can_transition_to(Exiting));
        assert!(Exiting.can_transition_to(Removed));
        assert!(Down.can_transition_to(Removed));
        assert!(!Joining.can_transition_to(Exiting));
        assert!(!Up.can_transition_to(Joining));
        assert!(!Up.can_transition_to(Exiting));
        assert!(!Down.can_transition_to(Up));
        assert!(!Removed.can_transition_to(Joining));
        assert!(!Up.can_transition_to(Up));
    }

    #[test]
    fn every_transition_climbs_the_merge_precedence() {
        for a in MemberStatus::ALL {
            for b in MemberStatus::ALL {
                if a.can_transition_to(b) {
                    assert!(a < b, "{a} -> {b}");
                }
                assert_eq!(a.can_reach(b), a < b && a != Removed, "{a} ->* {b}");
            }
        }
    }

    #[test]
    fn app_versions_compare_numerically() {
        assert!(AppVersion::new("1.10.0") > AppVersion::new("1.9.3"));
        assert!(AppVersion::new("2") > AppVersion::new("1.99"));
        assert!(AppVersion::new("1.2") < AppVersion::new("1.2.1"));
        assert_eq!(AppVersion::new("1.2.3"), AppVersion::new("1.2.3"));
        assert!(AppVersion::new("1.2-rc") < AppVersion::new("1.3"));
    }

    #[test]
    fn merge_keeps_higher_status_then_older() {
        let ua = UniqueAddress {
            address: ferrocast_remote::NodeAddress::new("s", "h", 1),
            uid: 1,
        };
        let mut a = Member::joining(ua, BTreeSet::new(), AppVersion::default());
        let mut b = a.clone();
        a.status = Up;
        a.up_number = 3;
        b.status = Leaving;
        b.up_number = 3;
        assert_eq!(
            Member::highest_priority(a.clone(), b.clone()).status,
            Leaving
        );
        b.status = Up;
        b.up_number = 2;
        assert_eq!(Member::highest_priority(a, b).up_number, 2);
    }
}
