//! Serving the routes, and stopping in coordinated shutdown.
//!
//! The server stops accepting in the `service-unbind` phase (Akka
//! Management's place too): a node going away first stops answering
//! probes and operators, then leaves the cluster in `cluster-leave`.
//! Requests already being answered finish (graceful shutdown); the phase's
//! timeout bounds the wait.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use ferrocast_cluster::Cluster;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::StartError;
use crate::routes::router;

/// The coordinated-shutdown phase the server stops in.
pub const UNBIND_PHASE: &str = "service-unbind";

/// Signals between the server, its owner and coordinated shutdown.
struct Stop {
    /// Set to stop accepting.
    stop: watch::Sender<bool>,
    /// Set once the server has stopped.
    finished: watch::Sender<bool>,
}

/// Registers the stop in `service-unbind` of the cluster's actor system.
fn register_stop(cluster: &Cluster) -> Result<Stop, StartError> {
    let stop = watch::Sender::new(false);
    let finished = watch::Sender::new(false);
    let (stopping, mut done) = (stop.clone(), finished.subscribe());
    cluster
        .remoting()
        .system()
        .coordinated_shutdown()
        .add_task(UNBIND_PHASE, "stop the management endpoint", move || {
            async move {
                stopping.send_replace(true);
                // Err: the server is gone already (its future was dropped).
                let _ = done.wait_for(|f| *f).await;
            }
        })
        .map_err(|_| StartError::ShuttingDown)?;
    Ok(Stop { stop, finished })
}

async fn run(cluster: Cluster, listener: TcpListener, stop: Stop) -> io::Result<()> {
    let mut stopping = stop.stop.subscribe();
    let served = axum::serve(listener, router(cluster))
        .with_graceful_shutdown(async move {
            // Err: every stop handle is gone, and nothing can stop us but
            // dropping this future; keep serving.
            if stopping.wait_for(|s| *s).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await;
    stop.finished.send_replace(true);
    served
}

/// Serves the management routes of `cluster` on `listener` until the
/// cluster's actor system shuts down (the server stops in the
/// `service-unbind` phase). Resolves at once with
/// [`io::ErrorKind::Interrupted`] if that system is already shutting down.
pub fn serve(
    cluster: Cluster,
    listener: TcpListener,
) -> impl Future<Output = io::Result<()>> + Send {
    let stop = register_stop(&cluster);
    async move {
        match stop {
            Ok(stop) => run(cluster, listener, stop).await,
            Err(e) => Err(io::Error::new(io::ErrorKind::Interrupted, e)),
        }
    }
}

/// A running management endpoint: stops in coordinated shutdown, or when
/// asked with [`Management::stop`].
#[derive(Debug)]
pub struct Management {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

impl Management {
    /// Binds `addr` (port 0 picks a free one) and serves the routes of
    /// `cluster` on a task of the current runtime.
    pub async fn start(cluster: Cluster, addr: SocketAddr) -> Result<Management, StartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let stop = register_stop(&cluster)?;
        let stopper = stop.stop.clone();
        let task = tokio::spawn(run(cluster, listener, stop));
        tracing::info!(%local_addr, "management endpoint listening");
        Ok(Management {
            local_addr,
            stop: stopper,
            task,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(self) -> io::Result<()> {
        self.stop.send_replace(true);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(e)),
        }
    }
}
