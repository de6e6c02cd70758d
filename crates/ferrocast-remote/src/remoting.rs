//! [`Remoting`]: a node's transport, its exports, and the inbound dispatch.

use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ferrocast_actor::{ActorRef, ActorSystem, AnyRef};
use tokio::sync::{oneshot, watch};

use crate::address::{NodeAddress, RemotePath, UniqueAddress};
use crate::association::lock;
use crate::config::{RemoteConfig, RemoteConfigError};
use crate::metrics::{Counters, RemoteMetrics};
use crate::protocol::{Identify, kind};
use crate::refs::RefParts;
use crate::serialization::Registry;
use crate::shared::{Exports, Shared};
use crate::watch::{ExportReaper, housekeeping};

/// Reply slot ids have the top bit set; actor ids never do.
pub(crate) const REPLY_BIT: u64 = 1 << 63;
/// Service ids have the second bit set (and never the top one).
pub(crate) const SERVICE_BIT: u64 = 1 << 62;

/// The recipient id of the well-known service `name`: the same on every
/// node (FNV-1a of the name), so no lookup is needed to reach it.
pub(crate) fn service_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    SERVICE_BIT | (h & (SERVICE_BIT - 1))
}

/// What happens to associations, published on the system's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteEvent {
    /// A handshake with a peer incarnation succeeded for the first time.
    Associated {
        /// The peer.
        peer: UniqueAddress,
    },
    /// A peer incarnation was quarantined: this node never talks to it
    /// again; actors there count as terminated for their watchers.
    Quarantined {
        /// The peer.
        peer: UniqueAddress,
        /// Why.
        reason: String,
    },
}

/// Why [`Remoting::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] RemoteConfigError),
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Where.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS material cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Not called inside a tokio runtime.
    #[error("remoting must start inside a tokio runtime")]
    NoRuntime,
}

/// Why [`Remoting::expose`] refused an actor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExposeError {
    /// The message type has no serializer.
    #[error("message type {0} is not registered in the serialization registry")]
    NotRegistered(&'static str),
    /// The reference is not a local actor.
    #[error("{0} is not a local actor")]
    NotLocal(String),
    /// Another live actor is exposed at this path.
    #[error("another actor is exposed at {0}")]
    PathTaken(String),
}

/// Why [`Remoting::resolve`] gave no reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The message type has no serializer here.
    #[error("message type {0} is not registered in the serialization registry")]
    NotRegistered(&'static str),
    /// The text is not a remote path.
    #[error(transparent)]
    Address(#[from] crate::address::AddressError),
    /// No exposed actor at that path.
    #[error("no actor exposed at {0}")]
    NotFound(String),
    /// The actor there reads another message type.
    #[error("{0}")]
    WrongType(String),
    /// No answer in time (node down, unreachable, or refusing us).
    #[error("no answer from {0} within {1:?}")]
    Timeout(String, Duration),
    /// Remoting is shut down.
    #[error("remoting is shut down")]
    Shutdown,
}

/// A node's remoting: listens for other nodes, connects to them, and turns
/// paths into typed references. Cheap to clone.
#[derive(Clone)]
pub struct Remoting {
    shared: Arc<Shared>,
}

impl fmt::Debug for Remoting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remoting")
            .field("address", &self.shared.local)
            .finish()
    }
}

