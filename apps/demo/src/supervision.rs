//! The supervision demo: supervision and restarts at work under load.
//!
//! A supervisor spawns workers; one producer task per worker pushes jobs as
//! fast as the bounded mailboxes take them (`send().await` waits for
//! capacity: back-pressure). Every `--fail-every`-th job makes a worker fail,
//! alternately by returning an error and by panicking. The supervisor's
//! strategy restarts the failed worker with backoff; its producer waits
//! meanwhile, the other workers carry on, and nothing else notices. Each
//! second the demo prints throughput, restarts and dead letters; at the end
//! it shuts the system down through coordinated shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferrocast::actor::Backoff;
use ferrocast::prelude::*;

#[derive(Default)]
struct Counters {
    processed: AtomicU64,
    starts: AtomicU64,
    failures: AtomicU64,
}

struct Worker {
    counters: Arc<Counters>,
    fail_every: u64,
    handled: u64,
}

enum Job {
    Work(u64),
}

impl Actor for Worker {
    type Msg = Job;

    async fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.counters.starts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn handle(&mut self, job: Job, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let Job::Work(n) = job;
        self.handled += 1;
        self.counters.processed.fetch_add(1, Ordering::Relaxed);
        if self.handled % self.fail_every == 0 {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
            if (self.handled / self.fail_every) % 2 == 0 {
                panic!("demo: injected panic at job {n}");
            }
            return Err(ActorError::msg(format!("demo: injected error at job {n}")));
        }
        Ok(())
    }
}

struct Supervisor {
    counters: Arc<Counters>,
    workers: usize,
    fail_every: u64,
}

enum SupervisorMsg {
    Workers(ReplyTo<Vec<ActorRef<Job>>>),
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;

    async fn handle(
        &mut self,
        msg: SupervisorMsg,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let SupervisorMsg::Workers(reply) = msg;
        let mut refs = Vec::with_capacity(self.workers);
        for i in 0..self.workers {
            let counters = self.counters.clone();
            let fail_every = self.fail_every;
            let props = Props::new(move || Worker {
                counters: counters.clone(),
                fail_every,
                handled: 0,
            })
            .with_mailbox(MailboxConfig::bounded(4096, OverflowPolicy::Backpressure));
            refs.push(ctx.spawn(&format!("worker-{i}"), props)?);
        }
        let _ = reply.send(refs);
        Ok(())
    }

    fn supervisor_strategy(&self) -> SupervisorStrategy {
        SupervisorStrategy::restart()
            .with_limit(10_000, Duration::from_secs(10))
            .with_backoff(Backoff {
                min: Duration::from_millis(1),
                max: Duration::from_millis(20),
                random_factor: 0.2,
            })
    }
}

/// Runs the supervision demo for `seconds`.
pub(crate) async fn run(seconds: u64, workers: usize, fail_every: u64) -> anyhow::Result<()> {
    // Injected panics are expected here: print one short line, not a trace.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if std::env::var_os("RUST_LOG").is_some() {
            eprintln!("{info}");
        }
    }));

    let system = ActorSystem::new("demo", ActorSystemConfig::default())?;
    let counters = Arc::new(Counters::default());
    let supervisor = system.spawn("supervisor", {
        let counters = counters.clone();
        move || Supervisor {
            counters: counters.clone(),
            workers,
            fail_every,
        }
    })?;
    let refs = supervisor
        .ask(SupervisorMsg::Workers, Duration::from_secs(5))
        .await?;

    println!(
        "ferrocast demo: {} workers under {}, each failing every {} jobs (alternating error and panic); restart with backoff",
        refs.len(),
        supervisor.path(),
        fail_every
    );
    let producers: Vec<_> = refs
        .into_iter()
        .map(|worker| {
            tokio::spawn(async move {
                let mut n = 0u64;
                while worker.send(Job::Work(n)).await.is_ok() {
                    n += 1;
                    if n % 1024 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();

    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    let mut last = 0;
    let mut peak = 0;
    for second in 1..=seconds {
        ticks.tick().await;
        let processed = counters.processed.load(Ordering::Relaxed);
        let rate = processed - last;
        peak = peak.max(rate);
        last = processed;
        let starts = counters.starts.load(Ordering::Relaxed);
        println!(
            "t={second:>3}s  {:>12} msg/s  processed {:>12}  failures {:>5}  restarts {:>5}  dead letters {}",
            group(rate),
            group(processed),
            counters.failures.load(Ordering::Relaxed),
            starts.saturating_sub(workers as u64),
            system.dead_letter_count()
        );
    }

    system.terminate().await;
    for p in producers {
        p.await?;
    }
    println!(
        "done: {} messages, peak {} msg/s, {} failures, {} restarts; coordinated shutdown complete, dead letters {}",
        group(counters.processed.load(Ordering::Relaxed)),
        group(peak),
        counters.failures.load(Ordering::Relaxed),
        counters
            .starts
            .load(Ordering::Relaxed)
            .saturating_sub(workers as u64),
        system.dead_letter_count()
    );
    std::panic::set_hook(previous);
    Ok(())
}

pub(crate) fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
