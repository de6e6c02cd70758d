//! Query streams over the in-memory journal, under paused time: how long
//! a live query waits, what wakes it, how much it reads, how it fails.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::time::{Instant, timeout};

use crate::ids::{PersistenceId, SequenceNr, Tag, WriterId};
use crate::journal::{Journal, JournalError};
use crate::memory::InMemoryJournal;
use crate::payload::{Payload, SerializerId};
use crate::query::Offset;
use crate::read_journal::{NotifyingJournal, QueryError, QuerySettings, ReadJournal};
use crate::repr::PersistentRepr;
use crate::tck::scaffold::QueryProbe;

type Probe = QueryProbe<InMemoryJournal>;

fn probe() -> Arc<Probe> {
    Arc::new(QueryProbe::new(InMemoryJournal::default()))
}

fn pid() -> PersistenceId {
    PersistenceId::new("p").unwrap()
}

fn tag() -> Tag {
    Tag::new("t").unwrap()
}

fn event(nr: u64) -> PersistentRepr {
    PersistentRepr {
        persistence_id: pid(),
        sequence_nr: SequenceNr::new(nr),
        payload: Payload::new(SerializerId::new(1), "m", vec![nr as u8]),
        tags: vec![tag()],
        timestamp: SystemTime::UNIX_EPOCH,
        writer: WriterId::new("w").unwrap(),
    }
}

async fn write(j: &impl Journal, from: u64, to: u64) {
    j.write((from..=to).map(event).collect()).await.unwrap();
}

