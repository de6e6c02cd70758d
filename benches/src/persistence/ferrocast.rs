//! Ferrocast through its public API: one `ActorSystem`, one shared store (`Arc<SqliteStore>`
//! with `SqliteConfig::new(path)` defaults, only `synchronous` varied; or, for the
//! `persistence-postgres` suite, `Arc<PostgresStore>` with `PostgresConfig` defaults),
//! entities spawned as `EventSourcedActor`s. A persist is an `ask` whose reply the entity sends once the event
//! is stored and applied (`Effect::persist(..).then_reply(..)`), so every measured persist
//! is acknowledged as durable.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result, ensure};
use ferrocast_actor::{ActorRef, ActorSystem, ActorSystemConfig, ReplyTo};
use ferrocast_persistence::{
    CodecError, Effect, EventSourced, EventSourcedActor, EventSourcedConfig, EventSourcedSetup,
    Journal, Payload, PersistenceId, PersistentRepr, SequenceNr, Serialization, Serializer,
    SerializerId, WriterId,
};
use ferrocast_persistence_postgres::{PostgresConfig, PostgresStore};
use ferrocast_persistence_sqlite::{SqliteConfig, SqliteStore, Synchronous};

use super::{ENTITIES, EVENT_BYTES, MANIFEST, SERIALIZER_ID, Sizes, Sync};
use crate::harness::Measured;

/// Long enough never to fire in a healthy run; a stuck entity fails the run instead.
const ASK_TIMEOUT: Duration = Duration::from_secs(60);

/// Bound of the timed recovery (default config: 30 s).
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(600);

/// Events per journal write while filling the log that `replay` recovers (untimed).
const FILL_BATCH: usize = 1000;

/// One 100-byte event.
#[derive(Debug)]
struct Event([u8; EVENT_BYTES]);

/// The event's codec: its 100 bytes as they are (no serde cost in the numbers).
#[derive(Debug)]
struct RawBytes;

impl Serializer<Event> for RawBytes {
    fn id(&self) -> SerializerId {
        SerializerId::new(SERIALIZER_ID)
    }

