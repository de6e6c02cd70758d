//! Supervision: restart, resume, stop, escalate, restart limits, backoff,
//! and failures in handlers, `started` and the factory.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Log, WAIT, config, probe, recv, system, terminated};
use ferrocast_actor::*;
use tokio::time::Instant;

/// Counts, fails on request, and logs its lifecycle hooks.
struct Worker {
    count: u64,
    log: Log,
}

enum WMsg {
    Add(u64),
    Fail,
    Panic,
    Get(ReplyTo<u64>),
}

impl Worker {
    fn props(log: &Log) -> Props<Worker> {
        let log = log.clone();
        Props::new(move || Worker {
            count: 0,
            log: log.clone(),
        })
    }
}

impl Actor for Worker {
    type Msg = WMsg;

    async fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.log.push("started worker");
        Ok(())
    }

    async fn handle(&mut self, msg: WMsg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            WMsg::Add(n) => self.count += n,
            WMsg::Fail => return Err(ActorError::msg("boom")),
            WMsg::Panic => panic!("kaboom"),
            WMsg::Get(r) => {
                let _ = r.send(self.count);
            }
        }
        Ok(())
    }

    async fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.log.push("stopped worker");
    }
}

/// A chain of supervisors: level `i` supervises with `strategies[i]`; the
/// last level's child is a [`Worker`].
struct Sup {
    level: usize,
    strategies: Arc<Vec<SupervisorStrategy>>,
    log: Log,
    child: Option<SupChild>,
}

enum SupChild {
    Sup(ActorRef<SMsg>),
    Worker(ActorRef<WMsg>),
}

enum SMsg {
    /// The worker at the bottom of the chain.
    Worker(ReplyTo<ActorRef<WMsg>>),
}

impl Sup {
    fn props(level: usize, strategies: Arc<Vec<SupervisorStrategy>>, log: &Log) -> Props<Sup> {
        let log = log.clone();
        Props::new(move || Sup {
            level,
            strategies: strategies.clone(),
            log: log.clone(),
            child: None,
        })
    }
}

impl Actor for Sup {
    type Msg = SMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.log.push(format!("started sup{}", self.level));
        let child = if self.level + 1 < self.strategies.len() {
            let props = Sup::props(self.level + 1, self.strategies.clone(), &self.log);
            SupChild::Sup(ctx.spawn("sup", props)?)
        } else {
            SupChild::Worker(ctx.spawn("worker", Worker::props(&self.log))?)
        };
        self.child = Some(child);
        Ok(())
    }

    async fn handle(&mut self, msg: SMsg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let SMsg::Worker(reply) = msg;
        match &self.child {
            Some(SupChild::Worker(w)) => {
                let _ = reply.send(w.clone());
            }
            Some(SupChild::Sup(s)) => s.tell(SMsg::Worker(reply)),
            None => {}
        }
        Ok(())
    }

    async fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.log.push(format!("stopped sup{}", self.level));
    }

    fn supervisor_strategy(&self) -> SupervisorStrategy {
        self.strategies[self.level].clone()
    }
}

/// Spawns a supervisor chain and returns its top and the worker below it.
async fn chain(
    system: &ActorSystem,
    strategies: Vec<SupervisorStrategy>,
    log: &Log,
) -> (ActorRef<SMsg>, ActorRef<WMsg>) {
    let top = system
        .spawn("sup0", Sup::props(0, Arc::new(strategies), log))
        .unwrap();
    let worker = top.ask(SMsg::Worker, WAIT).await.unwrap();
    (top, worker)
}

fn no_backoff(s: SupervisorStrategy) -> SupervisorStrategy {
    s.with_backoff(Backoff::none())
}

