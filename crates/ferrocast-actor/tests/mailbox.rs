//! Mailboxes: the bounded overflow policies, dead letters (counted and
//! published), the unbounded mailbox, and fairness between actors (on the
//! current-thread runtime that `#[tokio::test]` uses).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{WAIT, probe, recv, system, terminated};
use ferrocast_actor::*;
use tokio::sync::{mpsc, oneshot};

/// Records items; can be blocked on a gate so its mailbox fills up.
struct Recorder {
    seen: Vec<u32>,
    /// Every item handled, for tests to wait on.
    items: mpsc::UnboundedSender<u32>,
}

enum RMsg {
    /// Signals `entered`, then waits for `release`.
    Block {
        entered: oneshot::Sender<()>,
        release: oneshot::Receiver<()>,
    },
    Item(u32),
    Seen(ReplyTo<Vec<u32>>),
}

impl Actor for Recorder {
    type Msg = RMsg;

    async fn handle(&mut self, msg: RMsg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            RMsg::Block { entered, release } => {
                let _ = entered.send(());
                let _ = release.await;
            }
            RMsg::Item(n) => {
                self.seen.push(n);
                let _ = self.items.send(n);
            }
            RMsg::Seen(r) => {
                let _ = r.send(self.seen.clone());
            }
        }
        Ok(())
    }
}

fn recorder(
    system: &ActorSystem,
    mailbox: MailboxConfig,
) -> (ActorRef<RMsg>, mpsc::UnboundedReceiver<u32>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let actor = system
        .spawn(
            "rec",
            Props::new(move || Recorder {
                seen: Vec::new(),
                items: tx.clone(),
            })
            .with_mailbox(mailbox),
        )
        .unwrap();
    (actor, rx)
}

/// Waits for exactly these items (and then checks with an ask that
/// nothing else was handled).
async fn expect_items(
    actor: &ActorRef<RMsg>,
    items: &mut mpsc::UnboundedReceiver<u32>,
    want: &[u32],
) {
    for w in want {
        assert_eq!(recv(items).await, *w);
    }
    assert_eq!(actor.ask(RMsg::Seen, WAIT).await.unwrap(), want);
}

/// Blocks the actor inside a handler (so nothing leaves its mailbox) and
/// returns the release.
async fn block(actor: &ActorRef<RMsg>) -> oneshot::Sender<()> {
    let (entered, entered_rx) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    actor.tell(RMsg::Block {
        entered,
        release: release_rx,
    });
    entered_rx.await.unwrap();
    release
}

fn is_item(msg: &RMsg, n: u32) -> bool {
    matches!(msg, RMsg::Item(m) if *m == n)
}

