//! [`Remoting`]: a node's transport, its exports, and the inbound dispatch.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ferrocast_actor::transport::with_transport;
use ferrocast_actor::{
    ActorPath, ActorRef, ActorSystem, ActorTarget, ActorUid, AnyRef, SystemMessage,
};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::address::{NodeAddress, RemotePath, UniqueAddress};
use crate::association::{Association, CONTROL, LARGE, ORDINARY, PushError, Watched, lock};
use crate::config::{RemoteConfig, RemoteConfigError};
use crate::failure_detector::PhiAccrualDetector;
use crate::frame;
use crate::metrics::{Counters, RemoteMetrics};
use crate::protocol::{
    self, ActorIdentity, DeathWatchNotification, Envelope, Heartbeat, Identify, Quarantined,
    SystemAck, SystemEnvelope, SystemKind, Watch, kind,
};
use crate::refs::{ClosedFn, RefParts, ReplyParts, Scope};
use crate::serialization::{ExportFn, InboundError, Registry, ReplyFn, TypeEntry};

/// Reply slot ids have the top bit set; actor ids never do.
pub(crate) const REPLY_BIT: u64 = 1 << 63;

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

pub(crate) struct Export {
    pub(crate) path: String,
    pub(crate) target: AnyRef,
    pub(crate) typed: Box<dyn Any + Send + Sync>,
    pub(crate) entry: Arc<TypeEntry>,
    pub(crate) deliver: ExportFn,
}

#[derive(Default)]
pub(crate) struct Exports {
    pub(crate) by_id: HashMap<u64, Arc<Export>>,
    pub(crate) by_path: HashMap<String, u64>,
}

pub(crate) struct PendingReply {
    complete: ReplyFn,
    closed: ClosedFn,
}

/// The state behind a [`Remoting`] handle.
pub(crate) struct Shared {
    pub(crate) system: ActorSystem,
    pub(crate) registry: Arc<Registry>,
    pub(crate) config: RemoteConfig,
    pub(crate) local: UniqueAddress,
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) tls: Option<crate::tls::Tls>,
    pub(crate) exports: RwLock<Exports>,
    replies: Mutex<HashMap<u64, PendingReply>>,
    next_reply: AtomicU64,
    associations: Mutex<HashMap<NodeAddress, Arc<Association>>>,
    quarantined: RwLock<HashSet<u64>>,
    identify: Mutex<HashMap<u64, oneshot::Sender<ActorIdentity>>>,
    next_correlation: AtomicU64,
    pub(crate) counters: Counters,
    pub(crate) closed: watch::Sender<bool>,
    /// Watches exported actors to remove them when they stop.
    reaper: AnyRef,
    me: std::sync::Weak<Shared>,
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

impl Shared {
    pub(crate) fn arc(&self) -> Option<Arc<Shared>> {
        self.me.upgrade()
    }

