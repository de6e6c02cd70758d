//! Commands, effects, atomic batches, rejection and stashing.

mod common;

use std::sync::Arc;

use common::TIMEOUT;
use common::cart::{Cart, CartCmd, CartError, CartEvent, events};
use common::faulty_journal::FaultyJournal;
use ferrocast_actor::{ActorRef, ActorSystem, ActorSystemConfig, ReplyTo};
use ferrocast_persistence::{
    EventSourcedActor, EventSourcedSetup, Journal, PersistenceId, SequenceNr, Serialization,
};

fn pid(s: &str) -> PersistenceId {
    PersistenceId::new(s).unwrap()
}

fn spawn_cart(system: &ActorSystem, journal: &Arc<FaultyJournal>, id: &str) -> ActorRef<CartCmd> {
    let setup = EventSourcedSetup::<Cart, _>::new(pid(id), journal.clone(), events());
    system
        .spawn(id, EventSourcedActor::props(setup, Cart::default))
        .unwrap()
}

async fn add(cart: &ActorRef<CartCmd>, item: &str, qty: u32) -> Result<Vec<String>, CartError> {
    let item = item.to_owned();
    cart.ask(|r| CartCmd::Add(item, qty, r), TIMEOUT)
        .await
        .unwrap()
        .map(|s| s.order)
}