#[tokio::test(start_paused = true)]
async fn error_restarts_a_fresh_instance_keeping_queued_messages() {
    let system = system();
    let log = Log::default();
    let w = system.spawn("w", Worker::props(&log)).unwrap();
    // All four are queued before the first turn: the failure must drop only
    // `Fail`, keep `Add(1)` and `Get`, and reset the state.
    w.tell(WMsg::Add(5));
    w.tell(WMsg::Fail);
    w.tell(WMsg::Add(1));
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 1);
    assert_eq!(
        log.entries(),
        ["started worker", "stopped worker", "started worker"]
    );
    // The reference stays valid across the restart.
    assert!(!w.is_terminated());
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn restart_uses_the_factory_again() {
    let system = system();
    let made = Arc::new(AtomicUsize::new(0));
    let counter = made.clone();
    let log = Log::default();
    let log2 = log.clone();
    let w = system
        .spawn("w", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Worker {
                count: 100,
                log: log2.clone(),
            }
        })
        .unwrap();
    w.tell(WMsg::Add(1));
    w.tell(WMsg::Fail);
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 100);
    assert_eq!(made.load(Ordering::SeqCst), 2);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn panic_in_handler_restarts_and_other_actors_keep_working() {
    let system = system();
    let log = Log::default();
    let a = system.spawn("a", Worker::props(&log)).unwrap();
    let b = system.spawn("b", Worker::props(&Log::default())).unwrap();
    a.tell(WMsg::Add(5));
    a.tell(WMsg::Panic);
    a.tell(WMsg::Add(2));
    b.tell(WMsg::Add(3));
    assert_eq!(a.ask(WMsg::Get, WAIT).await.unwrap(), 2);
    assert_eq!(b.ask(WMsg::Get, WAIT).await.unwrap(), 3);
    assert_eq!(log.count("started worker"), 2);
    // A second panic is handled just as well.
    a.tell(WMsg::Panic);
    b.tell(WMsg::Add(1));
    assert_eq!(a.ask(WMsg::Get, WAIT).await.unwrap(), 0);
    assert_eq!(b.ask(WMsg::Get, WAIT).await.unwrap(), 4);
    system.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_handler_on_multi_thread_runtime_is_contained() {
    let system = system();
    let a = system.spawn("a", Worker::props(&Log::default())).unwrap();
    for _ in 0..10 {
        a.tell(WMsg::Add(1));
        a.tell(WMsg::Panic);
    }
    a.tell(WMsg::Add(7));
    assert_eq!(a.ask(WMsg::Get, WAIT).await.unwrap(), 7);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn resume_keeps_state_and_drops_the_failed_message() {
    let system = system();
    let log = Log::default();
    let (_top, w) = chain(&system, vec![SupervisorStrategy::resume()], &log).await;
    w.tell(WMsg::Add(5));
    w.tell(WMsg::Fail);
    w.tell(WMsg::Add(1));
    w.tell(WMsg::Panic);
    w.tell(WMsg::Add(1));
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 7);
    assert_eq!(log.count("started worker"), 1);
    assert_eq!(log.count("stopped worker"), 0);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn stop_strategy_stops_the_child() {
    let system = system();
    let log = Log::default();
    let (top, w) = chain(&system, vec![SupervisorStrategy::stop()], &log).await;
    w.tell(WMsg::Fail);
    terminated(&system, &w).await;
    assert!(w.is_terminated());
    assert_eq!(log.count("stopped worker"), 1);
    assert_eq!(w.ask(WMsg::Get, WAIT).await, Err(AskError::Terminated));
    // The parent is unaffected.
    assert_eq!(top.ask(SMsg::Worker, WAIT).await.unwrap(), w);
    assert!(!top.is_terminated());
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn decider_chooses_per_failure() {
    let system = system();
    let log = Log::default();
    let strategy = SupervisorStrategy::restart()
        .with_backoff(Backoff::none())
        .with_decider(|f| {
            if f.is_panic() {
                Directive::Restart
            } else {
                Directive::Resume
            }
        });
    let (_top, w) = chain(&system, vec![strategy], &log).await;
    w.tell(WMsg::Add(5));
    w.tell(WMsg::Fail);
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 5);
    w.tell(WMsg::Panic);
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 0);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn escalate_fails_the_parent_and_the_grandparent_restarts_it() {
    let system = system();
    let log = Log::default();
    let seen = Log::default();
    let seen2 = seen.clone();
    let grandparent = no_backoff(SupervisorStrategy::restart()).with_decider(move |f| {
        seen2.push(f.to_string());
        Directive::Restart
    });
    let (top, old) = chain(
        &system,
        vec![grandparent, SupervisorStrategy::escalate()],
        &log,
    )
    .await;
    old.tell(WMsg::Add(5));
    old.tell(WMsg::Fail);
    terminated(&system, &old).await;
    // The restarted middle level spawned a fresh worker.
    let new = top.ask(SMsg::Worker, WAIT).await.unwrap();
    assert_ne!(new, old);
    assert_eq!(new.path(), old.path());
    assert_eq!(new.ask(WMsg::Get, WAIT).await.unwrap(), 0);
    assert_eq!(log.count("started sup1"), 2);
    assert_eq!(log.count("stopped sup1"), 1);
    assert_eq!(log.count("started sup0"), 1);
    assert_eq!(
        seen.entries(),
        ["escalated from /user/sup0/sup/worker: error: boom"]
    );
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn escalate_then_resume_resumes_the_failed_child() {
    // Akka: resuming an actor resumes its children, including the one whose
    // failure was escalated.
    let system = system();
    let log = Log::default();
    let (_top, w) = chain(
        &system,
        vec![SupervisorStrategy::resume(), SupervisorStrategy::escalate()],
        &log,
    )
    .await;
    w.tell(WMsg::Add(5));
    w.tell(WMsg::Fail);
    w.tell(WMsg::Add(1));
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 6);
    assert_eq!(log.count("started sup1"), 1);
    assert_eq!(log.count("started worker"), 1);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn escalate_then_stop_stops_the_parent_and_the_child() {
    let system = system();
    let log = Log::default();
    let (top, w) = chain(
        &system,
        vec![SupervisorStrategy::stop(), SupervisorStrategy::escalate()],
        &log,
    )
    .await;
    w.tell(WMsg::Fail);
    terminated(&system, &w).await;
    assert_eq!(log.count("stopped sup1"), 1);
    assert_eq!(log.count("stopped worker"), 1);
    assert!(!top.is_terminated());
    system.terminate().await;
}

fn limited(max_restarts: u32) -> ActorSystem {
    let mut c = config();
    c.supervision.max_restarts = max_restarts;
    c.supervision.within = Duration::from_secs(60);
    ActorSystem::new("limited", c).unwrap()
}

#[tokio::test(start_paused = true)]
async fn restarts_up_to_the_limit_are_allowed() {
    let system = limited(2);
    let log = Log::default();
    let w = system.spawn("w", Worker::props(&log)).unwrap();
    w.tell(WMsg::Fail);
    w.tell(WMsg::Fail);
    w.tell(WMsg::Add(3));
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 3);
    assert_eq!(log.count("started worker"), 3);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn one_restart_past_the_limit_stops_the_child() {
    let system = limited(2);
    let log = Log::default();
    let w = system.spawn("w", Worker::props(&log)).unwrap();
    for _ in 0..3 {
        w.tell(WMsg::Fail);
    }
    terminated(&system, &w).await;
    assert_eq!(log.count("started worker"), 3);
    assert_eq!(w.ask(WMsg::Get, WAIT).await, Err(AskError::Terminated));
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn restart_window_expires() {
    let system = limited(2);
    let log = Log::default();
    let w = system.spawn("w", Worker::props(&log)).unwrap();
    w.tell(WMsg::Fail);
    w.tell(WMsg::Fail);
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 0);
    tokio::time::advance(Duration::from_secs(61)).await;
    w.tell(WMsg::Fail);
    w.tell(WMsg::Fail);
    w.tell(WMsg::Add(1));
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 1);
    assert_eq!(log.count("started worker"), 5);
    system.terminate().await;
}

/// Reports the instant of every start; fails on request.
struct Timed {
    starts: tokio::sync::mpsc::UnboundedSender<Instant>,
}

impl Actor for Timed {
    type Msg = ();

    async fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let _ = self.starts.send(Instant::now());
        Ok(())
    }

    async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        Err(ActorError::msg("fail on every message"))
    }
}

