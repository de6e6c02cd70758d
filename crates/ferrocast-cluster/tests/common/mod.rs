//! What the loopback tests share: a member on `127.0.0.1`, with
//! `fast_failover` settings, that has not joined yet.

#![allow(dead_code)] // Each test binary uses its own part.

use std::time::Duration;

use ferrocast_actor::{ActorSystem, ActorSystemConfig};
use ferrocast_cluster::{Cluster, ClusterSettings};
use ferrocast_remote::{NodeAddress, Registry, RemoteConfig, Remoting};

/// The longest any test waits for the cluster to get somewhere.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// One member: its actor system, remoting and cluster handle.
pub(crate) struct Member {
    pub(crate) system: ActorSystem,
    pub(crate) remoting: Remoting,
    pub(crate) cluster: Cluster,
}

impl Member {
    /// Starts a member on `port` (0: any) whose seeds are `seeds` (none:
    /// itself, so it forms a cluster). `register` adds the test's message
    /// types to the registry. It does not join yet.
    pub(crate) async fn start(
        seeds: &[NodeAddress],
        port: u16,
        register: impl FnOnce(&mut Registry),
    ) -> Member {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let system = ActorSystem::new("app", ActorSystemConfig::default()).unwrap();
        let mut registry = Registry::new();
        Cluster::register(&mut registry).unwrap();
        register(&mut registry);
        let remoting = Remoting::start(&system, registry, RemoteConfig::bind("127.0.0.1", port))
            .await
            .unwrap();
        let mut settings = ClusterSettings::fast_failover();
        settings.seed_nodes = if seeds.is_empty() {
            vec![remoting.address().clone()]
        } else {
            seeds.to_vec()
        };
        let cluster = Cluster::start(&remoting, settings).await.unwrap();
        Member {
            system,
            remoting,
            cluster,
        }
    }

    /// This member's address.
    pub(crate) fn address(&self) -> NodeAddress {
        self.remoting.address().clone()
    }

    /// Waits until this member sees `n` members, all Up, converged.
    pub(crate) async fn wait_all_up(&self, n: usize) {
        tokio::time::timeout(WAIT, self.cluster.wait_for(|v| v.all_up(n)))
            .await
            .expect("all Up in time")
            .expect("the cluster runs");
    }
}

/// A member with a cluster receptionist (gossip every 200 ms), joined:
/// for the receptionist and pub-sub tests.
pub(crate) async fn with_receptionist(
    seeds: &[NodeAddress],
    register: impl FnOnce(&mut Registry),
) -> (Member, ferrocast_cluster::ClusterReceptionist) {
    let member = Member::start(seeds, 0, |r| {
        ferrocast_cluster::receptionist::register(r).unwrap();
        register(r);
    })
    .await;
    let receptionist = ferrocast_cluster::ClusterReceptionist::start(
        &member.cluster,
        ferrocast_cluster::ReceptionistSettings {
            gossip_interval: Duration::from_millis(200),
            ..ferrocast_cluster::ReceptionistSettings::default()
        },
    )
    .await
    .unwrap();
    member.cluster.join_seed_nodes().unwrap();
    (member, receptionist)
}
