use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Actor, ActorError, AnyRef, Context, Failure, HarnessError, SyncHarness};

/// What the test actor's hooks did, shared with the test (the instance
/// itself is gone after a stop).
type Journal = Arc<Mutex<Vec<String>>>;

fn entries(journal: &Journal) -> Vec<String> {
    journal.lock().unwrap().clone()
}

struct Subject {
    total: u64,
    journal: Journal,
    child_created: Arc<AtomicBool>,
}

#[derive(Debug, PartialEq)]
enum Cmd {
    Add(u64),
    TellSelf(u64),
    ViaAdapter(u32),
    Spawn(&'static str),
    StartTimer,
    CancelTimer,
    Fail,
    Panic,
    Stop,
    Block,
    Stash(u64),
    Unstash,
    WatchWith(AnyRef),
    Watch(AnyRef),
    WatchedStopped,
}

impl Actor for Subject {
    type Msg = Cmd;

    async fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.journal.lock().unwrap().push("started".into());
        Ok(())
    }

    async fn handle(&mut self, msg: Cmd, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            Cmd::Add(n) => self.total += n,
            Cmd::TellSelf(n) => ctx.myself().tell(Cmd::Add(n)),
            Cmd::ViaAdapter(n) => ctx.message_adapter(|n: u32| Cmd::Add(u64::from(n))).tell(n),
            Cmd::Spawn(name) => {
                let created = self.child_created.clone();
                ctx.spawn(name, move || {
                    created.store(true, Ordering::SeqCst);
                    Child
                })?;
            }
            Cmd::StartTimer => ctx.start_single_timer("tick", Cmd::Add(1), Duration::from_secs(1)),
            Cmd::CancelTimer => ctx.cancel_timer("tick"),
            Cmd::Fail => return Err(ActorError::msg("asked to fail")),
            Cmd::Panic => panic!("asked to panic"),
            Cmd::Stop => ctx.stop(),
            Cmd::Block => std::future::pending::<()>().await,
            Cmd::Stash(n) => ctx.stash(Cmd::Add(n)).map_err(ActorError::msg)?,
            Cmd::Unstash => ctx.unstash_all(),
            Cmd::WatchWith(target) => ctx.watch_with(target, Cmd::WatchedStopped),
            Cmd::Watch(target) => ctx.watch(target),
            Cmd::WatchedStopped => self.journal.lock().unwrap().push("watched stopped".into()),
        }
        Ok(())
    }

    async fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.journal
            .lock()
            .unwrap()
            .push(format!("stopped at {}", self.total));
    }
}

struct Child;

impl Actor for Child {
    type Msg = ();
    async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        Ok(())
    }
}

struct Fixture {
    harness: SyncHarness<Subject>,
    journal: Journal,
    child_created: Arc<AtomicBool>,
}

fn fixture() -> Fixture {
    let journal = Journal::default();
    let child_created = Arc::new(AtomicBool::new(false));
    let (j, c) = (journal.clone(), child_created.clone());
    let harness = SyncHarness::new(move || Subject {
        total: 0,
        journal: j.clone(),
        child_created: c.clone(),
    })
    .expect("the subject starts");
    Fixture {
        harness,
        journal,
        child_created,
    }
}

#[test]
fn started_runs_on_creation_and_handlers_change_state() {
    let mut f = fixture();
    assert_eq!(entries(&f.journal), ["started"]);
    f.harness.run(Cmd::Add(2)).unwrap();
    f.harness.run(Cmd::Add(3)).unwrap();
    assert_eq!(f.harness.actor().total, 5);
    f.harness.actor_mut().total = 40;
    f.harness.run(Cmd::Add(2)).unwrap();
    assert_eq!(f.harness.actor().total, 42);
    assert_eq!(f.harness.actor_ref().path().as_str(), "/user/testkit");
}

#[test]
fn self_messages_wait_in_the_mailbox() {
    let mut f = fixture();
    f.harness.run(Cmd::TellSelf(7)).unwrap();
    f.harness.run(Cmd::ViaAdapter(8)).unwrap();
    assert_eq!(
        f.harness.actor().total,
        0,
        "self messages are not handled by themselves"
    );
    assert_eq!(f.harness.mailbox_len(), 2);
    assert_eq!(f.harness.self_messages(), [Cmd::Add(7), Cmd::Add(8)]);
    assert_eq!(f.harness.mailbox_len(), 0);
}

