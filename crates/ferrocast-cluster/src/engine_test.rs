//! Engine tests: a few engines wired by an instant, lossless in-test
//! network; assertions on the outputs and states.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::*;
use crate::sbr::{SbrSettings, Strategy};

fn addr(i: u16) -> NodeAddress {
    NodeAddress::new("t", "h", i)
}

fn settings(seeds: &[u16], strategy: Option<Strategy>) -> ClusterSettings {
    ClusterSettings {
        seed_nodes: seeds.iter().map(|i| addr(*i)).collect(),
        downing: strategy.map(|strategy| SbrSettings {
            strategy,
            stable_after: Duration::from_secs(5),
            down_all_when_unstable: None,
        }),
        ..ClusterSettings::default()
    }
}

/// Engines on an instant network; `cut` nodes still tick but their
/// messages are lost both ways.
struct Net {
    t0: Instant,
    now: Instant,
    engines: BTreeMap<NodeAddress, MembershipEngine>,
    cut: BTreeSet<NodeAddress>,
    outputs: BTreeMap<NodeAddress, Vec<Output>>,
    lease_holder: Option<UniqueAddress>,
}

impl Net {
    fn new() -> Self {
        let t0 = Instant::now();
        Net {
            t0,
            now: t0,
            engines: BTreeMap::new(),
            cut: BTreeSet::new(),
            outputs: BTreeMap::new(),
            lease_holder: None,
        }
    }

    fn add(&mut self, i: u16, uid: u64, s: ClusterSettings) {
        let node = UniqueAddress {
            address: addr(i),
            uid,
        };
        let e = MembershipEngine::new(node, s, uid, self.now).unwrap();
        self.engines.insert(addr(i), e);
        self.input(addr(i), Input::JoinSeedNodes);
    }

    fn input(&mut self, at: NodeAddress, input: Input) {
        let mut queue = VecDeque::from([(at, input)]);
        while let Some((to, input)) = queue.pop_front() {
            if self.cut.contains(&to) && matches!(input, Input::Receive(_)) {
                continue;
            }
            let Some(e) = self.engines.get_mut(&to) else {
                continue;
            };
            let me = e.self_node().clone();
            for o in e.handle(input, self.now) {
                match &o {
                    Output::Send { to: dest, msg } if !self.cut.contains(&to) => {
                        queue.push_back((dest.clone(), Input::Receive(msg.clone())));
                    }
                    Output::AcquireLease => {
                        let granted = self.lease_holder.get_or_insert(me.clone()) == &me;
                        queue.push_back((to.clone(), Input::LeaseResult { granted }));
                    }
                    _ => {}
                }
                self.outputs.entry(to.clone()).or_default().push(o);
            }
        }
    }

    /// Advances time in 100 ms ticks.
    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(100);
            let nodes: Vec<NodeAddress> = self.engines.keys().cloned().collect();
            for n in nodes {
                self.input(n, Input::Tick);
            }
        }
    }

    fn status(&self, of: u16, seen_by: u16) -> Option<MemberStatus> {
        let g = self.engines[&addr(seen_by)].gossip();
        g.members
            .values()
            .find(|m| m.unique_address.address == addr(of))
            .map(|m| m.status)
    }

    fn all_up(&self, nodes: &[u16]) -> bool {
        nodes.iter().all(|a| {
            nodes
                .iter()
                .all(|b| self.status(*b, *a) == Some(MemberStatus::Up))
        })
    }

    fn outputs(&self, i: u16) -> &[Output] {
        self.outputs.get(&addr(i)).map(|v| &v[..]).unwrap_or(&[])
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }
}

#[test]
fn first_seed_forms_the_cluster_when_no_other_seed_answers() {
    let mut net = Net::new();
    net.add(1, 11, settings(&[1, 2], None));
    net.run_for(Duration::from_secs(4));
    assert!(
        net.engines[&addr(1)].self_member().is_none(),
        "still asking"
    );
    let asks = net
        .outputs(1)
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::Send {
                    msg: ClusterMessage::InitJoin { .. },
                    ..
                }
            )
        })
        .count();
    assert!(asks >= 4, "InitJoin resent every second: {asks}");
    net.run_for(Duration::from_secs(3));
    assert_eq!(net.status(1, 1), Some(MemberStatus::Up));
    assert!(net.engines[&addr(1)].is_leader());
    let events: Vec<&ClusterEvent> = net
        .outputs(1)
        .iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClusterEvent::MemberUp(m) if m.up_number == 1))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClusterEvent::LeaderChanged(Some(_))))
    );
}

#[test]
fn other_nodes_never_form_a_cluster_alone() {
    let mut net = Net::new();
    net.add(2, 22, settings(&[1, 2], None));
    net.run_for(Duration::from_secs(30));
    assert!(net.engines[&addr(2)].self_member().is_none());
}