/// Fails a top-level actor `n` times and returns the delay before each
/// restart, measured on the paused clock.
async fn restart_delays(backoff: Backoff, seed: u64, n: usize) -> Vec<Duration> {
    let mut c = config();
    c.random_seed = Some(seed);
    c.supervision.backoff = backoff;
    c.supervision.max_restarts = 100;
    let system = ActorSystem::new("backoff", c).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let a = system
        .spawn("a", move || Timed { starts: tx.clone() })
        .unwrap();
    let mut last = recv(&mut rx).await;
    let mut delays = Vec::new();
    for _ in 0..n {
        let failed_at = Instant::now();
        assert_eq!(failed_at, last, "no time passes before the failure");
        a.tell(());
        let started = recv(&mut rx).await;
        delays.push(started - failed_at);
        last = started;
    }
    system.terminate().await;
    delays
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_double_up_to_the_cap() {
    let backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_millis(500),
        random_factor: 0.0,
    };
    let delays = restart_delays(backoff, 1, 5).await;
    let ms = |n| Duration::from_millis(n);
    assert_eq!(delays, [ms(100), ms(200), ms(400), ms(500), ms(500)]);
}

#[tokio::test(start_paused = true)]
async fn backoff_is_not_shortened_by_explicit_advance() {
    let mut c = config();
    c.supervision.backoff = Backoff {
        min: Duration::from_secs(1),
        max: Duration::from_secs(1),
        random_factor: 0.0,
    };
    let system = ActorSystem::new("backoff", c).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let a = system
        .spawn("a", move || Timed { starts: tx.clone() })
        .unwrap();
    let t0 = recv(&mut rx).await;
    a.tell(());
    // Under paused time `nothing_within` returns only once nothing is
    // runnable: the failure is handled (at t0) before the clock moves, and a
    // restart due by 999 ms would have been reported.
    assert!(common::nothing_within(&mut rx, Duration::from_millis(1)).await);
    tokio::time::advance(Duration::from_millis(989)).await;
    assert!(common::nothing_within(&mut rx, Duration::from_millis(9)).await);
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(recv(&mut rx).await - t0, Duration::from_secs(1));
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn backoff_jitter_is_bounded_and_deterministic_per_seed() {
    let backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_secs(10),
        random_factor: 0.5,
    };
    let first = restart_delays(backoff, 42, 4).await;
    let again = restart_delays(backoff, 42, 4).await;
    assert_eq!(first, again, "same seed, same delays");
    for (n, d) in first.iter().enumerate() {
        let base = Duration::from_millis(100) * (1 << n);
        assert!(
            *d >= base && *d <= base.mul_f64(1.5) + Duration::from_millis(1),
            "restart {n}: {d:?} outside [{base:?}, 1.5 x]"
        );
    }
    assert!(
        first
            .iter()
            .enumerate()
            .any(|(n, d)| *d > Duration::from_millis(100) * (1 << n) + Duration::from_millis(1)),
        "jitter never applied: {first:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn panic_in_the_factory_is_supervised() {
    let system = system();
    let made = Arc::new(AtomicUsize::new(0));
    let counter = made.clone();
    let w = system
        .spawn("w", move || {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("factory failed");
            }
            Worker {
                count: 0,
                log: Log::default(),
            }
        })
        .unwrap();
    // Messages sent before the failed start are kept for the new instance.
    w.tell(WMsg::Add(2));
    assert_eq!(w.ask(WMsg::Get, WAIT).await.unwrap(), 2);
    assert_eq!(made.load(Ordering::SeqCst), 2);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_factory_that_always_panics_hits_the_restart_limit() {
    let system = limited(3);
    let made = Arc::new(AtomicUsize::new(0));
    let counter = made.clone();
    let w: ActorRef<WMsg> = system
        .spawn("w", move || -> Worker {
            counter.fetch_add(1, Ordering::SeqCst);
            panic!("factory always fails");
        })
        .unwrap();
    terminated(&system, &w).await;
    assert_eq!(
        made.load(Ordering::SeqCst),
        4,
        "first start and three restarts"
    );
    system.terminate().await;
}

/// Fails in `started` on its first incarnation (by error or panic).
struct FlakyStart {
    incarnation: usize,
    panic: bool,
    log: Log,
}

impl Actor for FlakyStart {
    type Msg = ReplyTo<usize>;

    async fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.log.push(format!("started {}", self.incarnation));
        if self.incarnation == 0 {
            if self.panic {
                panic!("started panicked");
            }
            return Err(ActorError::msg("started failed"));
        }
        Ok(())
    }

    async fn handle(
        &mut self,
        reply: ReplyTo<usize>,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let _ = reply.send(self.incarnation);
        Ok(())
    }

    async fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.log.push(format!("stopped {}", self.incarnation));
    }
}

