//! One member process of the `cluster` suite: a Ferrocast node with `Remoting` on
//! `127.0.0.1:0` and a `Cluster` with the default or the fast-failover settings, printing
//! what the orchestrator measures.

use std::io::Write as _;

use anyhow::Result;
use ferrocast_actor::{ActorSystem, ActorSystemConfig};
use ferrocast_cluster::{Cluster, ClusterEvent, ClusterSettings};
use ferrocast_remote::{NodeAddress, Registry, RemoteConfig, Remoting};

use super::{SEED_ENV, unix_micros};
use crate::harness::Measured;
use crate::remote::runtime;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs a member until the orchestrator closes stdin or kills it.
pub(crate) fn run(fast: bool) -> Result<Measured> {
    runtime()?.block_on(async move {
        let system = ActorSystem::new("bench", ActorSystemConfig::default())?;
        let mut registry = Registry::new();
        Cluster::register(&mut registry)?;
        let remoting =
            Remoting::start(&system, registry, RemoteConfig::bind("127.0.0.1", 0)).await?;
        let mut settings = if fast {
            ClusterSettings::fast_failover()
        } else {
            ClusterSettings::default()
        };
        settings.seed_nodes = vec![match std::env::var(SEED_ENV) {
            Ok(seed) => seed.parse::<NodeAddress>()?,
            Err(_) => remoting.address().clone(),
        }];
        let cluster = Cluster::start(&remoting, settings).await?;
        let mut events = cluster.subscribe().await?;
        cluster.join_seed_nodes()?;
        // The address first; then the orchestrator reads lines until it kills us.
        crate::remote::announce(&remoting.address().to_string())?;
        let me = cluster.self_node().clone();
        let watcher = cluster.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                let view = watcher
                    .wait_for(|v| {
                        let n = v.gossip.members.len();
                        n != last && v.all_up(n)
                    })
                    .await;
                let Ok(view) = view else { return };
                last = view.gossip.members.len();
                say(&format!("CONVERGED {last}"));
            }
        });
        while let Some(event) = events.next().await {
            let (kind, member) = match &event {
                ClusterEvent::UnreachableMember(m) => ("UNREACHABLE", m),
                ClusterEvent::MemberRemoved { member, .. } => ("REMOVED", member),
                _ => continue,
            };
            if member.unique_address != me {
                say(&format!(
                    "{kind} {} {}",
                    member.unique_address.address.port,
                    unix_micros()
                ));
            }
        }
        Ok(Vec::new())
    })
}
