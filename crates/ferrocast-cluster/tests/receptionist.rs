//! The cluster receptionist on real loopback TCP: three nodes in one
//! process.

use ferrocast_actor::{Actor, ActorError, ActorRef, ActorSystem, Context, Listing, ServiceKey};
use ferrocast_cluster::Cluster;
use ferrocast_cluster::receptionist::{self, ClusterReceptionist, ReceptionistMessage};
use ferrocast_remote::{NodeAddress, Remoting};
use ferrocast_testkit::{FishingOutcome, TestProbe};
use serde::{Deserialize, Serialize};

mod common;

use common::{Member, WAIT};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Echo(String);

struct Node {
    system: ActorSystem,
    remoting: Remoting,
    cluster: Cluster,
    receptionist: ClusterReceptionist,
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
            r.register::<Echo>("test.Echo").unwrap();
        })
        .await;
        Node {
            system,
            remoting,
            cluster,
            receptionist,
        }
    }

    fn address(&self) -> NodeAddress {
        self.remoting.address().clone()
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

/// Waits for a listing of `n` services on `probe`; returns it.
async fn listing_of(probe: &mut TestProbe<Listing<Echo>>, n: usize) -> Listing<Echo> {
    let mut last = None;
    probe
        .fish_for_message(WAIT, |l| {
            let done = l.services.len() == n;
            last = Some(l.clone());
            if done {
                FishingOutcome::Complete
            } else {
                FishingOutcome::Continue
            }
        })
        .await;
    last.unwrap_or_else(|| panic!("no listing of {n}"))
}

fn subscribed(node: &Node, key: &ServiceKey<Echo>) -> TestProbe<Listing<Echo>> {
    let probe = TestProbe::<Listing<Echo>>::new(&node.system);
    node.receptionist
        .subscribe(key, probe.actor_ref())
        .expect("Echo is registered");
    probe
}

/// Tells whatever it gets to a probe; stops on "stop".
struct Forwarder(ActorRef<Echo>);

impl Actor for Forwarder {
    type Msg = Echo;
    async fn handle(&mut self, msg: Echo, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        if msg.0 == "stop" {
            ctx.stop();
        } else {
            self.0.tell(msg);
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_span_the_cluster_and_their_references_deliver() {
    let nodes = three_up().await;
    let key = ServiceKey::<Echo>::new("echo");
    let mut on_a = subscribed(&nodes[0], &key);
    // The first listing is the current one: empty.
    assert!(on_a.expect_msg(WAIT).await.services.is_empty());
    let mut services: Vec<TestProbe<Echo>> = Vec::new();
    for n in &nodes[1..] {
        let probe = TestProbe::<Echo>::new(&n.system);
        n.receptionist.register(&key, &probe.actor_ref()).unwrap();
        // Registering again changes nothing.
        n.receptionist.register(&key, &probe.actor_ref()).unwrap();
        services.push(probe);
    }
    let listing = listing_of(&mut on_a, 2).await;
    assert_eq!(listing.key, "echo");
    let found = nodes[0].receptionist.find(&key).unwrap();
    assert_eq!(found.services.len(), 2);
    for (i, service) in listing.services.iter().enumerate() {
        service.tell(Echo(format!("hello {i}")));
    }
    let mut got: Vec<String> = Vec::new();
    for probe in &mut services {
        got.push(probe.expect_msg(WAIT).await.0);
    }
    got.sort();
    assert_eq!(got, ["hello 0", "hello 1"]);
    // C sees B's registration and its own, its own first.
    let mut on_c = subscribed(&nodes[2], &key);
    let listing = listing_of(&mut on_c, 2).await;
    assert_eq!(listing.services[0].uid(), services[1].actor_ref().uid());

    // Another message type under the same id is another service.
    let other = ServiceKey::<u64>::new("echo");
    assert!(
        nodes[0]
            .receptionist
            .find(&other)
            .unwrap()
            .services
            .is_empty()
    );
    // Unregistered message types are a typed error.
    let unknown = ServiceKey::<i8>::new("echo");
    assert!(nodes[0].receptionist.find(&unknown).is_err());
    // A remote reference cannot be registered on this node.
    let remote = listing.services[1].clone();
    assert!(nodes[2].receptionist.register(&key, &remote).is_err());

    // Deregistered: gone everywhere.
    nodes[1]
        .receptionist
        .deregister(&key, &services[0].actor_ref())
        .unwrap();
    let listing = listing_of(&mut on_a, 1).await;
    assert_eq!(listing.services[0].uid(), services[1].actor_ref().uid());

    // Messages from a stranger are ignored and counted, not fatal.
    let stranger = nodes[1]
        .remoting
        .service::<ReceptionistMessage>(&nodes[0].address(), receptionist::SERVICE)
        .unwrap();
    let before = nodes[0].receptionist.metrics().ignored;
    stranger.tell(ReceptionistMessage::Status {
        from: receptionist::protocol::WireNode {
            system: "app".into(),
            host: "10.9.9.9".into(),
            port: 1,
            uid: 1,
        },
        versions: Vec::new(),
        reply: true,
    });
    tokio::time::timeout(WAIT, async {
        while nodes[0].receptionist.metrics().ignored == before {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the stranger's status is counted");
    let m = nodes[0].receptionist.metrics();
    assert!(m.received > 0 && m.sent > 0, "{m:?}");
    for n in nodes {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_service_disappears_from_every_listing() {
    let nodes = three_up().await;
    let key = ServiceKey::<Echo>::new("worker");
    let mut sink = TestProbe::<Echo>::new(&nodes[1].system);
    let worker = nodes[1]
        .system
        .spawn("worker", {
            let to = sink.actor_ref();
            move || Forwarder(to.clone())
        })
        .unwrap();
    nodes[1].receptionist.register(&key, &worker).unwrap();
    let mut on_a = subscribed(&nodes[0], &key);
    let mut on_c = subscribed(&nodes[2], &key);
    let listing = listing_of(&mut on_a, 1).await;
    listing_of(&mut on_c, 1).await;
    listing.services[0].tell(Echo("through A".into()));
    assert_eq!(sink.expect_msg(WAIT).await, Echo("through A".into()));

    worker.tell(Echo("stop".into()));
    listing_of(&mut on_a, 0).await;
    listing_of(&mut on_c, 0).await;
    assert!(
        nodes[1]
            .receptionist
            .find(&key)
            .unwrap()
            .services
            .is_empty()
    );
    assert!(nodes[1].receptionist.metrics().version >= 2);
    for n in nodes {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_node_disappears_from_listings() {
    let nodes = three_up().await;
    let key = ServiceKey::<Echo>::new("svc");
    let probes: Vec<TestProbe<Echo>> = nodes
        .iter()
        .map(|n| {
            let p = TestProbe::<Echo>::new(&n.system);
            n.receptionist.register(&key, &p.actor_ref()).unwrap();
            p
        })
        .collect();
    let mut on_a = subscribed(&nodes[0], &key);
    listing_of(&mut on_a, 3).await;
    let victim = nodes[2].cluster.self_node().clone();
    // `kill -9`: unreachable (hidden), then downed and removed by the
    // split brain resolver (dropped).
    nodes[2].remoting.shutdown();
    let listing = listing_of(&mut on_a, 2).await;
    assert!(
        listing
            .services
            .iter()
            .all(|s| s.uid().system != victim.uid)
    );
    tokio::time::timeout(
        WAIT,
        nodes[0]
            .cluster
            .wait_for(|v| !v.gossip.members.contains_key(&victim)),
    )
    .await
    .expect("the victim is removed")
    .expect("cluster running");
    let found = nodes[0].receptionist.find(&key).unwrap();
    assert_eq!(found.services.len(), 2);
    assert_eq!(found.services[0].uid(), probes[0].actor_ref().uid());
    let mut on_b = subscribed(&nodes[1], &key);
    listing_of(&mut on_b, 2).await;
    for n in nodes {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaving_node_disappears_from_listings() {
    let nodes = three_up().await;
    let key = ServiceKey::<Echo>::new("svc");
    let probe = TestProbe::<Echo>::new(&nodes[1].system);
    nodes[1]
        .receptionist
        .register(&key, &probe.actor_ref())
        .unwrap();
    let mut on_c = subscribed(&nodes[2], &key);
    listing_of(&mut on_c, 1).await;
    // Terminating the system leaves the cluster first.
    nodes[1].system.terminate().await;
    listing_of(&mut on_c, 0).await;
    for n in [&nodes[0], &nodes[2]] {
        n.system.terminate().await;
    }
}