#[test]
fn run_self_messages_handles_only_what_was_waiting() {
    let mut f = fixture();
    f.harness.actor_ref().tell(Cmd::TellSelf(1));
    f.harness.actor_ref().tell(Cmd::Add(10));
    assert_eq!(f.harness.run_self_messages().unwrap(), 2);
    assert_eq!(f.harness.actor().total, 10);
    // The message `TellSelf` sent waits for the next call.
    assert_eq!(f.harness.run_self_messages().unwrap(), 1);
    assert_eq!(f.harness.actor().total, 11);
    assert_eq!(f.harness.run_self_messages().unwrap(), 0);
}

#[test]
fn children_are_spawned_but_never_run() {
    let mut f = fixture();
    f.harness.run(Cmd::Spawn("worker")).unwrap();
    let child = f.harness.child("worker").expect("child listed");
    assert_eq!(child.path().as_str(), "/user/testkit/worker");
    assert_eq!(f.harness.children(), [child]);
    assert!(
        !f.child_created.load(Ordering::SeqCst),
        "a child's factory never runs"
    );
    let taken = f.harness.run(Cmd::Spawn("worker"));
    assert!(matches!(
        taken,
        Err(HarnessError::Failed(Failure::Error(_)))
    ));
}

#[test]
fn stop_runs_the_stopped_hook_and_children_count_as_stopped() {
    let mut f = fixture();
    f.harness.run(Cmd::Spawn("a")).unwrap();
    f.harness.run(Cmd::Spawn("b")).unwrap();
    f.harness.run(Cmd::Add(3)).unwrap();
    assert!(!f.harness.is_stopped());
    f.harness.run(Cmd::Stop).unwrap();
    assert!(f.harness.is_stopped());
    assert!(f.harness.children().is_empty());
    assert_eq!(entries(&f.journal), ["started", "stopped at 3"]);
    assert!(f.harness.actor_ref().is_terminated());
    match f.harness.run(Cmd::Add(1)) {
        Err(HarnessError::Stopped(msg)) => assert_eq!(msg, Cmd::Add(1)),
        other => panic!("expected Stopped, got {other:?}"),
    }
}

#[test]
fn mailbox_goes_to_dead_letters_on_stop() {
    let mut f = fixture();
    f.harness.run(Cmd::TellSelf(1)).unwrap();
    let before = f.harness.system().dead_letter_count();
    f.harness.stop().unwrap();
    assert!(f.harness.is_stopped());
    assert_eq!(f.harness.system().dead_letter_count(), before + 1);
    assert_eq!(f.harness.mailbox_len(), 0);
}

#[test]
#[should_panic(expected = "no instance")]
fn actor_panics_after_stop() {
    let mut f = fixture();
    f.harness.stop().unwrap();
    let _ = f.harness.actor();
}

#[test]
fn timers_are_recorded_but_never_fire() {
    let mut f = fixture();
    assert!(!f.harness.is_timer_active("tick"));
    f.harness.run(Cmd::StartTimer).unwrap();
    assert!(f.harness.is_timer_active("tick"));
    assert_eq!(f.harness.mailbox_len(), 0);
    f.harness.run(Cmd::CancelTimer).unwrap();
    assert!(!f.harness.is_timer_active("tick"));
}

