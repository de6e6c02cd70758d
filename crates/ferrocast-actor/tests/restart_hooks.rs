//! Restart keeps stashed messages, hooks cannot leak timers, and dead-letter
//! subscribers cannot recurse.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use ferrocast_actor::*;
use tokio::sync::{mpsc, oneshot};

/// Stashes `Hold`s until `Open`; `Boom` fails it (the default strategy
/// restarts). Reports every handled `Hold`.
struct Gate {
    open: bool,
    out: mpsc::UnboundedSender<u32>,
}

enum GateMsg {
    Hold(u32),
    Open,
    Boom,
}

impl Actor for Gate {
    type Msg = GateMsg;
    async fn handle(&mut self, msg: GateMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            GateMsg::Hold(n) if !self.open => {
                ctx.stash(GateMsg::Hold(n))
                    .map_err(|_| ActorError::msg("stash full"))?;
            }
            GateMsg::Hold(n) => {
                let _ = self.out.send(n);
            }
            GateMsg::Open => {
                self.open = true;
                ctx.unstash_all();
            }
            GateMsg::Boom => return Err(ActorError::msg("boom")),
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn restart_returns_stashed_messages_to_the_mailbox_in_order() {
    let system = system();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut instances = 0;
    let gate = system
        .spawn("gate", move || {
            instances += 1;
            // The first instance stashes; the one after the restart is open
            // and never unstashes: it only sees what is in the mailbox.
            Gate {
                open: instances > 1,
                out: tx.clone(),
            }
        })
        .unwrap();
    gate.tell(GateMsg::Hold(1));
    gate.tell(GateMsg::Hold(2));
    gate.tell(GateMsg::Boom);
    gate.tell(GateMsg::Hold(3));
    assert_eq!(recv(&mut rx).await, 1);
    assert_eq!(recv(&mut rx).await, 2);
    assert_eq!(recv(&mut rx).await, 3);
    system.terminate().await;
}

/// Starts a timer in its `stopped` hook.
struct LateTimer {
    out: mpsc::UnboundedSender<&'static str>,
}

impl Actor for LateTimer {
    type Msg = &'static str;
    async fn handle(
        &mut self,
        msg: &'static str,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let _ = self.out.send(msg);
        Ok(())
    }

    async fn stopped(&mut self, ctx: &mut Context<Self>) {
        ctx.start_single_timer("late", "tick", Duration::from_secs(1));
    }
}

#[tokio::test(start_paused = true)]
async fn timers_started_in_the_stopped_hook_never_fire() {
    let system = system();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let actor = system
        .spawn("late", move || LateTimer { out: tx.clone() })
        .unwrap();
    terminated_after_stop(&system, &actor).await;
    let before = system.dead_letter_count();
    assert!(nothing_within(&mut rx, Duration::from_secs(5)).await);
    // Not even as a dead letter: the timer task was cancelled.
    assert_eq!(system.dead_letter_count(), before);
    system.terminate().await;
}

/// Blocks on its first message until the gate opens; subscribes an
/// adapter of itself to dead letters, so with its mailbox full every dead
/// letter it is given is dropped, which makes another dead letter.
struct Stuck {
    gate: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
}

impl Actor for Stuck {
    type Msg = u32;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let adapter = ctx.message_adapter(|_: DeadLetter| 99u32);
        ctx.system().event_stream().subscribe(adapter);
        Ok(())
    }

    async fn handle(&mut self, _m: u32, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_subscriber_that_makes_dead_letters_does_not_recurse() {
    let system = system();
    let (open, gate) = oneshot::channel();
    let gate = Arc::new(Mutex::new(Some(gate)));
    let stuck = system
        .spawn_anonymous(
            Props::new(move || Stuck { gate: gate.clone() })
                .with_mailbox(MailboxConfig::bounded(1, OverflowPolicy::DropNewest)),
        )
        .unwrap();
    stuck.tell(0); // taken: the actor blocks on the gate
    ferrocast_testkit::time::advance(Duration::from_millis(1)).await;
    stuck.tell(1); // fills the mailbox
    let gone = system
        .spawn("gone", || Gate {
            open: true,
            out: mpsc::unbounded_channel().0,
        })
        .unwrap();
    terminated_after_stop(&system, &gone).await;
    let before = system.dead_letter_count();
    gone.tell(GateMsg::Open);
    // The letter to `gone`, and the copy the full subscriber dropped; no
    // endless chain (which would overflow the stack).
    assert_eq!(system.dead_letter_count(), before + 2);
    let _ = open.send(());
    system.terminate().await;
}

async fn terminated_after_stop<M: Send + 'static>(system: &ActorSystem, actor: &ActorRef<M>) {
    let done = watch_termination(system, actor.as_any());
    system.stop(actor);
    done.wait().await;
}

#[tokio::test(start_paused = true)]
async fn failures_are_published_on_the_event_stream() {
    let system = system();
    let (events, mut failed) = probe::<ActorFailed>(&system);
    system.event_stream().subscribe(events);
    let (tx, _rx) = mpsc::unbounded_channel();
    let gate = system
        .spawn("fails", move || Gate {
            open: true,
            out: tx.clone(),
        })
        .unwrap();
    gate.tell(GateMsg::Boom);
    let event = recv(&mut failed).await;
    assert_eq!(event.actor, gate.as_any());
    assert!(event.reason.contains("boom"), "{}", event.reason);
    assert!(!event.panic);
    system.terminate().await;
}
