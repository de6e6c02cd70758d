//! Stash, message adapters, `pipe_to_self`, and `ctx.ask` from an actor.

mod common;

use std::time::Duration;

use common::{WAIT, probe, recv, system, terminated};
use ferrocast_actor::*;
use tokio::sync::{mpsc, oneshot};

/// Stashes items until it is ready.
struct Gate {
    ready: bool,
    seen: Vec<u32>,
    overflowed: Vec<(u32, usize)>,
}

/// Handled items, overflowed items with the stash capacity, stash length.
type GateState = (Vec<u32>, Vec<(u32, usize)>, usize);

enum GMsg {
    Item(u32),
    Ready,
    Seen(ReplyTo<GateState>),
}

impl Actor for Gate {
    type Msg = GMsg;

    async fn handle(&mut self, msg: GMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            GMsg::Item(n) if !self.ready => {
                if let Err(full) = ctx.stash(GMsg::Item(n)) {
                    let GMsg::Item(back) = full.msg else {
                        unreachable!("only items are stashed")
                    };
                    self.overflowed.push((back, full.capacity));
                }
            }
            GMsg::Item(n) => self.seen.push(n),
            GMsg::Ready => {
                self.ready = true;
                ctx.unstash_all();
            }
            GMsg::Seen(r) => {
                let _ = r.send((self.seen.clone(), self.overflowed.clone(), ctx.stash_len()));
            }
        }
        Ok(())
    }
}

