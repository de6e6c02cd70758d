//! Coordinated shutdown: ordered phases of tasks, each phase with a timeout.
//!
//! Modelled on Akka's `CoordinatedShutdown`. Subsystems register tasks in
//! the phase where they belong (an HTTP server unbinds in `service-unbind`,
//! the cluster leaves in `cluster-leave`); when shutdown runs, phases run in
//! order and the tasks of one phase run concurrently. A phase that exceeds
//! its timeout is logged and shutdown moves on: a stuck task cannot keep a
//! node from going away. The last phase stops all actors.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Mutex;

use futures_util::FutureExt;
use tokio::sync::watch;

use crate::config::ShutdownConfig;

/// The phases, in the order they run.
pub const PHASES: &[&str] = &[
    "before-service-unbind",
    "service-unbind",
    "service-requests-done",
    "service-stop",
    "before-cluster-shutdown",
    "cluster-sharding-shutdown-region",
    "cluster-leave",
    "cluster-exiting",
    "cluster-exiting-done",
    "cluster-shutdown",
    "before-actor-system-terminate",
    "actor-system-terminate",
];

/// Why the system shuts down.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownReason {
    /// `ActorSystem::terminate` was called.
    ActorSystemTerminate,
    /// The node left the cluster.
    ClusterLeaving,
    /// The node was downed (by the split brain resolver or an operator).
    ClusterDowning,
    /// Anything else, described.
    Other(String),
}

/// A task cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShutdownError {
    /// The phase name is not one of [`PHASES`].
    #[error("unknown shutdown phase {0:?}")]
    UnknownPhase(String),
    /// Shutdown already started; the task would never run.
    #[error("coordinated shutdown already running")]
    AlreadyRunning,
}

type TaskFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Task = (String, Box<dyn FnOnce() -> TaskFuture + Send>);

/// The shutdown sequence of one actor system.
pub struct CoordinatedShutdown {
    config: ShutdownConfig,
    tasks: Mutex<Option<BTreeMap<usize, Vec<Task>>>>,
    reason: Mutex<Option<ShutdownReason>>,
    done: watch::Sender<bool>,
}

impl CoordinatedShutdown {
    pub(crate) fn new(config: ShutdownConfig) -> Self {
        CoordinatedShutdown {
            config,
            tasks: Mutex::new(Some(BTreeMap::new())),
            reason: Mutex::new(None),
            done: watch::channel(false).0,
        }
    }

    /// Adds a task to a phase. Tasks of one phase run concurrently.
    pub fn add_task<F, Fut>(
        &self,
        phase: &str,
        name: impl Into<String>,
        task: F,
    ) -> Result<(), ShutdownError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let index = PHASES
            .iter()
            .position(|p| *p == phase)
            .ok_or_else(|| ShutdownError::UnknownPhase(phase.to_owned()))?;
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let tasks = tasks.as_mut().ok_or(ShutdownError::AlreadyRunning)?;
        tasks
            .entry(index)
            .or_default()
            .push((name.into(), Box::new(move || Box::pin(task()))));
        Ok(())
    }

    /// The reason, once shutdown has started.
    pub fn reason(&self) -> Option<ShutdownReason> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs all phases once. Concurrent and later calls wait for the first
    /// run to finish. Returns the reason of the run that happened.
    pub async fn run(&self, reason: ShutdownReason) -> ShutdownReason {
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(tasks) = tasks else {
            let mut done = self.done.subscribe();
            let _ = done.wait_for(|d| *d).await;
            return self.reason().unwrap_or(reason);
        };
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.clone());
        tracing::info!(?reason, "coordinated shutdown started");
        for (index, phase_tasks) in tasks {
            let phase = PHASES[index];
            let timeout = self.config.timeout_of(phase);
            let names: Vec<String> = phase_tasks.iter().map(|(n, _)| n.clone()).collect();
            // A task that panics is logged like one that times out; it must
            // not abort the shutdown and leave the system running.
            let all = futures_util::future::join_all(phase_tasks.into_iter().map(
                |(name, t)| async move {
                    let run = AssertUnwindSafe(async move { t().await }).catch_unwind();
                    if run.await.is_err() {
                        tracing::error!(phase, task = %name, "shutdown task panicked; continuing");
                    }
                },
            ));
            if tokio::time::timeout(timeout, all).await.is_err() {
                tracing::warn!(phase, ?timeout, tasks = ?names, "shutdown phase timed out; continuing");
            } else {
                tracing::debug!(phase, tasks = ?names, "shutdown phase done");
            }
        }
        self.done.send_replace(true);
        reason
    }

    /// True once every phase has run.
    pub fn is_done(&self) -> bool {
        *self.done.borrow()
    }
}

impl fmt::Debug for CoordinatedShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoordinatedShutdown")
            .field("reason", &self.reason())
            .field("done", &self.is_done())
            .finish()
    }
}
