//! Cluster singletons on real loopback TCP: several nodes in one process.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use ferrocast_actor::{Actor, ActorError, ActorRef, ActorSystem, Context, ReplyTo};
use ferrocast_cluster::daemon::singleton::ClusterSingleton;
use ferrocast_cluster::{Cluster, ClusterSettings, SingletonSettings};
use ferrocast_remote::{NodeAddress, Remoting};
use serde::{Deserialize, Serialize};

mod common;

use common::{Member, WAIT};

#[derive(Debug, Serialize, Deserialize)]
enum CounterMsg {
    Add(u64),
    Get(ReplyTo<(u64, u16)>),
}

/// Counts, and says on which node it runs; `running` counts live instances.
struct Counter {
    total: u64,
    port: u16,
    running: Arc<AtomicI64>,
    most: Arc<AtomicI64>,
}

impl Actor for Counter {
    type Msg = CounterMsg;

    async fn started(&mut self, _: &mut Context<Self>) -> Result<(), ActorError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }

    async fn handle(&mut self, msg: CounterMsg, _: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            CounterMsg::Add(n) => self.total += n,
            CounterMsg::Get(reply) => {
                let _ = reply.send((self.total, self.port));
            }
        }
        Ok(())
    }

    async fn stopped(&mut self, _: &mut Context<Self>) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Node {
    system: ActorSystem,
    remoting: Remoting,
    cluster: Cluster,
    proxy: ActorRef<CounterMsg>,
}

#[derive(Clone, Default)]
struct Census {
    running: Arc<AtomicI64>,
    most: Arc<AtomicI64>,
}

async fn node(seed: Option<NodeAddress>, census: &Census) -> Node {
    let seeds: Vec<NodeAddress> = seed.into_iter().collect();
    let Member {
        system,
        remoting,
        cluster,
    } = Member::start(&seeds, 0, |r| {
        r.register::<CounterMsg>("test.CounterMsg").unwrap();
        r.register::<(u64, u16)>("test.CountAt").unwrap();
    })
    .await;
    let singleton = SingletonSettings::for_cluster(&ClusterSettings::fast_failover());
    cluster.join_seed_nodes().unwrap();
    let port = remoting.address().port;
    let census = census.clone();
    let proxy = ClusterSingleton::init(&cluster, "counter", singleton, move || Counter {
        total: 0,
        port,
        running: census.running.clone(),
        most: census.most.clone(),
    })
    .await
    .unwrap();
    Node {
        system,
        remoting,
        cluster,
        proxy,
    }
}

async fn three(census: &Census) -> Vec<Node> {
    let a = node(None, census).await;
    let seed = Some(a.remoting.address().clone());
    let b = node(seed.clone(), census).await;
    let c = node(seed, census).await;
    let nodes = vec![a, b, c];
    for n in &nodes {
        tokio::time::timeout(WAIT, n.cluster.wait_for(|v| v.all_up(3)))
            .await
            .expect("all Up")
            .unwrap();
    }
    nodes
}

/// Asks through `proxy` until an answer comes (the proxy buffers while
/// it looks for the instance; an ask can time out across a hand-over).
async fn get(proxy: &ActorRef<CounterMsg>) -> (u64, u16) {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(v) = proxy.ask(CounterMsg::Get, Duration::from_secs(2)).await {
                return v;
            }
        }
    })
    .await
    .expect("the singleton answers")
}

fn oldest_port(n: &Node) -> u16 {
    n.cluster
        .view()
        .oldest(None)
        .expect("an oldest member")
        .unique_address
        .address
        .port
}

/// Checks that the oldest runs the instance (asked from another node),
/// then takes that node out of `nodes`: its port and the node.
async fn take_oldest(nodes: &mut Vec<Node>) -> (u16, Node) {
    let oldest = oldest_port(&nodes[0]);
    let i = nodes
        .iter()
        .position(|n| n.remoting.address().port == oldest)
        .unwrap();
    assert_eq!(get(&nodes[(i + 1) % nodes.len()].proxy).await.1, oldest);
    (oldest, nodes.remove(i))
}

/// Asks through `node`'s proxy until the instance answers from a node
/// other than `from`; that node's port.
async fn moved_from(node: &Node, from: u16) -> u16 {
    tokio::time::timeout(WAIT, async {
        loop {
            let (_, at) = get(&node.proxy).await;
            if at != from {
                return at;
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_on_the_oldest_reached_from_every_node() {
    let census = Census::default();
    let nodes = three(&census).await;
    for (i, n) in nodes.iter().enumerate() {
        n.proxy.tell(CounterMsg::Add(i as u64 + 1));
    }
    let oldest = oldest_port(&nodes[0]);
    // Sent from one node, in order after its own Add; the others' Adds
    // arrive at their own pace.
    let total = tokio::time::timeout(WAIT, async {
        loop {
            let (total, at) = get(&nodes[2].proxy).await;
            assert_eq!(at, oldest);
            if total == 6 {
                return total;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(total, 6);
    assert_eq!(census.running.load(Ordering::SeqCst), 1);
    assert_eq!(census.most.load(Ordering::SeqCst), 1);
    for n in nodes {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaving_oldest_hands_over() {
    let census = Census::default();
    let mut nodes = three(&census).await;
    let (oldest, leaver) = take_oldest(&mut nodes).await;
    leaver.system.terminate().await;
    // The next oldest runs it now; never two at once.
    let next = moved_from(&nodes[0], oldest).await;
    // The instance may answer before this node's view has removed the old
    // oldest (which `oldest` counts while it is Exiting).
    tokio::time::timeout(WAIT, nodes[0].cluster.wait_for(|v| v.all_up(2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, oldest_port(&nodes[0]));
    assert_eq!(get(&nodes[1].proxy).await.1, next);
    assert_eq!(census.running.load(Ordering::SeqCst), 1);
    assert_eq!(census.most.load(Ordering::SeqCst), 1);
    for n in nodes {
        n.system.terminate().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_oldest_is_taken_over_after_removal() {
    let census = Census::default();
    let mut nodes = three(&census).await;
    let (oldest, crashed) = take_oldest(&mut nodes).await;
    // Cut off: the crashed node downs itself (minority), and its instance
    // stops with its system; the others take over after the margin.
    crashed.remoting.shutdown();
    tokio::time::timeout(WAIT, crashed.system.when_terminated())
        .await
        .expect("the cut-off node shuts down");
    let next = moved_from(&nodes[0], oldest).await;
    // The instance may answer before this node's view has removed the old
    // oldest (which `oldest` counts while it is Exiting).
    tokio::time::timeout(WAIT, nodes[0].cluster.wait_for(|v| v.all_up(2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, oldest_port(&nodes[0]));
    assert_eq!(census.most.load(Ordering::SeqCst), 1);
    for n in nodes {
        n.system.terminate().await;
    }
}
