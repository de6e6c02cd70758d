//! Journal failures fail the actor; its supervisor restarts it and it
//! recovers from what was stored. Two writers of one id never interleave.

mod common;

use std::num::NonZeroUsize;
use std::sync::Arc;

use common::TIMEOUT;
use common::cart::{Cart, CartCmd, CartError, events};
use common::faulty_journal::FaultyJournal;
use ferrocast_actor::{ActorRef, ActorSystem, ActorSystemConfig, AskError, Directive, Failure};
use ferrocast_persistence::tck::scaffold::{GetChild, Supervisor};
use ferrocast_persistence::{
    EventSourcedActor, EventSourcedSetup, Journal, JournalError, PersistFailed, PersistenceId,
    SequenceNr,
};
use tokio::sync::mpsc;

fn pid(s: &str) -> PersistenceId {
    PersistenceId::new(s).unwrap()
}

fn describe(failure: &Failure) -> String {
    let Failure::Error(e) = failure else {
        return format!("other: {failure}");
    };
    match e.downcast_ref::<PersistFailed>() {
        Some(PersistFailed::Journal {
            persistence_id,
            from,
            source: JournalError::SequenceConflict { expected, .. },
        }) => format!("conflict {persistence_id} {from} expected {expected}"),
        Some(PersistFailed::Journal {
            persistence_id,
            from,
            source: JournalError::Storage(_),
        }) => format!("storage {persistence_id} {from}"),
        Some(other) => format!("persist: {other}"),
        None => format!("error: {e}"),
    }
}

async fn supervised(
    system: &ActorSystem,
    name: &str,
    journal: &Arc<FaultyJournal>,
    id: &str,
) -> (ActorRef<CartCmd>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let setup = EventSourcedSetup::<Cart, _>::new(pid(id), journal.clone(), events());
    let sup = system
        .spawn(name, move || {
            Supervisor::new(
                EventSourcedActor::props(setup.clone(), Cart::default),
                Directive::Restart,
                tx.clone(),
                describe,
            )
        })
        .unwrap();
    let child = sup.ask(GetChild, TIMEOUT).await.unwrap().unwrap();
    (child, rx)
}

async fn add(
    cart: &ActorRef<CartCmd>,
    item: &str,
) -> Result<Result<Vec<String>, CartError>, AskError> {
    let item = item.to_owned();
    cart.ask(|r| CartCmd::Add(item, 1, r), TIMEOUT)
        .await
        .map(|r| r.map(|s| s.order))
}

#[tokio::test(start_paused = true)]
async fn journal_write_failure_restarts_the_actor_which_recovers() {
    let system = ActorSystem::new("es", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(FaultyJournal::default());
    let (cart, mut failures) = supervised(&system, "sup", &journal, "cart-f").await;
    assert_eq!(add(&cart, "a").await.unwrap().unwrap(), ["a"]);
    journal.fail_next(1);
    assert_eq!(
        add(&cart, "b").await,
        Err(AskError::NoReply),
        "the asker of a failed persist is not left waiting"
    );
    assert_eq!(failures.recv().await.unwrap(), "storage cart-f 2");
    // Restarted (after the backoff, on paused time), recovered, goes on.
    assert_eq!(add(&cart, "c").await.unwrap().unwrap(), ["a", "c"]);
    let h = journal.highest_sequence_nr(&pid("cart-f")).await.unwrap();
    assert_eq!(h.value(), 2);
    system.terminate().await;
}

#[tokio::test(start_paused = true)]
async fn a_second_writer_is_rejected_and_events_never_interleave() {
    let system = ActorSystem::new("es", ActorSystemConfig::default()).unwrap();
    let journal = Arc::new(FaultyJournal::default());
    // Two incarnations of one entity, as during a rebalance or a split.
    let (one, _f1) = supervised(&system, "node-1", &journal, "cart-2w").await;
    let (two, mut f2) = supervised(&system, "node-2", &journal, "cart-2w").await;
    assert_eq!(add(&one, "a").await.unwrap().unwrap(), ["a"]);
    assert_eq!(add(&two, "b").await, Err(AskError::NoReply));
    assert_eq!(f2.recv().await.unwrap(), "conflict cart-2w 1 expected 2");
    // The loser restarted from the log: it sees the winner's event.
    assert_eq!(add(&two, "c").await.unwrap().unwrap(), ["a", "c"]);
    let log = journal
        .replay(
            &pid("cart-2w"),
            SequenceNr::ZERO,
            SequenceNr::MAX,
            NonZeroUsize::MAX,
        )
        .await
        .unwrap();
    let nrs: Vec<u64> = log.iter().map(|e| e.sequence_nr.value()).collect();
    assert_eq!(nrs, [1, 2]);
    assert_ne!(log[0].writer, log[1].writer);
    system.terminate().await;
}