fn gate() -> Gate {
    Gate {
        ready: false,
        seen: Vec::new(),
        overflowed: Vec::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn unstash_all_handles_the_stash_in_order_before_later_messages() {
    let system = system();
    let g = system.spawn("g", gate).unwrap();
    for i in 1..=3 {
        g.tell(GMsg::Item(i));
    }
    // Make sure the items are stashed in an earlier turn than the rest.
    let (_, _, stashed) = g.ask(GMsg::Seen, WAIT).await.unwrap();
    assert_eq!(stashed, 3);
    // `Ready` and 4, 5 are taken together; the stash goes between them.
    g.tell(GMsg::Ready);
    g.tell(GMsg::Item(4));
    g.tell(GMsg::Item(5));
    let (seen, overflowed, stashed) = g.ask(GMsg::Seen, WAIT).await.unwrap();
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert!(overflowed.is_empty());
    assert_eq!(stashed, 0);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_stash_gives_the_message_back() {
    let system = system();
    let g = system
        .spawn("g", Props::new(gate).with_stash_capacity(2))
        .unwrap();
    for i in 1..=4 {
        g.tell(GMsg::Item(i));
    }
    g.tell(GMsg::Ready);
    let (seen, overflowed, _) = g.ask(GMsg::Seen, WAIT).await.unwrap();
    assert_eq!(seen, [1, 2]);
    assert_eq!(overflowed, [(3, 2), (4, 2)]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn stashed_messages_are_dead_letters_when_the_actor_stops() {
    let system = system();
    let g = system.spawn("g", gate).unwrap();
    for i in 1..=3 {
        g.tell(GMsg::Item(i));
    }
    g.ask(GMsg::Seen, WAIT).await.unwrap();
    system.stop(&g);
    terminated(&system, &g).await;
    assert_eq!(system.dead_letter_count(), 3);
    system.terminate().await;
}

/// Speaks `String`s; offers an adapter for `u32`s.
struct Speaker {
    heard: Vec<String>,
    /// Every text heard, for tests to wait on.
    events: mpsc::UnboundedSender<String>,
}

enum SMsg {
    Text(String),
    Adapter(ReplyTo<ActorRef<u32>>),
    Heard(ReplyTo<Vec<String>>),
    PipeFrom(oneshot::Receiver<u32>),
    Stop,
}

impl Actor for Speaker {
    type Msg = SMsg;

    async fn handle(&mut self, msg: SMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            SMsg::Text(t) => {
                let _ = self.events.send(t.clone());
                self.heard.push(t);
            }
            SMsg::Adapter(r) => {
                let _ = r.send(ctx.message_adapter(|n: u32| SMsg::Text(format!("number {n}"))));
            }
            SMsg::Heard(r) => {
                let _ = r.send(self.heard.clone());
            }
            SMsg::PipeFrom(rx) => ctx.pipe_to_self(rx, |v| {
                SMsg::Text(match v {
                    Ok(n) => format!("piped {n}"),
                    Err(_) => "pipe dropped".to_owned(),
                })
            }),
            SMsg::Stop => ctx.stop(),
        }
        Ok(())
    }
}

fn speaker(system: &ActorSystem) -> (ActorRef<SMsg>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let s = system
        .spawn("s", move || Speaker {
            heard: Vec::new(),
            events: tx.clone(),
        })
        .unwrap();
    (s, rx)
}

#[tokio::test(start_paused = true)]
async fn a_message_adapter_maps_a_foreign_protocol() {
    let system = system();
    let (s, _events) = speaker(&system);
    let numbers = s.ask(SMsg::Adapter, WAIT).await.unwrap();
    assert_eq!(numbers.path(), s.path());
    assert_eq!(numbers.uid(), s.uid());
    numbers.tell(1);
    s.tell(SMsg::Text("direct".into()));
    numbers.try_tell(2).unwrap();
    numbers.send(3).await.unwrap();
    assert_eq!(
        s.ask(SMsg::Heard, WAIT).await.unwrap(),
        ["number 1", "direct", "number 2", "number 3"]
    );
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn an_adapter_of_a_stopped_actor_is_closed_and_watchable() {
    let system = system();
    let (s, _events) = speaker(&system);
    let numbers = s.ask(SMsg::Adapter, WAIT).await.unwrap();
    let before = system.dead_letter_count();
    s.tell(SMsg::Stop);
    // Watching the adapter watches the actor behind it.
    terminated(&system, &numbers).await;
    assert!(numbers.is_terminated());
    assert!(matches!(numbers.try_tell(5), Err(TrySendError::Closed(5))));
    assert!(matches!(numbers.send(6).await, Err(SendError::Closed(6))));
    numbers.tell(7);
    assert_eq!(system.dead_letter_count(), before + 1);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn pipe_to_self_delivers_the_result_without_blocking_the_handler() {
    let system = system();
    let (s, mut events) = speaker(&system);
    let (tx, rx) = oneshot::channel();
    s.tell(SMsg::PipeFrom(rx));
    // The actor goes on handling messages while the future is pending.
    s.tell(SMsg::Text("meanwhile".into()));
    assert_eq!(recv(&mut events).await, "meanwhile");
    tx.send(42).unwrap();
    assert_eq!(recv(&mut events).await, "piped 42");
    let (tx, rx) = oneshot::channel::<u32>();
    s.tell(SMsg::PipeFrom(rx));
    drop(tx);
    assert_eq!(recv(&mut events).await, "pipe dropped");
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_result_piped_to_a_stopped_actor_is_a_dead_letter() {
    let system = system();
    let (letters, mut dead) = probe::<DeadLetter>(&system);
    system.event_stream().subscribe(letters);
    let (s, _events) = speaker(&system);
    let (tx, rx) = oneshot::channel();
    s.tell(SMsg::PipeFrom(rx));
    s.tell(SMsg::Stop);
    terminated(&system, &s).await;
    tx.send(1).unwrap();
    let letter = recv(&mut dead).await;
    assert_eq!(letter.recipient, s.as_any());
    assert_eq!(letter.reason, DeadLetterReason::Terminated);
    system.terminate().await;
}

/// Doubles numbers, or sits on the request when asked to.
struct Doubler {
    held: Vec<ReplyTo<u32>>,
}

enum DMsg {
    Double(u32, ReplyTo<u32>),
    Hold(ReplyTo<u32>),
}

impl Actor for Doubler {
    type Msg = DMsg;

    async fn handle(&mut self, msg: DMsg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            DMsg::Double(n, r) => {
                let _ = r.send(2 * n);
            }
            DMsg::Hold(r) => self.held.push(r),
        }
        Ok(())
    }
}

/// Asks the doubler and reports each answer (or failure) to a probe.
struct Client {
    doubler: ActorRef<DMsg>,
    report: ActorRef<Result<u32, AskError>>,
}

enum CMsg {
    Request(u32),
    RequestHeld(Duration),
    Answer(Result<u32, AskError>),
}

impl Actor for Client {
    type Msg = CMsg;

    async fn handle(&mut self, msg: CMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            CMsg::Request(n) => ctx.ask(
                &self.doubler,
                move |r| DMsg::Double(n, r),
                WAIT,
                CMsg::Answer,
            ),
            CMsg::RequestHeld(timeout) => ctx.ask(&self.doubler, DMsg::Hold, timeout, CMsg::Answer),
            CMsg::Answer(a) => self.report.tell(a),
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn ctx_ask_maps_the_reply_and_the_timeout_into_messages() {
    let system = system();
    let (report, mut answers) = probe::<Result<u32, AskError>>(&system);
    let doubler = system
        .spawn("doubler", || Doubler { held: Vec::new() })
        .unwrap();
    let d = doubler.clone();
    let client = system
        .spawn("client", move || Client {
            doubler: d.clone(),
            report: report.clone(),
        })
        .unwrap();
    client.tell(CMsg::Request(21));
    assert_eq!(recv(&mut answers).await, Ok(42));
    let timeout = Duration::from_secs(2);
    let asked_at = tokio::time::Instant::now();
    client.tell(CMsg::RequestHeld(timeout));
    assert_eq!(recv(&mut answers).await, Err(AskError::Timeout(timeout)));
    assert_eq!(asked_at.elapsed(), timeout);
    system.stop(&doubler);
    terminated(&system, &doubler).await;
    client.tell(CMsg::Request(1));
    assert_eq!(recv(&mut answers).await, Err(AskError::Terminated));
    system.terminate().await;
}