fn settings(page: usize) -> QuerySettings {
    QuerySettings {
        page_size: NonZeroUsize::new(page).unwrap(),
        ..QuerySettings::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_caught_up_live_query_polls_every_refresh_interval() {
    let j = probe();
    let q = ReadJournal::new(j.clone());
    assert_eq!(q.settings().refresh_interval, Duration::from_secs(3));
    let mut live = q.events_by_tag_stream(&tag(), Offset::ZERO);
    let start = Instant::now();
    let (got, ()) = crate::tck::join(live.next(), async {
        ferrocast_testkit::time::advance(Duration::from_secs(1)).await;
        write(&*j, 1, 1).await;
    })
    .await;
    assert_eq!(got.unwrap().unwrap().event.sequence_nr, SequenceNr::new(1));
    // Written at 1 s, found by the poll at 3 s.
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(j.pages(), 2);
    // Caught up again: the live query waits, it does not end.
    // Polls at 6, 9, ..., 60 s.
    assert!(timeout(Duration::from_secs(59), live.next()).await.is_err());
    assert_eq!(j.pages(), 2 + 19);
}

#[tokio::test(start_paused = true)]
async fn a_write_of_this_process_wakes_a_live_query_at_once() {
    let j = Arc::new(NotifyingJournal::new(InMemoryJournal::default()));
    let q = ReadJournal::new(j.clone()).wake_on(j.notifier());
    let mut live = q.events_by_persistence_id_stream(&pid(), SequenceNr::FIRST, SequenceNr::MAX);
    let start = Instant::now();
    let (got, ()) = crate::tck::join(live.next(), async {
        ferrocast_testkit::time::advance(Duration::from_secs(1)).await;
        write(&*j, 1, 1).await;
    })
    .await;
    assert_eq!(got.unwrap().unwrap().sequence_nr, SequenceNr::FIRST);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_live_query_goes_on_polling_when_every_notifier_is_gone() {
    let j = Arc::new(InMemoryJournal::default());
    let notifier = crate::read_journal::WriteNotifier::default();
    let q = ReadJournal::new(j.clone()).wake_on(&notifier);
    drop(notifier);
    let mut live = q.events_by_tag_stream(&tag(), Offset::ZERO);
    let start = Instant::now();
    let (got, ()) = crate::tck::join(live.next(), async {
        ferrocast_testkit::time::advance(Duration::from_secs(1)).await;
        write(&*j, 1, 1).await;
    })
    .await;
    assert!(got.unwrap().is_ok());
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn pages_are_read_one_at_a_time_on_demand() {
    let j = probe();
    write(&*j, 1, 1000).await;
    let q = ReadJournal::new(j.clone())
        .with_settings(settings(10))
        .unwrap();
    let mut s = q.current_events_by_tag_stream(&tag(), Offset::ZERO);
    s.next().await.unwrap().unwrap();
    assert_eq!(j.pages(), 1);
    for _ in 1..25 {
        s.next().await.unwrap().unwrap();
    }
    assert_eq!(j.pages(), 3);
    assert_eq!(j.largest_page(), 10);
    let rest = s.count().await;
    assert_eq!(rest, 975);
    // 100 full pages; the last one reaches the end the query started with.
    assert_eq!(j.pages(), 100);
}

#[tokio::test(start_paused = true)]
async fn a_failing_journal_ends_the_query_with_a_typed_error() {
    let j = probe();
    write(&*j, 1, 3).await;
    let q = ReadJournal::new(j.clone())
        .with_settings(settings(2))
        .unwrap();
    let mut s = q.events_by_tag_stream(&tag(), Offset::ZERO);
    assert!(s.next().await.unwrap().is_ok());
    assert!(s.next().await.unwrap().is_ok());
    j.fail(true);
    let err = s.next().await.unwrap().unwrap_err();
    assert!(
        matches!(&err, QueryError::Journal(JournalError::Storage(e)) if e.to_string() == "disk on fire"),
        "{err}"
    );
    assert!(s.next().await.is_none(), "nothing follows the error");

    // As a Source, the same error fails the stream.
    let failed = q
        .current_events_by_tag(&tag(), Offset::ZERO)
        .run_collect()
        .await
        .unwrap_err();
    assert!(
        matches!(
            failed.downcast_ref::<QueryError>(),
            Some(QueryError::Journal(_))
        ),
        "{failed}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_journal_answering_out_of_order_is_an_error_not_a_repeat() {
    let j = probe();
    write(&*j, 1, 2).await;
    j.misorder(true);
    let q = ReadJournal::new(j.clone());
    let found: Vec<_> = q
        .current_events_by_tag_stream(&tag(), Offset::ZERO)
        .collect()
        .await;
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].is_ok() && found[1].is_ok());
    assert!(
        matches!(found[2], Err(QueryError::OutOfOrder { after: 2, got: 1 })),
        "{:?}",
        found[2]
    );
}

#[tokio::test(start_paused = true)]
async fn sources_run_again_from_their_start_and_compose() {
    let j = Arc::new(InMemoryJournal::default());
    write(&*j, 1, 5).await;
    let q = ReadJournal::new(j.clone())
        .with_settings(settings(2))
        .unwrap();
    let current = q.current_events_by_persistence_id(&pid(), SequenceNr::new(2), SequenceNr::MAX);
    let numbers = current
        .clone()
        .map(|e| e.sequence_nr.value())
        .run_collect()
        .await
        .unwrap();
    assert_eq!(numbers, [2, 3, 4, 5]);
    write(&*j, 6, 6).await;
    assert_eq!(current.run_collect().await.unwrap().len(), 5);
    let live = q
        .events_by_tag(&tag(), Offset::new(4))
        .take(2)
        .map(|t| t.offset.value())
        .run_collect()
        .await
        .unwrap();
    assert_eq!(live, [5, 6]);
}

#[tokio::test(start_paused = true)]
async fn live_persistence_id_queries_end_at_to_and_current_ones_at_the_start() {
    let j = Arc::new(InMemoryJournal::default());
    let q = ReadJournal::new(j.clone());
    let nothing: Vec<_> = q
        .current_events_by_persistence_id_stream(&pid(), SequenceNr::FIRST, SequenceNr::MAX)
        .collect()
        .await;
    assert!(nothing.is_empty());
    write(&*j, 1, 3).await;
    let upto: Vec<_> = q
        .events_by_persistence_id_stream(&pid(), SequenceNr::new(2), SequenceNr::new(3))
        .map(|e| e.unwrap().sequence_nr.value())
        .collect()
        .await;
    assert_eq!(upto, [2, 3]);
    let reversed: Vec<_> = q
        .events_by_persistence_id_stream(&pid(), SequenceNr::new(3), SequenceNr::new(2))
        .collect()
        .await;
    assert!(reversed.is_empty());
}

#[test]
fn a_zero_refresh_interval_is_refused() {
    let q = ReadJournal::new(Arc::new(InMemoryJournal::default()));
    let err = q
        .with_settings(QuerySettings {
            refresh_interval: Duration::ZERO,
            ..QuerySettings::default()
        })
        .unwrap_err();
    assert_eq!(err.field, "refresh_interval");
}
