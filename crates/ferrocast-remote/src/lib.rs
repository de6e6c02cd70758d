//! Remoting for Ferrocast: location-transparent actor references between
//! nodes.
//!
//! A node starts [`Remoting`] next to its [`ActorSystem`](ferrocast_actor::ActorSystem),
//! with a [`Registry`] of the message types that cross the network.
//! Local actors are [exposed](Remoting::expose) at their paths; other nodes
//! [resolve](Remoting::resolve) `ferrocast://system@host:port/user/name`
//! into an ordinary typed `ActorRef<M>` and use it exactly like a local
//! one: `tell`, `send`, `ask` with a timeout, death watch. References and
//! `ReplyTo`s inside messages cross the network too (serde derives on
//! message types, through the actor crate's transport hooks).
//!
//! ```
//! use std::time::Duration;
//! use ferrocast_actor::{Actor, ActorError, ActorSystem, ActorSystemConfig, Context, ReplyTo};
//! use ferrocast_remote::{Registry, RemoteConfig, Remoting};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! enum Greet { Hello(String, ReplyTo<String>) }
//!
//! struct Greeter;
//! impl Actor for Greeter {
//!     type Msg = Greet;
//!     async fn handle(&mut self, msg: Greet, _: &mut Context<Self>) -> Result<(), ActorError> {
//!         let Greet::Hello(name, reply) = msg;
//!         let _ = reply.send(format!("hello, {name}"));
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = || -> Result<Registry, ferrocast_remote::RegistryError> {
//!     let mut r = Registry::new();
//!     r.register::<Greet>("example.Greet")?;
//!     Ok(r)
//! };
//! let a = ActorSystem::new("example", ActorSystemConfig::default())?;
//! let b = ActorSystem::new("example", ActorSystemConfig::default())?;
//! let remote_a = Remoting::start(&a, registry()?, RemoteConfig::bind("127.0.0.1", 0)).await?;
//! let remote_b = Remoting::start(&b, registry()?, RemoteConfig::bind("127.0.0.1", 0)).await?;
//!
//! let greeter = a.spawn("greeter", || Greeter)?;
//! let path = remote_a.expose(&greeter)?;
//!
//! let remote_greeter = remote_b
//!     .resolve::<Greet>(&format!("{}{}", remote_a.address(), path.path), Duration::from_secs(5))
//!     .await?;
//! let answer = remote_greeter
//!     .ask(|r| Greet::Hello("b".into(), r), Duration::from_secs(5))
//!     .await?;
//! assert_eq!(answer, "hello, b");
//! # a.terminate().await; b.terminate().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `address`: [`NodeAddress`], [`UniqueAddress`], [`RemotePath`].
//! - `serialization`: [`Registry`], [`Serializer`], [`Binary`], [`Json`].
//! - `remoting`: [`Remoting`] (start, expose, resolve, quarantine);
//!   `shared`: the state behind it (associations, sending, quarantine);
//!   `exports`: what other nodes can address and what was imported;
//!   `inbound`: dispatch of received frames; `watch`: remote death watch
//!   and the housekeeping timer.
//! - `association`: per-peer lanes (control, ordinary, large), reliable
//!   system messages, watch tables. `connection`: listener, handshake,
//!   readers and lane writers. `frame`, `protocol`: the wire format.
//! - `refs`: remote `ActorRef`/`ReplyTo` targets and the typed glue.
//! - `failure_detector`: [`PhiAccrualDetector`], sans IO.
//! - `tls`: [`TlsConfig`], rustls sessions for every lane connection.
//! - `config`: [`RemoteConfig`]; `metrics`: [`RemoteMetrics`].
//!
//! Semantics are in `docs/remote/semantics.md`.
//!
//! # Dependencies
//! `prost` for the evolvable internal protocol; `postcard` (compact binary)
//! and `serde_json` (readable) for user messages; `ring` for the HMAC of
//! the shared-secret handshake; `rustls`/`tokio-rustls` (ring provider)
//! for TLS; `tokio` for TCP, tasks and time.

mod address;
mod association;
mod config;
mod connection;
mod exports;
mod failure_detector;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod inbound;
mod metrics;
mod protocol;
mod refs;
mod remoting;
mod serialization;
mod shared;
mod tls;
mod watch;

pub use address::{AddressError, NodeAddress, RemotePath, SCHEME, UniqueAddress};
pub use config::{RemoteConfig, RemoteConfigError};
pub use failure_detector::{DetectorSettings, PhiAccrualDetector};
pub use frame::FrameError;
pub use metrics::RemoteMetrics;
pub use protocol::DecodeError;
pub use remoting::{ExposeError, RemoteEvent, Remoting, ResolveError, StartError};
pub use serialization::{
    Binary, CodecError, InboundError, Json, Registry, RegistryError, Serializer,
};
pub use tls::{TlsConfig, TlsError};
