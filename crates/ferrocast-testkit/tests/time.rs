//! Paused-time helpers: advance fires timers, settle runs ready work without
//! moving the clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferrocast_actor::{Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, Context};
use ferrocast_testkit::{TestProbe, time};
use tokio::time::Instant;

/// Sends `n` to `to` every `interval`, starting one interval after start.
struct Ticker {
    to: ActorRef<u32>,
    interval: Duration,
    ticks: u32,
}

impl Actor for Ticker {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.start_periodic_timer("tick", (), self.interval);
        Ok(())
    }
    async fn handle(&mut self, _tick: (), _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.ticks += 1;
        self.to.tell(self.ticks);
        Ok(())
    }
}

/// Passes a hop count down a chain of actors; the last one records it.
struct Hop {
    next: Option<ActorRef<u64>>,
    seen: Arc<AtomicU64>,
}

impl Actor for Hop {
    type Msg = u64;
    async fn handle(&mut self, hops: u64, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match &self.next {
            Some(next) => next.tell(hops + 1),
            None => self.seen.store(hops, Ordering::SeqCst),
        }
        Ok(())
    }
}

fn system() -> ActorSystem {
    ActorSystem::new("time-test", ActorSystemConfig::default()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn advance_fires_exactly_the_timers_that_are_due() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let to = probe.actor_ref();
    system
        .spawn("ticker", move || Ticker {
            to: to.clone(),
            interval: Duration::from_millis(100),
            ticks: 0,
        })
        .unwrap();
    time::settle().await;
    let start = Instant::now();

    time::advance(Duration::from_millis(99)).await;
    assert_eq!(probe.try_receive(), None);
    time::advance(Duration::from_millis(1)).await;
    assert_eq!(probe.try_receive(), Some(1));
    assert_eq!(probe.try_receive(), None);
    time::advance(Duration::from_millis(250)).await;
    assert_eq!(probe.try_receive(), Some(2));
    assert_eq!(probe.try_receive(), Some(3));
    assert_eq!(probe.try_receive(), None);
    assert_eq!(start.elapsed(), Duration::from_millis(350));
}

#[tokio::test(start_paused = true)]
async fn settle_runs_a_chain_of_actors_without_moving_the_clock() {
    let system = system();
    let seen = Arc::new(AtomicU64::new(0));
    let mut next = None;
    for i in 0..10 {
        let (n, s) = (next.clone(), seen.clone());
        let hop = system
            .spawn(&format!("hop-{i}"), move || Hop {
                next: n.clone(),
                seen: s.clone(),
            })
            .unwrap();
        next = Some(hop);
    }
    let first = next.unwrap();
    let start = Instant::now();
    first.tell(1);
    assert_eq!(seen.load(Ordering::SeqCst), 0, "nothing ran yet");
    time::settle().await;
    assert_eq!(seen.load(Ordering::SeqCst), 10);
    assert_eq!(Instant::now(), start);
}

#[tokio::test(start_paused = true)]
async fn one_settle_round_is_not_enough_for_a_long_chain() {
    // A round polls at most tokio's event interval (61) of ready tasks; a
    // chain of 1000 hops needs many rounds.
    const HOPS: u64 = 1000;
    let system = system();
    let seen = Arc::new(AtomicU64::new(0));
    let mut next = None;
    for i in 0..HOPS {
        let (n, s) = (next.clone(), seen.clone());
        next = Some(
            system
                .spawn(&format!("hop-{i}"), move || Hop {
                    next: n.clone(),
                    seen: s.clone(),
                })
                .unwrap(),
        );
    }
    time::settle().await;
    next.unwrap().tell(1);
    time::settle_rounds(1).await;
    assert_eq!(seen.load(Ordering::SeqCst), 0, "the documented limit");
    time::settle().await;
    assert_eq!(seen.load(Ordering::SeqCst), HOPS);
}

#[tokio::test(start_paused = true)]
async fn advance_waits_for_the_clock_not_for_the_wall() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let to = probe.actor_ref();
    system
        .spawn("slow-ticker", move || Ticker {
            to: to.clone(),
            interval: Duration::from_secs(3600),
            ticks: 0,
        })
        .unwrap();
    time::advance(Duration::from_secs(24 * 3600)).await;
    assert_eq!(probe.receive_n(24, Duration::ZERO).await.last(), Some(&24));
    assert_eq!(probe.try_receive(), None);
}

#[tokio::test]
#[should_panic(expected = "time is not frozen")]
async fn advance_refuses_to_sleep_on_the_wall_clock() {
    time::advance(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn pause_and_resume_control_the_clock() {
    time::pause();
    let start = Instant::now();
    time::advance(Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
    time::resume();
}
