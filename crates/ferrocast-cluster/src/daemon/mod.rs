//! The cluster on a real network: a [`Cluster`] drives one node's
//! [`MembershipEngine`] over [`Remoting`].
//!
//! ```text
//!  peers ──remoting (control lane)──► service "ferrocast.cluster" ──┐
//!  Cluster handle: join / leave / down / subscribe ─────────────────┤
//!  tokio timer at engine.next_deadline() ───────────────────────────┤
//!                                                                   ▼
//!                                         daemon task (owns the engine)
//!                                                                   │
//!     Send ─► service ref of the peer   Event ─► subscribers, event stream,
//!     Removed peer ─► quarantine         view (watch channel)
//!     Shutdown ─► coordinated shutdown of the actor system
//! ```
//!
//! The engine's messages travel to the well-known service
//! [`SERVICE`] on every node, on remoting's control lane, so heavy user
//! traffic cannot delay a heartbeat into a false "unreachable". The
//! daemon is a task rather than an actor because it has no mailbox
//! semantics to offer: it only serializes inputs for the engine.
//!
//! Coordinated shutdown ties both ways: a node that the cluster downs or
//! removes shuts its actor system down (no zombie keeps serving), and a
//! system that shuts down for another reason first leaves the cluster
//! gracefully in the `cluster-leave` phase.

pub mod codec;
pub mod singleton;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferrocast_actor::{Actor, ActorError, ActorRef, ActorSystem, Context};
use ferrocast_remote::{NodeAddress, Registry, RegistryError, Remoting, UniqueAddress};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::engine::{Input, MembershipEngine, Output, ShutdownReason};
use crate::events::{ClusterEvent, CurrentClusterState};
use crate::gossip::Gossip;
use crate::member::{Member, MemberStatus};
use crate::protocol::ClusterMessage;
use crate::reachability::ReachabilityStatus;
use crate::sbr::Lease;
use crate::settings::{ClusterSettings, SettingsError};

/// The well-known remoting service every node's daemon listens at.
pub const SERVICE: &str = "ferrocast.cluster";

/// Wire messages waiting for the daemon; beyond this they are dropped and
/// counted (the protocol resends everything it needs).
const INBOX: usize = 4096;

/// Why [`Cluster::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A setting is invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The registry lacks the cluster codec (see [`Cluster::register`]).
    #[error("the remoting registry has no cluster codec: call Cluster::register on it")]
    NotRegistered,
    /// The lease-majority strategy is configured but no lease was given.
    #[error("the lease-majority strategy needs a lease: use Cluster::start_with_lease")]
    LeaseMissing,
    /// The daemon could not be started in the actor system.
    #[error("cannot start the cluster daemon: {0}")]
    Spawn(String),
}

/// The cluster daemon stopped: the node left, was downed, or shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cluster daemon of this node has stopped")]
pub struct ClusterStopped;

/// What one node knows of the cluster at one moment.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// This incarnation.
    pub self_node: UniqueAddress,
    /// The latest membership state.
    pub gossip: Gossip,
    /// The subscriber snapshot of that state.
    pub state: CurrentClusterState,
    /// Set once the engine stopped for good.
    pub stopped: Option<ShutdownReason>,
}

impl ClusterView {
    /// This node as a member, once it joined.
    pub fn self_member(&self) -> Option<&Member> {
        self.gossip.member(&self.self_node)
    }

    /// The oldest Up (or Leaving/Exiting) member, optionally of a role:
    /// where a singleton lives.
    pub fn oldest(&self, role: Option<&str>) -> Option<&Member> {
        self.gossip
            .members
            .values()
            .filter(|m| {
                matches!(
                    m.status,
                    MemberStatus::Up | MemberStatus::Leaving | MemberStatus::Exiting
                ) && role.is_none_or(|r| m.has_role(r))
            })
            .min_by(|a, b| (a.up_number, &a.unique_address).cmp(&(b.up_number, &b.unique_address)))
    }

    /// Each member some observer cannot reach, with those observers.
    pub fn unreachable_observed_by(&self) -> Vec<(UniqueAddress, Vec<UniqueAddress>)> {
        let reach = &self.gossip.overview.reachability;
        self.state
            .unreachable
            .iter()
            .map(|subject| {
                let observers = reach
                    .rows()
                    .iter()
                    .filter(|(_, row)| {
                        row.subjects
                            .get(subject)
                            .is_some_and(|s| *s != ReachabilityStatus::Reachable)
                    })
                    .map(|(o, _)| o.clone())
                    .collect();
                (subject.clone(), observers)
            })
            .collect()
    }