async fn stored(journal: &FaultyJournal, id: &str) -> Vec<CartEvent> {
    let ser: Serialization<CartEvent> = events();
    journal
        .replay(
            &pid(id),
            SequenceNr::ZERO,
            SequenceNr::MAX,
            std::num::NonZeroUsize::MAX,
        )
        .await
        .unwrap()
        .iter()
        .map(|e| ser.decode(&e.payload).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn commands_persist_events_then_reply_with_new_state() {
    let system = ActorSystem::new("es", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(FaultyJournal::default());
    let cart = spawn_cart(&system, &journal, "cart-1");
    assert_eq!(add(&cart, "apple", 2).await.unwrap(), ["apple"]);
    assert_eq!(add(&cart, "pear", 1).await.unwrap(), ["apple", "pear"]);
    let state = cart.ask(CartCmd::Checkout, TIMEOUT).await.unwrap().unwrap();
    assert!(state.checked_out);
    assert_eq!(
        add(&cart, "fig", 1).await,
        Err(CartError::CheckedOut),
        "a rejected command persists nothing"
    );
    let log = journal
        .replay(
            &pid("cart-1"),
            SequenceNr::ZERO,
            SequenceNr::MAX,
            std::num::NonZeroUsize::MAX,
        )
        .await
        .unwrap();
    let nrs: Vec<u64> = log.iter().map(|e| e.sequence_nr.value()).collect();
    assert_eq!(nrs, [1, 2, 3]);
    assert_eq!(log[2].tags[0].as_str(), "checkout");
    assert_eq!(log[0].payload.manifest.as_str(), "cart.event.v1");
    assert!(log.iter().all(|e| e.writer == log[0].writer));
    assert_ne!(log[0].writer.as_str(), "unstarted");
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn persist_all_is_one_atomic_write() {
    let system = ActorSystem::new("es", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(FaultyJournal::default());
    let cart = spawn_cart(&system, &journal, "cart-batch");
    let items = vec![
        ("a".to_owned(), 1),
        ("b".to_owned(), 2),
        ("c".to_owned(), 3),
    ];
    let state = cart
        .ask(|r| CartCmd::AddMany(items, r), TIMEOUT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.order, ["a", "b", "c"]);
    assert_eq!(journal.write_calls(), 1, "three events, one write");
    assert_eq!(stored(&journal, "cart-batch").await.len(), 3);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn unserializable_event_is_a_typed_rejection_and_the_actor_goes_on() {
    let system = ActorSystem::new("es", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(FaultyJournal::default());
    let cart = spawn_cart(&system, &journal, "cart-poison");
    add(&cart, "apple", 1).await.unwrap();
    let err = add(&cart, "poison", 1).await.unwrap_err();
    assert!(
        matches!(&err, CartError::Rejected(m) if m.contains("event 0") && m.contains("poison")),
        "{err:?}"
    );
    // One bad event rejects its whole batch.
    let items = vec![("b".to_owned(), 1), ("poison".to_owned(), 1)];
    let err = cart
        .ask(|r| CartCmd::AddMany(items, r), TIMEOUT)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, CartError::Rejected(m) if m.contains("event 1")),
        "{err:?}"
    );
    assert_eq!(add(&cart, "pear", 1).await.unwrap(), ["apple", "pear"]);
    assert_eq!(stored(&journal, "cart-poison").await.len(), 2);
    assert_eq!(
        journal.write_calls(),
        2,
        "rejected events never reach the journal"
    );
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn commands_wait_in_order_while_a_persist_is_in_flight() {
    let system = ActorSystem::new("es", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(FaultyJournal::default());
    let cart = spawn_cart(&system, &journal, "cart-order");
    let gate = journal.hold_writes().await;
    let mut answers = Vec::new();
    for item in ["a", "b", "c", "d", "e"] {
        let (reply, rx) = ReplyTo::channel();
        cart.try_tell(CartCmd::Add(item.to_owned(), 1, reply))
            .unwrap();
        answers.push(rx);
        if item == "a" {
            // The first write is in flight (and held) before the rest arrive.
            journal.write_started.notified().await;
        }
    }
    let (get, state_rx) = ReplyTo::channel();
    cart.try_tell(CartCmd::Get(get)).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(journal.write_calls(), 1, "one persist at a time");
    drop(gate);
    let mut seen = Vec::new();
    for rx in answers {
        seen.push(rx.await.unwrap().unwrap().order.len());
    }
    assert_eq!(
        seen,
        [1, 2, 3, 4, 5],
        "each reply sees the events before it"
    );
    assert_eq!(state_rx.await.unwrap().order, ["a", "b", "c", "d", "e"]);
    let log = stored(&journal, "cart-order").await;
    let items: Vec<_> = log
        .iter()
        .map(|e| match e {
            CartEvent::Added { item, .. } => item.as_str(),
            _ => "?",
        })
        .collect();
    assert_eq!(items, ["a", "b", "c", "d", "e"]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn stash_and_unstash_keep_order_and_overflow_is_typed() {
    let system = ActorSystem::new("es", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(FaultyJournal::default());
    let setup = EventSourcedSetup::<Cart, _>::new(pid("cart-stash"), journal.clone(), events());
    let cart = system
        .spawn(
            "cart-stash",
            EventSourcedActor::props(setup, Cart::default).with_stash_capacity(2),
        )
        .unwrap();
    cart.ask(CartCmd::Lock, TIMEOUT).await.unwrap().unwrap();
    let mut stashed = Vec::new();
    for item in ["x", "y"] {
        let (reply, rx) = ReplyTo::channel();
        cart.tell(CartCmd::Add(item.to_owned(), 1, reply));
        stashed.push(rx);
    }
    assert_eq!(
        add(&cart, "z", 1).await,
        Err(CartError::Busy),
        "stash holds 2"
    );
    let state = cart.ask(CartCmd::Get, TIMEOUT).await.unwrap();
    assert!(
        state.locked && state.items.is_empty(),
        "stashed, not handled"
    );
    cart.ask(CartCmd::Unlock, TIMEOUT).await.unwrap().unwrap();
    let x = stashed.remove(0).await.unwrap().unwrap();
    let y = stashed.remove(0).await.unwrap().unwrap();
    assert_eq!(x.order, ["x"]);
    assert_eq!(y.order, ["x", "y"]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn stop_effect_stops_the_actor() {
    let system = ActorSystem::new("es", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(FaultyJournal::default());
    let cart = spawn_cart(&system, &journal, "cart-stop");
    add(&cart, "a", 1).await.unwrap();
    cart.tell(CartCmd::Stop);
    let after = cart.ask(CartCmd::Get, TIMEOUT).await;
    assert!(after.is_err(), "{after:?}");
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn commands_sent_during_recovery_wait_for_it_in_order() {
    let journal = Arc::new(FaultyJournal::default());
    let system = ActorSystem::new("one", ActorSystemConfig::default()).unwrap();
    let cart = spawn_cart(&system, &journal, "cart-rec");
    add(&cart, "a", 1).await.unwrap();
    system.terminate().await;

    let system = ActorSystem::new("two", ActorSystemConfig::default()).unwrap();
    let held = journal.hold_reads().await;
    let cart = spawn_cart(&system, &journal, "cart-rec");
    let (reply, b) = ReplyTo::channel();
    cart.try_tell(CartCmd::Add("b".into(), 1, reply)).unwrap();
    let (reply, c) = ReplyTo::channel();
    cart.try_tell(CartCmd::Add("c".into(), 1, reply)).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(journal.write_calls(), 1, "nothing handled before recovery");
    drop(held);
    assert_eq!(b.await.unwrap().unwrap().order, ["a", "b"]);
    assert_eq!(c.await.unwrap().unwrap().order, ["a", "b", "c"]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_mailbox_during_a_persist_gives_the_command_back() {
    use ferrocast_actor::{MailboxConfig, OverflowPolicy, TrySendError};
    let system = ActorSystem::new("es", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(FaultyJournal::default());
    let setup = EventSourcedSetup::<Cart, _>::new(pid("cart-full"), journal.clone(), events());
    let props = EventSourcedActor::props(setup, Cart::default)
        .with_mailbox(MailboxConfig::bounded(2, OverflowPolicy::Fail));
    let cart = system.spawn("cart-full", props).unwrap();
    let gate = journal.hold_writes().await;
    let (reply, first) = ReplyTo::channel();
    cart.try_tell(CartCmd::Add("a".into(), 1, reply)).unwrap();
    journal.write_started.notified().await;
    let mut waiting = Vec::new();
    for item in ["b", "c"] {
        let (reply, rx) = ReplyTo::channel();
        cart.try_tell(CartCmd::Add(item.into(), 1, reply)).unwrap();
        waiting.push(rx);
    }
    let (reply, _rx) = ReplyTo::channel();
    let overflow = cart.try_tell(CartCmd::Add("d".into(), 1, reply));
    assert!(matches!(
        overflow,
        Err(TrySendError::Full(CartCmd::Add(..)))
    ));
    drop(gate);
    assert_eq!(first.await.unwrap().unwrap().order, ["a"]);
    for rx in waiting {
        rx.await.unwrap().unwrap();
    }
    assert_eq!(
        cart.ask(CartCmd::Get, TIMEOUT).await.unwrap().order,
        ["a", "b", "c"]
    );
    system.terminate().await;
}
