//! Death watch: the `terminated` hook, `watch_with`, death pact, watching
//! the dead, unwatch, and a parent watching its own child.

mod common;

use common::{Log, WAIT, nothing_within, probe, recv, system, terminated};
use ferrocast_actor::*;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Does nothing; a target to watch.
struct Idle;

impl Actor for Idle {
    type Msg = ReplyTo<()>;
    async fn handle(&mut self, r: ReplyTo<()>, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let _ = r.send(());
        Ok(())
    }
}

/// Watches on request and reports each termination to a channel.
struct Watcher {
    events: mpsc::UnboundedSender<String>,
    /// `None`: use the default `terminated` hook (death pact).
    handle_terminated: bool,
    log: Log,
}

enum WMsg {
    Watch(AnyRef),
    WatchWith(AnyRef, String),
    Unwatch(AnyRef),
    Custom(String),
    /// Blocks until `release`, then unwatches the target.
    BlockThenUnwatch {
        target: AnyRef,
        entered: oneshot::Sender<()>,
        release: oneshot::Receiver<()>,
    },
    Ack(ReplyTo<()>),
}

impl Actor for Watcher {
    type Msg = WMsg;

    async fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.log.push("started");
        Ok(())
    }

    async fn handle(&mut self, msg: WMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            WMsg::Watch(t) => ctx.watch(t),
            WMsg::WatchWith(t, m) => ctx.watch_with(t, WMsg::Custom(m)),
            WMsg::Unwatch(t) => ctx.unwatch(t),
            WMsg::Custom(m) => {
                let _ = self.events.send(format!("custom {m}"));
            }
            WMsg::BlockThenUnwatch {
                target,
                entered,
                release,
            } => {
                let _ = entered.send(());
                let _ = release.await;
                ctx.unwatch(target);
            }
            WMsg::Ack(r) => {
                let _ = r.send(());
            }
        }
        Ok(())
    }

    async fn terminated(
        &mut self,
        actor: AnyRef,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        if !self.handle_terminated {
            return Err(ActorError::msg(format!("death pact: {actor}")));
        }
        let _ = self.events.send(format!("terminated {}", actor.path()));
        Ok(())
    }
}

struct Setup {
    system: ActorSystem,
    target: ActorRef<ReplyTo<()>>,
    watcher: ActorRef<WMsg>,
    events: mpsc::UnboundedReceiver<String>,
    log: Log,
}

async fn setup(handle_terminated: bool) -> Setup {
    let system = system();
    let target = system.spawn("target", || Idle).unwrap();
    let (tx, events) = mpsc::unbounded_channel();
    let log = Log::default();
    let log2 = log.clone();
    let watcher = system
        .spawn("watcher", move || Watcher {
            events: tx.clone(),
            handle_terminated,
            log: log2.clone(),
        })
        .unwrap();
    target.ask(|r| r, WAIT).await.unwrap();
    watcher.ask(WMsg::Ack, WAIT).await.unwrap();
    Setup {
        system,
        target,
        watcher,
        events,
        log,
    }
}

