//! Lifecycle: stop order, self-stop, dead letters after stop, names, system
//! termination and coordinated shutdown.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Log, WAIT, config, probe, recv, system, terminated, watch_termination};
use ferrocast_actor::*;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A node of a fixed tree; logs its hooks by name.
struct Node {
    name: &'static str,
    log: Log,
}

fn kids(name: &str) -> &'static [&'static str] {
    match name {
        "top" => &["a", "b"],
        "a" => &["a1", "a2"],
        "a1" => &["a1x"],
        _ => &[],
    }
}

enum NMsg {
    StopSelf,
    Ping(ReplyTo<()>),
    Spawn(&'static str, ReplyTo<Result<ActorRef<NMsg>, SpawnError>>),
}

impl Node {
    fn props(name: &'static str, log: &Log) -> Props<Node> {
        let log = log.clone();
        Props::new(move || Node {
            name,
            log: log.clone(),
        })
    }
}

impl Actor for Node {
    type Msg = NMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        for kid in kids(self.name) {
            ctx.spawn(kid, Node::props(kid, &self.log))?;
        }
        Ok(())
    }

    async fn handle(&mut self, msg: NMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            NMsg::StopSelf => ctx.stop(),
            NMsg::Ping(r) => {
                let _ = r.send(());
            }
            NMsg::Spawn(name, r) => {
                let _ = r.send(ctx.spawn(name, Node::props(name, &self.log)));
            }
        }
        Ok(())
    }

    async fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.log.push(self.name);
    }
}

#[tokio::test(start_paused = true)]
async fn stopping_a_parent_stops_children_first() {
    let system = system();
    let log = Log::default();
    let top = system.spawn("top", Node::props("top", &log)).unwrap();
    top.ask(NMsg::Ping, WAIT).await.unwrap();
    assert!(system.stop(&top));
    terminated(&system, &top).await;
    assert_eq!(log.entries().len(), 6, "{:?}", log.entries());
    let before = |child: &str, parent: &str| {
        assert!(
            log.position(child) < log.position(parent),
            "{child} must stop before {parent}: {:?}",
            log.entries()
        );
    };
    before("a1x", "a1");
    before("a1", "a");
    before("a2", "a");
    before("a", "top");
    before("b", "top");
}

