//! Recovery: restart with the same persistence id, snapshots and retention,
//! and typed failures for data that cannot be read.

mod common;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use common::TIMEOUT;
use common::cart::{Cart, CartCmd, CartState, events, states};
use common::faulty_journal::FaultyJournal;
use ferrocast_actor::{ActorRef, ActorSystem, ActorSystemConfig};
use ferrocast_persistence::tck::scaffold::{describe_recovery_failure, first_failure};
use ferrocast_persistence::{
    EventSourcedActor, EventSourcedConfig, EventSourcedSetup, InMemoryJournal,
    InMemorySnapshotStore, Journal, PersistenceId, SequenceNr, SerializerId, SnapshotPolicy,
    SnapshotStore,
};

fn pid(s: &str) -> PersistenceId {
    PersistenceId::new(s).unwrap()
}

type Setup = EventSourcedSetup<Cart, InMemoryJournal, InMemorySnapshotStore>;

fn setup(
    id: &str,
    journal: &Arc<InMemoryJournal>,
    snaps: &Arc<InMemorySnapshotStore>,
    policy: SnapshotPolicy,
) -> Setup {
    EventSourcedSetup::new(pid(id), journal.clone(), events())
        .with_snapshots(snaps.clone(), states())
        .with_config(EventSourcedConfig {
            snapshots: policy,
            ..EventSourcedConfig::default()
        })
        .unwrap()
}

async fn add_all(cart: &ActorRef<CartCmd>, items: &[&str]) -> CartState {
    let mut last = CartState::default();
    for item in items {
        let item = (*item).to_owned();
        last = cart
            .ask(|r| CartCmd::Add(item, 1, r), TIMEOUT)
            .await
            .unwrap()
            .unwrap();
    }
    last
}

/// Adds `items` to a cart of setup `s` in a system of its own, stopped
/// afterwards; the cart's state in the end.
async fn add_in_one_run<J: Journal>(
    s: &EventSourcedSetup<Cart, J, InMemorySnapshotStore>,
    items: &[&str],
) -> CartState {
    let system = ActorSystem::new("one", ActorSystemConfig::default()).unwrap();
    let cart = system
        .spawn("cart", EventSourcedActor::props(s.clone(), Cart::default))
        .unwrap();
    let state = add_all(&cart, items).await;
    system.terminate().await;
    state
}

/// The state a cart of setup `s` recovers, in a system of its own.
async fn recovered<J: Journal>(s: EventSourcedSetup<Cart, J, InMemorySnapshotStore>) -> CartState {
    let system = ActorSystem::new("two", ActorSystemConfig::default()).unwrap();
    let cart = system
        .spawn("cart", EventSourcedActor::props(s, Cart::default))
        .unwrap();
    let state = cart.ask(CartCmd::Get, TIMEOUT).await.unwrap();
    system.terminate().await;
    state
}

