//! Cluster daemons on real loopback TCP: several nodes in one process.

use ferrocast_cluster::{ClusterEvent, ClusterView, MemberStatus, ShutdownReason};
use ferrocast_remote::{NodeAddress, RemoteEvent};
use ferrocast_testkit::{FishingOutcome, TestProbe};

mod common;

use common::{Member, WAIT};

type Node = Member;

/// A member that joins through `seeds` (none: forms the cluster).
async fn start(seeds: &[NodeAddress], port: u16) -> Node {
    let m = Member::start(seeds, port, |_| {}).await;
    m.cluster.join_seed_nodes().unwrap();
    m
}

/// Simulates `kill -9`: the sockets close and nothing is said.
fn crash(node: &Node) {
    node.remoting.shutdown();
}

fn statuses(v: &ClusterView) -> Vec<(u16, MemberStatus)> {
    v.gossip
        .members
        .values()
        .map(|m| (m.unique_address.address.port, m.status))
        .collect()
}

async fn wait(node: &Node, what: &str, pred: impl FnMut(&ClusterView) -> bool) -> ClusterView {
    match tokio::time::timeout(WAIT, node.cluster.wait_for(pred)).await {
        Ok(Ok(v)) => (*v).clone(),
        other => panic!(
            "{what} on {}: {:?}; last view {:?}",
            node.address(),
            other.map(|r| r.map(|_| ())),
            statuses(&node.cluster.view())
        ),
    }
}

