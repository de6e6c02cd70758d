//! The JSON bodies, with Akka Management's field names, so dashboards and
//! scripts written for Akka's `/cluster/members` read ours unchanged.

use std::collections::BTreeMap;

use ferrocast_cluster::{ClusterView, Member};
use serde::{Deserialize, Serialize};

/// `GET /cluster/members`: what this node knows of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterMembers {
    /// This node, `ferrocast://system@host:port`.
    pub self_node: String,
    /// Every member in the gossip (removed ones are gone), by address.
    pub members: Vec<ClusterMember>,
    /// Members some observer cannot reach, with those observers.
    pub unreachable: Vec<ClusterUnreachableMember>,
    /// The leader; absent when there is none (as in Akka).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// The oldest member (where a singleton runs); absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest: Option<String>,
    /// The oldest member of each role.
    #[serde(default)]
    pub oldest_per_role: BTreeMap<String, String>,
}

/// One member, as in `GET /cluster/members/{address}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterMember {
    /// Its address, `ferrocast://system@host:port`.
    pub node: String,
    /// The uid of this incarnation, as a string (like Akka: JSON numbers
    /// lose precision past 2^53 in many readers).
    pub node_uid: String,
    /// `Joining`, `WeaklyUp`, `Up`, `Leaving`, `Exiting`, `Down`.
    pub status: String,
    /// Its roles, sorted.
    pub roles: Vec<String>,
}

/// A member some observers cannot reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterUnreachableMember {
    /// Its address.
    pub node: String,
    /// The addresses of the members that cannot reach it.
    pub observed_by: Vec<String>,
}

/// The body of every answer that is not data: results of operations and
/// errors alike (Akka's `ClusterHttpManagementMessage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// What happened, for a person.
    pub message: String,
}

impl From<&Member> for ClusterMember {
    fn from(m: &Member) -> Self {
        ClusterMember {
            node: m.unique_address.address.to_string(),
            node_uid: m.unique_address.uid.to_string(),
            status: m.status.to_string(),
            roles: m.roles.iter().cloned().collect(),
        }
    }
}

impl From<&ClusterView> for ClusterMembers {
    fn from(v: &ClusterView) -> Self {
        let roles = v.gossip.all_roles();
        ClusterMembers {
            self_node: v.self_node.address.to_string(),
            members: v.state.members.iter().map(ClusterMember::from).collect(),
            unreachable: v
                .unreachable_observed_by()
                .into_iter()
                .map(|(node, observers)| ClusterUnreachableMember {
                    node: node.address.to_string(),
                    observed_by: observers.iter().map(|o| o.address.to_string()).collect(),
                })
                .collect(),
            leader: v.state.leader.as_ref().map(|l| l.address.to_string()),
            oldest: v.oldest(None).map(|m| m.unique_address.address.to_string()),
            oldest_per_role: roles
                .into_iter()
                .filter_map(|r| {
                    let oldest = v.oldest(Some(&r))?.unique_address.address.to_string();
                    Some((r, oldest))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_cluster::{AppVersion, CurrentClusterState, Gossip, MemberStatus};
    use ferrocast_remote::{NodeAddress, UniqueAddress};

    fn node(port: u16) -> UniqueAddress {
        UniqueAddress {
            address: NodeAddress::new("app", "127.0.0.1", port),
            uid: u64::MAX - u64::from(port),
        }
    }

    fn member(port: u16, status: MemberStatus, up: u32, roles: &[&str]) -> Member {
        let mut m = Member::joining(
            node(port),
            roles.iter().map(|r| r.to_string()).collect(),
            AppVersion::default(),
        );
        m.status = status;
        m.up_number = up;
        m
    }

    fn view(gossip: Gossip, me: u16) -> ClusterView {
        let self_node = node(me);
        ClusterView {
            state: CurrentClusterState::of(&gossip, &self_node),
            self_node,
            gossip,
            stopped: None,
        }
    }

    #[test]
    fn members_use_akkas_field_names() {
        let mut g = Gossip::with_members([
            member(2551, MemberStatus::Up, 2, &["backend"]),
            member(2552, MemberStatus::Up, 1, &[]),
            member(2553, MemberStatus::Joining, u32::MAX, &["backend"]),
        ]);
        g.overview
            .reachability
            .unreachable(&node(2551), &node(2553));
        let json = serde_json::to_value(ClusterMembers::from(&view(g, 2551))).unwrap();
        assert_eq!(json["selfNode"], "ferrocast://app@127.0.0.1:2551");
        assert_eq!(json["leader"], "ferrocast://app@127.0.0.1:2551");
        assert_eq!(json["oldest"], "ferrocast://app@127.0.0.1:2552");
        assert_eq!(
            json["oldestPerRole"]["backend"],
            "ferrocast://app@127.0.0.1:2551"
        );
        let first = &json["members"][0];
        assert_eq!(first["node"], "ferrocast://app@127.0.0.1:2551");
        // Uids beyond 2^53 survive as text.
        assert_eq!(first["nodeUid"], (u64::MAX - 2551).to_string());
        assert_eq!(first["status"], "Up");
        assert_eq!(first["roles"], serde_json::json!(["backend"]));
        assert_eq!(
            json["unreachable"],
            serde_json::json!([{
                "node": "ferrocast://app@127.0.0.1:2553",
                "observedBy": ["ferrocast://app@127.0.0.1:2551"]
            }])
        );
    }

    #[test]
    fn no_leader_and_no_oldest_are_omitted() {
        let g = Gossip::with_members([member(1, MemberStatus::Joining, u32::MAX, &[])]);
        let mut v = view(g, 1);
        v.state.leader = None;
        let json = serde_json::to_value(ClusterMembers::from(&v)).unwrap();
        assert!(json.get("leader").is_none(), "{json}");
        assert!(json.get("oldest").is_none(), "{json}");
        assert_eq!(json["members"][0]["status"], "Joining");
        let back: ClusterMembers = serde_json::from_value(json).unwrap();
        assert_eq!(back.leader, None);
    }
}
