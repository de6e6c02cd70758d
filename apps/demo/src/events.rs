//! Cluster events as one line of text each, for people and for the
//! process tests that read the output.

use ferrocast_cluster::{ClusterEvent, Member};

fn member(m: &Member) -> String {
    format!("{} uid={}", m.unique_address.address, m.unique_address.uid)
}

/// `MemberUp ferrocast://demo@127.0.0.1:2551 uid=42`, and so on.
pub(crate) fn describe(e: &ClusterEvent) -> String {
    match e {
        ClusterEvent::MemberJoined(m) => format!("MemberJoined {}", member(m)),
        ClusterEvent::MemberWeaklyUp(m) => format!("MemberWeaklyUp {}", member(m)),
        ClusterEvent::MemberUp(m) => format!("MemberUp {}", member(m)),
        ClusterEvent::MemberLeft(m) => format!("MemberLeft {}", member(m)),
        ClusterEvent::MemberExited(m) => format!("MemberExited {}", member(m)),
        ClusterEvent::MemberDowned(m) => format!("MemberDowned {}", member(m)),
        ClusterEvent::MemberRemoved {
            member: m,
            previous_status,
        } => format!("MemberRemoved {} previous={previous_status}", member(m)),
        ClusterEvent::UnreachableMember(m) => format!("UnreachableMember {}", member(m)),
        ClusterEvent::ReachableMember(m) => format!("ReachableMember {}", member(m)),
        ClusterEvent::LeaderChanged(Some(l)) => format!("LeaderChanged {}", l.address),
        ClusterEvent::LeaderChanged(None) => "LeaderChanged none".to_owned(),
        ClusterEvent::RoleLeaderChanged { role, leader } => match leader {
            Some(l) => format!("RoleLeaderChanged {role} {}", l.address),
            None => format!("RoleLeaderChanged {role} none"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast::remote::{NodeAddress, UniqueAddress};
    use ferrocast_cluster::{AppVersion, MemberStatus};

    #[test]
    fn one_line_per_event() {
        let node = UniqueAddress {
            address: NodeAddress::new("demo", "127.0.0.1", 2551),
            uid: 7,
        };
        let m = Member::joining(node.clone(), Default::default(), AppVersion::default());
        assert_eq!(
            describe(&ClusterEvent::MemberUp(m.clone())),
            "MemberUp ferrocast://demo@127.0.0.1:2551 uid=7"
        );
        assert_eq!(
            describe(&ClusterEvent::MemberRemoved {
                member: m,
                previous_status: MemberStatus::Down
            }),
            "MemberRemoved ferrocast://demo@127.0.0.1:2551 uid=7 previous=Down"
        );
        assert_eq!(
            describe(&ClusterEvent::LeaderChanged(Some(node))),
            "LeaderChanged ferrocast://demo@127.0.0.1:2551"
        );
    }
}