#[tokio::test(start_paused = true)]
async fn watch_calls_the_terminated_hook_once() {
    let mut s = setup(true).await;
    s.watcher.tell(WMsg::Watch(s.target.as_any()));
    // Watching twice still reports once.
    s.watcher.tell(WMsg::Watch(s.target.as_any()));
    s.watcher.ask(WMsg::Ack, WAIT).await.unwrap();
    s.system.stop(&s.target);
    assert_eq!(recv(&mut s.events).await, "terminated /user/target");
    assert!(nothing_within(&mut s.events, Duration::from_secs(10)).await);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn watch_with_delivers_the_custom_message_instead_of_the_hook() {
    let mut s = setup(true).await;
    s.watcher
        .tell(WMsg::WatchWith(s.target.as_any(), "target gone".into()));
    s.watcher.ask(WMsg::Ack, WAIT).await.unwrap();
    s.system.stop(&s.target);
    assert_eq!(recv(&mut s.events).await, "custom target gone");
    assert!(nothing_within(&mut s.events, Duration::from_secs(10)).await);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn unhandled_termination_fails_the_watcher() {
    // Death pact: the default hook fails the watcher; its parent (the
    // guardian) restarts it.
    let s = setup(false).await;
    s.watcher.tell(WMsg::Watch(s.target.as_any()));
    s.watcher.ask(WMsg::Ack, WAIT).await.unwrap();
    s.system.stop(&s.target);
    terminated(&s.system, &s.target).await;
    s.watcher.ask(WMsg::Ack, WAIT).await.unwrap();
    assert_eq!(s.log.count("started"), 2);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn watching_a_dead_actor_reports_at_once() {
    let mut s = setup(true).await;
    s.system.stop(&s.target);
    terminated(&s.system, &s.target).await;
    s.watcher.tell(WMsg::Watch(s.target.as_any()));
    assert_eq!(recv(&mut s.events).await, "terminated /user/target");
    s.watcher
        .tell(WMsg::WatchWith(s.target.as_any(), "late".into()));
    assert_eq!(recv(&mut s.events).await, "custom late");
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_watch_racing_with_the_stop_is_still_reported() {
    // The watch reaches the target in the same batch of system messages as
    // its stop: the watcher must still be told.
    let mut s = setup(true).await;
    s.watcher.tell(WMsg::Watch(s.target.as_any()));
    s.system.stop(&s.target);
    assert_eq!(recv(&mut s.events).await, "terminated /user/target");
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn unwatch_prevents_delivery() {
    let mut s = setup(true).await;
    s.watcher.tell(WMsg::Watch(s.target.as_any()));
    s.watcher.tell(WMsg::Unwatch(s.target.as_any()));
    s.watcher.ask(WMsg::Ack, WAIT).await.unwrap();
    s.system.stop(&s.target);
    terminated(&s.system, &s.target).await;
    // Anything on its way would be handled before this ask's message.
    s.watcher.ask(WMsg::Ack, WAIT).await.unwrap();
    assert!(s.events.try_recv().is_err());
    assert_eq!(s.log.count("started"), 1);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn unwatch_drops_a_termination_already_on_its_way() {
    let mut s = setup(false).await;
    s.watcher.tell(WMsg::Watch(s.target.as_any()));
    let (entered_tx, entered) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    s.watcher.tell(WMsg::BlockThenUnwatch {
        target: s.target.as_any(),
        entered: entered_tx,
        release: release_rx,
    });
    entered.await.unwrap();
    // The termination is queued for the blocked watcher...
    s.system.stop(&s.target);
    terminated(&s.system, &s.target).await;
    // ... which unwatches before it gets to it.
    release.send(()).unwrap();
    s.watcher.ask(WMsg::Ack, WAIT).await.unwrap();
    assert!(s.events.try_recv().is_err());
    // With the default hook, a delivered termination would have failed it.
    assert_eq!(s.log.count("started"), 1);
    s.system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_watcher_that_stops_is_not_told() {
    let mut s = setup(true).await;
    s.watcher.tell(WMsg::Watch(s.target.as_any()));
    s.watcher.ask(WMsg::Ack, WAIT).await.unwrap();
    s.system.stop(&s.watcher);
    terminated(&s.system, &s.watcher).await;
    let before = s.system.dead_letter_count();
    s.system.stop(&s.target);
    terminated(&s.system, &s.target).await;
    assert!(s.events.try_recv().is_err());
    assert_eq!(s.system.dead_letter_count(), before);
    s.system.terminate().await;
}

/// Spawns a child, watches it, and stops it on request.
struct Parent {
    child: Option<ActorRef<ReplyTo<()>>>,
    events: ActorRef<String>,
}

enum PMsg {
    StopChild,
    /// How many children it has now.
    Children(ReplyTo<usize>),
}

impl Actor for Parent {
    type Msg = PMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let child = ctx.spawn("child", || Idle)?;
        ctx.watch(&child);
        self.child = Some(child);
        Ok(())
    }

    async fn handle(&mut self, msg: PMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            PMsg::StopChild => {
                if let Some(c) = &self.child {
                    ctx.stop_child(c);
                }
            }
            PMsg::Children(r) => {
                let _ = r.send(ctx.children().len());
            }
        }
        Ok(())
    }

    async fn terminated(
        &mut self,
        actor: AnyRef,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let still_child = ctx.children().contains(&actor);
        self.events.tell(format!(
            "terminated {} still_child={still_child}",
            actor.path()
        ));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_parent_watching_its_child_is_told_once() {
    let system = system();
    let (events, mut rx) = probe::<String>(&system);
    let p = system
        .spawn("p", move || Parent {
            child: None,
            events: events.clone(),
        })
        .unwrap();
    assert_eq!(p.ask(PMsg::Children, WAIT).await.unwrap(), 1);
    p.tell(PMsg::StopChild);
    assert_eq!(
        recv(&mut rx).await,
        "terminated /user/p/child still_child=false"
    );
    assert_eq!(p.ask(PMsg::Children, WAIT).await.unwrap(), 0);
    assert!(nothing_within(&mut rx, Duration::from_secs(10)).await);
    system.terminate().await;
}

/// Blocks on request; its stop waits until the handler returns.
struct Slow;

impl Actor for Slow {
    type Msg = (oneshot::Sender<()>, oneshot::Receiver<()>);
    async fn handle(&mut self, msg: Self::Msg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let (entered, release) = msg;
        let _ = entered.send(());
        let _ = release.await;
        Ok(())
    }
}

/// Watches an actor with a custom message and has a slow child, so that a
/// restart takes a while.
struct RestartingWatcher {
    events: ActorRef<String>,
    child: Option<ActorRef<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

enum RMsg {
    WatchWith(AnyRef),
    BlockChild(oneshot::Sender<()>, oneshot::Receiver<()>),
    Fail,
    Gone,
    Ack(ReplyTo<()>),
}

impl Actor for RestartingWatcher {
    type Msg = RMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.child = Some(ctx.spawn("slow", || Slow)?);
        self.events.tell("started".into());
        Ok(())
    }

    async fn handle(&mut self, msg: RMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            RMsg::WatchWith(t) => ctx.watch_with(t, RMsg::Gone),
            RMsg::BlockChild(entered, release) => {
                if let Some(c) = &self.child {
                    c.tell((entered, release));
                }
            }
            RMsg::Fail => return Err(ActorError::msg("fail")),
            RMsg::Gone => self.events.tell("gone".into()),
            RMsg::Ack(r) => {
                let _ = r.send(());
            }
        }
        Ok(())
    }

    async fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.events.tell("stopped".into());
    }
}

#[tokio::test(start_paused = true)]
async fn a_termination_seen_while_restarting_reaches_the_new_instance() {
    let system = system();
    let (events, mut rx) = probe::<String>(&system);
    let target = system.spawn("target", || Idle).unwrap();
    let w = system
        .spawn("w", move || RestartingWatcher {
            events: events.clone(),
            child: None,
        })
        .unwrap();
    assert_eq!(recv(&mut rx).await, "started");
    w.tell(RMsg::WatchWith(target.as_any()));
    let (entered, entered_rx) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    w.tell(RMsg::BlockChild(entered, release_rx));
    entered_rx.await.unwrap();
    // The watcher fails; its restart waits for the blocked child to stop.
    w.tell(RMsg::Fail);
    assert_eq!(recv(&mut rx).await, "stopped");
    system.stop(&target);
    terminated(&system, &target).await;
    release.send(()).unwrap();
    assert_eq!(recv(&mut rx).await, "started");
    assert_eq!(recv(&mut rx).await, "gone");
    w.ask(RMsg::Ack, WAIT).await.unwrap();
    system.terminate().await;
}