#[test]
fn a_failure_suspends_until_resume_which_keeps_state() {
    let mut f = fixture();
    f.harness.run(Cmd::Add(5)).unwrap();
    match f.harness.run(Cmd::Fail) {
        Err(HarnessError::Failed(Failure::Error(e))) => assert_eq!(e.to_string(), "asked to fail"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(f.harness.is_suspended());
    assert!(matches!(
        f.harness.run(Cmd::Add(1)),
        Err(HarnessError::Suspended(Cmd::Add(1)))
    ));
    f.harness.resume().unwrap();
    assert!(!f.harness.is_suspended());
    f.harness.run(Cmd::Add(1)).unwrap();
    assert_eq!(f.harness.actor().total, 6);
}

#[test]
fn restart_makes_a_fresh_instance() {
    let mut f = fixture();
    f.harness.run(Cmd::Add(5)).unwrap();
    f.harness.run(Cmd::Spawn("worker")).unwrap();
    let failed = f.harness.run(Cmd::Panic);
    match failed {
        Err(HarnessError::Failed(failure)) => {
            assert!(failure.is_panic());
            assert!(failure.to_string().contains("asked to panic"));
        }
        other => panic!("expected a panic failure, got {other:?}"),
    }
    f.harness.restart().unwrap();
    assert_eq!(f.harness.actor().total, 0);
    assert!(f.harness.children().is_empty(), "children stop on restart");
    assert_eq!(entries(&f.journal), ["started", "stopped at 5", "started"]);
}

#[test]
fn awaiting_a_runtime_is_reported_as_pending() {
    let mut f = fixture();
    assert!(matches!(
        f.harness.run(Cmd::Block),
        Err(HarnessError::Pending)
    ));
    // The blocked handler was dropped; the actor goes on.
    f.harness.run(Cmd::Add(1)).unwrap();
    assert_eq!(f.harness.actor().total, 1);
}

#[test]
fn pending_or_failing_start_is_an_error() {
    struct Sleepy;
    impl Actor for Sleepy {
        type Msg = ();
        async fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
            std::future::pending().await
        }
        async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) -> Result<(), ActorError> {
            Ok(())
        }
    }
    assert!(matches!(
        SyncHarness::new(|| Sleepy),
        Err(HarnessError::Pending)
    ));

    let panicking = SyncHarness::<Child>::new(|| panic!("no child today"));
    match panicking {
        Err(HarnessError::Failed(f)) => assert!(f.to_string().contains("no child today")),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn unstash_handles_stashed_messages_in_order_within_the_step() {
    let mut f = fixture();
    f.harness.run(Cmd::Stash(1)).unwrap();
    f.harness.run(Cmd::Stash(2)).unwrap();
    assert_eq!(f.harness.stash_len(), 2);
    assert_eq!(f.harness.actor().total, 0);
    f.harness.run(Cmd::Unstash).unwrap();
    assert_eq!(f.harness.stash_len(), 0);
    assert_eq!(f.harness.actor().total, 3);
}

#[test]
fn a_watched_actor_stopping_is_seen_on_the_next_step() {
    let mut f = fixture();
    let mut other = SyncHarness::new(|| Child).unwrap();
    f.harness
        .run(Cmd::WatchWith(other.actor_ref().as_any()))
        .unwrap();
    // Stopping `other` answers the watch; the termination waits in the
    // watcher's system queue until its next step.
    other.stop().unwrap();
    assert_eq!(entries(&f.journal), ["started"]);
    f.harness.run(Cmd::Add(1)).unwrap();
    assert_eq!(entries(&f.journal), ["started", "watched stopped"]);
    assert_eq!(f.harness.actor().total, 1);
}

#[test]
fn signalled_termination_reaches_watchers() {
    let mut f = fixture();
    let other = SyncHarness::new(|| Child).unwrap();
    let other_ref = other.actor_ref().as_any();
    f.harness.run(Cmd::WatchWith(other_ref.clone())).unwrap();
    f.harness.signal_terminated(&other_ref).unwrap();
    assert_eq!(entries(&f.journal), ["started", "watched stopped"]);

    // Without a custom message, the default `terminated` is a death pact.
    let mut g = fixture();
    g.harness.run(Cmd::Watch(other_ref.clone())).unwrap();
    let pact = g.harness.signal_terminated(other_ref);
    assert!(matches!(pact, Err(HarnessError::Failed(_))));
    assert!(g.harness.is_suspended());
}

#[test]
fn a_termination_for_an_unwatched_actor_is_ignored() {
    let mut f = fixture();
    let other = SyncHarness::new(|| Child).unwrap();
    f.harness.signal_terminated(other.actor_ref()).unwrap();
    assert!(!f.harness.is_suspended());
    assert_eq!(entries(&f.journal), ["started"]);
}
