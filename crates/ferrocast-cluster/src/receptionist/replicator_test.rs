//! The replicator without I/O: nodes exchange their outputs by hand.

use std::collections::BTreeMap;

use super::*;
use crate::member::{AppVersion, Member};
use crate::receptionist::bucket::KeyKind;

fn node(port: u16) -> UniqueAddress {
    UniqueAddress {
        address: NodeAddress::new("app", "127.0.0.1", port),
        uid: u64::from(port) * 100,
    }
}

fn member(port: u16, status: MemberStatus) -> Member {
    let mut m = Member::joining(node(port), Default::default(), AppVersion::default());
    m.status = status;
    m
}

fn key(id: &str) -> RegistryKey {
    RegistryKey {
        kind: KeyKind::Service,
        id: id.into(),
        manifest: "app.Msg".into(),
    }
}

/// The full path of actor `id` on node `port`.
fn path(port: u16, id: u64) -> String {
    format!(
        "ferrocast://app@127.0.0.1:{port}/user/a{id}#{id}:{}",
        u64::from(port) * 100
    )
}

fn state(ports: &[u16]) -> CurrentClusterState {
    CurrentClusterState {
        members: ports.iter().map(|p| member(*p, MemberStatus::Up)).collect(),
        ..CurrentClusterState::default()
    }
}

/// Nodes and the messages in flight between them.
struct Net {
    nodes: BTreeMap<NodeAddress, Replicator>,
    inflight: Vec<(NodeAddress, ReceptionistMessage)>,
}

impl Net {
    fn new(ports: &[u16], push_on_change: bool) -> Net {
        let settings = ReceptionistSettings {
            push_on_change,
            ..ReceptionistSettings::default()
        };
        let mut net = Net {
            nodes: BTreeMap::new(),
            inflight: Vec::new(),
        };
        for p in ports {
            let mut r = Replicator::new(node(*p), settings.clone(), u64::from(*p));
            let out = r.snapshot(&state(ports));
            net.nodes.insert(node(*p).address, r);
            net.inflight.extend(out.sends);
        }
        net
    }

    fn at(&mut self, port: u16) -> &mut Replicator {
        match self.nodes.get_mut(&node(port).address) {
            Some(r) => r,
            None => panic!("no node {port}"),
        }
    }

    fn send(&mut self, out: Outputs) -> BTreeSet<RegistryKey> {
        self.inflight.extend(out.sends);
        out.changed
    }

    /// Delivers everything in flight (and what that causes) to the nodes
    /// that are up; messages to others are lost.
    fn deliver(&mut self) {
        while !self.inflight.is_empty() {
            for (to, msg) in std::mem::take(&mut self.inflight) {
                if let Some(r) = self.nodes.get_mut(&to) {
                    let out = r.receive(msg);
                    self.inflight.extend(out.sends);
                }
            }
        }
    }

    fn tick_all(&mut self) {
        let ticks: Vec<_> = self.nodes.values_mut().map(|r| r.tick()).collect();
        for out in ticks {
            self.inflight.extend(out.sends);
        }
        self.deliver();
    }

    fn paths(&mut self, port: u16, k: &str) -> Vec<String> {
        self.at(port)
            .listing(&key(k))
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }
}

#[test]
fn pushed_changes_reach_every_member_at_once() {
    let mut net = Net::new(&[1, 2, 3], true);
    net.deliver();
    let out = net.at(2).register(key("svc"), path(2, 7));
    assert_eq!(out.changed, BTreeSet::from([key("svc")]));
    let targets: BTreeSet<u16> = out.sends.iter().map(|(a, _)| a.port).collect();
    assert_eq!(targets, [1, 3].into());
    net.send(out);
    net.deliver();
    for p in [1, 2, 3] {
        assert_eq!(net.paths(p, "svc"), [path(2, 7)], "node {p}");
    }
    // Registering the same path again changes nothing and sends nothing.
    let out = net.at(2).register(key("svc"), path(2, 7));
    assert_eq!(out, Outputs::default());
}

#[test]
fn gossip_alone_converges_through_digests_and_deltas() {
    let mut net = Net::new(&[1, 2, 3], false);
    net.deliver();
    for p in [1, 2, 3] {
        let out = net.at(p).register(key("svc"), path(p, u64::from(p)));
        assert!(out.sends.is_empty());
        net.send(out);
    }
    let mut rounds = 0;
    while [1, 2, 3].iter().any(|p| net.paths(*p, "svc").len() < 3) {
        net.tick_all();
        rounds += 1;
        assert!(rounds < 50, "no convergence after {rounds} rounds");
    }
    // The listing order is the own registration first, then by node.
    assert_eq!(net.paths(2, "svc"), [path(2, 2), path(1, 1), path(3, 3)]);
}