    /// True if the view has exactly `n` members, all Up, and has
    /// converged (every member has seen it): a formed, settled cluster.
    pub fn all_up(&self, n: usize) -> bool {
        self.gossip.members.len() == n
            && self
                .gossip
                .members
                .values()
                .all(|m| m.status == MemberStatus::Up)
            && self.gossip.convergence(&self.self_node)
    }

    /// True while this member serves: Up or WeaklyUp, not stopped.
    pub fn is_ready(&self) -> bool {
        self.stopped.is_none()
            && self
                .self_member()
                .is_some_and(|m| matches!(m.status, MemberStatus::Up | MemberStatus::WeaklyUp))
    }
}

/// Counters of one node's daemon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterMetrics {
    /// Wire messages handed to the engine.
    pub received: u64,
    /// Messages the engine sent.
    pub sent: u64,
    /// Wire messages dropped because the daemon's inbox was full.
    pub dropped_inbox_full: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    sent: AtomicU64,
    dropped_inbox_full: AtomicU64,
}

enum Command {
    Input(Box<Input>),
    Subscribe(oneshot::Sender<ClusterSubscription>),
}

/// Cluster events for one subscriber, starting from a snapshot.
#[derive(Debug)]
pub struct ClusterSubscription {
    /// The state when the subscription started; events follow from it.
    pub initial: CurrentClusterState,
    events: mpsc::UnboundedReceiver<ClusterEvent>,
}

impl ClusterSubscription {
    /// The next event; `None` once the daemon stopped.
    pub async fn next(&mut self) -> Option<ClusterEvent> {
        self.events.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_next(&mut self) -> Option<ClusterEvent> {
        self.events.try_recv().ok()
    }
}

struct Inner {
    self_node: UniqueAddress,
    /// The routes of this node's singleton managers, once one started.
    singletons: std::sync::Mutex<Option<singleton::Routes>>,
    commands: mpsc::UnboundedSender<Command>,
    view: watch::Receiver<Arc<ClusterView>>,
    counters: Arc<Counters>,
    remoting: Remoting,
}

/// One node's membership in a cluster. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("self_node", &self.inner.self_node)
            .finish_non_exhaustive()
    }
}

/// Receives the wire messages of the service and hands them to the daemon.
struct Receiver {
    inbox: mpsc::Sender<ClusterMessage>,
    counters: Arc<Counters>,
}

impl Actor for Receiver {
    type Msg = ClusterMessage;

    async fn handle(
        &mut self,
        msg: ClusterMessage,
        _: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        match self.inbox.try_send(msg) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let c = self
                    .counters
                    .dropped_inbox_full
                    .fetch_add(1, Ordering::Relaxed);
                if c.is_power_of_two() {
                    tracing::warn!(
                        dropped = c + 1,
                        "cluster daemon inbox full; dropping messages"
                    );
                }
            }
            // The daemon stopped; the node is going away.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
        Ok(())
    }
}

