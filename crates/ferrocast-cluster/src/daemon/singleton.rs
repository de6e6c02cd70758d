//! Cluster singletons on a running [`Cluster`]: the [`SingletonManager`]
//! state machine driven by an actor per node, and a proxy that always
//! talks to the one instance, wherever it runs.
//!
//! ```text
//!   view changes ─┐   peers' managers ── service "ferrocast.singleton" ──┐
//!                 ▼                                                      ▼
//!        manager actor  /user/singleton-<name>  (owns a SingletonManager)
//!                 │ StartInstance: spawn child `<name>`, expose it, watch it
//!                 │ StopInstance:  stop the child; its termination is
//!                 ▼                InstanceStopped
//!        instance /user/singleton-<name>/<name>
//!
//!   proxy actor: finds the oldest member in the view, resolves the
//!   instance there, forwards; buffers (bounded) while there is none.
//! ```
//!
//! As in Akka, the instance runs on the oldest member (of a role), hands
//! over on graceful leave, and is taken over after the oldest is downed
//! and removed for the removal margin (see `docs/cluster/algorithm.md`).
//! Messages sent through the proxy during a hand-over wait in its buffer;
//! messages already delivered to a stopping instance are lost with it
//! (at most once, like any actor message).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrocast_actor::{Actor, ActorError, ActorRef, AnyRef, Context, Props};
use ferrocast_remote::{NodeAddress, Remoting};
use tokio::time::Instant;

use super::codec::SingletonEnvelope;
use super::{Cluster, ClusterView};
use crate::member::MemberStatus;
use crate::singleton::{SingletonInput, SingletonManager, SingletonOutput, SingletonSettings};

/// The well-known service of every node's singleton managers.
pub const SINGLETON_SERVICE: &str = "ferrocast.singleton";

/// How often the manager ticks (resends, margins).
const TICK: Duration = Duration::from_millis(200);
/// Messages a proxy keeps while no instance is known; older ones are
/// dropped first and counted as dead letters (Akka's `buffer-size`).
pub const PROXY_BUFFER: usize = 1000;
/// How long a proxy waits for the instance to answer an identify.
const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a proxy without an instance looks again.
const PROXY_RETRY: Duration = Duration::from_millis(500);

