//! `ferrocast-demo node`: one cluster member per process, with its
//! management endpoint, for trying membership with real processes (three
//! terminals, `kill -9`, `curl`).
//!
//! Standard output gets one line per cluster event, in order, as this
//! member sees them (`EVENT MemberUp ferrocast://demo@127.0.0.1:2551
//! uid=...`), `READY <self node>` once this member is Up (or WeaklyUp),
//! `CONVERGED <n>` whenever its view settles on n members, all Up and seen
//! by all (a settled view changes no event, so this is the line to wait
//! for), and `STOPPED <reason>` at the end. Logs go to standard error
//! (`RUST_LOG`).

use std::time::Duration;

use ferrocast::management::Management;
use ferrocast_cluster::{ClusterEvent, ShutdownReason};

use crate::cluster_node;
use crate::events::describe;
use crate::node_args::NodeArgs;

/// Runs one member until it is removed or downed, or a signal asks it to
/// leave.
pub(crate) async fn run(args: NodeArgs) -> anyhow::Result<()> {
    let member = cluster_node::start(&args.system, &args.bind_host, args.bind_port, |me| {
        args.settings(me)
    })
    .await?;
    let (system, cluster) = (member.system.clone(), member.cluster.clone());
    let me = cluster.self_node().clone();
    let http = match args.http {
        Some(addr) => Some(Management::start(cluster.clone(), addr).await?),
        None => None,
    };
    println!(
        "NODE {} uid={} http={}",
        me.address,
        me.uid,
        http.as_ref()
            .map_or_else(|| "off".to_owned(), |h| h.local_addr().to_string())
    );

    // Events from the first change on: the subscription starts before the
    // join, so nothing is missed.
    let mut events = cluster.subscribe().await?;
    let printer = tokio::spawn({
        let me = me.clone();
        async move {
            let mut ready = false;
            while let Some(e) = events.next().await {
                println!("EVENT {}", describe(&e));
                let up = match &e {
                    ClusterEvent::MemberUp(m) | ClusterEvent::MemberWeaklyUp(m) => {
                        m.unique_address == me
                    }
                    _ => false,
                };
                if up && !ready {
                    ready = true;
                    println!("READY {}", me.address);
                }
            }
        }
    });
    // Settled views: printed on the way into each one.
    tokio::spawn({
        let cluster = cluster.clone();
        async move {
            let mut last: Option<usize> = None;
            loop {
                let mut settled = None;
                let changed = cluster
                    .wait_for(|v| {
                        let n = v.gossip.members.len();
                        let now = v.all_up(n).then_some(n);
                        if now == last {
                            return false;
                        }
                        settled = now;
                        true
                    })
                    .await;
                if changed.is_err() {
                    return;
                }
                last = settled;
                if let Some(n) = settled {
                    println!("CONVERGED {n}");
                }
            }
        }
    });
    // The event stream ends when the daemon stops; bounded all the same.
    let drain = |printer: tokio::task::JoinHandle<()>| async move {
        let _ = tokio::time::timeout(Duration::from_secs(5), printer).await;
    };
    cluster.join_seed_nodes()?;

    let reason = tokio::select! {
        reason = cluster.when_stopped() => Some(reason),
        signal = shutdown_signal() => {
            signal?;
            tracing::info!("signal: leaving the cluster");
            None
        }
    };
    match reason {
        // Removed or downed: the daemon already started coordinated
        // shutdown; wait for it to finish.
        Some(reason) => {
            system.when_terminated().await;
            drain(printer).await;
            println!("STOPPED {}", why(reason));
        }
        // Coordinated shutdown: the endpoint unbinds, then the member
        // leaves (Leaving, Exiting, Removed), then the actors stop.
        None => {
            system.terminate().await;
            drain(printer).await;
            println!("STOPPED left after a signal");
        }
    }
    Ok(())
}

fn why(reason: ShutdownReason) -> &'static str {
    match reason {
        ShutdownReason::Removed => "removed from the cluster",
        ShutdownReason::Downed => "downed",
    }
}

/// SIGTERM (Kubernetes stopping the pod) or ctrl-c.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