#[test]
fn nodes_join_through_a_seed_and_move_up_at_convergence() {
    let mut net = Net::new();
    net.add(1, 11, settings(&[1, 2], None));
    net.run_for(Duration::from_secs(6));
    net.add(2, 22, settings(&[1, 2], None));
    net.add(3, 33, settings(&[1, 2], None));
    assert_eq!(net.status(3, 3), Some(MemberStatus::Joining));
    net.run_for(Duration::from_secs(5));
    assert!(net.all_up(&[1, 2, 3]));
    let g = net.engines[&addr(3)].gossip();
    assert!(g.convergence(net.engines[&addr(3)].self_node()));
    let mut ages: Vec<u32> = g.members.values().map(|m| m.up_number).collect();
    ages.sort();
    assert_eq!(ages, vec![1, 2, 3]);
    let state = net.engines[&addr(2)].current_state();
    assert_eq!(state.members.len(), 3);
    assert_eq!(state.leader.map(|l| l.address), Some(addr(1)));
}

fn three_nodes(strategy: Option<Strategy>) -> Net {
    let mut net = Net::new();
    for (i, uid) in [(1, 11), (2, 22), (3, 33)] {
        net.add(i, uid, settings(&[1, 2, 3], strategy.clone()));
    }
    net.run_for(Duration::from_secs(10));
    assert!(net.all_up(&[1, 2, 3]));
    net
}

#[test]
fn graceful_leave_goes_through_exiting_to_removed_and_shuts_down() {
    let mut net = three_nodes(None);
    net.input(addr(1), Input::Leave(addr(3)));
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.status(3, 1), None);
    assert_eq!(
        net.engines[&addr(3)].stopped(),
        Some(ShutdownReason::Removed)
    );
    assert!(
        net.outputs(3)
            .contains(&Output::Shutdown(ShutdownReason::Removed))
    );
    let seen: Vec<MemberStatus> = net
        .outputs(1)
        .iter()
        .filter_map(|o| match o {
            Output::Event(ClusterEvent::MemberLeft(m)) if m.unique_address.address == addr(3) => {
                Some(MemberStatus::Leaving)
            }
            Output::Event(ClusterEvent::MemberExited(m)) if m.unique_address.address == addr(3) => {
                Some(MemberStatus::Exiting)
            }
            Output::Event(ClusterEvent::MemberRemoved {
                member,
                previous_status,
            }) if member.unique_address.address == addr(3) => {
                assert_eq!(*previous_status, MemberStatus::Exiting);
                Some(MemberStatus::Removed)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            MemberStatus::Leaving,
            MemberStatus::Exiting,
            MemberStatus::Removed
        ]
    );
    assert!(net.all_up(&[1, 2]));
}

#[test]
fn a_downed_node_shuts_itself_down_and_is_removed() {
    let mut net = three_nodes(None);
    net.input(addr(2), Input::Down(addr(3)));
    assert_eq!(net.status(3, 2), Some(MemberStatus::Down));
    net.run_for(Duration::from_secs(2));
    assert_eq!(
        net.engines[&addr(3)].stopped(),
        Some(ShutdownReason::Downed)
    );
    net.run_for(Duration::from_secs(3));
    assert_eq!(net.status(3, 1), None);
    assert!(
        net.engines[&addr(1)]
            .gossip()
            .tombstones
            .iter()
            .any(|t| t.uid == 33)
    );
}

#[test]
fn a_crashed_node_becomes_unreachable_and_the_majority_downs_it() {
    let mut net = three_nodes(Some(Strategy::KeepMajority { role: None }));
    net.cut.insert(addr(3));
    let cut_at = net.elapsed();
    net.run_for(Duration::from_secs(6));
    assert!(!net.engines[&addr(1)].current_state().unreachable.is_empty());
    assert!(net.outputs(1).iter().any(|o| matches!(
        o,
        Output::Event(ClusterEvent::UnreachableMember(m)) if m.unique_address.address == addr(3)
    )));
    assert_eq!(
        net.status(3, 1),
        Some(MemberStatus::Up),
        "stable_after not over"
    );
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.status(3, 1), None, "downed and removed");
    assert!(net.all_up(&[1, 2]));
    assert!(net.elapsed() - cut_at < Duration::from_secs(17));
}

#[test]
fn the_minority_downs_itself() {
    let mut net = three_nodes(Some(Strategy::KeepMajority { role: None }));
    // Node 1 alone: the others stop hearing it and it stops hearing them.
    net.cut.insert(addr(1));
    net.run_for(Duration::from_secs(20));
    net.cut.clear();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.status(1, 2), None);
    assert!(net.all_up(&[2, 3]));
    // Node 1 could not hear anything while cut, so it decided on its own.
    let e1 = &net.engines[&addr(1)];
    assert_eq!(e1.stopped(), Some(ShutdownReason::Downed));
}