/// Why a singleton could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SingletonError {
    /// The settings are invalid.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// Its message type is not registered for remoting.
    #[error("message type {0} is not registered in the remoting registry")]
    NotRegistered(&'static str),
    /// An actor could not be spawned (a singleton of that name exists?).
    #[error("cannot start the singleton {name}: {reason}")]
    Spawn {
        /// The singleton.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Entry point: `ClusterSingleton::init` on every node that may host the
/// instance, `ClusterSingleton::proxy` on the others.
#[derive(Debug)]
pub struct ClusterSingleton;

impl ClusterSingleton {
    /// Runs the singleton manager for `name` on this node and returns a
    /// proxy to the instance. `factory` makes the instance whenever this
    /// node becomes the oldest. `A::Msg` must be registered in remoting.
    pub async fn init<A, F>(
        cluster: &Cluster,
        name: &str,
        settings: SingletonSettings,
        factory: F,
    ) -> Result<ActorRef<A::Msg>, SingletonError>
    where
        A: Actor,
        F: Fn() -> A + Send + Sync + 'static,
    {
        settings.validate()?;
        let system = cluster.remoting().system().clone();
        let routes = routes(cluster)?;
        let factory: Factory<A> = Arc::new(factory);
        let props = {
            let (name, cluster, settings) = (name.to_owned(), cluster.clone(), settings.clone());
            Props::new(move || ManagerActor {
                name: name.clone(),
                cluster: cluster.clone(),
                settings: settings.clone(),
                manager: None,
                factory: factory.clone(),
                instance: None,
            })
        };
        let manager_ref = system
            .spawn(&format!("singleton-{name}"), props)
            .map_err(|e| SingletonError::Spawn {
                name: name.to_owned(),
                reason: e.to_string(),
            })?;
        super::lock(&routes).push((name.to_owned(), manager_ref.clone()));
        forward_view_changes(cluster, manager_ref, || ManagerMsg::Membership);
        Self::proxy::<A::Msg>(cluster, name, settings.role.as_deref()).await
    }

    /// A proxy to the singleton `name` (hosted by members of `role`),
    /// usable on any node.
    pub async fn proxy<M: Send + 'static>(
        cluster: &Cluster,
        name: &str,
        role: Option<&str>,
    ) -> Result<ActorRef<M>, SingletonError> {
        let remoting = cluster.remoting();
        if remoting.manifest_of::<M>().is_none() {
            return Err(SingletonError::NotRegistered(std::any::type_name::<M>()));
        }
        let props = {
            let cluster = cluster.clone();
            let path = format!("/user/singleton-{name}/{name}");
            let role = role.map(str::to_owned);
            Props::new(move || Proxy::<M> {
                cluster: cluster.clone(),
                path: path.clone(),
                role: role.clone(),
                target: None,
                resolving: None,
                buffer: VecDeque::new(),
            })
        };
        let proxy_ref =
            remoting
                .system()
                .spawn_anonymous(props)
                .map_err(|e| SingletonError::Spawn {
                    name: name.to_owned(),
                    reason: e.to_string(),
                })?;
        forward_view_changes(cluster, proxy_ref.clone(), || ProxyMsg::Membership);
        // The user-facing reference is an adapter, made inside the actor.
        let (tx, rx) = tokio::sync::oneshot::channel();
        proxy_ref.tell(ProxyMsg::MakeAdapter(tx));
        rx.await.map_err(|_| SingletonError::Spawn {
            name: name.to_owned(),
            reason: "the proxy stopped at once".to_owned(),
        })
    }
}

pub(crate) type Routes = Arc<Mutex<Vec<(String, ActorRef<ManagerMsg>)>>>;

/// The per-node router of singleton messages, created on first use.
fn routes(cluster: &Cluster) -> Result<Routes, SingletonError> {
    let mut slot = super::lock(&cluster.inner.singletons);
    if let Some(r) = slot.as_ref() {
        return Ok(r.clone());
    }
    let routes: Routes = Arc::default();
    let remoting = cluster.remoting();
    let router = remoting
        .system()
        .spawn(
            "singleton-router",
            Props::new({
                let routes = routes.clone();
                move || Router {
                    routes: routes.clone(),
                }
            }),
        )
        .map_err(|e| SingletonError::Spawn {
            name: "singleton-router".to_owned(),
            reason: e.to_string(),
        })?;
    remoting
        .expose_service(SINGLETON_SERVICE, &router)
        .map_err(|_| SingletonError::NotRegistered("SingletonEnvelope (call Cluster::register)"))?;
    *slot = Some(routes.clone());
    Ok(routes)
}

/// Tells `actor` `msg()` on every change of the cluster view, until the
/// actor or the cluster stops.
fn forward_view_changes<M: Send + 'static>(
    cluster: &Cluster,
    actor: ActorRef<M>,
    msg: impl Fn() -> M + Send + 'static,
) {
    let mut rx = cluster.inner.view.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            if actor.is_terminated() {
                return;
            }
            actor.tell(msg());
        }
    });
}

/// Dispatches wire messages to the manager of their singleton.
struct Router {
    routes: Routes,
}

impl Actor for Router {
    type Msg = SingletonEnvelope;

    async fn handle(
        &mut self,
        env: SingletonEnvelope,
        _: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let target = super::lock(&self.routes)
            .iter()
            .find(|(n, _)| *n == env.name)
            .map(|(_, r)| r.clone());
        match target {
            Some(r) => r.tell(ManagerMsg::Wire(env.msg)),
            None => tracing::debug!(singleton = %env.name, "message for a singleton not run here"),
        }
        Ok(())
    }
}