#[tokio::test(start_paused = true)]
async fn self_stop_dead_letters_the_rest_of_the_mailbox() {
    let system = system();
    let log = Log::default();
    let n = system.spawn("n", Node::props("n", &log)).unwrap();
    n.ask(NMsg::Ping, WAIT).await.unwrap();
    let done = watch_termination(&system, &n);
    let before = system.dead_letter_count();
    n.tell(NMsg::StopSelf);
    n.tell(NMsg::StopSelf);
    n.tell(NMsg::StopSelf);
    done.wait().await;
    assert!(n.is_terminated());
    assert_eq!(log.entries(), ["n"], "stopped runs once");
    assert_eq!(system.dead_letter_count() - before, 2);
    n.tell(NMsg::StopSelf);
    assert_eq!(system.dead_letter_count() - before, 3);
    assert_eq!(n.ask(NMsg::Ping, WAIT).await, Err(AskError::Terminated));
    assert!(matches!(
        n.try_tell(NMsg::StopSelf),
        Err(TrySendError::Closed(NMsg::StopSelf))
    ));
    assert!(matches!(
        n.send(NMsg::StopSelf).await,
        Err(SendError::Closed(NMsg::StopSelf))
    ));
    assert!(system.top_level("n").is_none());
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn ask_pending_when_the_actor_stops_fails_fast() {
    struct Hoarder(Vec<ReplyTo<()>>);
    impl Actor for Hoarder {
        type Msg = Option<ReplyTo<()>>;
        async fn handle(
            &mut self,
            msg: Self::Msg,
            ctx: &mut Context<Self>,
        ) -> Result<(), ActorError> {
            match msg {
                Some(r) => self.0.push(r),
                None => ctx.stop(),
            }
            Ok(())
        }
    }
    let system = system();
    let h = system.spawn("h", || Hoarder(Vec::new())).unwrap();
    let h2 = h.clone();
    let asking = tokio::spawn(async move { h2.ask(Some, Duration::from_secs(3600)).await });
    ferrocast_testkit::time::advance(Duration::from_secs(1)).await;
    assert!(!asking.is_finished());
    h.tell(None);
    let started = Instant::now();
    assert_eq!(asking.await.unwrap(), Err(AskError::Terminated));
    assert!(started.elapsed() < Duration::from_secs(1));
    system.terminate().await;
}

/// Holds one request until told to stop. Its fields drop in order: the
/// request first, then `_window` (kept only for its `Drop`), which waits
/// until an asker on another thread has seen the request go. That holds open, on purpose,
/// the moment between the instance being dropped and the actor being
/// marked terminated.
struct HoldThenStop {
    held: Option<ReplyTo<()>>,
    took: Option<tokio::sync::oneshot::Sender<()>>,
    _window: AskerWindow,
}

struct AskerWindow {
    /// The asker's result, sent from its thread once it has one.
    result: std::sync::mpsc::Receiver<Result<(), AskError>>,
    seen: Arc<std::sync::Mutex<Option<Result<(), AskError>>>>,
}

impl Drop for AskerWindow {
    fn drop(&mut self) {
        // Waits on an event (the other thread's answer), not on the clock;
        // if that thread fails, the channel closes and this returns.
        *self.seen.lock().unwrap() = self.result.recv().ok();
    }
}

impl Actor for HoldThenStop {
    type Msg = Option<ReplyTo<()>>;
    async fn handle(&mut self, msg: Self::Msg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            Some(r) => {
                self.held = Some(r);
                if let Some(took) = self.took.take() {
                    let _ = took.send(());
                }
            }
            None => ctx.stop(),
        }
        Ok(())
    }
}

/// The stopped instance (and with it the requests it holds) is dropped only
/// after the actor counts as terminated, so an asker on another thread whose
/// request the instance held gets `Terminated`, not `NoReply`.
/// Deterministic: the instance's `Drop` waits until the asker has answered,
/// which would keep any window between the two open.
#[tokio::test]
async fn ask_pending_when_the_actor_stops_fails_as_terminated_on_another_thread() {
    let system = system();
    let (result_tx, result) = std::sync::mpsc::channel();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let (took, took_rx) = tokio::sync::oneshot::channel();
    let mut parts = Some((
        took,
        AskerWindow {
            result,
            seen: seen.clone(),
        },
    ));
    let h = system
        .spawn("h", move || {
            let (took, window) = parts.take().expect("created once");
            HoldThenStop {
                held: None,
                took: Some(took),
                _window: window,
            }
        })
        .unwrap();
    // The asker runs on a thread (and runtime) of its own.
    let asker = {
        let h = h.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let answer = rt.block_on(h.ask(Some, Duration::from_secs(3600)));
            let _ = result_tx.send(answer);
        })
    };
    tokio::time::timeout(WAIT, took_rx).await.unwrap().unwrap();
    h.tell(None);
    terminated(&system, &h).await;
    asker.join().unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(Err(AskError::Terminated)));
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn names_are_unique_among_siblings_only() {
    let system = system();
    let log = Log::default();
    let top = system.spawn("top", Node::props("top", &log)).unwrap();
    let err = top
        .ask(|r| NMsg::Spawn("a", r), WAIT)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err, SpawnError::NameTaken("a".into()));
    // Same name under another parent, and at the top level, is fine.
    let x = top
        .ask(|r| NMsg::Spawn("x", r), WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(x.path().as_str(), "/user/top/x");
    let a = system.spawn("a", Node::props("a", &log)).unwrap();
    assert_eq!(a.path().as_str(), "/user/a");
    let bad = top
        .ask(|r| NMsg::Spawn("$x", r), WAIT)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(bad, SpawnError::InvalidName(_)));
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_top_level_name_is_free_once_its_holder_terminated() {
    let system = system();
    let log = Log::default();
    let first = system.spawn("again", Node::props("again", &log)).unwrap();
    first.ask(NMsg::Ping, WAIT).await.unwrap();
    let done = watch_termination(&system, &first);
    assert!(system.stop(&first));
    done.wait().await;
    let second = system.spawn("again", Node::props("again", &log)).unwrap();
    assert_ne!(second, first);
    assert_eq!(second.path(), first.path());
    second.ask(NMsg::Ping, WAIT).await.unwrap();
    system.terminate().await;
}