impl Remoting {
    /// Starts remoting for `system`: binds the listener and accepts
    /// associations. Message types that cross the network must be in
    /// `registry`. Remoting stops with the system (coordinated shutdown,
    /// last phase) or with [`Remoting::shutdown`].
    pub async fn start(
        system: &ActorSystem,
        registry: Registry,
        config: RemoteConfig,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let tls = config.tls.as_ref().map(crate::tls::Tls::load).transpose()?;
        let bind = NodeAddress::new(system.name(), config.bind_host.clone(), config.bind_port);
        let listener = tokio::net::TcpListener::bind(bind.host_port())
            .await
            .map_err(|source| StartError::Bind {
                addr: bind.host_port(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                addr: bind.host_port(),
                source,
            })?
            .port();
        let host = config
            .canonical_host
            .clone()
            .unwrap_or_else(|| config.bind_host.clone());
        let local = UniqueAddress {
            address: NodeAddress::new(system.name(), host, port),
            uid: system.uid(),
        };
        let reaper_uid = system.next_uid();
        let shared = Arc::new_cyclic(|me: &std::sync::Weak<Shared>| Shared {
            system: system.clone(),
            registry: Arc::new(registry),
            config,
            local,
            handle,
            tls,
            exports: RwLock::new(Exports::default()),
            replies: Mutex::new(HashMap::new()),
            next_reply: AtomicU64::new(1),
            associations: Mutex::new(HashMap::new()),
            quarantined: RwLock::new(HashSet::new()),
            identify: Mutex::new(HashMap::new()),
            next_correlation: AtomicU64::new(1),
            counters: Counters::default(),
            closed: watch::channel(false).0,
            reaper: AnyRef::from_target(Arc::new(ExportReaper {
                uid: reaper_uid,
                shared: me.clone(),
            })),
            me: me.clone(),
        });
        shared
            .handle
            .spawn(crate::connection::accept_loop(shared.clone(), listener));
        shared.handle.spawn(housekeeping(
            Arc::downgrade(&shared),
            shared.closed.subscribe(),
        ));
        let weak = Arc::downgrade(&shared);
        let sys = system.clone();
        // The system's last phase stops the actors; remoting stays up while
        // they stop (their death notifications go out), then closes.
        let _ = system.coordinated_shutdown().add_task(
            "actor-system-terminate",
            "remoting-shutdown",
            move || async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), sys.when_terminated()).await;
                if let Some(shared) = weak.upgrade() {
                    shared.close();
                }
            },
        );
        tracing::info!(address = %shared.local, "remoting started");
        Ok(Remoting { shared })
    }

    /// This node's address (with the actual port when bound to port 0).
    pub fn address(&self) -> &NodeAddress {
        &self.shared.local.address
    }

    /// This incarnation: address and uid.
    pub fn unique_address(&self) -> &UniqueAddress {
        &self.shared.local
    }

    /// The system this remoting serves.
    pub fn system(&self) -> &ActorSystem {
        &self.shared.system
    }

    /// Makes a local actor reachable from other nodes at its path; returns
    /// the full path they resolve. Actors whose references travel inside
    /// messages are exported automatically; this is for the ones other
    /// nodes look up by path. The export ends when the actor stops.
    pub fn expose<M: Send + 'static>(
        &self,
        actor: &ActorRef<M>,
    ) -> Result<RemotePath, ExposeError> {
        if !self.shared.registry.contains::<M>() {
            return Err(ExposeError::NotRegistered(std::any::type_name::<M>()));
        }
        self.shared
            .export_erased(actor.as_any(), Box::new(actor.clone()), TypeId::of::<M>())
    }

    /// Resolves a full path (`ferrocast://system@host:port/user/name`)
    /// into a typed reference: asks the node whether an exposed actor
    /// lives there and reads `M`'s manifest. Never fakes a reference: an
    /// unknown path, another message type or a silent node is an error.
    pub async fn resolve<M: Send + 'static>(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<ActorRef<M>, ResolveError> {
        let path: RemotePath = path.parse()?;
        let entry = self
            .shared
            .registry
            .entry_of::<M>()
            .ok_or(ResolveError::NotRegistered(std::any::type_name::<M>()))?
            .clone();
        if path.address == self.shared.local.address {
            let exports = self
                .shared
                .exports
                .read()
                .unwrap_or_else(|e| e.into_inner());
            let export = exports
                .by_path
                .get(&path.path)
                .and_then(|id| exports.by_id.get(id))
                .ok_or_else(|| ResolveError::NotFound(path.to_string()))?;
            return export
                .typed
                .downcast_ref::<ActorRef<M>>()
                .cloned()
                .ok_or_else(|| {
                    ResolveError::WrongType(format!(
                        "{} reads {}, not {}",
                        path, export.entry.manifest, entry.manifest
                    ))
                });
        }
        let assoc = self.shared.association(&path.address);
        let correlation = self.shared.next_correlation.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.identify).insert(correlation, tx);
        let identify = Identify {
            correlation,
            path: path.path.clone(),
            serializer_id: entry.serializer_id,
            manifest: entry.manifest.to_string(),
        };
        // Sent again now and then: the first may be lost in a connection
        // that the peer had already closed.
        let answer = tokio::time::timeout(timeout, async {
            let mut rx = rx;
            let retry = (timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(2));
            loop {
                self.shared.push_control(&assoc, kind::IDENTIFY, &identify);
                match tokio::time::timeout(retry, &mut rx).await {
                    Ok(answer) => return answer,
                    Err(_) => continue,
                }
            }
        })
        .await;
        lock(&self.shared.identify).remove(&correlation);
        let identity = match answer {
            Ok(Ok(identity)) => identity,
            Ok(Err(_)) => return Err(ResolveError::Shutdown),
            Err(_) => return Err(ResolveError::Timeout(path.to_string(), timeout)),
        };
        if !identity.error.is_empty() {
            return Err(ResolveError::WrongType(identity.error));
        }
        if identity.actor_id == 0 {
            return Err(ResolveError::NotFound(path.to_string()));
        }
        let node_uid = assoc.uid.load(Ordering::Acquire);
        let mut full = path.clone();
        full.incarnation = Some((identity.actor_id, node_uid));
        let lane = self.shared.lane_for(&path.path);
        let any = (entry.glue.make_ref)(RefParts {
            shared: self.shared.clone(),
            assoc,
            path: full,
            actor: identity.actor_id,
            node_uid,
            lane,
            entry: entry.clone(),
        });
        any.downcast::<ActorRef<M>>()
            .map(|r| *r)
            .map_err(|_| ResolveError::NotRegistered(std::any::type_name::<M>()))
    }

    /// The manifest `M` travels under, if `M` is registered: a name of the
    /// message type that is the same on every node (Rust type names are
    /// not), for protocols that key shared data by message type, such as
    /// the cluster receptionist's service keys.
    pub fn manifest_of<M: 'static>(&self) -> Option<&str> {
        self.shared.registry.manifest_of::<M>()
    }

    /// A typed reference to the incarnation that the full `path` names
    /// (`ferrocast://app@host:port/user/a#42:9137`, as returned by
    /// [`Remoting::expose`]), built without asking its node: for protocols
    /// that spread exposed paths themselves (the cluster receptionist
    /// gossips them). Unlike [`Remoting::resolve`] nothing is checked with
    /// the node, so the caller must know that the path was exposed with
    /// message type `M`: a message to a gone incarnation or to an actor
    /// that reads another type is counted as undeliverable there, and
    /// death watch reports a gone incarnation terminated. A path of this
    /// node gives the local actor while it is exposed.
    pub fn actor_ref<M: Send + 'static>(
        &self,
        path: &RemotePath,
    ) -> Result<ActorRef<M>, ResolveError> {
        let (actor, node_uid) = path.incarnation.ok_or_else(|| {
            ResolveError::Address(crate::address::AddressError {
                text: path.to_string(),
                reason: "the path names no incarnation (#actor-id:node-uid)",
            })
        })?;
        let entry = self
            .shared
            .registry
            .entry_of::<M>()
            .ok_or(ResolveError::NotRegistered(std::any::type_name::<M>()))?
            .clone();
        if path.address == self.shared.local.address {
            let exports = self
                .shared
                .exports
                .read()
                .unwrap_or_else(|e| e.into_inner());
            let export = exports
                .by_id
                .get(&actor)
                .filter(|_| node_uid == self.shared.local.uid)
                .ok_or_else(|| ResolveError::NotFound(path.to_string()))?;
            return export
                .typed
                .downcast_ref::<ActorRef<M>>()
                .cloned()
                .ok_or_else(|| {
                    ResolveError::WrongType(format!(
                        "{} reads {}, not {}",
                        path, export.entry.manifest, entry.manifest
                    ))
                });
        }
        let any = (entry.glue.make_ref)(RefParts {
            shared: self.shared.clone(),
            assoc: self.shared.association(&path.address),
            path: path.clone(),
            actor,
            node_uid,
            lane: self.shared.lane_for(&path.path),
            entry: entry.clone(),
        });
        any.downcast::<ActorRef<M>>()
            .map(|r| *r)
            .map_err(|_| ResolveError::NotRegistered(std::any::type_name::<M>()))
    }

    /// Makes a local actor the node's well-known service `name`, which
    /// every node reaches with [`Remoting::service`] without resolving a
    /// path first: the infrastructure that must talk to a node before
    /// knowing anything about it (cluster membership, its heartbeats,
    /// singleton managers, the receptionist) lives at such names, as
    /// Akka's `/system/cluster/core/daemon` does. A stopped actor's name
    /// can be taken again.
    pub fn expose_service<M: Send + 'static>(
        &self,
        name: &str,
        actor: &ActorRef<M>,
    ) -> Result<(), ExposeError> {
        let entry = self
            .shared
            .registry
            .entry_of::<M>()
            .ok_or(ExposeError::NotRegistered(std::any::type_name::<M>()))?
            .clone();
        let target = actor.as_any();
        if target.uid().system != self.shared.local.uid {
            return Err(ExposeError::NotLocal(target.path().to_string()));
        }
        let typed: Box<dyn std::any::Any + Send + Sync> = Box::new(actor.clone());
        let deliver = (entry.glue.make_export)(&entry, &*typed)
            .ok_or(ExposeError::NotRegistered(entry.type_name))?;
        let id = service_id(name);
        let mut exports = self
            .shared
            .exports
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(other) = exports.services.get(&id) {
            if !other.target.is_terminated() && other.target.uid() != target.uid() {
                return Err(ExposeError::PathTaken(format!("service {name}")));
            }
        }
        exports.services.insert(
            id,
            Arc::new(crate::shared::Export {
                path: format!("service/{name}"),
                target,
                typed,
                entry,
                deliver,
            }),
        );
        Ok(())
    }

    /// A reference to the well-known service `name` at `address`, whichever
    /// incarnation of that node is running there now. Messages ride the
    /// control lane, so user traffic cannot delay them. Nothing is checked
    /// up front: a node without that service counts the messages as
    /// unknown recipients. Not for death watch (watch an actor resolved
    /// with [`Remoting::resolve`], or follow cluster membership).
    pub fn service<M: Send + 'static>(
        &self,
        address: &NodeAddress,
        name: &str,
    ) -> Result<ActorRef<M>, ResolveError> {
        let entry = self
            .shared
            .registry
            .entry_of::<M>()
            .ok_or(ResolveError::NotRegistered(std::any::type_name::<M>()))?
            .clone();
        if *address == self.shared.local.address {
            let exports = self
                .shared
                .exports
                .read()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(local) = exports
                .services
                .get(&service_id(name))
                .and_then(|e| e.typed.downcast_ref::<ActorRef<M>>())
            {
                return Ok(local.clone());
            }
        }
        let id = service_id(name);
        let any = (entry.glue.make_ref)(RefParts {
            shared: self.shared.clone(),
            assoc: self.shared.association(address),
            path: RemotePath::new(address.clone(), format!("/system/service/{name}")),
            actor: id,
            node_uid: 0,
            lane: crate::association::CONTROL,
            entry: entry.clone(),
        });
        any.downcast::<ActorRef<M>>()
            .map(|r| *r)
            .map_err(|_| ResolveError::NotRegistered(std::any::type_name::<M>()))
    }

    /// Quarantines incarnation `uid` of the node at `address` if that is
    /// the one associated there (a cluster removed it); false otherwise.
    pub fn quarantine_incarnation(&self, address: &NodeAddress, uid: u64, reason: &str) -> bool {
        let assoc = lock(&self.shared.associations).get(address).cloned();
        match assoc {
            Some(a) if a.uid.load(Ordering::Acquire) == uid => {
                self.shared.quarantine(&a, uid, reason);
                true
            }
            _ => false,
        }
    }

    /// Counters of this node's remoting.
    pub fn metrics(&self) -> RemoteMetrics {
        self.shared.counters.snapshot()
    }

    /// True if the incarnation `uid` of some peer is quarantined here.
    pub fn is_quarantined(&self, uid: u64) -> bool {
        self.shared.is_quarantined(uid)
    }

    /// The uid of the peer incarnation currently associated at `address`.
    pub fn peer_uid(&self, address: &NodeAddress) -> Option<u64> {
        let assocs = lock(&self.shared.associations);
        let uid = assocs.get(address)?.uid.load(Ordering::Acquire);
        (uid != 0).then_some(uid)
    }

    /// Quarantines the current incarnation at `address` (for example after
    /// a cluster decided to down it); returns false if none is known.
    pub fn quarantine(&self, address: &NodeAddress, reason: &str) -> bool {
        let assoc = lock(&self.shared.associations).get(address).cloned();
        match assoc {
            Some(a) => match a.uid.load(Ordering::Acquire) {
                0 => false,
                uid => {
                    self.shared.quarantine(&a, uid, reason);
                    true
                }
            },
            None => false,
        }
    }

    /// Stops listening and closes every association. Idempotent.
    pub fn shutdown(&self) {
        self.shared.close();
    }
}
