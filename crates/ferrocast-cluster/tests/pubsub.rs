//! Distributed pub-sub on real loopback TCP: three nodes in one process.

use ferrocast_actor::ActorSystem;
use ferrocast_cluster::receptionist::ClusterReceptionist;
use ferrocast_cluster::{Cluster, DistributedPubSub, Topic};
use ferrocast_remote::{NodeAddress, Remoting};
use ferrocast_testkit::TestProbe;
use serde::{Deserialize, Serialize};

mod common;

use common::{Member, WAIT};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct News(u32);

struct Node {
    system: ActorSystem,
    remoting: Remoting,
    cluster: Cluster,
    receptionist: ClusterReceptionist,
    pubsub: DistributedPubSub,
}

impl Node {
    async fn start(seeds: &[NodeAddress]) -> Node {
        let (
            Member {
                system,
                remoting,
                cluster,
            },
            receptionist,
        ) = common::with_receptionist(seeds, |r| {
            r.register::<News>("test.News").unwrap();
        })
        .await;
        Node {
            system,
            remoting,
            cluster,
            pubsub: DistributedPubSub::new(&receptionist),
            receptionist,
        }
    }

    fn address(&self) -> NodeAddress {
        self.remoting.address().clone()
    }

    fn news(&self) -> Topic<News> {
        self.pubsub
            .topic::<News>("news")
            .expect("News is registered")
    }
}

async fn three_up() -> Vec<Node> {
    let a = Node::start(&[]).await;
    let seeds = vec![a.address()];
    let b = Node::start(&seeds).await;
    let c = Node::start(&seeds).await;
    let nodes = vec![a, b, c];
    for n in &nodes {
        tokio::time::timeout(WAIT, n.cluster.wait_for(|v| v.all_up(3)))
            .await
            .expect("three nodes Up")
            .expect("cluster running");
    }
    nodes
}

/// Waits until `cond` holds, re-checked whenever the node's listings
/// change; fails with `what` after [`WAIT`].
async fn eventually(node: &Node, what: &str, cond: impl FnMut() -> bool) {
    let ok = tokio::time::timeout(WAIT, node.receptionist.wait_until(cond)).await;
    assert!(ok.is_ok(), "timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_reaches_subscribers_on_every_node_once_per_node() {
    let nodes = three_up().await;
    let topics: Vec<Topic<News>> = nodes.iter().map(Node::news).collect();
    // Nobody subscribed anywhere: a counted drop, not an error.
    topics[2].publish(News(0));
    assert_eq!(topics[2].metrics().dropped_no_subscribers, 1);

    // Two subscribers on A, one on B; the publisher C has none.
    let mut subs_a: Vec<TestProbe<News>> =
        (0..2).map(|_| TestProbe::new(&nodes[0].system)).collect();
    let mut sub_b = TestProbe::<News>::new(&nodes[1].system);
    for p in &subs_a {
        topics[0].subscribe(p.actor_ref());
    }
    topics[1].subscribe(sub_b.actor_ref());
    topics[1].subscribe(sub_b.actor_ref());
    assert_eq!(topics[1].local_subscribers(), 1);
    // The same name and type is the same topic on a node.
    assert_eq!(nodes[0].news().local_subscribers(), 2);
    eventually(&nodes[2], "C knows A's and B's subscribers", || {
        topics[2].remote_nodes() == 2
    })
    .await;

    for i in 1..=50 {
        topics[2].publish(News(i));
    }
    // Every subscriber gets every message, in publish order.
    for p in subs_a.iter_mut().chain(std::iter::once(&mut sub_b)) {
        for i in 1..=50 {
            assert_eq!(p.expect_msg(WAIT).await, News(i));
        }
    }
    // One copy per node crossed the network, fanned out there.
    let m = topics[2].metrics();
    assert_eq!((m.published, m.sent_remote), (51, 100));

    // A publish on A reaches its own subscribers directly and B's, once A
    // knows B's (the registry spreads by gossip: the wait above was C's).
    eventually(&nodes[0], "A knows B's subscriber", || {
        topics[0].remote_nodes() == 1
    })
    .await;
    topics[0].publish(News(99));
    for p in subs_a.iter_mut().chain(std::iter::once(&mut sub_b)) {
        assert_eq!(p.expect_msg(WAIT).await, News(99));
    }
    for n in nodes {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribed_stopped_and_crashed_subscribers_stop_receiving() {
    let nodes = three_up().await;
    let topics: Vec<Topic<News>> = nodes.iter().map(Node::news).collect();
    let mut sub_a = TestProbe::<News>::new(&nodes[0].system);
    let sub_b = TestProbe::<News>::new(&nodes[1].system);
    topics[0].subscribe(sub_a.actor_ref());
    topics[1].subscribe(sub_b.actor_ref());
    eventually(&nodes[2], "C knows both nodes", || {
        topics[2].remote_nodes() == 2
    })
    .await;

    // B's only subscriber leaves: B's mediator is deregistered everywhere.
    topics[1].unsubscribe(&sub_b.actor_ref());
    assert_eq!(topics[1].local_subscribers(), 0);
    eventually(&nodes[2], "C forgets B", || topics[2].remote_nodes() == 1).await;
    let before = topics[2].metrics().sent_remote;
    topics[2].publish(News(1));
    assert_eq!(topics[2].metrics().sent_remote, before + 1);
    assert_eq!(sub_a.expect_msg(WAIT).await, News(1));

    // A stopped subscriber is unsubscribed (watched).
    let sub_b2 = TestProbe::<News>::new(&nodes[1].system);
    topics[1].subscribe(sub_b2.actor_ref());
    eventually(&nodes[2], "C knows B again", || {
        topics[2].remote_nodes() == 2
    })
    .await;
    drop(sub_b2);
    eventually(&nodes[1], "B's stopped subscriber is gone", || {
        topics[1].local_subscribers() == 0
    })
    .await;
    eventually(&nodes[2], "C forgets B again", || {
        topics[2].remote_nodes() == 1
    })
    .await;

    // A crashed node's subscribers are dropped (unreachable, then removed).
    let victim = nodes[0].cluster.self_node().clone();
    nodes[0].remoting.shutdown();
    eventually(&nodes[2], "C forgets the crashed A", || {
        topics[2].remote_nodes() == 0
    })
    .await;
    tokio::time::timeout(
        WAIT,
        nodes[2]
            .cluster
            .wait_for(|v| !v.gossip.members.contains_key(&victim)),
    )
    .await
    .expect("A is removed")
    .expect("cluster running");
    assert_eq!(topics[2].remote_nodes(), 0);
    let dropped = topics[2].metrics().dropped_no_subscribers;
    topics[2].publish(News(2));
    assert_eq!(topics[2].metrics().dropped_no_subscribers, dropped + 1);
    for n in nodes {
        n.system.terminate().await;
    }
}
