//! The cluster receptionist: find actors by [`ServiceKey`] on every node.
//!
//! Like the local receptionist (`ActorSystem::receptionist`), actors
//! register under a typed key and anyone can [find](ClusterReceptionist::find)
//! the key or [subscribe](ClusterReceptionist::subscribe) to its
//! [`Listing`]; here the listing holds the actors registered on every
//! reachable member, as ordinary `ActorRef<M>`s (remote ones send over
//! remoting). Distributed pub-sub ([`crate::pubsub`]) rides on the same
//! replication.
//!
//! # Replication (eventually consistent)
//!
//! Each node owns a versioned *bucket*: its local registrations, as
//! key → full paths of the registered actors (exposed through remoting,
//! with their incarnation). Only the owner changes its bucket, bumping the
//! version on every change; the others keep the highest version they saw
//! (see [`bucket`]). Replicators on each node talk to the well-known
//! remoting service [`SERVICE`] on the control lane:
//!
//! - every `gossip_interval` a node sends its versions (owner → version)
//!   to one random reachable member (`Status`); the receiver answers with
//!   the whole buckets that are newer on its side (`Delta`, at most
//!   `max_delta_entries` entries at a time) and, if it is behind, with its
//!   own versions, so the first node sends what it lacks;
//! - a local change is pushed at once to every reachable member
//!   (`push_on_change`), so listings usually converge in one message
//!   latency, and the gossip repairs what was lost;
//! - a member that becomes reachable, or joins, gets our versions at once.
//!
//! Nothing is acknowledged and there is no global order: two nodes may
//! briefly return different listings; once changes stop and the members
//! reach each other, every node returns the same. A listing never names
//! an actor that was not registered, but it may still name one that
//! stopped a moment ago (a message to it goes to dead letters there).
//!
//! # Failures
//!
//! - A registered actor that stops leaves every key of its node's bucket
//!   (the receptionist watches it), and the new bucket spreads like any
//!   change. [`ClusterReceptionist::deregister`] does the same explicitly.
//! - The registrations of an unreachable member are hidden from listings
//!   (not dropped: they show again when it is reachable again); those of a
//!   downed member are hidden; those of a removed member are dropped, and
//!   buckets of non-members are refused, so late gossip cannot bring them
//!   back. A restarted node is a new incarnation with a new bucket.
//! - Malformed entries (not a path of an actor on the bucket's owner) are
//!   dropped and counted ([`ReceptionistMetrics::bad_entries`]); messages
//!   from nodes that are not members are ignored and counted.
//!
//! # Keys and types
//!
//! A key is the service id *and* the manifest its message type is
//! registered under in remoting's [`Registry`](ferrocast_remote::Registry)
//! (the same id with two message types is two services, as locally), so
//! `M` must be registered on every node that registers or looks up the
//! key, as for any message that crosses the network. Register the
//! receptionist's own wire messages with [`register`].
//!
//! # Layout
//!
//! - [`bucket`]: versioned buckets and their merge (sans IO).
//! - [`replicator`]: the gossip protocol core (sans IO) and its settings.
//! - [`protocol`]: the wire messages and their registration.
//! - `node`: the runtime (the replicator behind a lock, the service
//!   actor, the task for cluster events and ticks); `listing`: typed
//!   listings from replicated paths; `death_watch`: watching registered
//!   actors.
//!
//! ```no_run
//! # async fn example(cluster: ferrocast_cluster::Cluster, me: ferrocast_actor::ActorRef<String>)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use ferrocast_actor::ServiceKey;
//! use ferrocast_cluster::receptionist::{ClusterReceptionist, ReceptionistSettings};
//!
//! let receptionist = ClusterReceptionist::start(&cluster, ReceptionistSettings::default()).await?;
//! let key = ServiceKey::<String>::new("greeter");
//! receptionist.register(&key, &me)?;
//! for greeter in receptionist.find(&key)?.services {
//!     greeter.tell("hello".to_owned());
//! }
//! # Ok(()) }
//! ```

pub mod bucket;
pub(crate) mod death_watch;
mod listing;
mod node;
pub mod protocol;
pub mod replicator;

use std::fmt;
use std::sync::Arc;

use ferrocast_actor::{ActorRef, Listing, ServiceKey};
use ferrocast_remote::{ExposeError, UniqueAddress};

use crate::daemon::{Cluster, ClusterStopped};
pub use bucket::{KeyKind, RegistryKey};
use listing::TypedSink;
pub(crate) use node::Inner;
pub use protocol::{ReceptionistMessage, SERVICE, register};
pub use replicator::{InvalidSetting, ReceptionistSettings};

