//! The receptionist's runtime on one node: the replicator behind a lock,
//! the service actor that receives peers' messages, and the task that
//! feeds cluster events and gossip ticks.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorUid, AnyRef, Context, SystemMessage,
};
use ferrocast_remote::{ExposeError, NodeAddress, RemotePath, Remoting, UniqueAddress};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::bucket::{KeyKind, RegistryKey};
use super::death_watch;
use super::listing::{self, ListingSink};
use super::protocol::{ReceptionistMessage, SERVICE};
use super::replicator::{Outputs, ReceptionistSettings, Replicator};
use super::{ReceptionistError, ReceptionistMetrics};
use crate::daemon::{Cluster, ClusterSubscription};

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    unresolvable: AtomicU64,
}

struct State {
    core: Replicator,
    subscribers: BTreeMap<RegistryKey, Vec<Box<dyn ListingSink>>>,
}

pub(crate) struct Inner {
    remoting: Remoting,
    self_node: UniqueAddress,
    state: Mutex<State>,
    /// Service references of peers, built once per address.
    peers: Mutex<HashMap<NodeAddress, ActorRef<ReceptionistMessage>>>,
    counters: Counters,
    /// Bumped whenever some listing may have changed, so that topics can
    /// keep the typed references of their last lookup until then, and
    /// waiters ([`ClusterReceptionist::wait_until`]) wake up.
    generation: watch::Sender<u64>,
    /// Watches registered actors (see [`death_watch`]).
    watcher: AnyRef,
    /// One topic per (message type, name) on this node, so a node has one
    /// mediator per topic (see [`crate::pubsub`]).
    pub(crate) topics: Mutex<HashMap<(TypeId, String), Box<dyn Any + Send + Sync>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// Starts the receptionist of `cluster`'s node (see
    /// `ClusterReceptionist::start`).
    pub(crate) async fn start(
        cluster: &Cluster,
        settings: ReceptionistSettings,
    ) -> Result<Arc<Inner>, ReceptionistError> {
        settings.validate()?;
        let remoting = cluster.remoting().clone();
        let system = remoting.system().clone();
        let self_node = cluster.self_node().clone();
        let subscription = cluster.subscribe().await?;
        let seed = self_node.uid ^ 0x5851_f42d_4c95_7f2d;
        let watcher_uid = system.next_uid();
        let inner = Arc::new_cyclic(|me| Inner {
            remoting: remoting.clone(),
            self_node: self_node.clone(),
            state: Mutex::new(State {
                core: Replicator::new(self_node.clone(), settings.clone(), seed),
                subscribers: BTreeMap::new(),
            }),
            peers: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            generation: watch::channel(0).0,
            watcher: death_watch::hook(watcher_uid, "/system/cluster-receptionist", me.clone()),
            topics: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&inner);
        let service = system
            .spawn("cluster-receptionist", move || Service {
                inner: weak.clone(),
            })
            .map_err(|e| ReceptionistError::Spawn(e.to_string()))?;
        remoting
            .expose_service(SERVICE, &service)
            .map_err(|e| match e {
                ExposeError::NotRegistered(_) => ReceptionistError::CodecMissing,
                other => ReceptionistError::Spawn(other.to_string()),
            })?;
        inner.input(|c| c.snapshot(&subscription.initial));
        tokio::spawn(run(
            inner.clone(),
            subscription,
            settings.gossip_interval,
            system,
        ));
        Ok(inner)
    }

    /// Adds a listing subscriber and sends it the current listing.
    pub(crate) fn subscribe(&self, key: RegistryKey, mut sink: Box<dyn ListingSink>) {
        let mut st = self.state();
        let entries = st.core.listing(&key);
        let failed = sink.offer(&self.remoting, &entries);
        self.counters
            .unresolvable
            .fetch_add(failed, Ordering::Relaxed);
        st.subscribers.entry(key).or_default().push(sink);
    }

    /// A receiver that changes whenever some listing may have changed.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    pub(crate) fn metrics(&self) -> ReceptionistMetrics {
        let st = self.state();
        let c = &self.counters;
        ReceptionistMetrics {
            sent: c.sent.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            bad_entries: st.core.bad_entries,
            ignored: st.core.ignored,
            unresolvable: c.unresolvable.load(Ordering::Relaxed),
            version: st.core.own_version(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Feeds one input to the replicator, notifies the subscribers of the
    /// changed keys, then sends (outside the lock); true if a key changed.
    fn input(&self, f: impl FnOnce(&mut Replicator) -> Outputs) -> bool {
        let (sends, changed) = {
            let mut st = self.state();
            let out = f(&mut st.core);
            let changed = !out.changed.is_empty();
            if changed {
                self.generation.send_modify(|g| *g += 1);
            }
            let mut unresolvable = 0;
            for key in &out.changed {
                let entries = st.core.listing(key);
                if let Some(sinks) = st.subscribers.get_mut(key) {
                    sinks.retain(|s| !s.is_closed());
                    for s in sinks.iter_mut() {
                        unresolvable += s.offer(&self.remoting, &entries);
                    }
                }
            }
            self.counters
                .unresolvable
                .fetch_add(unresolvable, Ordering::Relaxed);
            (out.sends, changed)
        };
        for (to, msg) in sends {
            self.send(to, msg);
        }
        changed
    }

    fn send(&self, to: NodeAddress, msg: ReceptionistMessage) {
        let peer = {
            let mut peers = lock(&self.peers);
            match peers.get(&to) {
                Some(p) => p.clone(),
                None => match self.remoting.service::<ReceptionistMessage>(&to, SERVICE) {
                    Ok(p) => peers.entry(to).or_insert(p).clone(),
                    // Checked at start: the type is registered.
                    Err(error) => {
                        tracing::error!(%error, "cannot address a peer's receptionist");
                        return;
                    }
                },
            }
        };
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        peer.tell(msg);
    }

    /// The key of `id` for message type `M`.
    pub(crate) fn key<M: 'static>(
        &self,
        kind: KeyKind,
        id: &str,
    ) -> Result<RegistryKey, ReceptionistError> {
        let manifest = self
            .remoting
            .manifest_of::<M>()
            .ok_or(ReceptionistError::NotRegistered(std::any::type_name::<M>()))?;
        Ok(RegistryKey {
            kind,
            id: id.to_owned(),
            manifest: manifest.to_owned(),
        })
    }

    /// Registers a local actor under `key` and watches it.
    pub(crate) fn register_local<M: Send + 'static>(
        &self,
        key: RegistryKey,
        actor: &ActorRef<M>,
    ) -> Result<(), ReceptionistError> {
        let path = self
            .remoting
            .expose(actor)
            .map_err(|source| ReceptionistError::Expose {
                path: actor.path().to_string(),
                source,
            })?;
        if self.input(|c| c.register(key, path.to_string())) {
            actor.as_any().send_system(SystemMessage::Watch {
                watcher: self.watcher.clone(),
            });
        }
        Ok(())
    }

    /// Removes a local actor from `key` (nothing if it is not there).
    pub(crate) fn deregister_local(&self, key: &RegistryKey, actor: &AnyRef) {
        let uid = actor.uid();
        if uid.system != self.self_node.uid {
            return;
        }
        let path = RemotePath {
            address: self.self_node.address.clone(),
            path: actor.path().to_string(),
            incarnation: Some((uid.actor, uid.system)),
        };
        self.input(|c| c.deregister(key, &path.to_string()));
    }

    /// Typed references to the visible entries of `key`, with their node;
    /// entries without a reference are counted.
    pub(crate) fn lookup<M: Send + 'static>(
        &self,
        key: &RegistryKey,
    ) -> Vec<(UniqueAddress, ActorRef<M>)> {
        let entries = self.state().core.listing(key);
        let mut out = Vec::with_capacity(entries.len());
        for (owner, path) in entries {
            let one = [(owner.clone(), path)];
            let (refs, failed) = listing::typed_refs::<M>(&self.remoting, &one);
            self.counters
                .unresolvable
                .fetch_add(failed, Ordering::Relaxed);
            out.extend(refs.into_iter().map(|r| (owner.clone(), r)));
        }
        out
    }