#[test]
fn stopped_actors_leave_every_key_everywhere() {
    let mut net = Net::new(&[1, 2], true);
    net.deliver();
    for k in ["a", "b"] {
        let out = net.at(1).register(key(k), path(1, 5));
        net.send(out);
    }
    let out = net.at(1).register(key("a"), path(1, 6));
    net.send(out);
    net.deliver();
    assert_eq!(net.paths(2, "a").len(), 2);
    let out = net.at(1).actor_stopped(ActorUid {
        system: 100,
        actor: 5,
    });
    assert_eq!(out.changed, BTreeSet::from([key("a"), key("b")]));
    net.send(out);
    net.deliver();
    assert_eq!(net.paths(2, "a"), [path(1, 6)]);
    assert!(net.paths(2, "b").is_empty());
    let out = net.at(1).deregister(&key("a"), &path(1, 6));
    net.send(out);
    net.deliver();
    assert!(net.paths(2, "a").is_empty());
    assert_eq!(net.at(1).own_version(), 5);
}

#[test]
fn unreachable_members_are_hidden_and_removed_ones_forgotten() {
    let mut net = Net::new(&[1, 2, 3], true);
    net.deliver();
    let out = net.at(3).register(key("svc"), path(3, 1));
    net.send(out);
    net.deliver();
    assert_eq!(net.paths(1, "svc").len(), 1);

    let out = net.at(1).on_event(&ClusterEvent::UnreachableMember(member(
        3,
        MemberStatus::Up,
    )));
    assert_eq!(out.changed, BTreeSet::from([key("svc")]));
    assert!(net.paths(1, "svc").is_empty());
    // Hidden, not forgotten: reachable again, it shows again.
    let out = net
        .at(1)
        .on_event(&ClusterEvent::ReachableMember(member(3, MemberStatus::Up)));
    assert_eq!(out.changed, BTreeSet::from([key("svc")]));
    assert_eq!(net.paths(1, "svc").len(), 1);

    // Down hides; removal forgets, and a late delta does not bring it back.
    let out = net
        .at(1)
        .on_event(&ClusterEvent::MemberDowned(member(3, MemberStatus::Down)));
    assert_eq!(out.changed, BTreeSet::from([key("svc")]));
    let late = ReceptionistMessage::Delta {
        from: WireNode::from(&node(3)),
        buckets: vec![protocol::to_wire(&node(3), net.at(3).buckets.own())],
    };
    let out = net.at(1).on_event(&ClusterEvent::MemberRemoved {
        member: member(3, MemberStatus::Removed),
        previous_status: MemberStatus::Down,
    });
    assert!(out.changed.is_empty(), "already hidden");
    assert!(net.at(1).buckets.get(&node(3)).is_none());
    let out = net.at(1).receive(late);
    assert_eq!(out, Outputs::default());
    assert_eq!(net.at(1).ignored, 1);
    assert!(net.paths(1, "svc").is_empty());
    // Nor through a third node that still has it.
    let stale = ReceptionistMessage::Delta {
        from: WireNode::from(&node(2)),
        buckets: vec![protocol::to_wire(&node(3), net.at(3).buckets.own())],
    };
    assert_eq!(net.at(1).receive(stale), Outputs::default());
    assert!(net.paths(1, "svc").is_empty());
}

#[test]
fn new_members_get_our_status_and_strangers_are_ignored() {
    let mut r = Replicator::new(node(1), ReceptionistSettings::default(), 1);
    assert_eq!(r.snapshot(&state(&[1])), Outputs::default());
    assert!(r.tick().sends.is_empty(), "nobody to gossip with");
    let out = r.on_event(&ClusterEvent::MemberUp(member(2, MemberStatus::Up)));
    assert!(matches!(
        &out.sends[..],
        [(to, ReceptionistMessage::Status { reply: true, .. })] if to.port == 2
    ));
    let stranger = ReceptionistMessage::Status {
        from: WireNode::from(&node(9)),
        versions: Vec::new(),
        reply: true,
    };
    assert_eq!(r.receive(stranger), Outputs::default());
    assert_eq!(r.ignored, 1);
    // Bad entries from a member are dropped and counted.
    let mut bucket = crate::receptionist::bucket::Bucket {
        version: 1,
        ..Default::default()
    };
    bucket.entries.entry(key("x")).or_default().extend([
        "nonsense".to_owned(),
        path(1, 1),
        path(2, 1),
    ]);
    let out = r.receive(ReceptionistMessage::Delta {
        from: WireNode::from(&node(2)),
        buckets: vec![protocol::to_wire(&node(2), &bucket)],
    });
    assert_eq!(out.changed, BTreeSet::from([key("x")]));
    assert_eq!(r.bad_entries, 2);
    assert_eq!(r.listing(&key("x")).len(), 1);
}

#[test]
fn settings_are_validated() {
    assert!(ReceptionistSettings::default().validate().is_ok());
    let bad = ReceptionistSettings {
        gossip_interval: Duration::ZERO,
        ..ReceptionistSettings::default()
    };
    assert!(bad.validate().is_err());
}