#[tokio::test(start_paused = true)]
async fn restart_with_same_persistence_id_restores_state() {
    let journal = Arc::new(InMemoryJournal::default());
    let snaps = Arc::new(InMemorySnapshotStore::default());
    let s = setup("cart-r", &journal, &snaps, SnapshotPolicy::default());
    let system = ActorSystem::new("one", ActorSystemConfig::default()).unwrap();
    let cart = system
        .spawn("cart", EventSourcedActor::props(s.clone(), Cart::default))
        .unwrap();
    let before = add_all(&cart, &["a", "b", "c"]).await;
    system.terminate().await;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook = seen.clone();
    let system = ActorSystem::new("two", ActorSystemConfig::default()).unwrap();
    let cart = system
        .spawn(
            "cart",
            EventSourcedActor::props(s, move || Cart {
                recovered: Some(hook.clone()),
            }),
        )
        .unwrap();
    assert_eq!(cart.ask(CartCmd::Get, TIMEOUT).await.unwrap(), before);
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        std::slice::from_ref(&before),
        "recovery-completed hook saw it"
    );
    let after = add_all(&cart, &["d"]).await;
    assert_eq!(after.order, ["a", "b", "c", "d"]);
    let h = journal.highest_sequence_nr(&pid("cart-r")).await.unwrap();
    assert_eq!(h.value(), 4, "numbering goes on after recovery");
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn snapshots_every_n_with_retention_and_recovery_from_the_latest() {
    let journal = Arc::new(InMemoryJournal::default());
    let snaps = Arc::new(InMemorySnapshotStore::default());
    let id = pid("cart-s");
    let s = setup("cart-s", &journal, &snaps, SnapshotPolicy::every(2).keep(2));
    let system = ActorSystem::new("one", ActorSystemConfig::default()).unwrap();
    let cart = system
        .spawn("cart", EventSourcedActor::props(s.clone(), Cart::default))
        .unwrap();
    let items = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    let before = add_all(&cart, &items).await;
    let nrs: Vec<u64> = snaps.sequence_nrs(&id).iter().map(|n| n.value()).collect();
    assert_eq!(nrs, [8, 10], "keep the last 2");
    system.terminate().await;

    // Events covered by the snapshot are not read again: corrupting one
    // does not matter.
    assert!(
        journal.tamper(&id, SequenceNr::new(5), |e| e.payload.bytes =
            b"garbage".to_vec())
    );
    let system = ActorSystem::new("two", ActorSystemConfig::default()).unwrap();
    let cart = system
        .spawn("cart", EventSourcedActor::props(s, Cart::default))
        .unwrap();
    assert_eq!(cart.ask(CartCmd::Get, TIMEOUT).await.unwrap(), before);
    // A checkout snapshots by predicate, off the every-2 grid.
    add_all(&cart, &["k"]).await;
    cart.ask(CartCmd::Checkout, TIMEOUT).await.unwrap().unwrap();
    let nrs: Vec<u64> = snaps.sequence_nrs(&id).iter().map(|n| n.value()).collect();
    assert_eq!(nrs, [10, 12]);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn retention_can_delete_covered_events() {
    let journal = Arc::new(InMemoryJournal::default());
    let snaps = Arc::new(InMemorySnapshotStore::default());
    let id = pid("cart-d");
    let policy = SnapshotPolicy::every(3).keep(1).delete_events(true);
    let s = setup("cart-d", &journal, &snaps, policy);
    let before = add_in_one_run(&s, &["a", "b", "c", "d", "e", "f", "g"]).await;
    let left = journal
        .replay(&id, SequenceNr::ZERO, SequenceNr::MAX, NonZeroUsize::MAX)
        .await
        .unwrap();
    let nrs: Vec<u64> = left.iter().map(|e| e.sequence_nr.value()).collect();
    assert_eq!(nrs, [7], "events up to the snapshot at 6 are gone");
    assert_eq!(recovered(s).await, before);
}

/// Spawns a cart under a supervisor that stops it on failure; returns the
/// first failure's description.
async fn recovery_failure<J: Journal>(
    s: EventSourcedSetup<Cart, J, InMemorySnapshotStore>,
) -> String {
    let failed = first_failure(
        move || EventSourcedActor::props(s.clone(), Cart::default),
        describe_recovery_failure,
        TIMEOUT,
    )
    .await
    .unwrap();
    let stopped = failed.child.ask(CartCmd::Get, TIMEOUT).await;
    assert!(
        stopped.is_err(),
        "a failed recovery handles no command: {stopped:?}"
    );
    failed.system.terminate().await;
    failed.failure
}

async fn seed(
    id: &str,
    journal: &Arc<InMemoryJournal>,
    snaps: &Arc<InMemorySnapshotStore>,
    policy: SnapshotPolicy,
) -> Setup {
    let s = setup(id, journal, snaps, policy);
    add_in_one_run(&s, &["a", "b", "c"]).await;
    s
}

#[tokio::test(start_paused = true)]
async fn unknown_serializer_fails_recovery_naming_id_and_sequence_nr() {
    let journal = Arc::new(InMemoryJournal::default());
    let snaps = Arc::new(InMemorySnapshotStore::default());
    let s = seed("cart-u", &journal, &snaps, SnapshotPolicy::default()).await;
    assert!(journal.tamper(&pid("cart-u"), SequenceNr::new(2), |e| {
        e.payload.serializer = SerializerId::new(999)
    }));
    assert_eq!(
        recovery_failure(s).await,
        "event cart-u 2 unknown-serializer-999"
    );
}

#[tokio::test(start_paused = true)]
async fn undecodable_bytes_fail_recovery_naming_id_and_sequence_nr() {
    let journal = Arc::new(InMemoryJournal::default());
    let snaps = Arc::new(InMemorySnapshotStore::default());
    let s = seed("cart-m", &journal, &snaps, SnapshotPolicy::default()).await;
    assert!(journal.tamper(&pid("cart-m"), SequenceNr::new(3), |e| {
        e.payload.bytes = b"{not json".to_vec()
    }));
    assert_eq!(recovery_failure(s).await, "event cart-m 3 malformed");
}

#[tokio::test(start_paused = true)]
async fn undecodable_snapshot_fails_recovery() {
    let journal = Arc::new(InMemoryJournal::default());
    let snaps = Arc::new(InMemorySnapshotStore::default());
    let id = pid("cart-snap-bad");
    let s = seed("cart-snap-bad", &journal, &snaps, SnapshotPolicy::every(3)).await;
    let mut snap = snaps
        .load_latest(&id, SequenceNr::MAX)
        .await
        .unwrap()
        .unwrap();
    snap.payload.bytes = b"nope".to_vec();
    snaps.save(snap).await.unwrap();
    assert_eq!(
        recovery_failure(s).await,
        "snapshot cart-snap-bad 3 malformed"
    );
}

/// A cart on `journal` reading its log in pages of two events, with seven
/// events in its log (four pages, the last of one event): the setup and
/// the state they make.
async fn paged<J: Journal>(
    id: &str,
    journal: &Arc<J>,
) -> (EventSourcedSetup<Cart, J, InMemorySnapshotStore>, CartState) {
    let s = EventSourcedSetup::new(pid(id), journal.clone(), events())
        .with_snapshots(Arc::new(InMemorySnapshotStore::default()), states())
        .with_config(EventSourcedConfig {
            replay_batch: NonZeroUsize::new(2).unwrap(),
            ..EventSourcedConfig::default()
        })
        .unwrap();
    let state = add_in_one_run(&s, &["a", "b", "c", "d", "e", "f", "g"]).await;
    (s, state)
}

#[tokio::test(start_paused = true)]
async fn recovery_reads_the_log_in_pages_several_at_once() {
    let (s, before) = paged("cart-p", &Arc::new(InMemoryJournal::default())).await;
    assert_eq!(recovered(s).await, before);
}

#[tokio::test(start_paused = true)]
async fn a_hole_in_the_log_fails_recovery_whichever_page_it_is_in() {
    // Pages of two: [1, 2] [3, 4] [5, 6] [7].
    for (hole, found) in [
        (1, "event 2"),
        (4, "event 5"),
        (6, "event 7"),
        (7, "nothing more"),
    ] {
        let journal = Arc::new(FaultyJournal::default());
        let (s, _) = paged("cart-h", &journal).await;
        journal.hide(hole);
        assert_eq!(
            recovery_failure(s).await,
            format!("recovery: recovery of cart-h: expected event {hole}, the journal has {found}")
        );
    }
}