    /// Changes whenever some listing may have changed.
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    pub(crate) fn self_node(&self) -> &UniqueAddress {
        &self.self_node
    }

    pub(crate) fn system(&self) -> &ActorSystem {
        self.remoting.system()
    }
}

impl death_watch::OnTerminated for Inner {
    fn terminated(&self, uid: ActorUid) {
        self.input(|c| c.actor_stopped(uid));
    }
}

/// Receives the wire messages of the service.
struct Service {
    inner: std::sync::Weak<Inner>,
}

impl Actor for Service {
    type Msg = ReceptionistMessage;

    async fn handle(
        &mut self,
        msg: ReceptionistMessage,
        _: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        if let Some(inner) = self.inner.upgrade() {
            inner.counters.received.fetch_add(1, Ordering::Relaxed);
            inner.input(|c| c.receive(msg));
        }
        Ok(())
    }
}

/// Feeds cluster events and gossip ticks until the system terminates or
/// the cluster daemon stops.
async fn run(
    inner: Arc<Inner>,
    mut subscription: ClusterSubscription,
    every: Duration,
    system: ActorSystem,
) {
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let terminated = system.when_terminated();
    tokio::pin!(terminated);
    loop {
        tokio::select! {
            event = subscription.next() => match event {
                Some(e) => {
                    inner.input(|c| c.on_event(&e));
                }
                None => break,
            },
            _ = tick.tick() => {
                inner.input(Replicator::tick);
            }
            () = &mut terminated => break,
        }
    }
    tracing::debug!(node = %inner.self_node, "cluster receptionist stopped");
}
