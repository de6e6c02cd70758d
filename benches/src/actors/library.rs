//! What a library must provide to be measured, and what all libraries share: the 48-byte
//! actor state, the runtimes, and the start gate that start hooks report to.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::Result;
use tokio::sync::Notify;

/// Every library's actor holds exactly this: a counter and padding to 48 bytes.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) count: u64,
    #[allow(dead_code, reason = "padding: every library's actor state is 48 bytes")]
    pad: [u64; 5],
}

const _: () = assert!(std::mem::size_of::<State>() == 48);

/// Where a library's actors and the benchmark driver run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Runtime {
    /// tokio multi-thread runtime with 2 worker threads.
    Tokio,
    /// An actix `System` (a current-thread tokio runtime with a `LocalSet`).
    Actix,
}

/// Worker threads of the tokio runtime every tokio-based library runs on.
const TOKIO_WORKERS: usize = 2;

impl Runtime {
    /// Runs `driver` as a task (the benchmark's one outside, non-actor task) on this runtime and returns its result. The runtime is leaked:
    /// the child process exits right after, and shutting down a million tasks is not measured.
    pub(crate) fn run<F>(self, driver: F) -> Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Runtime::Tokio => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(TOKIO_WORKERS)
                    .enable_all()
                    .build()?;
                let out = rt.block_on(async move { tokio::spawn(driver).await })?;
                std::mem::forget(rt);
                Ok(out)
            }
            Runtime::Actix => {
                let system = actix::System::new();
                let out = system.block_on(async move { actix::spawn(driver).await })?;
                std::mem::forget(system);
                Ok(out)
            }
        }
    }
}

/// A library under test. Its value (an actor system, arbiters) and the actor handles live
/// in the driver task. Every actor handles `Inc` with [`State::inc`], answers
/// `Get` with the count, and its start hook calls `STARTED.arrive()`.
pub(crate) trait Library: Sized + Send + 'static {
    const RUNTIME: Runtime;
    /// A handle to one actor.
    type Ref: Clone + Send + Sync + 'static;

    /// Called once on the runtime, in the driver task, before anything is measured.
    fn setup() -> impl Future<Output = Result<Self>> + Send;
    /// Spawns one actor with an unbounded mailbox and a zeroed [`State`].
    fn spawn(&mut self) -> impl Future<Output = Result<Self::Ref>> + Send;
    /// Fire-and-forget `Inc`.
    fn tell(actor: &Self::Ref) -> impl Future<Output = Result<()>> + Send;
    /// Request-reply `Get`, returning the actor's count.
    fn ask(actor: &Self::Ref) -> impl Future<Output = Result<u64>> + Send;
}

/// Counts arrivals and wakes one waiter when an armed number has arrived. A global rather
/// than a field of the actor, so that every actor's state stays at 48 bytes.
#[derive(Debug)]
pub(crate) struct Gate {
    arrived: AtomicUsize,
    target: AtomicUsize,
    reached: Notify,
}

impl Gate {
    const fn new() -> Self {
        Self {
            arrived: AtomicUsize::new(0),
            target: AtomicUsize::new(usize::MAX),
            reached: Notify::const_new(),
        }
    }

    /// [`Gate::wait`] completes once `n` arrivals have happened after this call.
    pub(crate) fn arm(&self, n: usize) {
        self.target.store(usize::MAX, Ordering::Release);
        self.arrived.store(0, Ordering::Release);
        self.target.store(n, Ordering::Release);
    }

    pub(crate) fn arrive(&self) {
        let arrived = self.arrived.fetch_add(1, Ordering::AcqRel) + 1;
        if arrived == self.target.load(Ordering::Acquire) {
            // Stores a permit if the waiter is not waiting yet: no lost wake-up.
            self.reached.notify_one();
        }
    }

    /// Waits (no polling, no sleeping) for the armed number of arrivals.
    pub(crate) async fn wait(&self) {
        self.reached.notified().await;
    }
}

/// Every actor's start hook arrives here.
pub(crate) static STARTED: Gate = Gate::new();

/// An actor arrives here when its count reaches [`COUNT_TARGET`].
pub(crate) static FINISHED: Gate = Gate::new();

/// The count at which an actor reports to [`FINISHED`]. Per actor, not global: the
/// messages of a run are split evenly, and the actors need share no counter.
static COUNT_TARGET: AtomicU64 = AtomicU64::new(u64::MAX);

/// Arms [`FINISHED`] for `actors` actors each reaching `count`.
pub(crate) fn arm_count_target(count: u64, actors: usize) {
    FINISHED.arm(actors);
    COUNT_TARGET.store(count, Ordering::Release);
}

impl State {
    /// Handles `Inc`: counts, and reports to [`FINISHED`] on reaching the armed count. Completion is detected here, not by an ask queued behind the tells,
    /// because not every library keeps a mailbox first-in first-out (xtra 0.6 queues by
    /// priority in a binary heap, which reorders equal priorities).
    #[inline]
    pub(crate) fn inc(&mut self) {
        self.count += 1;
        if self.count == COUNT_TARGET.load(Ordering::Relaxed) {
            FINISHED.arrive();
        }
    }
}