#[derive(Clone)]
pub(crate) enum ManagerMsg {
    Membership,
    Wire(crate::singleton::SingletonMessage),
    Tick,
    InstanceStopped,
}

type Factory<A> = Arc<dyn Fn() -> A + Send + Sync>;

struct ManagerActor<A: Actor> {
    name: String,
    cluster: Cluster,
    settings: SingletonSettings,
    /// Made on start (the settings were validated by `init`).
    manager: Option<SingletonManager>,
    factory: Factory<A>,
    instance: Option<ActorRef<A::Msg>>,
}

impl<A: Actor> ManagerActor<A> {
    fn apply(&mut self, outputs: Vec<SingletonOutput>, ctx: &mut Context<Self>) {
        for out in outputs {
            match out {
                SingletonOutput::StartInstance => self.start_instance(ctx),
                SingletonOutput::StopInstance => match &self.instance {
                    Some(i) => {
                        tracing::info!(singleton = %self.name, "handing over: stopping the instance");
                        ctx.stop_child(i.clone());
                    }
                    None => ctx.myself().tell(ManagerMsg::InstanceStopped),
                },
                SingletonOutput::Send { to, msg } => self.send(&to, msg),
            }
        }
    }

    fn start_instance(&mut self, ctx: &mut Context<Self>) {
        let factory = self.factory.clone();
        match ctx.spawn(&self.name, Props::new(move || factory())) {
            Ok(instance) => {
                ctx.watch_with(instance.clone(), ManagerMsg::InstanceStopped);
                // The proxies on other nodes resolve it by path.
                if let Err(e) = self.cluster.remoting().expose(&instance) {
                    tracing::warn!(singleton = %self.name, error = %e, "singleton not reachable from other nodes");
                }
                tracing::info!(singleton = %self.name, node = %self.cluster.self_node(), "singleton instance started");
                self.instance = Some(instance);
            }
            Err(e) => {
                tracing::error!(singleton = %self.name, error = %e, "cannot start the singleton instance");
                ctx.myself().tell(ManagerMsg::InstanceStopped);
            }
        }
    }

    fn send(&self, to: &NodeAddress, msg: crate::singleton::SingletonMessage) {
        let remoting: &Remoting = self.cluster.remoting();
        match remoting.service::<SingletonEnvelope>(to, SINGLETON_SERVICE) {
            Ok(r) => r.tell(SingletonEnvelope {
                name: self.name.clone(),
                msg,
            }),
            Err(e) => tracing::error!(error = %e, "cannot address a singleton manager"),
        }
    }
}

impl<A: Actor> Actor for ManagerActor<A> {
    type Msg = ManagerMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.start_periodic_timer("tick", ManagerMsg::Tick, TICK);
        let mut manager =
            SingletonManager::new(self.cluster.self_node().clone(), self.settings.clone())
                .map_err(|e| ActorError::msg(e.to_string()))?;
        let view = self.cluster.view();
        let out = manager.handle(SingletonInput::Membership(&view.gossip), Instant::now());
        self.manager = Some(manager);
        self.apply(out, ctx);
        Ok(())
    }

    async fn handle(&mut self, msg: ManagerMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let now = Instant::now();
        let view: Arc<ClusterView>;
        let input = match msg {
            ManagerMsg::Membership => {
                view = self.cluster.view();
                SingletonInput::Membership(&view.gossip)
            }
            ManagerMsg::Wire(m) => SingletonInput::Receive(m),
            ManagerMsg::Tick => SingletonInput::Tick,
            ManagerMsg::InstanceStopped => {
                if self.instance.take().is_some() {
                    tracing::info!(singleton = %self.name, "singleton instance stopped");
                }
                SingletonInput::InstanceStopped
            }
        };
        if let Some(manager) = self.manager.as_mut() {
            let out = manager.handle(input, now);
            self.apply(out, ctx);
        }
        Ok(())
    }

    async fn terminated(&mut self, _: AnyRef, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        // Watched with a message; an unexpected watch ends here harmlessly.
        let _ = ctx;
        Ok(())
    }
}

