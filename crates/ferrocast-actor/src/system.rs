//! [`ActorSystem`]: a value that owns actors, their executor handle, dead
//! letters, the event stream, the receptionist and coordinated shutdown.
//!
//! Nothing here is process-global: five systems can live in one process,
//! which is how multi-node tests run.

use std::convert::Infallible;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::actor::{Actor, ActorError, Props};
use crate::actor_ref::ActorRef;
use crate::cell::{ActorCell, SpawnError};
use crate::config::{ActorSystemConfig, ConfigError};
use crate::context::Context;
use crate::dead_letters::{DeadLetter, DeadLetterReason, DeadLetters};
use crate::deadline::AskTimer;
use crate::dispatch::Lingering;
use crate::event_stream::EventStream;
use crate::path::Name;
use crate::receptionist::Receptionist;
use crate::shutdown::{CoordinatedShutdown, ShutdownReason};
use crate::supervision::SupervisorStrategy;
use crate::target::{ActorTarget, ActorUid, AnyRef, SystemMessage};

/// Why a system could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SystemError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `ActorSystem::new` was called outside a tokio runtime.
    #[error("no tokio runtime: create the actor system inside one, or pass a handle")]
    NoRuntime,
    /// The system name is not a valid actor name.
    #[error("invalid system name {0:?}")]
    InvalidName(String),
}

/// The parent of top-level actors (`/user`).
struct Guardian {
    strategy: SupervisorStrategy,
}

impl Actor for Guardian {
    type Msg = Infallible;

    async fn handle(
        &mut self,
        msg: Infallible,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        match msg {}
    }

    fn supervisor_strategy(&self) -> SupervisorStrategy {
        self.strategy.clone()
    }
}