async fn failing_start(panic: bool) {
    let system = system();
    let log = Log::default();
    let log2 = log.clone();
    let mut incarnation = 0;
    let a = system
        .spawn("a", move || {
            incarnation += 1;
            FlakyStart {
                incarnation: incarnation - 1,
                panic,
                log: log2.clone(),
            }
        })
        .unwrap();
    assert_eq!(a.ask(|r| r, WAIT).await.unwrap(), 1);
    assert_eq!(log.entries(), ["started 0", "stopped 0", "started 1"]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn error_in_started_restarts() {
    failing_start(false).await;
}

#[tokio::test(start_paused = true)]
async fn panic_in_started_restarts() {
    failing_start(true).await;
}

#[tokio::test(start_paused = true)]
async fn failures_are_reported_with_their_kind() {
    let system = system();
    let (p, mut rx) = probe::<String>(&system);
    let strategy = no_backoff(SupervisorStrategy::restart()).with_decider(move |f| {
        p.tell(format!("panic={} {f}", f.is_panic()));
        Directive::Resume
    });
    let (_top, w) = chain(&system, vec![strategy], &Log::default()).await;
    w.tell(WMsg::Fail);
    assert_eq!(recv(&mut rx).await, "panic=false error: boom");
    w.tell(WMsg::Panic);
    assert_eq!(recv(&mut rx).await, "panic=true panic: kaboom");
    system.terminate().await;
}