enum ProxyMsg<M> {
    MakeAdapter(tokio::sync::oneshot::Sender<ActorRef<M>>),
    User(M),
    Membership,
    Located(Option<ActorRef<M>>, NodeAddress),
    TargetTerminated,
    Retry,
}

struct Proxy<M: Send + 'static> {
    cluster: Cluster,
    path: String,
    role: Option<String>,
    /// The instance and the node it runs on.
    target: Option<(ActorRef<M>, NodeAddress)>,
    /// The node being asked, while an identify is in flight.
    resolving: Option<NodeAddress>,
    buffer: VecDeque<M>,
}

impl<M: Send + 'static> Proxy<M> {
    /// Where the instance runs: the oldest *Up* member of the role, as the
    /// managers decide (a Leaving oldest has already handed over).
    fn oldest(&self) -> Option<NodeAddress> {
        let view = self.cluster.view();
        view.gossip
            .members
            .values()
            .filter(|m| {
                m.status == MemberStatus::Up && self.role.as_deref().is_none_or(|r| m.has_role(r))
            })
            .min_by_key(|m| (m.up_number, &m.unique_address))
            .map(|m| m.unique_address.address.clone())
    }

    fn locate(&mut self, ctx: &mut Context<Self>) {
        let Some(oldest) = self.oldest() else {
            ctx.start_single_timer("retry", ProxyMsg::Retry, PROXY_RETRY);
            return;
        };
        if let Some((_, at)) = &self.target {
            if *at == oldest {
                return;
            }
            // The oldest moved: find the instance there.
            self.target = None;
        }
        if self.resolving.as_ref() == Some(&oldest) {
            return;
        }
        self.resolving = Some(oldest.clone());
        let remoting = self.cluster.remoting().clone();
        let path = format!("{oldest}{}", self.path);
        ctx.pipe_to_self(
            async move { remoting.resolve::<M>(&path, IDENTIFY_TIMEOUT).await.ok() },
            move |r| ProxyMsg::Located(r, oldest),
        );
    }
}

impl<M: Send + 'static> Actor for Proxy<M> {
    type Msg = ProxyMsg<M>;

    async fn handle(
        &mut self,
        msg: ProxyMsg<M>,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        match msg {
            ProxyMsg::MakeAdapter(tx) => {
                let _ = tx.send(ctx.message_adapter(ProxyMsg::User));
                self.locate(ctx);
            }
            ProxyMsg::User(m) => match &self.target {
                Some((t, _)) => t.tell(m),
                None => {
                    if self.buffer.len() == PROXY_BUFFER {
                        self.buffer.pop_front();
                        let me = ctx.myself();
                        ctx.system().dead_letter(
                            || me.as_any(),
                            std::any::type_name::<M>(),
                            ferrocast_actor::DeadLetterReason::MailboxFull,
                        );
                    }
                    self.buffer.push_back(m);
                    self.locate(ctx);
                }
            },
            ProxyMsg::Membership | ProxyMsg::Retry => self.locate(ctx),
            ProxyMsg::Located(found, at) => {
                if self.resolving.as_ref() == Some(&at) {
                    self.resolving = None;
                }
                match found {
                    Some(t) if self.oldest().as_ref() == Some(&at) => {
                        ctx.watch_with(t.clone(), ProxyMsg::TargetTerminated);
                        for m in self.buffer.drain(..) {
                            t.tell(m);
                        }
                        self.target = Some((t, at));
                    }
                    // Not there (yet), or the oldest moved meanwhile.
                    _ => ctx.start_single_timer("retry", ProxyMsg::Retry, PROXY_RETRY),
                }
            }
            ProxyMsg::TargetTerminated => {
                self.target = None;
                self.locate(ctx);
            }
        }
        Ok(())
    }

    async fn terminated(&mut self, _: AnyRef, _: &mut Context<Self>) -> Result<(), ActorError> {
        Ok(())
    }
}
