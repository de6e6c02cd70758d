//! Helpers shared by the integration tests: a test configuration, a shared
//! log, a probe actor that forwards into a channel, and death-watch waits.

// Each test file uses a subset of these helpers.
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, AnyRef, Backoff, Context,
    MailboxConfig, Props,
};
use tokio::sync::mpsc;

/// How long a test waits for something that should happen. Under paused
/// time this costs nothing; it only bounds a test that would otherwise hang.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// Default configuration, but deterministic: a fixed seed and restarts of
/// top-level actors without backoff.
pub(crate) fn config() -> ActorSystemConfig {
    ActorSystemConfig {
        random_seed: Some(7),
        supervision: ferrocast_actor::SupervisionConfig {
            backoff: Backoff::none(),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub(crate) fn system() -> ActorSystem {
    ActorSystem::new("test", config()).unwrap()
}

/// An append-only log that actors and the test share.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub(crate) fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    pub(crate) fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub(crate) fn count(&self, entry: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| *e == entry)
            .count()
    }

    /// Position of `entry`; panics (showing the log) if absent.
    pub(crate) fn position(&self, entry: &str) -> usize {
        let entries = self.entries();
        entries
            .iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("{entry:?} not in {entries:?}"))
    }
}

/// Forwards every message into a channel the test reads.
pub(crate) struct Forward<T>(mpsc::UnboundedSender<T>);

impl<T: Send + 'static> Actor for Forward<T> {
    type Msg = T;

    async fn handle(&mut self, msg: T, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let _ = self.0.send(msg);
        Ok(())
    }
}

/// A top-level actor whose messages arrive on the returned receiver.
pub(crate) fn probe<T: Send + 'static>(
    system: &ActorSystem,
) -> (ActorRef<T>, mpsc::UnboundedReceiver<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let probe = system
        .spawn_anonymous(
            Props::new(move || Forward(tx.clone())).with_mailbox(MailboxConfig::unbounded()),
        )
        .unwrap();
    (probe, rx)
}

/// The next item, failing the test if none comes within [`WAIT`].
pub(crate) async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("nothing received in time")
        .expect("channel closed")
}

/// True if nothing arrives within `within` (use under paused time).
pub(crate) async fn nothing_within<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    within: Duration,
) -> bool {
    tokio::time::timeout(within, rx.recv()).await.is_err()
}

/// Watches one actor and reports its termination.
struct DeathProbe {
    target: AnyRef,
    done: mpsc::UnboundedSender<AnyRef>,
}

impl Actor for DeathProbe {
    type Msg = Infallible;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.watch(self.target.clone());
        Ok(())
    }

    async fn handle(
        &mut self,
        msg: Infallible,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        match msg {}
    }

    async fn terminated(
        &mut self,
        actor: AnyRef,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let _ = self.done.send(actor);
        ctx.stop();
        Ok(())
    }
}

/// A pending termination report; see [`watch_termination`].
pub(crate) struct Termination {
    target: AnyRef,
    rx: mpsc::UnboundedReceiver<AnyRef>,
}

impl Termination {
    /// Waits for the report, failing the test after [`WAIT`].
    pub(crate) async fn wait(mut self) {
        let who = recv(&mut self.rx).await;
        assert_eq!(who, self.target, "termination of the wrong actor");
    }
}

/// Starts watching `target` now; `wait` on the result for its end.
pub(crate) fn watch_termination(system: &ActorSystem, target: impl Into<AnyRef>) -> Termination {
    let target = target.into();
    let (tx, rx) = mpsc::unbounded_channel();
    let watched = target.clone();
    system
        .spawn_anonymous(move || DeathProbe {
            target: watched.clone(),
            done: tx.clone(),
        })
        .unwrap();
    Termination { target, rx }
}

/// Waits until `target` has terminated (at once if it already has).
pub(crate) async fn terminated(system: &ActorSystem, target: impl Into<AnyRef>) {
    watch_termination(system, target).wait().await;
}
