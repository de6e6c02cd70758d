//! TestProbe: receiving, timeouts, fishing, death watch. All on paused time.

use std::time::Duration;

use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, AnyRef, Context, TrySendError,
};
use ferrocast_testkit::{DEFAULT_TIMEOUT, FishingOutcome, TestProbe};
use tokio::time::Instant;

/// Forwards numbers to `to`, now or after a delay (through a timer), and
/// stops when asked.
struct Relay {
    to: ActorRef<u32>,
}

enum RelayMsg {
    Now(u32),
    After(u32, Duration),
    Stop,
}

impl Actor for Relay {
    type Msg = RelayMsg;
    async fn handle(&mut self, msg: RelayMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            RelayMsg::Now(n) => self.to.tell(n),
            RelayMsg::After(n, delay) => {
                ctx.start_single_timer(u64::from(n), RelayMsg::Now(n), delay)
            }
            RelayMsg::Stop => ctx.stop(),
        }
        Ok(())
    }
}

fn system() -> ActorSystem {
    ActorSystem::new("probe-test", ActorSystemConfig::default()).unwrap()
}

fn relay_to(system: &ActorSystem, probe: &TestProbe<u32>) -> ActorRef<RelayMsg> {
    let to = probe.actor_ref();
    system
        .spawn_anonymous(move || Relay { to: to.clone() })
        .unwrap()
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn receives_what_actors_send_in_order() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let relay = relay_to(&system, &probe);
    relay.tell(RelayMsg::Now(1));
    relay.tell(RelayMsg::Now(2));
    assert_eq!(probe.expect_msg(SECOND).await, 1);
    probe.expect_msg_eq(2).await;
    probe.expect_no_msg(SECOND).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "timeout (1s) while waiting for a message of type u32")]
async fn expect_msg_panics_on_timeout() {
    let system = system();
    let mut probe = TestProbe::<u32>::new(&system);
    probe.expect_msg(SECOND).await;
}

#[tokio::test(start_paused = true)]
async fn waits_take_exactly_their_timeout_on_the_paused_clock() {
    let system = system();
    let mut probe = TestProbe::<u32>::new(&system);
    let start = Instant::now();
    probe.expect_no_msg(Duration::from_millis(1500)).await;
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "expected no message for 1s, got a u32")]
async fn expect_no_msg_panics_when_one_arrives() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let relay = relay_to(&system, &probe);
    relay.tell(RelayMsg::After(9, Duration::from_millis(500)));
    probe.expect_no_msg(SECOND).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "unexpected message")]
async fn expect_msg_eq_panics_on_a_different_message() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    probe.actor_ref().tell(1u32);
    probe.expect_msg_eq(2).await;
}

#[tokio::test(start_paused = true)]
async fn expect_msg_within_accepts_a_message_inside_the_window() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let relay = relay_to(&system, &probe);
    relay.tell(RelayMsg::After(5, Duration::from_millis(500)));
    let start = Instant::now();
    let msg = probe
        .expect_msg_within(Duration::from_millis(400), Duration::from_millis(600))
        .await;
    assert_eq!(msg, 5);
    assert_eq!(start.elapsed(), Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "before the minimum 600ms")]
async fn expect_msg_within_rejects_an_early_message() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let relay = relay_to(&system, &probe);
    relay.tell(RelayMsg::After(5, Duration::from_millis(500)));
    probe
        .expect_msg_within(Duration::from_millis(600), SECOND)
        .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "timeout (400ms)")]
async fn expect_msg_within_rejects_a_late_message() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let relay = relay_to(&system, &probe);
    relay.tell(RelayMsg::After(5, Duration::from_millis(500)));
    probe
        .expect_msg_within(Duration::ZERO, Duration::from_millis(400))
        .await;
}

#[tokio::test(start_paused = true)]
async fn receive_n_collects_in_order() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let relay = relay_to(&system, &probe);
    relay.tell(RelayMsg::After(3, Duration::from_millis(300)));
    relay.tell(RelayMsg::Now(1));
    relay.tell(RelayMsg::After(2, Duration::from_millis(200)));
    assert_eq!(probe.receive_n(3, SECOND).await, [1, 2, 3]);
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "after 2 of 3 messages")]
async fn receive_n_panics_when_short() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    probe.actor_ref().tell(1u32);
    probe.actor_ref().tell(2u32);
    probe.receive_n(3, SECOND).await;
}

#[tokio::test(start_paused = true)]
async fn fishing_skips_until_complete() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    for n in [1u32, 3, 4, 5] {
        probe.actor_ref().tell(n);
    }
    let fished = probe
        .fish_for_message(SECOND, |n| match n % 2 {
            0 => FishingOutcome::Complete,
            _ => FishingOutcome::Continue,
        })
        .await;
    assert_eq!(fished, [1, 3, 4]);
    probe.expect_msg_eq(5).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "fishing failed at message 2: thirteen is unlucky")]
async fn fishing_fails_on_request() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    probe.actor_ref().tell(1u32);
    probe.actor_ref().tell(13u32);
    probe
        .fish_for_message(SECOND, |n| match n {
            13 => FishingOutcome::Fail("thirteen is unlucky".into()),
            _ => FishingOutcome::Continue,
        })
        .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "timeout (1s) while fishing; 1 message(s) did not complete")]
