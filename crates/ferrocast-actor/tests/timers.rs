//! Timers on paused time: single, periodic, replace, cancel (also when the
//! message is already queued), cancellation on stop and restart.

mod common;

use std::time::Duration;

use common::{WAIT, nothing_within, recv, system, terminated};
use ferrocast_actor::*;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

const SEC: Duration = Duration::from_secs(1);

/// Starts timers on request and reports each tick with its instant.
struct Ticker {
    ticks: mpsc::UnboundedSender<(u32, Instant)>,
}

#[derive(Clone)]
enum TMsg {
    Tick(u32),
    Single(&'static str, u32, Duration),
    Periodic(&'static str, u32, Duration),
    Cancel(&'static str),
    Active(&'static str, Shared<bool>),
    /// Starts `key` (tick 1 after 1 s), blocks until released, then runs
    /// `then`: the tick is queued while it waits.
    StartBlockThen {
        key: &'static str,
        entered: Shared<()>,
        release: Shared<()>,
        then: Box<TMsg>,
    },
    Fail,
    Ack(Shared<()>),
}

/// `TMsg` must be `Clone` for periodic timers; one-shot channels are not,
/// so they travel in a shared slot.
type Shared<T> = std::sync::Arc<std::sync::Mutex<Option<Slot<T>>>>;

enum Slot<T> {
    Reply(oneshot::Sender<T>),
    Wait(oneshot::Receiver<T>),
}

fn reply<T>() -> (Shared<T>, oneshot::Receiver<T>) {
    let (tx, rx) = oneshot::channel();
    (
        std::sync::Arc::new(std::sync::Mutex::new(Some(Slot::Reply(tx)))),
        rx,
    )
}

fn wait_slot() -> (oneshot::Sender<()>, Shared<()>) {
    let (tx, rx) = oneshot::channel();
    (
        tx,
        std::sync::Arc::new(std::sync::Mutex::new(Some(Slot::Wait(rx)))),
    )
}

fn answer<T>(slot: &Shared<T>, value: T) {
    if let Some(Slot::Reply(tx)) = slot.lock().unwrap().take() {
        let _ = tx.send(value);
    }
}

impl Actor for Ticker {
    type Msg = TMsg;

    async fn handle(&mut self, msg: TMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            TMsg::Tick(n) => {
                let _ = self.ticks.send((n, Instant::now()));
            }
            TMsg::Single(key, n, d) => ctx.start_single_timer(key, TMsg::Tick(n), d),
            TMsg::Periodic(key, n, d) => ctx.start_periodic_timer(key, TMsg::Tick(n), d),
            TMsg::Cancel(key) => ctx.cancel_timer(key),
            TMsg::Active(key, r) => answer(&r, ctx.is_timer_active(key)),
            TMsg::StartBlockThen {
                key,
                entered,
                release,
                then,
            } => {
                ctx.start_single_timer(key, TMsg::Tick(1), SEC);
                answer(&entered, ());
                let wait = release.lock().unwrap().take();
                if let Some(Slot::Wait(rx)) = wait {
                    let _ = rx.await;
                }
                match *then {
                    TMsg::Single(key, n, d) => ctx.start_single_timer(key, TMsg::Tick(n), d),
                    TMsg::Cancel(key) => ctx.cancel_timer(key),
                    _ => unreachable!("not used by the tests"),
                }
            }
            TMsg::Fail => return Err(ActorError::msg("fail")),
            TMsg::Ack(r) => answer(&r, ()),
        }
        Ok(())
    }
}

struct Setup {
    system: ActorSystem,
    ticker: ActorRef<TMsg>,
    ticks: mpsc::UnboundedReceiver<(u32, Instant)>,
}

fn setup() -> Setup {
    let system = system();
    let (tx, ticks) = mpsc::unbounded_channel();
    let ticker = system
        .spawn("ticker", move || Ticker { ticks: tx.clone() })
        .unwrap();
    Setup {
        system,
        ticker,
        ticks,
    }
}

impl Setup {
    /// Sends `msg` and waits until it was handled.
    async fn run(&self, msg: TMsg) {
        self.ticker.tell(msg);
        let (r, rx) = reply();
        self.ticker.tell(TMsg::Ack(r));
        tokio::time::timeout(WAIT, rx).await.unwrap().unwrap();
    }

    async fn active(&self, key: &'static str) -> bool {
        let (r, rx) = reply();
        self.ticker.tell(TMsg::Active(key, r));
        tokio::time::timeout(WAIT, rx).await.unwrap().unwrap()
    }

    async fn quiet_for(&mut self, d: Duration) -> bool {
        nothing_within(&mut self.ticks, d).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_single_timer_fires_once_after_its_delay() {
    let mut s = setup();
    s.run(TMsg::Single("k", 1, 3 * SEC)).await;
    let t0 = Instant::now();
    assert_eq!(recv(&mut s.ticks).await, (1, t0 + 3 * SEC));
    assert!(s.quiet_for(60 * SEC).await);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_single_timer_does_not_fire_early() {
    let mut s = setup();
    s.run(TMsg::Single("k", 1, 3 * SEC)).await;
    assert!(s.quiet_for(3 * SEC - Duration::from_millis(1)).await);
    assert_eq!(recv(&mut s.ticks).await.0, 1);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_periodic_timer_fires_every_interval_until_cancelled() {
    let mut s = setup();
    s.run(TMsg::Periodic("p", 7, 2 * SEC)).await;
    let t0 = Instant::now();
    for i in 1..=4 {
        assert_eq!(recv(&mut s.ticks).await, (7, t0 + 2 * i * SEC));
    }
    s.run(TMsg::Cancel("p")).await;
    assert!(s.quiet_for(60 * SEC).await);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn the_same_key_replaces_the_timer() {
    let mut s = setup();
    s.run(TMsg::Single("k", 1, SEC)).await;
    s.run(TMsg::Single("k", 2, 2 * SEC)).await;
    let t0 = Instant::now();
    assert_eq!(recv(&mut s.ticks).await, (2, t0 + 2 * SEC));
    assert!(s.quiet_for(60 * SEC).await);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn different_keys_are_independent() {
    let mut s = setup();
    s.run(TMsg::Single("a", 1, SEC)).await;
    s.run(TMsg::Single("b", 2, 2 * SEC)).await;
    s.run(TMsg::Cancel("a")).await;
    assert_eq!(recv(&mut s.ticks).await.0, 2);
    assert!(s.quiet_for(60 * SEC).await);
    s.system.terminate().await;
}

/// Starts timer "k" and blocks while its tick (1) is queued; `then` runs
/// after release. Returns when `then` has run.
async fn with_queued_tick(s: &Setup, then: TMsg) {
    let (entered, entered_rx) = reply();
    let (release, release_slot) = wait_slot();
    s.ticker.tell(TMsg::StartBlockThen {
        key: "k",
        entered,
        release: release_slot,
        then: Box::new(then),
    });
    entered_rx.await.unwrap();
    // Letting paused time pass beyond the delay lets the timer fire
    // into the blocked actor's mailbox.
    ferrocast_testkit::time::advance(2 * SEC).await;
    release.send(()).unwrap();
    s.run(TMsg::Ack(reply().0)).await;
}

#[tokio::test(start_paused = true)]
async fn a_replaced_timer_does_not_deliver_its_queued_message() {
    let mut s = setup();
    with_queued_tick(&s, TMsg::Single("k", 2, SEC)).await;
    let t0 = Instant::now();
    assert_eq!(recv(&mut s.ticks).await, (2, t0 + SEC));
    assert!(s.quiet_for(60 * SEC).await);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_timer_does_not_deliver_its_queued_message() {
    let mut s = setup();
    with_queued_tick(&s, TMsg::Cancel("k")).await;
    assert!(s.quiet_for(60 * SEC).await);
    assert!(!s.active("k").await);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn timers_are_cancelled_when_the_actor_stops() {
    let s = setup();
    s.run(TMsg::Periodic("p", 1, SEC)).await;
    s.run(TMsg::Single("s", 2, SEC)).await;
    s.system.stop(&s.ticker);
    terminated(&s.system, &s.ticker).await;
    let before = s.system.dead_letter_count();
    ferrocast_testkit::time::advance(60 * SEC).await;
    // A timer still running would send to the dead actor: dead letters.
    assert_eq!(s.system.dead_letter_count(), before);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn timers_are_cancelled_when_the_actor_restarts() {
    let mut s = setup();
    s.run(TMsg::Periodic("p", 1, SEC)).await;
    assert_eq!(recv(&mut s.ticks).await.0, 1);
    s.run(TMsg::Fail).await;
    assert!(!s.active("p").await);
    assert!(s.quiet_for(60 * SEC).await);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn is_timer_active_follows_the_timer() {
    let mut s = setup();
    assert!(!s.active("k").await);
    s.run(TMsg::Single("k", 1, SEC)).await;
    assert!(s.active("k").await);
    recv(&mut s.ticks).await;
    assert!(!s.active("k").await, "a single timer is done once it fired");
    s.run(TMsg::Periodic("p", 2, SEC)).await;
    recv(&mut s.ticks).await;
    assert!(s.active("p").await, "a periodic timer stays active");
    s.run(TMsg::Cancel("p")).await;
    assert!(!s.active("p").await);
    s.system.terminate().await;
}