impl Cluster {
    /// Registers the cluster protocol's codec; call it on the registry
    /// before [`Remoting::start`].
    pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
        registry.register_with::<ClusterMessage>(codec::MANIFEST, &[], codec::ClusterCodec)?;
        registry.register_with::<codec::SingletonEnvelope>(
            codec::SINGLETON_MANIFEST,
            &[],
            codec::SingletonCodec,
        )?;
        Ok(())
    }

    /// Starts this node's cluster daemon over `remoting`. It does not join
    /// anything yet: call [`Cluster::join_seed_nodes`] or [`Cluster::join`].
    pub async fn start(
        remoting: &Remoting,
        settings: ClusterSettings,
    ) -> Result<Cluster, ClusterError> {
        if matches!(
            settings.downing.as_ref().map(|d| &d.strategy),
            Some(crate::sbr::Strategy::LeaseMajority { .. })
        ) {
            return Err(ClusterError::LeaseMissing);
        }
        Self::start_inner(remoting, settings, None).await
    }

    /// Like [`Cluster::start`], with the lease the lease-majority strategy
    /// asks (any other strategy ignores it).
    pub async fn start_with_lease(
        remoting: &Remoting,
        settings: ClusterSettings,
        lease: Box<dyn Lease + Send>,
    ) -> Result<Cluster, ClusterError> {
        Self::start_inner(remoting, settings, Some(lease)).await
    }

    async fn start_inner(
        remoting: &Remoting,
        settings: ClusterSettings,
        lease: Option<Box<dyn Lease + Send>>,
    ) -> Result<Cluster, ClusterError> {
        let self_node = remoting.unique_address().clone();
        let system = remoting.system().clone();
        let now = Instant::now();
        let engine = MembershipEngine::new(
            self_node.clone(),
            settings,
            self_node.uid ^ 0x9e37_79b9_7f4a_7c15,
            now,
        )?;
        let counters = Arc::new(Counters::default());
        let (inbox_tx, inbox_rx) = mpsc::channel(INBOX);
        let receiver = system
            .spawn("cluster-daemon", {
                let counters = counters.clone();
                move || Receiver {
                    inbox: inbox_tx.clone(),
                    counters: counters.clone(),
                }
            })
            .map_err(|e| ClusterError::Spawn(e.to_string()))?;
        remoting
            .expose_service(SERVICE, &receiver)
            .map_err(|e| match e {
                ferrocast_remote::ExposeError::NotRegistered(_) => ClusterError::NotRegistered,
                other => ClusterError::Spawn(other.to_string()),
            })?;
        let view = Arc::new(ClusterView {
            self_node: self_node.clone(),
            gossip: engine.gossip().clone(),
            state: engine.current_state(),
            stopped: None,
        });
        let (view_tx, view_rx) = watch::channel(view);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let daemon = Daemon {
            engine,
            remoting: remoting.clone(),
            system: system.clone(),
            peers: HashMap::new(),
            subscribers: Vec::new(),
            view: view_tx,
            counters: counters.clone(),
            lease,
        };
        tokio::spawn(daemon.run(cmd_rx, inbox_rx));
        let cluster = Cluster {
            inner: Arc::new(Inner {
                self_node,
                singletons: std::sync::Mutex::new(None),
                commands: cmd_tx,
                view: view_rx,
                counters,
                remoting: remoting.clone(),
            }),
        };
        // A system that shuts down for another reason leaves first.
        let leaving = cluster.clone();
        let _ = system.coordinated_shutdown().add_task(
            "cluster-leave",
            "leave the cluster",
            move || async move {
                leaving.leave_and_wait().await;
            },
        );
        Ok(cluster)
    }

    /// This node's incarnation.
    pub fn self_node(&self) -> &UniqueAddress {
        &self.inner.self_node
    }

    /// The remoting this cluster runs on.
    pub fn remoting(&self) -> &Remoting {
        &self.inner.remoting
    }

    fn input(&self, input: Input) -> Result<(), ClusterStopped> {
        self.inner
            .commands
            .send(Command::Input(Box::new(input)))
            .map_err(|_| ClusterStopped)
    }

    /// Joins through the configured seed nodes (Akka's seed process).
    pub fn join_seed_nodes(&self) -> Result<(), ClusterStopped> {
        self.input(Input::JoinSeedNodes)
    }

    /// Joins the cluster of the node at `address` (this node's own address
    /// forms a new cluster).
    pub fn join(&self, address: NodeAddress) -> Result<(), ClusterStopped> {
        self.input(Input::JoinTo(address))
    }

    /// Makes the member at `address` leave gracefully.
    pub fn leave(&self, address: NodeAddress) -> Result<(), ClusterStopped> {
        self.input(Input::Leave(address))
    }

    /// Declares the member at `address` down.
    pub fn down(&self, address: NodeAddress) -> Result<(), ClusterStopped> {
        self.input(Input::Down(address))
    }

    /// The latest view (cheap: a shared snapshot).
    pub fn view(&self) -> Arc<ClusterView> {
        self.inner.view.borrow().clone()
    }

    /// The subscriber snapshot of the latest view.
    pub fn state(&self) -> CurrentClusterState {
        self.view().state.clone()
    }

    /// This node as a member, once it joined.
    pub fn self_member(&self) -> Option<Member> {
        self.view().self_member().cloned()
    }

    /// Counters of the daemon.
    pub fn metrics(&self) -> ClusterMetrics {
        let c = &self.inner.counters;
        ClusterMetrics {
            received: c.received.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            dropped_inbox_full: c.dropped_inbox_full.load(Ordering::Relaxed),
        }
    }

    /// Subscribes to cluster events: a snapshot, then every change after
    /// it, in order. Events are also published on the actor system's
    /// event stream as [`ClusterEvent`]s.
    pub async fn subscribe(&self) -> Result<ClusterSubscription, ClusterStopped> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Subscribe(tx))
            .map_err(|_| ClusterStopped)?;
        rx.await.map_err(|_| ClusterStopped)
    }

    /// Resolves when the view satisfies `pred` (checked on every change).
    pub async fn wait_for(
        &self,
        mut pred: impl FnMut(&ClusterView) -> bool,
    ) -> Result<Arc<ClusterView>, ClusterStopped> {
        let mut rx = self.inner.view.clone();
        loop {
            {
                let v = rx.borrow_and_update();
                if pred(&v) {
                    return Ok(v.clone());
                }
            }
            if rx.changed().await.is_err() {
                let v = rx.borrow().clone();
                return if pred(&v) { Ok(v) } else { Err(ClusterStopped) };
            }
        }
    }

    /// Resolves when this node's membership ended, with the reason.
    pub async fn when_stopped(&self) -> ShutdownReason {
        match self.wait_for(|v| v.stopped.is_some()).await {
            Ok(v) => v.stopped.unwrap_or(ShutdownReason::Removed),
            Err(ClusterStopped) => ShutdownReason::Removed,
        }
    }

    /// Leaves gracefully and waits until removed (or the daemon stops).
    /// A node that never joined has nothing to leave.
    pub async fn leave_and_wait(&self) {
        let view = self.view();
        if view.stopped.is_some() || view.self_member().is_none() {
            return;
        }
        if self.leave(self.inner.self_node.address.clone()).is_ok() {
            self.when_stopped().await;
        }
    }
}