    fn encode(&self, value: &Event) -> Result<Vec<u8>, CodecError> {
        Ok(value.0.to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Event, CodecError> {
        let bytes: [u8; EVENT_BYTES] = bytes.try_into().map_err(CodecError::new)?;
        Ok(Event(bytes))
    }
}

#[derive(Debug)]
enum Cmd {
    /// Persist one event; reply with the entity's event count once it is stored.
    Persist(ReplyTo<u64>),
    /// Reply with the event count (after recovery).
    Get(ReplyTo<u64>),
}

/// The entity: its state is the number of events applied.
#[derive(Debug, Default)]
struct Entity {
    next: u64,
}

impl EventSourced for Entity {
    type Command = Cmd;
    type Event = Event;
    type State = u64;

    fn empty_state(&self) -> u64 {
        0
    }

    fn on_command(&mut self, state: &u64, cmd: Cmd) -> Effect<Self> {
        match cmd {
            Cmd::Persist(reply) => {
                self.next += 1;
                Effect::persist(Event(super::payload(self.next))).then_reply(reply, |s| *s)
            }
            Cmd::Get(reply) => {
                let _ = reply.send(*state);
                Effect::none()
            }
        }
    }

    fn on_event(&self, state: &mut u64, _event: &Event) {
        *state += 1;
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A backend the runs measure: a journal that counts its group commits.
pub(crate) trait Store: Journal {
    /// Commits so far and the write requests they carried.
    fn commits(&self) -> (u64, u64);
}

impl Store for SqliteStore {
    fn commits(&self) -> (u64, u64) {
        let s = self.commit_stats();
        (s.commits, s.requests)
    }
}

impl Store for PostgresStore {
    fn commits(&self) -> (u64, u64) {
        let s = self.commit_stats();
        (s.commits, s.requests)
    }
}

/// The SQLite store of a run.
pub(crate) async fn open_sqlite(db: &Path, sync: Sync) -> Result<Arc<SqliteStore>> {
    let mut config = SqliteConfig::new(db);
    config.synchronous = match sync {
        Sync::Full => Synchronous::Full,
        Sync::Normal => Synchronous::Normal,
    };
    Ok(Arc::new(SqliteStore::open(config).await?))
}

/// The PostgreSQL store of a run, on its own schema.
pub(crate) async fn open_postgres(url: &str, schema: &str) -> Result<Arc<PostgresStore>> {
    let config = PostgresConfig::from_url(url)?.with_schema(schema);
    Ok(Arc::new(PostgresStore::open(config).await?))
}

fn spawn<S: Store>(
    system: &ActorSystem,
    store: &Arc<S>,
    pid: &str,
    config: EventSourcedConfig,
) -> Result<ActorRef<Cmd>> {
    let setup = EventSourcedSetup::<Entity, S>::new(
        PersistenceId::new(pid)?,
        store.clone(),
        Serialization::new(MANIFEST, RawBytes),
    )
    .with_config(config)?;
    Ok(system.spawn_anonymous(EventSourcedActor::props(setup, Entity::default))?)
}

async fn persist(entity: &ActorRef<Cmd>) -> Result<u64> {
    Ok(entity.ask(Cmd::Persist, ASK_TIMEOUT).await?)
}

/// `sqlite_persist_1_entity` and its p50/p99: sequential asks to one entity.
pub(crate) fn persist_1<S: Store>(
    open: impl Future<Output = Result<Arc<S>>>,
    sizes: Sizes,
) -> Result<Measured> {
    runtime()?.block_on(async move {
        let system = ActorSystem::new("bench", ActorSystemConfig::default())?;
        let store = open.await?;
        let entity = spawn(&system, &store, "entity-0", EventSourcedConfig::default())?;
        for _ in 0..sizes.warmup {
            persist(&entity).await?;
        }
        let mut latencies = Vec::with_capacity(sizes.single);
        let started = Instant::now();
        let mut last = 0;
        for _ in 0..sizes.single {
            let t = Instant::now();
            last = persist(&entity).await?;
            latencies.push(t.elapsed());
        }
        let total = started.elapsed();
        ensure!(
            last == (sizes.warmup + sizes.single) as u64,
            "entity counted {last} events"
        );
        Ok(super::single_entity_metrics(total, latencies))
    })
}

/// `sqlite_persist_1000_entities`: 1,000 entities, each driven by its own task doing
/// sequential asks (one persist in flight per entity), all at once.
pub(crate) fn persist_1000<S: Store>(
    open: impl Future<Output = Result<Arc<S>>>,
    sizes: Sizes,
) -> Result<Measured> {
    runtime()?.block_on(async move {
        let system = ActorSystem::new("bench", ActorSystemConfig::default())?;
        let store = open.await?;
        let mut entities = Vec::with_capacity(ENTITIES);
        for i in 0..ENTITIES {
            entities.push(spawn(
                &system,
                &store,
                &format!("entity-{i}"),
                EventSourcedConfig::default(),
            )?);
        }
        // Untimed: every entity has recovered (its empty log) before the clock starts.
        for entity in &entities {
            entity.ask(Cmd::Get, ASK_TIMEOUT).await?;
        }
        let per_entity = (sizes.many / ENTITIES) as u64;
        let before = store.commits();
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for entity in entities {
            tasks.spawn(async move {
                let mut last = 0;
                for _ in 0..per_entity {
                    last = persist(&entity).await?;
                }
                anyhow::Ok(last)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let last = done??;
            ensure!(last == per_entity, "an entity counted {last} events");
        }
        let total = started.elapsed();
        let after = store.commits();
        let events = per_entity * ENTITIES as u64;
        let commits = after.0 - before.0;
        Ok(vec![
            (
                "persist_1000_entities".to_owned(),
                events as f64 / total.as_secs_f64(),
            ),
            (
                "1000_entities_events_per_commit".to_owned(),
                (after.1 - before.1) as f64 / commits.max(1) as f64,
            ),
        ])
    })
}

/// `sqlite_replay`: fills one log with `sizes.replay` events (untimed, journal writes of
/// 1,000), then times the recovery of a new entity on it, from spawn until it answers
/// its first command. Recovery reads the log through `Journal::replay` in pages of the
/// default `replay_batch` (8,192), decodes every event and folds it into the state.
pub(crate) fn replay<S: Store>(
    open: impl Future<Output = Result<Arc<S>>>,
    sizes: Sizes,
) -> Result<Measured> {
    runtime()?.block_on(async move {
        let system = ActorSystem::new("bench", ActorSystemConfig::default())?;
        let store = open.await?;
        let pid = PersistenceId::new("replayed")?;
        let writer = WriterId::new("bench")?;
        let now = SystemTime::now();
        let mut nr = 0u64;
        while nr < sizes.replay as u64 {
            let n = FILL_BATCH.min(sizes.replay - nr as usize);
            let batch = (0..n)
                .map(|_| {
                    nr += 1;
                    PersistentRepr {
                        persistence_id: pid.clone(),
                        sequence_nr: SequenceNr::new(nr),
                        payload: Payload::new(
                            SerializerId::new(SERIALIZER_ID),
                            MANIFEST,
                            super::payload(nr).to_vec(),
                        ),
                        tags: Vec::new(),
                        timestamp: now,
                        writer: writer.clone(),
                    }
                })
                .collect();
            Journal::write(&*store, batch)
                .await
                .context("fill the log")?;
        }
        let config = EventSourcedConfig {
            // Only a bound: 1,000,000 events must not hit the 30 s default.
            recovery_timeout: RECOVERY_TIMEOUT,
            ..EventSourcedConfig::default()
        };
        let started = Instant::now();
        let entity = spawn(&system, &store, pid.as_str(), config)?;
        let count = entity.ask(Cmd::Get, RECOVERY_TIMEOUT).await?;
        let total = started.elapsed();
        ensure!(count == sizes.replay as u64, "recovered {count} events");
        Ok(vec![(
            "replay".to_owned(),
            sizes.replay as f64 / total.as_secs_f64(),
        )])
    })
}