/// Stops its child and re-spawns one with the same name when the
/// termination arrives.
struct Respawner {
    child: Option<ActorRef<NMsg>>,
    log: Log,
    done: Option<ReplyTo<Result<ActorRef<NMsg>, SpawnError>>>,
}

impl Actor for Respawner {
    type Msg = ReplyTo<Result<ActorRef<NMsg>, SpawnError>>;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let child = ctx.spawn("kid", Node::props("kid", &self.log))?;
        ctx.watch(&child);
        self.child = Some(child);
        Ok(())
    }

    async fn handle(
        &mut self,
        reply: Self::Msg,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        self.done = Some(reply);
        if let Some(child) = &self.child {
            assert!(ctx.stop_child(child));
        }
        Ok(())
    }

    async fn terminated(
        &mut self,
        _actor: AnyRef,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let again = ctx.spawn("kid", Node::props("kid", &self.log));
        if let Some(done) = self.done.take() {
            let _ = done.send(again);
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_parent_can_reuse_a_child_name_when_told_of_its_termination() {
    let system = system();
    let r = system
        .spawn("r", || Respawner {
            child: None,
            log: Log::default(),
            done: None,
        })
        .unwrap();
    let again = r.ask(|reply| reply, WAIT).await.unwrap().unwrap();
    assert_eq!(again.path().as_str(), "/user/r/kid");
    again.ask(NMsg::Ping, WAIT).await.unwrap();
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn terminate_stops_everything_and_when_terminated_resolves() {
    let system = system();
    let log = Log::default();
    let top = system.spawn("top", Node::props("top", &log)).unwrap();
    let other = system.spawn("other", Node::props("other", &log)).unwrap();
    top.ask(NMsg::Ping, WAIT).await.unwrap();
    let waiter = {
        let system = system.clone();
        tokio::spawn(async move { system.when_terminated().await })
    };
    assert!(!system.is_terminated());
    system.terminate().await;
    assert!(system.is_terminated());
    tokio::time::timeout(WAIT, waiter).await.unwrap().unwrap();
    tokio::time::timeout(WAIT, system.when_terminated())
        .await
        .unwrap();
    assert!(top.is_terminated() && other.is_terminated());
    let mut stopped = log.entries();
    stopped.sort();
    assert_eq!(stopped, ["a", "a1", "a1x", "a2", "b", "other", "top"]);
    assert!(matches!(
        system.spawn("late", Node::props("late", &log)),
        Err(SpawnError::ParentStopping)
    ));
    // Terminating again is harmless.
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn coordinated_shutdown_runs_phases_in_order_while_actors_live() {
    let system = system();
    let log = Log::default();
    let n = system.spawn("n", Node::props("n", &log)).unwrap();
    let cs = system.coordinated_shutdown();
    // Registered out of order on purpose.
    for phase in [
        "cluster-leave",
        "before-service-unbind",
        "before-actor-system-terminate",
    ] {
        let log = log.clone();
        cs.add_task(phase, phase, move || async move { log.push(phase) })
            .unwrap();
    }
    // A task in an early phase can still talk to actors.
    let (n2, log2) = (n.clone(), log.clone());
    cs.add_task("service-unbind", "ask", move || async move {
        let ok = n2.ask(NMsg::Ping, WAIT).await.is_ok();
        log2.push(format!("service-unbind ask ok={ok}"));
    })
    .unwrap();
    // Tasks of one phase run concurrently: each waits for the other.
    let (a, b) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    for (name, mine, theirs) in [("t1", a.clone(), b.clone()), ("t2", b, a)] {
        let log = log.clone();
        cs.add_task("service-stop", name, move || async move {
            theirs.notify_one();
            mine.notified().await;
            log.push(format!("service-stop {name}"));
        })
        .unwrap();
    }
    let started = Instant::now();
    system.terminate().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a phase timed out"
    );
    let mut entries = log.entries();
    // The order within one phase is not defined.
    entries[2..4].sort();
    assert_eq!(
        entries,
        [
            "before-service-unbind",
            "service-unbind ask ok=true",
            "service-stop t1",
            "service-stop t2",
            "cluster-leave",
            "before-actor-system-terminate",
            "n",
        ]
    );
    assert!(cs.is_done());
    assert_eq!(cs.reason(), Some(ShutdownReason::ActorSystemTerminate));
}

#[tokio::test(start_paused = true)]
async fn a_phase_past_its_timeout_is_skipped() {
    let mut c = config();
    c.shutdown.default_phase_timeout = Duration::from_secs(3);
    let system = ActorSystem::new("test", c).unwrap();
    let log = Log::default();
    let cs = system.coordinated_shutdown();
    cs.add_task("service-unbind", "stuck", std::future::pending::<()>)
        .unwrap();
    let l = log.clone();
    cs.add_task(
        "service-stop",
        "after",
        move || async move { l.push("after") },
    )
    .unwrap();
    let started = Instant::now();
    system.terminate().await;
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(log.entries(), ["after"]);
    assert!(system.is_terminated());
}

#[tokio::test(start_paused = true)]
async fn shutdown_task_errors_are_typed() {
    let system = system();
    let cs = system.coordinated_shutdown();
    assert_eq!(
        cs.add_task("no-such-phase", "x", || async {}),
        Err(ShutdownError::UnknownPhase("no-such-phase".into()))
    );
    system.terminate().await;
    assert_eq!(
        cs.add_task("service-unbind", "late", || async {}),
        Err(ShutdownError::AlreadyRunning)
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_shutdown_task_does_not_stop_shutdown() {
    let system = system();
    let log = Log::default();
    let cs = system.coordinated_shutdown();
    cs.add_task("service-unbind", "panics", || async {
        panic!("task failed")
    })
    .unwrap();
    let l = log.clone();
    cs.add_task(
        "service-stop",
        "after",
        move || async move { l.push("after") },
    )
    .unwrap();
    system.terminate().await;
    assert_eq!(log.entries(), ["after"]);
    assert!(system.is_terminated());
    assert!(cs.is_done());
}

#[tokio::test(start_paused = true)]
async fn an_actor_stopped_before_its_first_turn_still_starts_then_stops() {
    // As in Akka, creation comes first: `started` and `stopped` pair up.
    let system = system();
    let log = Log::default();
    let n = system.spawn("n", Node::props("n", &log)).unwrap();
    assert!(system.stop(&n));
    terminated(&system, &n).await;
    assert_eq!(log.entries(), ["n"]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn the_stopped_hook_can_still_message_others() {
    struct Farewell(ActorRef<&'static str>);
    impl Actor for Farewell {
        type Msg = ();
        async fn handle(&mut self, _: (), _ctx: &mut Context<Self>) -> Result<(), ActorError> {
            Ok(())
        }
        async fn stopped(&mut self, _ctx: &mut Context<Self>) {
            self.0.tell("bye");
        }
    }
    let system = system();
    let (p, mut rx) = probe(&system);
    let f = system.spawn("f", move || Farewell(p.clone())).unwrap();
    f.tell(());
    system.stop(&f);
    assert_eq!(recv(&mut rx).await, "bye");
    system.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_free_as_soon_as_a_watcher_sees_the_termination() {
    // The parent removes the child asynchronously; a watcher may hear of
    // the termination first. Spawning the name again must still succeed.
    let system = system();
    let log = Log::default();
    for _ in 0..300 {
        let n = system.spawn("again", Node::props("again", &log)).unwrap();
        let done = watch_termination(&system, &n);
        assert!(system.stop(&n));
        done.wait().await;
    }
    system.terminate().await;
}
