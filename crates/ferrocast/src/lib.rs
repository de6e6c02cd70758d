//! Ferrocast: run stateful services as if they were stateless.
//!
//! This facade re-exports the toolkit's crates so an application depends on
//! one crate and picks subsystems with cargo features. It always carries the
//! typed actor runtime ([`actor`]); streams, remoting, persistence and the
//! test kit are features; cluster and sharding join as they land (see
//! `ARCHITECTURE.md`).
//!
//! ```
//! use std::time::Duration;
//! use ferrocast::prelude::*;
//!
//! struct Echo;
//! impl Actor for Echo {
//!     type Msg = (String, ReplyTo<String>);
//!     async fn handle(&mut self, (text, reply): Self::Msg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
//!         let _ = reply.send(text);
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let system = ActorSystem::new("app", ActorSystemConfig::default())?;
//! let echo = system.spawn("echo", || Echo)?;
//! let back = echo.ask(|r| ("hi".to_string(), r), Duration::from_secs(1)).await?;
//! assert_eq!(back, "hi");
//! system.terminate().await;
//! # Ok(()) }
//! ```
//!
//! # Features
//! - `testkit`: `testkit` (probes, synchronous harness, log capture).
//! - `stream`: `stream` (back-pressured streams, actor stages).
//! - `remote`: `remote` (typed references between nodes, TLS, death watch).
//! - `persistence`: `persistence` (event sourcing, in-memory backend, TCK).
//! - `persistence-sqlite`: `persistence_sqlite` (the embedded SQLite journal).
//! - `persistence-postgres`: `persistence_postgres` (the PostgreSQL journal).
//! - `cluster`: `cluster` (membership, split brain resolver, singleton,
//!   receptionist, pub-sub).
//! - `management`: `management` (HTTP probes and `/cluster/members`).

/// Typed actors: the runtime, supervision, death watch, timers, mailboxes.
pub use ferrocast_actor as actor;

/// Test probes, the synchronous harness and log capture.
#[cfg(feature = "testkit")]
pub use ferrocast_testkit as testkit;

/// Back-pressured streams on `futures::Stream`, with actor stages.
#[cfg(feature = "stream")]
pub use ferrocast_stream as stream;

/// Remoting: location-transparent actor references between nodes.
#[cfg(feature = "remote")]
pub use ferrocast_remote as remote;

/// Event sourcing: contracts, the event-sourced actor, a TCK.
#[cfg(feature = "persistence")]
pub use ferrocast_persistence as persistence;

/// The embedded default journal: one SQLite file.
#[cfg(feature = "persistence-sqlite")]
pub use ferrocast_persistence_sqlite as persistence_sqlite;

/// The server journal: the tables of one PostgreSQL schema.
#[cfg(feature = "persistence-postgres")]
pub use ferrocast_persistence_postgres as persistence_postgres;

/// Cluster membership over remoting: gossip, failure detection, the split
/// brain resolver, singletons, the cluster receptionist and pub-sub.
#[cfg(feature = "cluster")]
pub use ferrocast_cluster as cluster;

/// HTTP management: `/alive`, `/ready` and Akka Management's
/// `/cluster/members` routes.
#[cfg(feature = "management")]
pub use ferrocast_management as management;

/// The names most programs use.
pub mod prelude {
    pub use ferrocast_actor::{
        Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, AnyRef, AskError, Context,
        MailboxConfig, OverflowPolicy, Props, ReplyTo, SupervisorStrategy,
    };
}

/// The README's code samples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