#[test]
fn lease_majority_downs_the_other_side_only_with_the_lease() {
    let strategy = Strategy::LeaseMajority {
        role: None,
        acquire_lease_delay_for_minority: Duration::from_secs(2),
    };
    let mut net = three_nodes(Some(strategy));
    net.cut.insert(addr(3));
    net.run_for(Duration::from_secs(15));
    assert!(net.outputs(1).contains(&Output::AcquireLease));
    assert_eq!(net.lease_holder.as_ref().map(|h| h.uid), Some(11));
    assert_eq!(net.status(3, 1), None);
}

#[test]
fn joiners_become_weakly_up_while_a_member_is_unreachable() {
    let mut net = three_nodes(None);
    net.cut.insert(addr(3));
    net.run_for(Duration::from_secs(6));
    net.add(4, 44, settings(&[1, 2, 3], None));
    net.run_for(Duration::from_secs(3));
    assert_eq!(net.status(4, 1), Some(MemberStatus::Joining));
    net.run_for(Duration::from_secs(8));
    assert_eq!(net.status(4, 1), Some(MemberStatus::WeaklyUp));
    assert!(
        net.outputs(4)
            .iter()
            .any(|o| matches!(o, Output::Event(ClusterEvent::MemberWeaklyUp(_))))
    );
    // The partition heals: WeaklyUp moves to Up at convergence.
    net.cut.clear();
    net.run_for(Duration::from_secs(10));
    assert!(net.all_up(&[1, 2, 3, 4]));
}

#[test]
fn a_new_incarnation_downs_the_old_one_then_joins() {
    let mut net = three_nodes(None);
    net.cut.insert(addr(3));
    net.run_for(Duration::from_secs(1));
    net.cut.clear();
    net.add(3, 333, settings(&[1, 2, 3], None));
    net.run_for(Duration::from_millis(200));
    assert_eq!(
        net.engines[&addr(1)]
            .gossip()
            .members
            .values()
            .find(|m| m.unique_address.uid == 33)
            .map(|m| m.status),
        Some(MemberStatus::Down)
    );
    net.run_for(Duration::from_secs(15));
    assert!(net.all_up(&[1, 2, 3]));
    assert!(
        net.engines[&addr(1)]
            .gossip()
            .members
            .keys()
            .any(|n| n.uid == 333)
    );
}

#[test]
fn invalid_settings_are_refused_and_a_stopped_engine_ignores_input() {
    let node = UniqueAddress {
        address: addr(1),
        uid: 1,
    };
    let bad = ClusterSettings {
        gossip_interval: Duration::ZERO,
        ..ClusterSettings::default()
    };
    let t0 = Instant::now();
    let err = MembershipEngine::new(node.clone(), bad, 1, t0).unwrap_err();
    assert_eq!(err.field, "gossip_interval");
    let mut e = MembershipEngine::new(node, settings(&[1], None), 1, t0).unwrap();
    e.handle(Input::JoinSeedNodes, t0);
    e.handle(Input::Tick, t0);
    let out = e.handle(Input::Down(addr(1)), t0);
    assert!(out.contains(&Output::Shutdown(ShutdownReason::Downed)));
    assert!(
        e.handle(Input::Tick, t0 + Duration::from_secs(1))
            .is_empty()
    );
}

#[test]
fn tombstones_are_pruned_from_the_gossip_after_the_setting() {
    let mut net = Net::new();
    for (i, uid) in [(1, 11), (2, 22), (3, 33)] {
        let s = ClusterSettings {
            prune_gossip_tombstones_after: Duration::from_secs(60),
            ..settings(&[1, 2, 3], None)
        };
        net.add(i, uid, s);
    }
    net.run_for(Duration::from_secs(10));
    net.input(addr(1), Input::Leave(addr(3)));
    net.run_for(Duration::from_secs(5));
    let removed = net.engines[&addr(3)].self_node().clone();
    for i in [1, 2] {
        assert!(net.engines[&addr(i)].gossip().tombstones.contains(&removed));
    }
    net.run_for(Duration::from_secs(50));
    assert!(net.engines[&addr(1)].gossip().tombstones.contains(&removed));
    net.run_for(Duration::from_secs(15));
    for i in [1, 2] {
        let g = net.engines[&addr(i)].gossip();
        assert!(g.tombstones.is_empty(), "node {i}: {:?}", g.tombstones);
        assert_eq!(g.members.len(), 2);
    }
    assert!(net.all_up(&[1, 2]));
}

#[test]
fn a_lone_member_that_leaves_removes_itself_and_shuts_down() {
    let mut net = Net::new();
    net.add(1, 11, settings(&[1], None));
    net.run_for(Duration::from_secs(7));
    assert_eq!(net.status(1, 1), Some(MemberStatus::Up));
    net.input(addr(1), Input::Leave(addr(1)));
    net.run_for(Duration::from_secs(5));
    assert_eq!(
        net.engines[&addr(1)].stopped(),
        Some(ShutdownReason::Removed)
    );
    assert!(net.outputs(1).iter().any(|o| matches!(
        o,
        Output::Event(ClusterEvent::MemberRemoved {
            previous_status: MemberStatus::Exiting,
            ..
        })
    )));
}
