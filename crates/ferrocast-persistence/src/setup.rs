//! [`EventSourcedSetup`]: which log, which stores, which serialization.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::behavior::EventSourced;
use crate::config::{EventSourcedConfig, InvalidConfig};
use crate::ids::PersistenceId;
use crate::journal::Journal;
use crate::serialization::Serialization;
use crate::snapshot_store::{NoSnapshots, SnapshotStore};

/// The wall clock stamped on events and snapshots. Injected, so tests can
/// fix it.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The default clock. The one place this crate reads the wall clock: event
/// and snapshot timestamps are metadata for people and queries, never used
/// for ordering or timeouts, and [`EventSourcedSetup::with_clock`] replaces
/// it.
#[allow(clippy::disallowed_methods)]
fn system_clock() -> SystemTime {
    SystemTime::now()
}

/// Everything an [`EventSourcedActor`](crate::EventSourcedActor) needs
/// besides its behavior: the persistence id, the journal, the snapshot
/// store, how events and states are serialized, and the config.
///
/// Cheap to clone (stores and serializations are shared), so one setup can
/// serve every restart of an actor.
pub struct EventSourcedSetup<B: EventSourced, J, S = NoSnapshots> {
    pub(crate) persistence_id: PersistenceId,
    pub(crate) journal: Arc<J>,
    pub(crate) snapshots: Arc<S>,
    pub(crate) events: Arc<Serialization<B::Event>>,
    /// `None` when no snapshots are taken.
    pub(crate) states: Option<Arc<Serialization<B::State>>>,
    pub(crate) config: EventSourcedConfig,
    pub(crate) clock: Clock,
}

impl<B: EventSourced, J: Journal> EventSourcedSetup<B, J, NoSnapshots> {
    /// A setup without snapshots: recovery replays the whole log.
    pub fn new(
        persistence_id: PersistenceId,
        journal: Arc<J>,
        events: Serialization<B::Event>,
    ) -> Self {
        EventSourcedSetup {
            persistence_id,
            journal,
            snapshots: Arc::new(NoSnapshots),
            events: Arc::new(events),
            states: None,
            config: EventSourcedConfig::default(),
            clock: Arc::new(system_clock),
        }
    }
}

impl<B: EventSourced, J: Journal, S: SnapshotStore> EventSourcedSetup<B, J, S> {
    /// Takes snapshots into `store`, serialized with `states`, as the
    /// config's [`SnapshotPolicy`](crate::SnapshotPolicy) and
    /// [`EventSourced::snapshot_when`] say; recovery starts from the latest.
    pub fn with_snapshots<S2: SnapshotStore>(
        self,
        store: Arc<S2>,
        states: Serialization<B::State>,
    ) -> EventSourcedSetup<B, J, S2> {
        EventSourcedSetup {
            persistence_id: self.persistence_id,
            journal: self.journal,
            snapshots: store,
            events: self.events,
            states: Some(Arc::new(states)),
            config: self.config,
            clock: self.clock,
        }
    }

    /// Uses `config` after checking it.
    pub fn with_config(mut self, config: EventSourcedConfig) -> Result<Self, InvalidConfig> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }

    /// Stamps events and snapshots with `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The persistence id.
    pub fn persistence_id(&self) -> &PersistenceId {
        &self.persistence_id
    }

    /// The config.
    pub fn config(&self) -> &EventSourcedConfig {
        &self.config
    }
}

impl<B: EventSourced, J, S> Clone for EventSourcedSetup<B, J, S> {
    fn clone(&self) -> Self {
        EventSourcedSetup {
            persistence_id: self.persistence_id.clone(),
            journal: self.journal.clone(),
            snapshots: self.snapshots.clone(),
            events: self.events.clone(),
            states: self.states.clone(),
            config: self.config,
            clock: self.clock.clone(),
        }
    }
}

impl<B: EventSourced, J, S> fmt::Debug for EventSourcedSetup<B, J, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSourcedSetup")
            .field("persistence_id", &self.persistence_id)
            .field("events", &self.events)
            .field("states", &self.states)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