#[tokio::test(start_paused = true)]
async fn drop_newest_keeps_the_first_messages() {
    let system = system();
    let (a, mut items) = recorder(
        &system,
        MailboxConfig::bounded(2, OverflowPolicy::DropNewest),
    );
    let release = block(&a).await;
    for i in 1..=4 {
        a.tell(RMsg::Item(i));
    }
    assert!(a.try_tell(RMsg::Item(5)).is_ok(), "senders see success");
    assert!(a.send(RMsg::Item(6)).await.is_ok());
    assert_eq!(system.dead_letter_count(), 4);
    release.send(()).unwrap();
    expect_items(&a, &mut items, &[1, 2]).await;
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn drop_oldest_keeps_the_last_messages() {
    let system = system();
    let (a, mut items) = recorder(
        &system,
        MailboxConfig::bounded(2, OverflowPolicy::DropOldest),
    );
    let release = block(&a).await;
    for i in 1..=5 {
        a.tell(RMsg::Item(i));
    }
    assert_eq!(system.dead_letter_count(), 3);
    release.send(()).unwrap();
    expect_items(&a, &mut items, &[4, 5]).await;
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn fail_policy_fails_every_way_of_sending() {
    let system = system();
    let (a, mut items) = recorder(&system, MailboxConfig::bounded(2, OverflowPolicy::Fail));
    let release = block(&a).await;
    a.tell(RMsg::Item(1));
    a.tell(RMsg::Item(2));
    match a.try_tell(RMsg::Item(3)) {
        Err(TrySendError::Full(m)) => assert!(is_item(&m, 3)),
        other => panic!("expected Full, got {other:?}"),
    }
    match a.send(RMsg::Item(4)).await {
        Err(SendError::Full(m)) => assert!(is_item(&m, 4)),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(a.ask(RMsg::Seen, WAIT).await, Err(AskError::MailboxFull));
    assert_eq!(
        system.dead_letter_count(),
        0,
        "refused messages are given back"
    );
    a.tell(RMsg::Item(5));
    assert_eq!(
        system.dead_letter_count(),
        1,
        "a refused tell is a dead letter"
    );
    release.send(()).unwrap();
    expect_items(&a, &mut items, &[1, 2]).await;
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn backpressure_makes_send_wait_for_capacity() {
    let system = system();
    let (a, _items) = recorder(
        &system,
        MailboxConfig::bounded(2, OverflowPolicy::Backpressure),
    );
    let release = block(&a).await;
    a.tell(RMsg::Item(1));
    a.tell(RMsg::Item(2));
    match a.try_tell(RMsg::Item(3)) {
        Err(TrySendError::Full(m)) => assert!(is_item(&m, 3)),
        other => panic!("expected Full, got {other:?}"),
    }
    let sender = {
        let a = a.clone();
        tokio::spawn(async move { a.send(RMsg::Item(4)).await.is_ok() })
    };
    let asker = {
        let a = a.clone();
        tokio::spawn(async move { a.ask(RMsg::Seen, Duration::from_secs(3600)).await })
    };
    // Give both every chance to (wrongly) get through.
    ferrocast_testkit::time::advance(Duration::from_secs(60)).await;
    assert!(
        !sender.is_finished(),
        "send must wait while the mailbox is full"
    );
    assert!(
        !asker.is_finished(),
        "ask must wait while the mailbox is full"
    );
    assert_eq!(system.dead_letter_count(), 0);
    release.send(()).unwrap();
    assert!(tokio::time::timeout(WAIT, sender).await.unwrap().unwrap());
    let seen = tokio::time::timeout(WAIT, asker)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The asker's message got in once capacity appeared, at some point
    // after 1 and 2.
    assert_eq!(&seen[..2], [1, 2]);
    assert_eq!(a.ask(RMsg::Seen, WAIT).await.unwrap(), [1, 2, 4]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn backpressure_ask_times_out_while_full() {
    let system = system();
    let (a, mut items) = recorder(
        &system,
        MailboxConfig::bounded(1, OverflowPolicy::Backpressure),
    );
    let release = block(&a).await;
    a.tell(RMsg::Item(1));
    let d = Duration::from_secs(2);
    assert_eq!(a.ask(RMsg::Seen, d).await, Err(AskError::Timeout(d)));
    release.send(()).unwrap();
    expect_items(&a, &mut items, &[1]).await;
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_sender_waiting_on_a_stopping_actor_gets_closed() {
    let system = system();
    let (a, _items) = recorder(
        &system,
        MailboxConfig::bounded(1, OverflowPolicy::Backpressure),
    );
    let release = block(&a).await;
    a.tell(RMsg::Item(1));
    let sender = {
        let a = a.clone();
        tokio::spawn(async move { a.send(RMsg::Item(2)).await })
    };
    ferrocast_testkit::time::advance(Duration::from_secs(1)).await;
    assert!(
        !sender.is_finished(),
        "send must wait while the mailbox is full"
    );
    system.stop(&a);
    release.send(()).unwrap();
    match tokio::time::timeout(WAIT, sender).await.unwrap().unwrap() {
        Err(SendError::Closed(m)) => assert!(is_item(&m, 2)),
        other => panic!("expected Closed, got {other:?}"),
    }
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn dead_letters_are_counted_and_published() {
    let system = system();
    let (collector, mut letters) = probe::<DeadLetter>(&system);
    system.event_stream().subscribe(collector);
    let (a, mut items) = recorder(
        &system,
        MailboxConfig::bounded(1, OverflowPolicy::DropNewest),
    );
    let release = block(&a).await;
    a.tell(RMsg::Item(1));
    a.tell(RMsg::Item(2));
    let full = recv(&mut letters).await;
    assert_eq!(full.reason, DeadLetterReason::MailboxFull);
    assert_eq!(full.recipient, a.as_any());
    assert!(full.message_type.ends_with("RMsg"), "{}", full.message_type);
    release.send(()).unwrap();
    assert_eq!(recv(&mut items).await, 1);
    system.stop(&a);
    terminated(&system, &a).await;
    a.tell(RMsg::Item(3));
    let gone = recv(&mut letters).await;
    assert_eq!(gone.reason, DeadLetterReason::Terminated);
    assert_eq!(gone.recipient, a.as_any());
    assert_eq!(system.dead_letter_count(), 2);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn messages_queued_at_stop_become_dead_letters() {
    let system = system();
    let (a, _items) = recorder(&system, MailboxConfig::default());
    let release = block(&a).await;
    for i in 0..5 {
        a.tell(RMsg::Item(i));
    }
    system.stop(&a);
    release.send(()).unwrap();
    terminated(&system, &a).await;
    assert_eq!(system.dead_letter_count(), 5);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn the_unbounded_mailbox_takes_everything() {
    let system = system();
    let (a, _items) = recorder(&system, MailboxConfig::unbounded());
    let release = block(&a).await;
    for i in 0..20_000 {
        a.try_tell(RMsg::Item(i)).unwrap();
    }
    assert_eq!(system.dead_letter_count(), 0);
    release.send(()).unwrap();
    let seen = a.ask(RMsg::Seen, WAIT).await.unwrap();
    assert_eq!(seen, (0..20_000).collect::<Vec<_>>());
    system.terminate().await;
}

/// Appends its tag to a shared log per message.
struct Tagger {
    tag: char,
    log: Arc<Mutex<String>>,
}

impl Actor for Tagger {
    type Msg = Option<ReplyTo<()>>;

    async fn handle(&mut self, msg: Self::Msg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.log.lock().unwrap().push(self.tag);
        if let Some(r) = msg {
            let _ = r.send(());
        }
        Ok(())
    }
}

/// Floods a hot actor, then sends one message to a cold one; returns the
/// order in which they were handled.
async fn flood(throughput: usize) -> String {
    let mut config = common::config();
    config.throughput = throughput;
    config.mailbox = MailboxConfig::unbounded();
    let system = ActorSystem::new("fair", config).unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (l1, l2) = (log.clone(), log.clone());
    let hot = system
        .spawn("hot", move || Tagger {
            tag: 'h',
            log: l1.clone(),
        })
        .unwrap();
    let cold = system
        .spawn("cold", move || Tagger {
            tag: 'c',
            log: l2.clone(),
        })
        .unwrap();
    hot.ask(Some, WAIT).await.unwrap();
    cold.ask(Some, WAIT).await.unwrap();
    // Under paused time this returns only once nothing is runnable: both
    // actors are idle, so their next turns start in the order sent below.
    ferrocast_testkit::time::advance(Duration::from_millis(1)).await;
    log.lock().unwrap().clear();
    for _ in 0..200 {
        hot.tell(None);
    }
    cold.tell(None);
    hot.ask(Some, WAIT).await.unwrap();
    system.terminate().await;
    log.lock().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn a_hot_actor_does_not_starve_another() {
    let order = flood(1).await;
    assert_eq!(order.len(), 202);
    let cold_at = order.find('c').unwrap();
    assert!(cold_at <= 2, "cold actor ran only at {cold_at}: {order}");
    // And the hot actor keeps making progress too.
    assert!(order[..10].matches('h').count() >= 5, "{order}");
}

#[tokio::test(start_paused = true)]
async fn throughput_is_the_batch_between_yields() {
    // With a larger throughput the hot actor keeps the thread for that many
    // messages, which shows the yield above is the throughput's doing.
    let order = flood(50).await;
    let cold_at = order.find('c').unwrap();
    // At most `throughput` hot messages before the yield (fewer if the
    // turn already counted some), and clearly more than one.
    assert!(
        (10..=51).contains(&cold_at),
        "cold actor ran at {cold_at}: {order}"
    );
}