async fn three_up() -> Vec<Node> {
    let a = start(&[], 0).await;
    let seeds = vec![a.address()];
    let b = start(&seeds, 0).await;
    let c = start(&seeds, 0).await;
    let nodes = vec![a, b, c];
    for n in &nodes {
        wait(n, "all Up", |v| v.all_up(3)).await;
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_join_and_agree_on_the_leader() {
    let nodes = three_up().await;
    let mut sub = nodes[1].cluster.subscribe().await.unwrap();
    assert_eq!(sub.initial.members.len(), 3);
    let leaders: Vec<_> = nodes.iter().map(|n| n.cluster.state().leader).collect();
    assert!(leaders[0].is_some());
    assert!(leaders.iter().all(|l| *l == leaders[0]), "{leaders:?}");
    // The leader is the first reachable member by address order.
    let first = nodes.iter().map(|n| n.cluster.self_node().clone()).min();
    assert_eq!(leaders[0], first);
    for n in &nodes {
        assert!(n.cluster.view().is_ready());
        assert!(n.cluster.metrics().received > 0);
    }
    assert!(sub.try_next().is_none());
    for n in nodes {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_node_is_downed_removed_and_quarantined() {
    let nodes = three_up().await;
    let victim = nodes[2].cluster.self_node().clone();
    let mut sub = nodes[0].cluster.subscribe().await.unwrap();
    let mut quarantines: Vec<_> = nodes[..2]
        .iter()
        .map(|n| {
            let probe = TestProbe::<RemoteEvent>::new(&n.system);
            n.system.event_stream().subscribe(probe.actor_ref());
            probe
        })
        .collect();
    crash(&nodes[2]);
    for n in &nodes[..2] {
        let v = wait(n, "victim removed", |v| {
            v.gossip.members.len() == 2 && v.all_up(2)
        })
        .await;
        assert!(v.gossip.tombstones.contains(&victim));
    }
    // Quarantined a little later (a removed node may still hear of it).
    for probe in &mut quarantines {
        probe
            .fish_for_message(WAIT, |e| match e {
                RemoteEvent::Quarantined { peer, .. } if *peer == victim => {
                    FishingOutcome::Complete
                }
                _ => FishingOutcome::Continue,
            })
            .await;
    }
    assert!(nodes[0].remoting.is_quarantined(victim.uid));
    // The survivor saw it go unreachable, then down, then removed.
    let mut seen = Vec::new();
    while let Some(e) = sub.try_next() {
        seen.push(e);
    }
    let pos = |f: &dyn Fn(&ClusterEvent) -> bool| seen.iter().position(f);
    let unreachable =
        pos(&|e| matches!(e, ClusterEvent::UnreachableMember(m) if m.unique_address == victim));
    let downed = pos(&|e| matches!(e, ClusterEvent::MemberDowned(m) if m.unique_address == victim));
    let removed = pos(
        &|e| matches!(e, ClusterEvent::MemberRemoved { member, previous_status: MemberStatus::Down } if member.unique_address == victim),
    );
    assert!(
        unreachable < downed && downed < removed && unreachable.is_some(),
        "{seen:?}"
    );
    // The crashed node (in this emulation, its process lives on) either
    // downed itself, cut off alone (keep-majority), or heard that it was
    // removed: either way its system shut down instead of serving as a
    // zombie.
    assert!(
        tokio::time::timeout(WAIT, nodes[2].cluster.when_stopped())
            .await
            .is_ok()
    );
    tokio::time::timeout(WAIT, nodes[2].system.when_terminated())
        .await
        .expect("the downed node's actor system terminates");
    for n in nodes {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_leave_goes_through_leaving_and_exiting() {
    let nodes = three_up().await;
    let leaver = nodes[1].cluster.self_node().clone();
    let mut sub = nodes[0].cluster.subscribe().await.unwrap();
    // Terminating the system leaves the cluster first (coordinated shutdown).
    nodes[1].system.terminate().await;
    assert_eq!(
        nodes[1].cluster.when_stopped().await,
        ShutdownReason::Removed
    );
    for n in [&nodes[0], &nodes[2]] {
        wait(n, "leaver removed", |v| v.all_up(2)).await;
    }
    let mut order = Vec::new();
    while let Some(e) = sub.try_next() {
        match e {
            ClusterEvent::MemberLeft(m) if m.unique_address == leaver => order.push("left"),
            ClusterEvent::MemberExited(m) if m.unique_address == leaver => order.push("exited"),
            ClusterEvent::MemberRemoved {
                member,
                previous_status,
            } if member.unique_address == leaver => {
                assert_eq!(previous_status, MemberStatus::Exiting);
                order.push("removed")
            }
            _ => {}
        }
    }
    assert_eq!(order, ["left", "exited", "removed"]);
    for n in [&nodes[0], &nodes[2]] {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_joins_again_with_a_new_uid() {
    let nodes = three_up().await;
    let port = nodes[2].address().port;
    let old = nodes[2].cluster.self_node().clone();
    crash(&nodes[2]);
    nodes[2].system.terminate().await;
    let seeds = vec![nodes[0].address()];
    let again = start(&seeds, port).await;
    assert_ne!(again.cluster.self_node().uid, old.uid);
    for n in [&nodes[0], &nodes[1], &again] {
        let v = wait(n, "restarted node Up", |v| v.all_up(3)).await;
        assert!(!v.gossip.members.contains_key(&old));
        assert!(v.gossip.members.contains_key(again.cluster.self_node()));
    }
    for n in [&nodes[0], &nodes[1], &again] {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_down_a_member_and_bad_input_is_rejected() {
    let nodes = three_up().await;
    // Downing through another member: the downed node shuts itself down
    // (on seeing itself Down, or its tombstone if the Down gossip passed
    // it by).
    nodes[0].cluster.down(nodes[2].address()).unwrap();
    assert!(
        tokio::time::timeout(WAIT, nodes[2].cluster.when_stopped())
            .await
            .is_ok()
    );
    tokio::time::timeout(WAIT, nodes[2].system.when_terminated())
        .await
        .expect("the downed node's actor system terminates");
    wait(&nodes[1], "downed node removed", |v| v.all_up(2)).await;
    // Garbage sent to the cluster service is counted, not fatal.
    let before = nodes[0].remoting.metrics().dropped_undecodable;
    let raw = nodes[1]
        .remoting
        .service::<u64>(&nodes[0].address(), ferrocast_cluster::daemon::SERVICE)
        .unwrap();
    raw.tell(7);
    wait(&nodes[0], "still converged", |v| v.all_up(2)).await;
    let dropped = tokio::time::timeout(WAIT, async {
        loop {
            let m = nodes[0].remoting.metrics();
            if m.dropped_undecodable + m.dropped_unknown_manifest > before {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(dropped.is_ok(), "{:?}", nodes[0].remoting.metrics());
    for n in &nodes[..2] {
        n.system.terminate().await;
    }
}
