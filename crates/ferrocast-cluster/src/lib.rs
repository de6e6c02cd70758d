//! Cluster membership for Ferrocast, as sans-IO state machines.
//!
//! A node's [`MembershipEngine`] takes inputs (ticks, messages from other
//! nodes, operator commands) with the current time and returns outputs
//! (messages to send, events to publish, a lease to ask for, a shutdown).
//! Nothing in the engine reads a clock, opens a socket or spawns a task:
//! the I/O layer ([`daemon`], over `ferrocast-remote`) and the
//! deterministic [`sim`]ulator drive the same code.
//!
//! See `docs/cluster/semantics.md` for the member life cycle, gossip and
//! convergence, leader actions, failure detection, the split brain
//! resolver strategies and the simulator's invariants.
//! `docs/cluster/algorithm.md` explains the algorithms and why each default
//! has the value it has (failure detection, downing, singleton timing).
//!
//! ```
//! use ferrocast_cluster::{ClusterSettings, Input, MembershipEngine, MemberStatus};
//! use ferrocast_remote::{NodeAddress, UniqueAddress};
//! use std::time::Duration;
//! use tokio::time::Instant;
//!
//! let me = UniqueAddress { address: NodeAddress::new("app", "10.0.0.1", 2552), uid: 1 };
//! let settings = ClusterSettings { seed_nodes: vec![me.address.clone()], ..Default::default() };
//! let t0 = Instant::now();
//! let mut engine = MembershipEngine::new(me, settings, 42, t0).unwrap();
//! engine.handle(Input::JoinSeedNodes, t0);
//! engine.handle(Input::Tick, t0 + Duration::from_secs(1));
//! assert_eq!(engine.self_member().unwrap().status, MemberStatus::Up);
//! ```
//!
//! # Layout
//!
//! - [`member`]: member statuses, allowed transitions, app versions.
//! - [`vclock`]: vector clocks.
//! - [`reachability`]: per-observer reachability records.
//! - [`gossip`]: the gossiped state, its merge, convergence and leader.
//! - [`events`]: cluster events as diffs of gossips; the snapshot.
//! - [`protocol`]: messages between engines.
//! - [`daemon`]: the [`Cluster`] handle: the engine driven over remoting,
//!   with events, operator commands and coordinated shutdown; its
//!   `singleton` module runs cluster singletons and their proxies.
//! - [`receptionist`]: the cluster receptionist (service listings across
//!   nodes, replicated by gossip of per-node buckets).
//! - [`pubsub`]: distributed pub-sub topics on top of the receptionist.
//! - [`sbr`]: the split brain resolver's strategies and stability tracking.
//! - [`singleton`]: the cluster singleton manager (one instance, on the
//!   oldest member).
//! - [`engine`]: the per-node state machine.
//! - [`settings`]: settings with Akka's defaults and validation.
//! - [`rng`]: the seeded random generator.
//! - [`sim`]: the deterministic multi-node simulator and its invariants.

pub mod daemon;
pub mod engine;
pub mod events;
pub mod gossip;
mod heartbeat;
pub mod member;
mod presets;
pub mod protocol;
pub mod pubsub;
pub mod reachability;
pub mod receptionist;
pub mod rng;
pub mod sbr;
pub mod settings;
pub mod sim;
pub mod singleton;
pub mod vclock;

pub use daemon::{
    Cluster, ClusterError, ClusterMetrics, ClusterStopped, ClusterSubscription, ClusterView,
};
pub use engine::{Input, MembershipEngine, Output, ShutdownReason};
pub use events::{ClusterEvent, CurrentClusterState};
pub use gossip::{Gossip, GossipOverview};
pub use member::{AppVersion, Member, MemberStatus};
pub use protocol::ClusterMessage;
pub use pubsub::{DistributedPubSub, Topic, TopicMetrics};
pub use reachability::{Reachability, ReachabilityStatus};
pub use receptionist::{
    ClusterReceptionist, ReceptionistError, ReceptionistMetrics, ReceptionistSettings,
};
pub use sbr::{Decision, Lease, SbrSettings, Strategy};
pub use settings::{ClusterSettings, SettingsError};
pub use singleton::{
    SingletonInput, SingletonManager, SingletonMessage, SingletonOutput, SingletonSettings,
    SingletonState,
};
pub use vclock::{ClockOrdering, VectorClock};
