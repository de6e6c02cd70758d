//! One cluster member: an actor system, its remoting and its cluster
//! daemon, as both the in-process demo and the `node` command start it.

use ferrocast::actor::{ActorSystem, ActorSystemConfig};
use ferrocast::remote::{NodeAddress, Registry, RemoteConfig, Remoting};
use ferrocast_cluster::{Cluster, ClusterSettings};

/// A started member (not yet joined).
pub(crate) struct Member {
    pub(crate) system: ActorSystem,
    pub(crate) remoting: Remoting,
    pub(crate) cluster: Cluster,
}

/// Starts a member of actor system `name` listening on `host:port` (port
/// 0: any free one); `settings` gets the address it listens at.
pub(crate) async fn start(
    name: &str,
    host: &str,
    port: u16,
    settings: impl FnOnce(&NodeAddress) -> ClusterSettings,
) -> anyhow::Result<Member> {
    let system = ActorSystem::new(name, ActorSystemConfig::default())?;
    let mut registry = Registry::new();
    Cluster::register(&mut registry)?;
    let remoting = Remoting::start(&system, registry, RemoteConfig::bind(host, port)).await?;
    let cluster = Cluster::start(&remoting, settings(remoting.address())).await?;
    Ok(Member {
        system,
        remoting,
        cluster,
    })
}