thread_local! {
    /// Set while this thread publishes a dead letter. Not shared state: a
    /// re-entrancy guard.
    static PUBLISHING_DEAD_LETTER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub(crate) struct SystemInner {
    pub(crate) name: String,
    pub(crate) uid: u64,
    pub(crate) config: ActorSystemConfig,
    /// `None` for a detached system (synchronous test harness): turns and
    /// tasks are then never run.
    pub(crate) handle: Option<Handle>,
    next_id: AtomicU64,
    rng: AtomicU64,
    /// Cleared when the guardian terminates, which breaks the cycle between
    /// the guardian's cell and the system.
    guardian: Mutex<Option<Arc<ActorCell<Guardian>>>>,
    dead_letters: DeadLetters,
    pub(crate) event_stream: EventStream,
    receptionist: Receptionist,
    shutdown: CoordinatedShutdown,
    /// Turns parked waiting for more messages, oldest first (bounded; see
    /// `Turn::linger` in cell.rs).
    pub(crate) lingering: Mutex<std::collections::VecDeque<Arc<dyn Lingering>>>,
    /// Ask deadlines, swept by one task per system (see `deadline.rs`);
    /// `None` for a detached system.
    ask_timer: Option<Arc<AskTimer>>,
    terminated: watch::Sender<bool>,
}

impl SystemInner {
    pub(crate) fn next_actor_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A random number in `[0, 1)` from the system's seeded generator
    /// (SplitMix64), for restart jitter.
    pub(crate) fn random_unit(&self) -> f64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn dead_letter(
        &self,
        recipient: impl FnOnce() -> AnyRef,
        message_type: &'static str,
        reason: DeadLetterReason,
    ) {
        let log = self.dead_letters.count_and_should_log();
        let publish = self.event_stream.has_subscribers::<DeadLetter>();
        if !log && !publish {
            return;
        }
        let letter = DeadLetter {
            recipient: recipient(),
            message_type,
            reason,
        };
        if log {
            self.dead_letters.log(&letter);
        }
        // A subscriber whose own delivery makes a dead letter (say, an
        // adapter onto a full drop-newest mailbox) must not recurse forever.
        if publish && !PUBLISHING_DEAD_LETTER.with(|p| p.replace(true)) {
            self.event_stream.publish(letter);
            PUBLISHING_DEAD_LETTER.with(|p| p.set(false));
        }
    }

    pub(crate) fn ask_timer(&self) -> Option<&AskTimer> {
        self.ask_timer.as_deref()
    }

    pub(crate) fn root_terminated(&self) {
        // The list holds cells, which hold the system: break that cycle.
        let lingering =
            std::mem::take(&mut *self.lingering.lock().unwrap_or_else(|e| e.into_inner()));
        drop(lingering);
        if let Some(timer) = &self.ask_timer {
            timer.close();
        }
        self.guardian
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.terminated.send_replace(true);
        tracing::info!(system = %self.name, "actor system terminated");
    }

    fn guardian(&self) -> Option<Arc<ActorCell<Guardian>>> {
        self.guardian
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A running actor system. Cheap to clone; all clones are the same system.
///
/// ```
/// use ferrocast_actor::{Actor, ActorError, ActorSystem, ActorSystemConfig, Context};
///
/// struct Greeter;
/// impl Actor for Greeter {
///     type Msg = String;
///     async fn handle(&mut self, who: String, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
///         println!("hello, {who}");
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let system = ActorSystem::new("docs", ActorSystemConfig::default())?;
/// let greeter = system.spawn("greeter", || Greeter)?;
/// greeter.tell("world".to_string());
/// system.terminate().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ActorSystem {
    inner: Arc<SystemInner>,
}

impl ActorSystem {
    /// Starts a system on the current tokio runtime.
    pub fn new(name: &str, config: ActorSystemConfig) -> Result<Self, SystemError> {
        let handle = Handle::try_current().map_err(|_| SystemError::NoRuntime)?;
        Self::build(name, config, Some(handle))
    }

    /// Starts a system on the given runtime.
    pub fn with_handle(
        name: &str,
        config: ActorSystemConfig,
        handle: Handle,
    ) -> Result<Self, SystemError> {
        Self::build(name, config, Some(handle))
    }

    /// A system without an executor: actors are created but their turns,
    /// timers and piped futures never run. For synchronous test harnesses
    /// that drive one actor by hand.
    pub fn detached(name: &str, config: ActorSystemConfig) -> Result<Self, SystemError> {
        Self::build(name, config, None)
    }

    fn build(
        name: &str,
        config: ActorSystemConfig,
        handle: Option<Handle>,
    ) -> Result<Self, SystemError> {
        config.validate()?;
        if Name::parse(name).is_err() {
            return Err(SystemError::InvalidName(name.to_owned()));
        }
        let uid = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            | 1;
        let seed = config.random_seed.unwrap_or(uid);
        let strategy = SupervisorStrategy::restart()
            .with_limit(config.supervision.max_restarts, config.supervision.within)
            .with_backoff(config.supervision.backoff);
        let ask_timer = handle.as_ref().map(|_| Arc::new(AskTimer::default()));
        let inner = Arc::new(SystemInner {
            name: name.to_owned(),
            uid,
            dead_letters: DeadLetters::new(config.dead_letters.clone()),
            shutdown: CoordinatedShutdown::new(config.shutdown.clone()),
            config,
            handle,
            next_id: AtomicU64::new(2),
            rng: AtomicU64::new(seed),
            guardian: Mutex::new(None),
            event_stream: EventStream::default(),
            receptionist: Receptionist::new(ActorUid {
                system: uid,
                actor: 1,
            }),
            ask_timer,
            lingering: Mutex::new(std::collections::VecDeque::with_capacity(
                crate::dispatch::MAX_LINGERING,
            )),
            terminated: watch::channel(false).0,
        });
        let guardian = ActorCell::new(
            0,
            Name::Named("user".into()),
            None,
            inner.clone(),
            Props::new(move || Guardian {
                strategy: strategy.clone(),
            }),
        );
        *inner.guardian.lock().unwrap_or_else(|e| e.into_inner()) = Some(guardian.clone());
        inner.spawn_turn(crate::cell::run_turn(guardian));
        if let Some(timer) = &inner.ask_timer {
            inner.spawn_turn(timer.clone().sweep());
        }
        let system = ActorSystem { inner };
        let weak = Arc::downgrade(&system.inner);
        system
            .inner
            .shutdown
            .add_task(
                "actor-system-terminate",
                "stop-actors",
                move || async move {
                    let Some(inner) = weak.upgrade() else {
                        return;
                    };
                    let system = ActorSystem { inner };
                    system.stop_guardian();
                    system.when_terminated().await;
                },
            )
            .map_err(|e| SystemError::InvalidName(e.to_string()))?;
        Ok(system)
    }

    pub(crate) fn from_inner(inner: Arc<SystemInner>) -> Self {
        ActorSystem { inner }
    }

    pub(crate) fn inner(&self) -> &Arc<SystemInner> {
        &self.inner
    }

    /// A fresh identity in this system that no actor will ever have, for
    /// custom targets (test probes, bridges) behind an
    /// [`ActorRef::from_target`].
    pub fn next_uid(&self) -> ActorUid {
        ActorUid {
            system: self.inner.uid,
            actor: self.inner.next_actor_id(),
        }
    }

    /// The system's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// This incarnation's uid: different on every start.
    pub fn uid(&self) -> u64 {
        self.inner.uid
    }

    /// The per-system ask deadline keeper (none for a detached system), for
    /// custom targets whose `ActorTarget::ask_timer` should use it.
    pub fn ask_timer(&self) -> Option<&AskTimer> {
        self.inner.ask_timer.as_deref()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ActorSystemConfig {
        &self.inner.config
    }

    /// Spawns a top-level actor under `/user`.
    pub fn spawn<A: Actor>(
        &self,
        name: &str,
        props: impl Into<Props<A>>,
    ) -> Result<ActorRef<A::Msg>, SpawnError> {
        let guardian = self.inner.guardian().ok_or(SpawnError::ParentStopping)?;
        ActorCell::spawn(&guardian, Some(name), props.into())
    }

    /// Spawns a top-level actor with a generated name.
    pub fn spawn_anonymous<A: Actor>(
        &self,
        props: impl Into<Props<A>>,
    ) -> Result<ActorRef<A::Msg>, SpawnError> {
        let guardian = self.inner.guardian().ok_or(SpawnError::ParentStopping)?;
        ActorCell::spawn(&guardian, None, props.into())
    }

    /// Stops a top-level actor. False if `actor` is not one.
    pub fn stop(&self, actor: impl Into<AnyRef>) -> bool {
        let actor = actor.into();
        let Some(guardian) = self.inner.guardian() else {
            return false;
        };
        if !guardian.children().contains(&actor) {
            return false;
        }
        actor.send_system(SystemMessage::Stop);
        true
    }

    /// The top-level actor with this name.
    pub fn top_level(&self, name: &str) -> Option<AnyRef> {
        self.inner.guardian()?.child(name)
    }

    /// Records a message that could not be delivered: counted, logged with
    /// the rate limit, and published as a [`DeadLetter`]. For custom
    /// references (probes, stream sources, transports) that drop messages;
    /// actors' own mailboxes do this themselves.
    pub fn dead_letter(
        &self,
        recipient: impl FnOnce() -> AnyRef,
        message_type: &'static str,
        reason: DeadLetterReason,
    ) {
        self.inner.dead_letter(recipient, message_type, reason)
    }

    /// Dead letters so far.
    pub fn dead_letter_count(&self) -> u64 {
        self.inner.dead_letters.count()
    }

    /// Typed publish/subscribe for this system; [`DeadLetter`]s are
    /// published here too.
    pub fn event_stream(&self) -> &EventStream {
        &self.inner.event_stream
    }

    /// The local receptionist.
    pub fn receptionist(&self) -> &Receptionist {
        &self.inner.receptionist
    }

    /// The shutdown sequence, for registering tasks.
    pub fn coordinated_shutdown(&self) -> &CoordinatedShutdown {
        &self.inner.shutdown
    }

    fn stop_guardian(&self) {
        if let Some(g) = self.inner.guardian() {
            g.send_system(SystemMessage::Stop);
        } else {
            self.inner.terminated.send_replace(true);
        }
    }

    /// Runs coordinated shutdown (all phases; the last stops every actor,
    /// children before parents) and waits until it is done.
    pub async fn terminate(&self) {
        self.shutdown(ShutdownReason::ActorSystemTerminate).await;
    }

    /// Runs coordinated shutdown with a reason. The run happens on its own
    /// task, so it completes even if the caller stops waiting.
    pub async fn shutdown(&self, reason: ShutdownReason) -> ShutdownReason {
        let system = self.clone();
        let run = async move { system.inner.shutdown.run(reason).await };
        match &self.inner.handle {
            Some(h) => match h.spawn(run).await {
                Ok(r) => r,
                Err(_) => ShutdownReason::Other("shutdown task aborted".to_owned()),
            },
            None => run.await,
        }
    }

    /// Resolves once every actor has stopped.
    pub async fn when_terminated(&self) {
        let mut rx = self.inner.terminated.subscribe();
        let _ = rx.wait_for(|t| *t).await;
    }

    /// True once every actor has stopped.
    pub fn is_terminated(&self) -> bool {
        *self.inner.terminated.borrow()
    }
}

impl fmt::Debug for ActorSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorSystem")
            .field("name", &self.inner.name)
            .field("uid", &self.inner.uid)
            .finish_non_exhaustive()
    }
}