async fn fishing_times_out() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    probe.actor_ref().tell(1u32);
    probe
        .fish_for_message(SECOND, |_| FishingOutcome::Continue)
        .await;
}

#[tokio::test(start_paused = true)]
async fn the_default_timeout_is_a_settable_field() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    assert_eq!(probe.default_timeout, DEFAULT_TIMEOUT);
    let relay = relay_to(&system, &probe);
    relay.tell(RelayMsg::After(1, DEFAULT_TIMEOUT + SECOND));
    probe.default_timeout = DEFAULT_TIMEOUT * 2;
    let start = Instant::now();
    assert_eq!(probe.next_msg().await, 1);
    assert_eq!(start.elapsed(), DEFAULT_TIMEOUT + SECOND);
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "timeout (3s)")]
async fn next_msg_gives_up_after_the_default_timeout() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let relay = relay_to(&system, &probe);
    relay.tell(RelayMsg::After(1, DEFAULT_TIMEOUT + SECOND));
    probe.next_msg().await;
}

#[tokio::test(start_paused = true)]
async fn watch_reports_termination() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let relay = relay_to(&system, &probe);
    probe.watch(&relay);
    relay.tell(RelayMsg::Stop);
    probe.expect_terminated(&relay, SECOND).await;
    assert!(relay.is_terminated());

    // Watching an actor that already stopped reports at once.
    let mut late = TestProbe::<u32>::new(&system);
    late.watch(&relay);
    late.expect_terminated(relay.as_any(), SECOND).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "timeout (1s) while waiting for the termination of /user/")]
async fn expect_terminated_panics_when_the_actor_lives_on() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let relay = relay_to(&system, &probe);
    probe.watch(&relay);
    probe.expect_terminated(&relay, SECOND).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "expected the termination of /user/first, got that of /user/second")]
async fn expect_terminated_names_the_wrong_actor() {
    let system = system();
    let mut probe = TestProbe::<u32>::new(&system);
    let to = probe.actor_ref();
    let first = system
        .spawn("first", move || Relay { to: to.clone() })
        .unwrap();
    let to = probe.actor_ref();
    let second = system
        .spawn("second", move || Relay { to: to.clone() })
        .unwrap();
    probe.watch(&first);
    probe.watch(&second);
    second.tell(RelayMsg::Stop);
    probe.expect_terminated(&first, SECOND).await;
}

#[tokio::test(start_paused = true)]
async fn unwatched_terminations_are_not_reported() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    let quiet = relay_to(&system, &probe);
    let loud = relay_to(&system, &probe);
    probe.watch(&quiet);
    probe.watch(&loud);
    probe.unwatch(&quiet);
    quiet.tell(RelayMsg::Stop);
    loud.tell(RelayMsg::Stop);
    // Had `quiet` been reported, it would come first and fail this.
    probe.expect_terminated(&loud, SECOND).await;
    assert!(quiet.is_terminated());
}

/// Watches an actor and tells `to` when it stops.
struct Watcher {
    target: AnyRef,
    to: ActorRef<u32>,
}

impl Actor for Watcher {
    type Msg = u32;
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.watch_with(self.target.clone(), 99);
        Ok(())
    }
    async fn handle(&mut self, msg: u32, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.to.tell(msg);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_is_a_terminated_actor() {
    let system = system();
    let mut observer = TestProbe::new(&system);
    let watched = TestProbe::<String>::new(&system);
    let watched_ref = watched.actor_ref();
    let (target, to) = (watched.any_ref(), observer.actor_ref());
    system
        .spawn("watcher", move || Watcher {
            target: target.clone(),
            to: to.clone(),
        })
        .unwrap();
    observer.expect_no_msg(SECOND).await;
    assert!(!watched_ref.is_terminated());

    drop(watched);
    assert_eq!(observer.expect_msg(SECOND).await, 99);
    assert!(watched_ref.is_terminated());
    match watched_ref.try_tell("late".into()) {
        Err(TrySendError::Closed(msg)) => assert_eq!(msg, "late"),
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn probes_have_distinct_identities_and_system_paths() {
    let system = system();
    let a = TestProbe::<u32>::new(&system);
    let b = TestProbe::<u32>::new(&system);
    assert_ne!(a.actor_ref(), b.actor_ref());
    assert_eq!(a.actor_ref(), a.actor_ref());
    assert_eq!(a.any_ref().uid().system, system.uid());
    let path = a.path();
    let id = path
        .as_str()
        .strip_prefix("/system/testProbe-")
        .expect("probe path");
    assert_eq!(id.parse::<u64>().unwrap(), a.any_ref().uid().actor);
    let actor = relay_to(&system, &a);
    assert_ne!(actor.uid().actor, a.any_ref().uid().actor);
    assert_ne!(actor.uid().actor, b.any_ref().uid().actor);
}

#[tokio::test(start_paused = true)]
async fn send_and_try_receive_work_on_the_probe_reference() {
    let system = system();
    let mut probe = TestProbe::new(&system);
    assert_eq!(probe.try_receive(), None);
    probe.actor_ref().send(4u32).await.unwrap();
    probe.actor_ref().try_tell(5).unwrap();
    assert_eq!(probe.try_receive(), Some(4));
    assert_eq!(probe.try_receive(), Some(5));
    assert_eq!(probe.try_receive(), None);
}