struct Daemon {
    engine: MembershipEngine,
    remoting: Remoting,
    system: ActorSystem,
    peers: HashMap<NodeAddress, ActorRef<ClusterMessage>>,
    subscribers: Vec<mpsc::UnboundedSender<ClusterEvent>>,
    view: watch::Sender<Arc<ClusterView>>,
    counters: Arc<Counters>,
    lease: Option<Box<dyn Lease + Send>>,
}

/// Locks a mutex, going on after a panic of another holder (the data is
/// plain and stays consistent).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a removed incarnation can still talk to this node (Akka's
/// `quarantine-removed-node-after`).
const QUARANTINE_REMOVED_AFTER: Duration = Duration::from_secs(5);

/// The longest the daemon sleeps without a tick, whatever the engine says.
const MAX_IDLE: Duration = Duration::from_secs(1);

impl Daemon {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut inbox: mpsc::Receiver<ClusterMessage>,
    ) {
        let mut shutdown = self.system_shutdown_watch();
        loop {
            let now = Instant::now();
            let wake = self.engine.next_deadline().max(now).min(now + MAX_IDLE);
            let (input, at) = tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command::Input(i)) => (*i, Instant::now()),
                    Some(Command::Subscribe(tx)) => {
                        self.subscribe(tx);
                        continue;
                    }
                    // Every handle is gone: nobody can ask anything any more.
                    None => break,
                },
                msg = inbox.recv() => match msg {
                    Some(m) => {
                        self.counters.received.fetch_add(1, Ordering::Relaxed);
                        (Input::Receive(m), Instant::now())
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(wake) => (Input::Tick, Instant::now()),
                _ = shutdown.changed() => break,
            };
            // Heartbeats (the bulk of all inputs) never change the gossip.
            let may_change = !matches!(
                input,
                Input::Receive(
                    ClusterMessage::Heartbeat { .. } | ClusterMessage::HeartbeatResponse { .. }
                )
            );
            let outputs = self.engine.handle(input, at);
            if !outputs.is_empty() {
                self.apply(outputs, at);
            }
            // Seen-sets and versions change without events; the view
            // follows every change of the gossip.
            if may_change && self.view.borrow().gossip != *self.engine.gossip() {
                self.publish_view();
            }
            if self.engine.stopped().is_some() {
                break;
            }
        }
        self.publish_view();
    }

    /// A receiver that changes when the actor system stops.
    fn system_shutdown_watch(&self) -> watch::Receiver<()> {
        let (tx, rx) = watch::channel(());
        let system = self.system.clone();
        tokio::spawn(async move {
            system.when_terminated().await;
            let _ = tx.send(());
        });
        rx
    }

    fn subscribe(&mut self, reply: oneshot::Sender<ClusterSubscription>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sub = ClusterSubscription {
            initial: self.engine.current_state(),
            events: rx,
        };
        if reply.send(sub).is_ok() {
            self.subscribers.push(tx);
        }
    }

    fn apply(&mut self, outputs: Vec<Output>, now: Instant) {
        let mut changed = false;
        let mut followups = Vec::new();
        for out in outputs {
            match out {
                Output::Send { to, msg } => self.send(to, msg),
                Output::Event(e) => {
                    changed = true;
                    self.on_event(&e);
                    self.subscribers.retain(|s| s.send(e.clone()).is_ok());
                    self.system.event_stream().publish(e);
                }
                Output::AcquireLease => {
                    let me = self.engine.self_node().clone();
                    let granted = self.lease.as_mut().is_some_and(|l| l.acquire(&me, now));
                    followups.push(Input::LeaseResult { granted });
                }
                Output::ReleaseLease => {
                    let me = self.engine.self_node().clone();
                    if let Some(l) = self.lease.as_mut() {
                        l.release(&me);
                    }
                }
                Output::Shutdown(reason) => {
                    changed = true;
                    self.shut_down(reason);
                }
            }
        }
        if changed {
            self.publish_view();
        }
        for input in followups {
            let outputs = self.engine.handle(input, now);
            if !outputs.is_empty() {
                self.apply(outputs, now);
            }
        }
    }

    fn send(&mut self, to: NodeAddress, msg: ClusterMessage) {
        let peer = match self.peers.get(&to) {
            Some(p) => p,
            None => match self.remoting.service::<ClusterMessage>(&to, SERVICE) {
                Ok(p) => self.peers.entry(to).or_insert(p),
                // Checked at start: the type is registered.
                Err(e) => {
                    tracing::error!(error = %e, "cannot address a peer's cluster daemon");
                    return;
                }
            },
        };
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        peer.tell(msg);
    }

    fn on_event(&mut self, e: &ClusterEvent) {
        match e {
            ClusterEvent::MemberRemoved { member, .. }
                if member.unique_address != *self.engine.self_node() =>
            {
                // (The leader's engine sends the removed node one last
                // gossip with its tombstone, so a leaver stops at once.)
                let a = member.unique_address.clone();
                // Removed incarnations are quarantined, as in Akka: nothing
                // of theirs reaches this node again even if the process
                // lives on. Not at once: until then it can still hear
                // that it was removed.
                let remoting = self.remoting.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(QUARANTINE_REMOVED_AFTER).await;
                    remoting.quarantine_incarnation(&a.address, a.uid, "removed from the cluster");
                });
            }
            ClusterEvent::MemberUp(m) if m.unique_address == *self.engine.self_node() => {
                tracing::info!(node = %m.unique_address, "this node is Up");
            }
            _ => {}
        }
        tracing::debug!(event = ?e, "cluster event");
    }

    fn shut_down(&mut self, reason: ShutdownReason) {
        let why = match reason {
            ShutdownReason::Downed => ferrocast_actor::ShutdownReason::ClusterDowning,
            ShutdownReason::Removed => ferrocast_actor::ShutdownReason::ClusterLeaving,
        };
        tracing::warn!(node = %self.engine.self_node(), ?reason, "leaving the cluster; shutting the actor system down");
        let system = self.system.clone();
        tokio::spawn(async move {
            system.shutdown(why).await;
        });
    }

    fn publish_view(&self) {
        let view = Arc::new(ClusterView {
            self_node: self.engine.self_node().clone(),
            gossip: self.engine.gossip().clone(),
            state: self.engine.current_state(),
            stopped: self.engine.stopped(),
        });
        self.view.send_replace(view);
    }
}

// The HTTP layer and tests share a cluster across tasks.
const _: fn() = || {
    fn is<T: Send + Sync>() {}
    is::<Cluster>();
};
