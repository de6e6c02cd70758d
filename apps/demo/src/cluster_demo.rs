//! The cluster part of the demo: three members in one process, on
//! loopback, with fast failover settings. They form a cluster; one crashes
//! (its sockets close and nothing is said, as with `kill -9`) and the
//! others detect it, down it and remove it; one leaves gracefully. Every
//! change prints as the first member sees it. About 10 s.

use std::time::Duration;

use anyhow::{Context as _, bail};
use ferrocast::remote::{NodeAddress, UniqueAddress};
use ferrocast_cluster::{ClusterEvent, ClusterSettings, ClusterSubscription, ClusterView};
use tokio::time::Instant;

use crate::cluster_node::{self, Member};
use crate::events::describe;

/// The longest any step may take before the demo gives up.
const STEP: Duration = Duration::from_secs(20);

fn settings(seed: &NodeAddress) -> ClusterSettings {
    ClusterSettings {
        seed_nodes: vec![seed.clone()],
        ..ClusterSettings::fast_failover()
    }
}

async fn wait(
    member: &Member,
    what: &str,
    pred: impl FnMut(&ClusterView) -> bool,
) -> anyhow::Result<()> {
    tokio::time::timeout(STEP, member.cluster.wait_for(pred))
        .await
        .with_context(|| format!("timed out waiting for {what}"))?
        .with_context(|| format!("the cluster stopped while waiting for {what}"))?;
    Ok(())
}

/// Prints the events `a` sees until one matches `done`.
async fn until(
    events: &mut ClusterSubscription,
    t0: Instant,
    what: &str,
    mut done: impl FnMut(&ClusterEvent) -> bool,
) -> anyhow::Result<()> {
    let step = async {
        while let Some(e) = events.next().await {
            println!(
                "  t={:>5.2}s  a sees {}",
                t0.elapsed().as_secs_f64(),
                describe(&e)
            );
            if done(&e) {
                return true;
            }
        }
        false
    };
    match tokio::time::timeout(STEP, step).await {
        Ok(true) => Ok(()),
        Ok(false) => bail!("a's cluster stopped before {what}"),
        Err(_) => bail!("timed out waiting for {what}"),
    }
}

fn removed(e: &ClusterEvent, who: &UniqueAddress) -> bool {
    matches!(e, ClusterEvent::MemberRemoved { member, .. } if member.unique_address == *who)
}

/// Runs the scenario and shuts everything down.
pub(crate) async fn run() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let a = cluster_node::start("demo", "127.0.0.1", 0, settings).await?;
    let seed = a.remoting.address().clone();
    let b = cluster_node::start("demo", "127.0.0.1", 0, |_| settings(&seed)).await?;
    let c = cluster_node::start("demo", "127.0.0.1", 0, |_| settings(&seed)).await?;
    println!();
    println!("cluster demo: three members of actor system \"demo\" in this process, fast failover");
    for (name, m) in [("a", &a), ("b", &b), ("c", &c)] {
        println!("  {name} = {}", m.cluster.self_node());
    }
    // Subscribed before anyone joins: every change shows, in order.
    let mut events = a.cluster.subscribe().await?;

    println!("a forms the cluster; b and c join through it:");
    for m in [&a, &b, &c] {
        m.cluster.join_seed_nodes()?;
    }
    let mut up = 0;
    until(&mut events, t0, "three members Up", |e| {
        up += usize::from(matches!(e, ClusterEvent::MemberUp(_)));
        up == 3
    })
    .await?;
    for m in [&a, &b, &c] {
        wait(m, "three members Up", |v| v.all_up(3)).await?;
    }
    let leader = a.cluster.state().leader.context("no leader")?;
    println!("all three Up, leader {}", leader.address);

    println!("c crashes (its connections drop, nothing is said: like kill -9):");
    let c_node = c.cluster.self_node().clone();
    c.remoting.shutdown();
    until(&mut events, t0, "c removed", |e| removed(e, &c_node)).await?;
    wait(&a, "b and a converged", |v| v.all_up(2)).await?;
    // c, cut off alone, is a minority: it downs itself and its actor system
    // shuts down rather than serving as a zombie.
    tokio::time::timeout(STEP, c.system.when_terminated())
        .await
        .context("c did not shut down")?;
    println!("c is gone and its actor system shut itself down; a and b carry on");

    println!("b leaves gracefully (coordinated shutdown: Leaving, Exiting, Removed):");
    let b_node = b.cluster.self_node().clone();
    b.system.terminate().await;
    until(&mut events, t0, "b removed", |e| removed(e, &b_node)).await?;

    println!("a, the last one, leaves and shuts down:");
    let last = a.system.clone();
    let shutdown = tokio::spawn(async move { last.terminate().await });
    // The subscription ends when a's daemon stops.
    until(&mut events, t0, "a stopped", |_| false).await.ok();
    tokio::time::timeout(STEP, shutdown)
        .await
        .context("a did not shut down")??;
    println!("cluster demo done in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}