    pub(crate) fn close(&self) {
        if !self.closed.send_replace(true) {
            tracing::info!(address = %self.local, "remoting shut down");
        }
        for a in lock(&self.associations).values() {
            a.closed.store(true, Ordering::Release);
            for lane in &a.lanes {
                lane.notify.notify_one();
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    pub(crate) fn is_quarantined(&self, uid: u64) -> bool {
        self.quarantined
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&uid)
    }

    pub(crate) fn lane_for(&self, path: &str) -> usize {
        if self.config.is_large_destination(path) {
            LARGE
        } else {
            ORDINARY
        }
    }

    /// The association with `address`, created on first use.
    pub(crate) fn association(&self, address: &NodeAddress) -> Arc<Association> {
        let mut assocs = lock(&self.associations);
        if let Some(a) = assocs.get(address) {
            return a.clone();
        }
        let a = Arc::new(Association::new(
            address.clone(),
            self.config.outbound_lane_bytes,
            self.config.max_frame_size,
            self.config.max_large_frame_size,
            self.config.system_message_buffer,
            PhiAccrualDetector::new(self.config.failure_detector.clone()),
        ));
        if self.is_closed() {
            a.closed.store(true, Ordering::Release);
        }
        assocs.insert(address.clone(), a.clone());
        a
    }

    pub(crate) fn associations(&self) -> Vec<Arc<Association>> {
        lock(&self.associations).values().cloned().collect()
    }

    fn ensure_writer(&self, assoc: &Arc<Association>, lane: usize) {
        if !assoc.lanes[lane].started.swap(true, Ordering::AcqRel) {
            if let Some(me) = self.arc() {
                self.handle
                    .spawn(crate::connection::lane_writer(me, assoc.clone(), lane));
            }
        }
    }

    /// Encodes a user envelope into `lane`; serialization of references
    /// inside runs in this node's transport scope. Failures are counted
    /// and logged here.
    pub(crate) fn push_envelope<E: fmt::Display>(
        &self,
        assoc: &Arc<Association>,
        lane: usize,
        recipient: u64,
        entry: &TypeEntry,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), PushError<String>> {
        let Some(me) = self.arc() else {
            return Err(PushError::Closed);
        };
        let scope = Scope::new(&me);
        let result = assoc.lanes[lane].push(&assoc.closed, |out| {
            let start = frame::begin_frame(out, kind::ENVELOPE);
            // Placeholder head: the payload length is known only after
            // encoding, so encode first into the tail, then move it.
            let payload_at = out.len();
            with_transport(&scope, || encode(out)).map_err(|e| e.to_string())?;
            let payload = out.split_off(payload_at);
            Envelope::encode_head(
                out,
                recipient,
                entry.serializer_id,
                &entry.manifest,
                payload.len(),
            );
            out.extend_from_slice(&payload);
            frame::end_frame(out, start);
            Ok::<(), String>(())
        });
        match &result {
            Ok(()) => {
                self.counters.sent.fetch_add(1, Ordering::Relaxed);
                self.ensure_writer(assoc, lane);
            }
            Err(e) => {
                for id in scope.exported_replies.borrow().iter() {
                    lock(&self.replies).remove(id);
                }
                match e {
                    // Not a drop yet: `tell` counts it, `send` waits.
                    PushError::Full | PushError::Closed => {}
                    PushError::Oversized(n) => {
                        let c = self
                            .counters
                            .dropped_oversized
                            .fetch_add(1, Ordering::Relaxed);
                        if c.is_power_of_two() || c == 0 {
                            tracing::warn!(peer = %assoc.remote, size = n, manifest = %entry.manifest,
                                "dropping an oversized message (see max_frame_size / large_message_destinations)");
                        }
                    }
                    PushError::Encode(err) => {
                        let c = self
                            .counters
                            .serialization_failures
                            .fetch_add(1, Ordering::Relaxed);
                        if c.is_power_of_two() || c == 0 {
                            tracing::warn!(peer = %assoc.remote, manifest = %entry.manifest, error = %err,
                                "dropping a message that does not serialize");
                        }
                    }
                }
            }
        }
        result
    }

    /// Queues a control frame (best effort: heartbeats, acks, identify).
    pub(crate) fn push_control(
        &self,
        assoc: &Arc<Association>,
        kind_: u8,
        msg: &impl prost::Message,
    ) {
        let pushed = assoc.lanes[CONTROL].push::<()>(&assoc.closed, |out| {
            frame::put_message(out, kind_, msg);
            Ok(())
        });
        if pushed.is_ok() {
            self.ensure_writer(assoc, CONTROL);
        }
    }

    /// Queues a reliable system message; quarantines the peer if its
    /// buffer of unacknowledged ones is full.
    pub(crate) fn push_system(&self, assoc: &Arc<Association>, to_uid: u64, kind_: SystemKind) {
        if assoc.closed.load(Ordering::Acquire) || self.is_quarantined(to_uid) {
            return;
        }
        if assoc.send_system(to_uid, kind_, Instant::now()) {
            self.ensure_writer(assoc, CONTROL);
        } else if let Some(uid) = assoc.state().uid {
            self.quarantine(assoc, uid, "system message buffer overflow");
        }
    }

    /// A system message for a remote actor, from the local runtime.
    pub(crate) fn remote_system_message(
        &self,
        assoc: &Arc<Association>,
        actor: ActorUid,
        msg: SystemMessage,
        me: impl FnOnce() -> AnyRef,
    ) {
        match msg {
            SystemMessage::Watch { watcher } => {
                if self.is_quarantined(actor.system) {
                    watcher.send_system(SystemMessage::Terminated { actor: me() });
                    return;
                }
                let first = {
                    let mut st = assoc.state();
                    let w = st.watching.entry(actor.actor).or_insert_with(|| Watched {
                        actor: me(),
                        watchers: HashMap::new(),
                    });
                    let first = w.watchers.is_empty();
                    w.watchers.insert(watcher.uid(), watcher);
                    // Start the clock now, so a node that never answers a
                    // heartbeat is still detected (Akka seeds it after the
                    // first expected response; the estimate covers that).
                    if !st.detector.is_monitoring() {
                        st.detector.heartbeat(Instant::now());
                    }
                    first
                };
                if first {
                    self.push_system(
                        assoc,
                        actor.system,
                        SystemKind::Watch(Watch {
                            watchee: actor.actor,
                        }),
                    );
                }
            }
            SystemMessage::Unwatch { watcher } => {
                let last = {
                    let mut st = assoc.state();
                    match st.watching.get_mut(&actor.actor) {
                        Some(w) => {
                            w.watchers.remove(&watcher.uid());
                            let empty = w.watchers.is_empty();
                            if empty {
                                st.watching.remove(&actor.actor);
                            }
                            empty
                        }
                        None => false,
                    }
                };
                if last {
                    self.push_system(
                        assoc,
                        actor.system,
                        SystemKind::Unwatch(Watch {
                            watchee: actor.actor,
                        }),
                    );
                }
            }
            other => {
                // Stopping or supervising an actor of another node is not
                // something references do (as in Akka Typed).
                tracing::debug!(actor = ?actor, msg = ?other, "system message to a remote actor ignored");
            }
        }
    }

    /// Exports a local actor under its path and id.
    pub(crate) fn export_erased(
        &self,
        target: AnyRef,
        typed: Box<dyn Any + Send + Sync>,
        msg_type: TypeId,
    ) -> Result<RemotePath, ExposeError> {
        let path = target.path().to_string();
        if path.starts_with(crate::address::SCHEME) {
            return Err(ExposeError::NotLocal(path));
        }
        let uid = target.uid();
        if uid.system != self.local.uid {
            return Err(ExposeError::NotLocal(path));
        }
        let entry = self
            .registry
            .entry(msg_type)
            .ok_or(ExposeError::NotRegistered("(type of the reference)"))?
            .clone();
        let full = RemotePath {
            address: self.local.address.clone(),
            path: path.clone(),
            incarnation: Some((uid.actor, self.local.uid)),
        };
        {
            let mut exports = self.exports.write().unwrap_or_else(|e| e.into_inner());
            if exports.by_id.contains_key(&uid.actor) {
                return Ok(full);
            }
            if let Some(other) = exports.by_path.get(&path) {
                if exports
                    .by_id
                    .get(other)
                    .is_some_and(|e| !e.target.is_terminated())
                {
                    return Err(ExposeError::PathTaken(path));
                }
            }
            let deliver = (entry.glue.make_export)(&entry, &*typed)
                .ok_or(ExposeError::NotRegistered(entry.type_name))?;
            exports.by_path.insert(path.clone(), uid.actor);
            exports.by_id.insert(
                uid.actor,
                Arc::new(Export {
                    path,
                    target: target.clone(),
                    typed,
                    entry,
                    deliver,
                }),
            );
        }
        target.send_system(SystemMessage::Watch {
            watcher: self.reaper.clone(),
        });
        Ok(full)
    }

    fn unexport(&self, actor: u64) {
        let mut exports = self.exports.write().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = exports.by_id.remove(&actor) {
            if exports.by_path.get(&e.path) == Some(&actor) {
                exports.by_path.remove(&e.path);
            }
        }
    }

    pub(crate) fn import_ref(
        &self,
        name: &str,
        msg_type: TypeId,
    ) -> Result<Box<dyn Any + Send>, String> {
        let path: RemotePath = name
            .parse()
            .map_err(|e: crate::address::AddressError| e.to_string())?;
        let (actor, node_uid) = path
            .incarnation
            .ok_or_else(|| format!("reference {name} names no incarnation"))?;
        let entry = self
            .registry
            .entry(msg_type)
            .ok_or_else(|| format!("the message type of reference {name} is not registered"))?
            .clone();
        if node_uid == self.local.uid {
            let exports = self.exports.read().unwrap_or_else(|e| e.into_inner());
            let export = exports
                .by_id
                .get(&actor)
                .ok_or_else(|| format!("local actor {name} is no longer exported"))?;
            return (export.entry.glue.clone_ref)(&*export.typed)
                .filter(|_| Arc::ptr_eq(&export.entry, &entry))
                .ok_or_else(|| format!("local actor {name} reads {}", export.entry.manifest));
        }
        let me = self.arc().ok_or("remoting is shut down")?;
        let assoc = self.association(&path.address);
        let lane = self.lane_for(&path.path);
        Ok((entry.glue.make_ref)(RefParts {
            shared: me,
            assoc,
            path,
            actor,
            node_uid,
            lane,
            entry,
        }))
    }

    pub(crate) fn export_reply(
        &self,
        reply: Box<dyn Any + Send>,
        reply_type: TypeId,
    ) -> Result<(u64, String), String> {
        let entry = self
            .registry
            .entry(reply_type)
            .ok_or("the answer type of this ask is not registered")?
            .clone();
        let (complete, closed) = (entry.glue.make_reply_slot)(&entry, reply)
            .ok_or("the answer type of this ask does not match its registration")?;
        let id = REPLY_BIT | self.next_reply.fetch_add(1, Ordering::Relaxed);
        lock(&self.replies).insert(id, PendingReply { complete, closed });
        let path = RemotePath {
            address: self.local.address.clone(),
            path: format!("/temp/reply-{}", id & !REPLY_BIT),
            incarnation: Some((id, self.local.uid)),
        };
        Ok((id, path.to_string()))
    }

    pub(crate) fn import_reply(
        &self,
        name: &str,
        reply_type: TypeId,
    ) -> Result<Box<dyn Any + Send>, String> {
        let path: RemotePath = name
            .parse()
            .map_err(|e: crate::address::AddressError| e.to_string())?;
        let (recipient, node_uid) = path
            .incarnation
            .ok_or_else(|| format!("reply address {name} names no incarnation"))?;
        let entry = self
            .registry
            .entry(reply_type)
            .ok_or("the answer type of this request is not registered")?
            .clone();
        let me = self.arc().ok_or("remoting is shut down")?;
        let assoc = self.association(&path.address);
        Ok((entry.glue.make_reply)(ReplyParts {
            shared: me,
            assoc,
            node_uid,
            recipient,
            entry,
        }))
    }

    /// Quarantines incarnation `uid` at `assoc`: its watchers learn that
    /// its actors terminated, queued traffic is dropped, and the
    /// association waits for a new incarnation.
    pub(crate) fn quarantine(&self, assoc: &Arc<Association>, uid: u64, reason: &str) {
        if !self
            .quarantined
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid)
        {
            return;
        }
        self.counters.quarantines.fetch_add(1, Ordering::Relaxed);
        let peer = UniqueAddress {
            address: assoc.remote.clone(),
            uid,
        };
        tracing::warn!(peer = %peer, reason, "association quarantined");
        let (watching, proxies) = {
            let mut st = assoc.state();
            if st.uid == Some(uid) {
                st.uid = None;
                st.unacked.clear();
                st.oldest_sent = None;
                st.next_seq = 1;
                st.detector = PhiAccrualDetector::new(self.config.failure_detector.clone());
                assoc.uid.store(0, Ordering::Release);
            }
            (
                std::mem::take(&mut st.watching),
                std::mem::take(&mut st.watched_by_peer),
            )
        };
        // User traffic queued for the quarantined incarnation is dropped;
        // the control lane is kept (identify, acks and heartbeats are not
        // tied to an incarnation, and system messages carry their target
        // uid, which the receiver checks).
        let mut dropped = 0;
        for lane in &assoc.lanes[ORDINARY..] {
            dropped += lane.clear();
        }
        if dropped > 0 {
            self.counters
                .dropped_quarantined_bytes
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        assoc.generation.fetch_add(1, Ordering::AcqRel);
        for lane in &assoc.lanes {
            lane.notify.notify_one();
        }
        for (_, w) in watching {
            for watcher in w.watchers.into_values() {
                watcher.send_system(SystemMessage::Terminated {
                    actor: w.actor.clone(),
                });
            }
        }
        for (actor, proxy) in proxies {
            let export = self
                .exports
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .by_id
                .get(&actor)
                .cloned();
            if let Some(e) = export {
                e.target
                    .send_system(SystemMessage::Unwatch { watcher: proxy });
            }
        }
        self.system
            .event_stream()
            .publish(RemoteEvent::Quarantined {
                peer,
                reason: reason.to_owned(),
            });
    }

    /// A handshake told the uid of the peer at `assoc`: admits it, or
    /// refuses a quarantined incarnation; a new uid quarantines the old.
    pub(crate) fn on_peer_uid(&self, assoc: &Arc<Association>, uid: u64) -> Result<(), String> {
        if self.is_quarantined(uid) {
            return Err(format!(
                "incarnation {uid} of {} is quarantined",
                assoc.remote
            ));
        }
        let old = assoc.state().uid;
        match old {
            Some(old) if old == uid => return Ok(()),
            Some(old) => self.quarantine(assoc, old, "the node restarted with a new uid"),
            None => {}
        }
        let mut st = assoc.state();
        if st.uid.is_none() {
            st.uid = Some(uid);
            assoc.uid.store(uid, Ordering::Release);
            drop(st);
            assoc.closed.store(self.is_closed(), Ordering::Release);
            tracing::debug!(peer = %assoc.remote, uid, "associated");
            self.system.event_stream().publish(RemoteEvent::Associated {
                peer: UniqueAddress {
                    address: assoc.remote.clone(),
                    uid,
                },
            });
        }
        Ok(())
    }

    /// Dispatches one inbound frame from the peer incarnation `peer`.
    /// Bad input is counted and logged, never a panic; an error return
    /// closes the connection.
    pub(crate) fn on_frame(
        self: &Arc<Self>,
        peer: &Arc<Association>,
        peer_uid: u64,
        kind_: u8,
        body: &[u8],
    ) -> Result<(), protocol::DecodeError> {
        match kind_ {
            kind::ENVELOPE => {
                let env = Envelope::decode(body)?;
                self.counters.received.fetch_add(1, Ordering::Relaxed);
                let scope = Scope::new(self);
                if let Err(e) = with_transport(&scope, || self.deliver(&env)) {
                    self.count_inbound_error(&e, peer);
                }
            }
            kind::SYSTEM => {
                let env: SystemEnvelope = protocol::decode(body)?;
                self.on_system(peer, peer_uid, env);
            }
            kind::SYSTEM_ACK => {
                let ack: SystemAck = protocol::decode(body)?;
                if peer.uid.load(Ordering::Acquire) == peer_uid {
                    peer.on_ack(ack.seq, Instant::now());
                }
            }
            kind::HEARTBEAT => {
                let _hb: Heartbeat = protocol::decode(body)?;
                self.push_control(
                    peer,
                    kind::HEARTBEAT_RSP,
                    &Heartbeat {
                        uid: self.local.uid,
                    },
                );
            }
            kind::HEARTBEAT_RSP => {
                let rsp: Heartbeat = protocol::decode(body)?;
                let mut st = peer.state();
                if st.uid == Some(rsp.uid) {
                    st.detector.heartbeat(Instant::now());
                }
            }
            kind::IDENTIFY => {
                let req: Identify = protocol::decode(body)?;
                let answer = self.identify(&req);
                self.push_control(peer, kind::ACTOR_IDENTITY, &answer);
            }
            kind::ACTOR_IDENTITY => {
                let answer: ActorIdentity = protocol::decode(body)?;
                if let Some(tx) = lock(&self.identify).remove(&answer.correlation) {
                    let _ = tx.send(answer);
                }
            }
            kind::QUARANTINED => {
                let q: Quarantined = protocol::decode(body)?;
                if q.uid == self.local.uid {
                    tracing::warn!(peer = %peer.remote, reason = %q.reason,
                        "this node was quarantined by a peer");
                }
            }
            other => {
                self.counters
                    .malformed_frames
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %peer.remote, kind = other, "unknown frame kind dropped");
            }
        }
        Ok(())
    }

    fn deliver(&self, env: &Envelope<'_>) -> Result<(), InboundError> {
        if env.recipient & REPLY_BIT != 0 {
            let pending = lock(&self.replies).remove(&env.recipient);
            return match pending {
                Some(p) => (p.complete)(env.serializer_id, env.manifest, env.payload),
                // The asker timed out and its slot was swept: normal.
                None => Ok(()),
            };
        }
        let export = self
            .exports
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .get(&env.recipient)
            .cloned();
        match export {
            Some(e) => (e.deliver)(env.serializer_id, env.manifest, env.payload),
            None => Err(InboundError::UnknownRecipient(env.recipient)),
        }
    }

    fn count_inbound_error(&self, e: &InboundError, peer: &Association) {
        let counter = match e {
            InboundError::WrongManifest { .. } => &self.counters.dropped_unknown_manifest,
            InboundError::Decode(_) => &self.counters.dropped_undecodable,
            InboundError::UnknownRecipient(_) => &self.counters.dropped_unknown_recipient,
        };
        let c = counter.fetch_add(1, Ordering::Relaxed);
        if c == 0 || c.is_power_of_two() {
            tracing::warn!(peer = %peer.remote, error = %e, count = c + 1, "inbound message dropped");
        }
    }

    fn identify(&self, req: &Identify) -> ActorIdentity {
        let exports = self.exports.read().unwrap_or_else(|e| e.into_inner());
        let found = exports
            .by_path
            .get(&req.path)
            .and_then(|id| exports.by_id.get(id));
        match found {
            Some(e) if e.target.is_terminated() => ActorIdentity {
                correlation: req.correlation,
                actor_id: 0,
                error: String::new(),
            },
            Some(e) if !e.entry.accepts(req.serializer_id, &req.manifest) => ActorIdentity {
                correlation: req.correlation,
                actor_id: 0,
                error: format!(
                    "the actor at {} reads {} (serializer {}), not {} (serializer {})",
                    req.path,
                    e.entry.manifest,
                    e.entry.serializer_id,
                    req.manifest,
                    req.serializer_id
                ),
            },
            Some(e) => ActorIdentity {
                correlation: req.correlation,
                actor_id: e.target.uid().actor,
                error: String::new(),
            },
            None => ActorIdentity {
                correlation: req.correlation,
                actor_id: 0,
                error: String::new(),
            },
        }
    }

    fn on_system(self: &Arc<Self>, peer: &Arc<Association>, peer_uid: u64, env: SystemEnvelope) {
        if env.to_uid != self.local.uid {
            // Queued for an earlier incarnation of this node: not ours, and
            // not acknowledged (that sender's state for it is gone).
            return;
        }
        let deliver = {
            let mut st = peer.state();
            if st.inbound_uid != peer_uid {
                st.inbound_uid = peer_uid;
                st.inbound_expected = 1;
            }
            if env.seq == st.inbound_expected {
                st.inbound_expected += 1;
                true
            } else {
                false
            }
        };
        let acked = peer.state().inbound_expected - 1;
        self.push_control(peer, kind::SYSTEM_ACK, &SystemAck { seq: acked });
        if !deliver {
            return;
        }
        match env.kind {
            Some(SystemKind::Watch(w)) => self.peer_watches(peer, peer_uid, w.watchee),
            Some(SystemKind::Unwatch(w)) => {
                let proxy = peer.state().watched_by_peer.remove(&w.watchee);
                let export = self.export_by_id(w.watchee);
                if let (Some(proxy), Some(e)) = (proxy, export) {
                    e.target
                        .send_system(SystemMessage::Unwatch { watcher: proxy });
                }
            }
            Some(SystemKind::DeathWatchNotification(n)) => {
                let watched = peer.state().watching.remove(&n.actor);
                if let Some(w) = watched {
                    for watcher in w.watchers.into_values() {
                        watcher.send_system(SystemMessage::Terminated {
                            actor: w.actor.clone(),
                        });
                    }
                }
            }
            None => {
                self.counters
                    .malformed_frames
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn export_by_id(&self, id: u64) -> Option<Arc<Export>> {
        self.exports
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .get(&id)
            .cloned()
    }

    /// The peer watches local actor `actor`: a proxy watcher relays its
    /// termination as a death-watch notification.
    fn peer_watches(self: &Arc<Self>, peer: &Arc<Association>, peer_uid: u64, actor: u64) {
        let Some(export) = self.export_by_id(actor) else {
            self.push_system(
                peer,
                peer_uid,
                SystemKind::DeathWatchNotification(DeathWatchNotification {
                    actor,
                    existence_confirmed: false,
                }),
            );
            return;
        };
        let proxy = AnyRef::from_target(Arc::new(WatchProxy {
            uid: self.system.next_uid(),
            shared: Arc::downgrade(self),
            peer: peer.clone(),
            peer_uid,
            actor,
        }));
        peer.state().watched_by_peer.insert(actor, proxy.clone());
        export
            .target
            .send_system(SystemMessage::Watch { watcher: proxy });
    }

    /// Removes reply slots whose askers gave up.
    fn sweep_replies(&self) {
        lock(&self.replies).retain(|_, p| !(p.closed)());
    }
}

/// Relays the termination of a local actor to the peer that watches it.
struct WatchProxy {
    uid: ActorUid,
    shared: std::sync::Weak<Shared>,
    peer: Arc<Association>,
    peer_uid: u64,
    actor: u64,
}

impl ActorTarget for WatchProxy {
    fn uid(&self) -> ActorUid {
        self.uid
    }
    fn path(&self) -> ActorPath {
        ActorPath::new(format!("/system/remote-watcher/{}", self.peer.remote))
    }
    fn send_system(&self, msg: SystemMessage) {
        if let SystemMessage::Terminated { .. } = msg {
            if let Some(shared) = self.shared.upgrade() {
                let mut st = self.peer.state();
                let current = st
                    .watched_by_peer
                    .get(&self.actor)
                    .is_some_and(|p| p.uid() == self.uid);
                if current {
                    st.watched_by_peer.remove(&self.actor);
                }
                drop(st);
                if current {
                    shared.push_system(
                        &self.peer,
                        self.peer_uid,
                        SystemKind::DeathWatchNotification(DeathWatchNotification {
                            actor: self.actor,
                            existence_confirmed: true,
                        }),
                    );
                }
            }
        }
    }
    fn is_terminated(&self) -> bool {
        self.shared.upgrade().is_none_or(|s| s.is_closed())
    }
}

/// Removes exports of actors that stopped.
struct ExportReaper {
    uid: ActorUid,
    shared: std::sync::Weak<Shared>,
}

impl ActorTarget for ExportReaper {
    fn uid(&self) -> ActorUid {
        self.uid
    }
    fn path(&self) -> ActorPath {
        ActorPath::new("/system/remote-exports".into())
    }
    fn send_system(&self, msg: SystemMessage) {
        if let (SystemMessage::Terminated { actor }, Some(shared)) = (msg, self.shared.upgrade()) {
            shared.unexport(actor.uid().actor);
        }
    }
    fn is_terminated(&self) -> bool {
        self.shared.upgrade().is_none_or(|s| s.is_closed())
    }
}

/// Heartbeats, failure detection, system-message redelivery and reply
/// slot sweeping, on one timer per node.
async fn housekeeping(shared: std::sync::Weak<Shared>, mut closed: watch::Receiver<bool>) {
    let interval = match shared.upgrade() {
        Some(s) => s
            .config
            .heartbeat_interval
            .min(s.config.system_message_resend_interval),
        None => return,
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = closed.changed() => return,
        }
        let Some(s) = shared.upgrade() else { return };
        if s.is_closed() {
            return;
        }
        let now = Instant::now();
        for assoc in s.associations() {
            s.check_association(&assoc, now);
        }
        s.sweep_replies();
    }
}

impl Shared {
    fn check_association(&self, assoc: &Arc<Association>, now: Instant) {
        let (uid, watching, suspect, resend, give_up) = {
            let st = assoc.state();
            let Some(uid) = st.uid else {
                return;
            };
            let watching = !st.watching.is_empty();
            let suspect = watching && !st.detector.is_available(now);
            let since = st.last_resend.or(st.oldest_sent);
            let resend = !st.unacked.is_empty()
                && since.is_some_and(|t| {
                    now.duration_since(t) >= self.config.system_message_resend_interval
                });
            let give_up = st
                .oldest_sent
                .is_some_and(|t| now.duration_since(t) >= self.config.give_up_system_message_after);
            (uid, watching, suspect, resend, give_up)
        };
        if suspect {
            self.quarantine(assoc, uid, "unreachable: the failure detector suspects it");
            return;
        }
        if give_up {
            self.quarantine(assoc, uid, "system messages not acknowledged in time");
            return;
        }
        if resend {
            assoc.resend_unacked(now);
            self.ensure_writer(assoc, CONTROL);
        }
        if watching {
            self.push_control(
                assoc,
                kind::HEARTBEAT,
                &Heartbeat {
                    uid: self.local.uid,
                },
            );
        }
    }
}
