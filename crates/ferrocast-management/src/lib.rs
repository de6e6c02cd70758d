//! HTTP management for a Ferrocast node: the probes Kubernetes asks
//! (`/alive`, `/ready`) and the cluster membership routes of Akka
//! Management (`/cluster/members`), with Akka's paths and JSON field names,
//! so scripts and dashboards written for Akka work unchanged. Addresses
//! read `ferrocast://system@host:port` where Akka's read `akka://...`.
//!
//! ```
//! use std::net::SocketAddr;
//! use ferrocast_actor::{ActorSystem, ActorSystemConfig};
//! use ferrocast_cluster::{Cluster, ClusterSettings};
//! use ferrocast_management::Management;
//! use ferrocast_remote::{Registry, RemoteConfig, Remoting};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let system = ActorSystem::new("app", ActorSystemConfig::default())?;
//! let mut registry = Registry::new();
//! Cluster::register(&mut registry)?;
//! let remoting = Remoting::start(&system, registry, RemoteConfig::bind("127.0.0.1", 0)).await?;
//! let cluster = Cluster::start(&remoting, ClusterSettings::fast_failover()).await?;
//! cluster.join(remoting.address().clone())?; // a cluster of one
//!
//! let http = Management::start(cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
//! println!("curl http://{}/cluster/members", http.local_addr());
//!
//! // Coordinated shutdown stops the endpoint (`service-unbind`), then
//! // leaves the cluster (`cluster-leave`).
//! system.terminate().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `routes`: [`router`], the routes and their status codes (a table).
//! - `model`: the JSON bodies ([`ClusterMembers`], [`ClusterMember`],
//!   [`ClusterUnreachableMember`], [`Message`]).
//! - `error`: [`ApiError`] (typed 4xx/503 with a JSON message) and
//!   [`StartError`].
//! - `server`: [`serve`] and [`Management`], stopped in the
//!   `service-unbind` phase of coordinated shutdown.
//!
//! # Why axum
//! The endpoint runs in the node's own tokio runtime, beside remoting, so
//! the server must be a tokio citizen: that rules out actix-web (its own
//! runtime) and leaves hyper-based servers. Plain hyper would make us
//! route paths and parse forms and percent-encoding by hand; axum adds
//! just that on top of hyper, with typed extractors whose rejections we
//! turn into our own JSON errors, and the router is a `tower::Service`, so
//! tests drive it with `oneshot` and no socket. Features are kept to
//! HTTP/1, JSON, forms and queries: no HTTP/2, no tracing layer, no macros.

mod error;
mod model;
mod routes;
mod server;

pub use error::{ApiError, StartError};
pub use model::{ClusterMember, ClusterMembers, ClusterUnreachableMember, Message};
pub use routes::router;
pub use server::{Management, UNBIND_PHASE, serve};
