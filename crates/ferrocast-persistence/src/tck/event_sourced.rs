//! The event-sourced suite: many entities persisting at once through one
//! store, then recovering from it after it is opened again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferrocast_actor::{ActorRef, ActorSystem, ActorSystemConfig};

use crate::config::{EventSourcedConfig, SnapshotPolicy};
use crate::event_sourced_actor::EventSourcedActor;
use crate::ids::{PersistenceId, SequenceNr};
use crate::journal::Journal;
use crate::serialization::Serialization;
use crate::serializer::Json;
use crate::snapshot_store::SnapshotStore;
use crate::tck::scaffold::{Counter, CounterCmd, counter_setup};
use crate::tck::{TckFailure, ensure, ok};

const CHECK: &str = "event_sourced::many_entities_persist_concurrently_and_recover";
const ENTITIES: usize = 50;
const ADDS: u64 = 10;
/// Generous: a slow machine under load must not fail the suite.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `ENTITIES` counters on `store` concurrently (snapshots every 4
/// events, keeping 1), checks every answer and the latest snapshot, then
/// opens the store again with `reopen` and checks that each counter
/// recovers its sum. `store` stays the caller's, to look at afterwards
/// (group-commit statistics, say).
pub async fn event_sourced_suite<S, F, Fut>(store: Arc<S>, reopen: F) -> Result<(), TckFailure>
where
    S: Journal + SnapshotStore,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let system = ok(
        ActorSystem::new("tck-one", ActorSystemConfig::default()),
        CHECK,
        "actor system",
    )?;
    let mut counters = Vec::new();
    for i in 0..ENTITIES {
        counters.push(spawn(&system, &store, i)?);
    }
    let mut tasks = Vec::new();
    for (i, c) in counters.iter().enumerate() {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for _ in 0..ADDS {
                last = c.ask(|r| CounterCmd::Add(i as u64, r), TIMEOUT).await?;
            }
            Ok::<_, ferrocast_actor::AskError>(last)
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let sum = ok(ok(t.await, CHECK, "counter task")?, CHECK, "add")?;
        ensure(sum == i as u64 * ADDS, CHECK, || {
            format!("counter-{i} answered {sum}, expected {}", i as u64 * ADDS)
        })?;
    }
    system.terminate().await;
    drop(counters);
    let pid = pid(7)?;
    let snap = ok(
        store.load_latest(&pid, SequenceNr::MAX).await,
        CHECK,
        "load_latest",
    )?;
    let at = snap.map(|s| s.metadata.sequence_nr.value());
    ensure(at == Some(8), CHECK, || {
        format!("latest snapshot of counter-7 at {at:?}, expected 8 (every 4, keep 1)")
    })?;
    drop(store);

    let store = reopen().await;
    let system = ok(
        ActorSystem::new("tck-two", ActorSystemConfig::default()),
        CHECK,
        "actor system",
    )?;
    for i in 0..ENTITIES {
        let c = spawn(&system, &store, i)?;
        let sum = ok(c.ask(CounterCmd::Get, TIMEOUT).await, CHECK, "get")?;
        ensure(sum == i as u64 * ADDS, CHECK, || {
            format!("counter-{i} recovered {sum}, expected {}", i as u64 * ADDS)
        })?;
    }
    system.terminate().await;
    Ok(())
}

fn pid(i: usize) -> Result<PersistenceId, TckFailure> {
    ok(
        PersistenceId::new(&format!("counter-{i}")),
        CHECK,
        "persistence id",
    )
}

fn spawn<S: Journal + SnapshotStore>(
    system: &ActorSystem,
    store: &Arc<S>,
    i: usize,
) -> Result<ActorRef<CounterCmd>, TckFailure> {
    let setup = ok(
        counter_setup(store.clone(), &pid(i)?)
            .with_snapshots(store.clone(), Serialization::new("counter.state.v1", Json))
            .with_config(EventSourcedConfig {
                snapshots: SnapshotPolicy::every(4).keep(1),
                ..EventSourcedConfig::default()
            }),
        CHECK,
        "setup",
    )?;
    ok(
        system.spawn(
            &format!("counter-{i}"),
            EventSourcedActor::props(setup, Counter::default),
        ),
        CHECK,
        "spawn",
    )
}