/// Why the receptionist refused something.
#[derive(Debug, thiserror::Error)]
pub enum ReceptionistError {
    /// A setting is invalid.
    #[error(transparent)]
    Settings(#[from] InvalidSetting),
    /// The message type of a key is not in remoting's registry.
    #[error("message type {0} is not registered in the remoting registry")]
    NotRegistered(&'static str),
    /// The registry lacks the receptionist's wire messages.
    #[error("the remoting registry has no receptionist codec: call receptionist::register on it")]
    CodecMissing,
    /// The actor cannot be registered here (not a local actor, or its
    /// path is taken by another exposed actor).
    #[error("cannot register {path}: {source}")]
    Expose {
        /// The actor.
        path: String,
        /// Why remoting cannot expose it.
        #[source]
        source: ExposeError,
    },
    /// The receptionist could not start in the actor system.
    #[error("cannot start the cluster receptionist: {0}")]
    Spawn(String),
    /// The cluster daemon has stopped.
    #[error(transparent)]
    ClusterStopped(#[from] ClusterStopped),
}

/// Counters of one node's receptionist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceptionistMetrics {
    /// Messages sent to other nodes' receptionists.
    pub sent: u64,
    /// Messages received from them.
    pub received: u64,
    /// Received entries dropped as malformed or foreign.
    pub bad_entries: u64,
    /// Received messages ignored because the sender is not a member.
    pub ignored: u64,
    /// Entries that gave no typed reference when a listing was built.
    pub unresolvable: u64,
    /// The version of this node's bucket.
    pub version: u64,
}
/// One node's cluster receptionist. Cheap to clone.
#[derive(Clone)]
pub struct ClusterReceptionist {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for ClusterReceptionist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterReceptionist")
            .field("self_node", self.inner.self_node())
            .finish_non_exhaustive()
    }
}

impl ClusterReceptionist {
    /// Starts this node's receptionist on `cluster`: exposes the service
    /// [`SERVICE`] and replicates until the actor system terminates or the
    /// cluster daemon stops. Start one per node (a second start fails:
    /// the actor name is taken).
    pub async fn start(
        cluster: &Cluster,
        settings: ReceptionistSettings,
    ) -> Result<ClusterReceptionist, ReceptionistError> {
        let inner = Inner::start(cluster, settings).await?;
        Ok(ClusterReceptionist { inner })
    }

    /// Registers the local actor `service` under `key` on every node.
    /// Registering it again does nothing; it stays until it stops or is
    /// deregistered. Only actors of this node can be registered here.
    pub fn register<M: Send + 'static>(
        &self,
        key: &ServiceKey<M>,
        service: &ActorRef<M>,
    ) -> Result<(), ReceptionistError> {
        let key = self.inner.key::<M>(KeyKind::Service, key.id())?;
        self.inner.register_local(key, service)
    }

    /// Removes `service` from `key` (nothing if it is not registered).
    pub fn deregister<M: Send + 'static>(
        &self,
        key: &ServiceKey<M>,
        service: &ActorRef<M>,
    ) -> Result<(), ReceptionistError> {
        let key = self.inner.key::<M>(KeyKind::Service, key.id())?;
        self.inner.deregister_local(&key, &service.as_any());
        Ok(())
    }

    /// The actors registered under `key` on this node and every reachable
    /// member, as this node knows them now: this node's own first, then by
    /// node address and path.
    pub fn find<M: Send + 'static>(
        &self,
        key: &ServiceKey<M>,
    ) -> Result<Listing<M>, ReceptionistError> {
        let rkey = self.inner.key::<M>(KeyKind::Service, key.id())?;
        let services = self
            .inner
            .lookup::<M>(&rkey)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        Ok(Listing {
            key: key.id().to_owned(),
            services,
        })
    }

    /// Sends `subscriber` the listing of `key` now and after every change
    /// of it (the same listing is not sent twice in a row).
    pub fn subscribe<M: Send + 'static>(
        &self,
        key: &ServiceKey<M>,
        subscriber: ActorRef<Listing<M>>,
    ) -> Result<(), ReceptionistError> {
        let rkey = self.inner.key::<M>(KeyKind::Service, key.id())?;
        let sink = TypedSink {
            key: key.id().to_owned(),
            to: subscriber,
            last: None,
        };
        self.inner.subscribe(rkey, Box::new(sink));
        Ok(())
    }

    /// This node's incarnation.
    pub fn self_node(&self) -> &UniqueAddress {
        self.inner.self_node()
    }

    /// Resolves once `pred` holds: checked now and after every change
    /// that may have changed a listing (of services or topics). For tests
    /// and tools that wait for replication without polling.
    pub async fn wait_until(&self, mut pred: impl FnMut() -> bool) {
        let mut changes = self.inner.changes();
        loop {
            changes.borrow_and_update();
            if pred() {
                return;
            }
            // The sender lives in `inner`, which `self` keeps alive.
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Counters of this node's receptionist.
    pub fn metrics(&self) -> ReceptionistMetrics {
        self.inner.metrics()
    }
}
