//! The query-stream suite: [`ReadJournal`] over a backend's page queries.
//!
//! Its checks do not depend on the clock: they pass under paused time
//! (where tokio skips the refresh waits) and in real time (with a short
//! refresh interval). A live query that never delivers fails its check
//! after a budget of page queries instead of hanging the test.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::ids::{PersistenceId, SequenceNr};
use crate::journal::Journal;
use crate::query::{EventsByTag, Offset, TaggedEvent};
use crate::read_journal::{QueryError, QuerySettings, QueryStream, ReadJournal};
use crate::repr::PersistentRepr;
use crate::tck::fixtures::{events, pid, tag, writer};
use crate::tck::scaffold::QueryProbe;
use crate::tck::{TckFailure, ensure, join, ok};

/// Page queries one check may make: far more than any check needs, so
/// only a query that never delivers runs out.
const BUDGET: usize = 10_000;

/// Runs every query-stream check, each against a fresh journal from `new`.
pub async fn query_suite<J, F, Fut>(mut new: F) -> Result<(), TckFailure>
where
    J: Journal + EventsByTag,
    F: FnMut() -> Fut,
    Fut: Future<Output = J>,
{
    current_by_tag_ends_with_the_events_present_at_start(&budgeted(new().await)).await?;
    current_by_persistence_id_ends_with_the_events_present_at_start(&budgeted(new().await)).await?;
    live_by_tag_picks_up_later_writes(&budgeted(new().await)).await?;
    live_by_persistence_id_picks_up_later_writes_and_ends_at_to(&budgeted(new().await)).await?;
    resuming_after_an_offset_misses_nothing(&budgeted(new().await)).await?;
    Ok(())
}

fn budgeted<J>(journal: J) -> ReadJournal<QueryProbe<J>>
where
    J: Journal + EventsByTag,
{
    let settings = QuerySettings {
        page_size: NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN),
        refresh_interval: Duration::from_millis(20),
    };
    let journal = Arc::new(QueryProbe::new(journal).with_budget(BUDGET));
    ReadJournal::new(journal.clone())
        .with_settings(settings)
        .unwrap_or_else(|_| ReadJournal::new(journal))
}

type Queries<J> = ReadJournal<QueryProbe<J>>;

async fn write<J: Journal + EventsByTag>(
    q: &Queries<J>,
    p: &PersistenceId,
    from: u64,
    to: u64,
    check: &'static str,
) -> Result<(), TckFailure> {
    let w = writer("writer-q")?;
    let batch = events(p, from, to, &w)?;
    ok(
        q.journal().inner().write(batch).await,
        check,
        &format!("write {p} {from}..={to}"),
    )
}

/// The next element, which must be an event.
async fn next<T>(s: &mut QueryStream<T>, check: &'static str) -> Result<T, TckFailure> {
    match s.next().await {
        Some(Ok(t)) => Ok(t),
        Some(Err(e)) => Err(failure(check, format!("the query failed: {e}"))),
        None => Err(failure(check, "the query ended early".to_owned())),
    }
}

/// Every element up to the end.
async fn rest<T>(s: &mut QueryStream<T>, check: &'static str) -> Result<Vec<T>, TckFailure> {
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        out.push(item.map_err(|e: QueryError| failure(check, format!("the query failed: {e}")))?);
    }
    Ok(out)
}

fn failure(check: &'static str, message: String) -> TckFailure {
    TckFailure { check, message }
}

fn tagged_ids(found: &[TaggedEvent]) -> Vec<(String, u64)> {
    found
        .iter()
        .map(|t| {
            (
                t.event.persistence_id.to_string(),
                t.event.sequence_nr.value(),
            )
        })
        .collect()
}

fn expected(ids: &[(&str, u64)]) -> Vec<(String, u64)> {
    ids.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect()
}

fn numbers(found: &[PersistentRepr]) -> Vec<u64> {
    found.iter().map(|e| e.sequence_nr.value()).collect()
}

async fn current_by_tag_ends_with_the_events_present_at_start<J: Journal + EventsByTag>(
    q: &Queries<J>,
) -> Result<(), TckFailure> {
    const CHECK: &str = "queries::current_by_tag_ends_with_the_events_present_at_start";
    let (a, b) = (pid("q-cur-a")?, pid("q-cur-b")?);
    write(q, &a, 1, 2, CHECK).await?;
    write(q, &b, 1, 3, CHECK).await?;
    let mut s = q.current_events_by_tag_stream(&tag("all")?, Offset::ZERO);
    let mut found = vec![next(&mut s, CHECK).await?];
    // Written after the query started: not part of it.
    write(q, &a, 3, 4, CHECK).await?;
    found.extend(rest(&mut s, CHECK).await?);
    let want = expected(&[
        ("q-cur-a", 1),
        ("q-cur-a", 2),
        ("q-cur-b", 1),
        ("q-cur-b", 2),
        ("q-cur-b", 3),
    ]);
    ensure(tagged_ids(&found) == want, CHECK, || {
        format!("gave {:?}, expected {want:?}", tagged_ids(&found))
    })?;
    ensure(
        found.windows(2).all(|w| w[0].offset < w[1].offset),
        CHECK,
        || "offsets are not strictly increasing".to_owned(),
    )?;
    let empty = rest(
        &mut q.current_events_by_tag_stream(&tag("nobody")?, Offset::ZERO),
        CHECK,
    )
    .await?;
    ensure(empty.is_empty(), CHECK, || {
        format!("an unused tag gave {:?}", tagged_ids(&empty))
    })
}

async fn current_by_persistence_id_ends_with_the_events_present_at_start<
    J: Journal + EventsByTag,
>(
    q: &Queries<J>,
) -> Result<(), TckFailure> {
    const CHECK: &str = "queries::current_by_persistence_id_ends_with_the_events_present_at_start";
    let a = pid("q-cur-pid")?;
    write(q, &a, 1, 5, CHECK).await?;
    let mut s = q.current_events_by_persistence_id_stream(&a, SequenceNr::new(2), SequenceNr::MAX);
    let mut found = vec![next(&mut s, CHECK).await?];
    write(q, &a, 6, 6, CHECK).await?;
    found.extend(rest(&mut s, CHECK).await?);
    ensure(numbers(&found) == [2, 3, 4, 5], CHECK, || {
        format!("from 2 gave {:?}, expected [2, 3, 4, 5]", numbers(&found))
    })?;
    let range = rest(
        &mut q.current_events_by_persistence_id_stream(&a, SequenceNr::new(2), SequenceNr::new(3)),
        CHECK,
    )
    .await?;
    ensure(numbers(&range) == [2, 3], CHECK, || {
        format!("2..=3 gave {:?}", numbers(&range))
    })?;
    let none = rest(
        &mut q.current_events_by_persistence_id_stream(
            &pid("q-nobody")?,
            SequenceNr::FIRST,
            SequenceNr::MAX,
        ),
        CHECK,
    )
    .await?;
    ensure(none.is_empty(), CHECK, || {
        format!("an unknown id gave {:?}", numbers(&none))
    })
}

async fn live_by_tag_picks_up_later_writes<J: Journal + EventsByTag>(
    q: &Queries<J>,
) -> Result<(), TckFailure> {
    const CHECK: &str = "queries::live_by_tag_picks_up_later_writes";
    let (a, b) = (pid("q-live-a")?, pid("q-live-b")?);
    write(q, &a, 1, 2, CHECK).await?;
    let mut s = q.events_by_tag_stream(&tag("even")?, Offset::ZERO);
    let first = next(&mut s, CHECK).await?;
    // The query has caught up; these arrive while it waits.
    let (later, written) = join(next(&mut s, CHECK), async {
        write(q, &b, 1, 2, CHECK).await?;
        write(q, &a, 3, 4, CHECK).await
    })
    .await;
    written?;
    let found = vec![first, later?, next(&mut s, CHECK).await?];
    let want = expected(&[("q-live-a", 2), ("q-live-b", 2), ("q-live-a", 4)]);
    ensure(tagged_ids(&found) == want, CHECK, || {
        format!("gave {:?}, expected {want:?}", tagged_ids(&found))
    })
}

async fn live_by_persistence_id_picks_up_later_writes_and_ends_at_to<J: Journal + EventsByTag>(
    q: &Queries<J>,
) -> Result<(), TckFailure> {
    const CHECK: &str = "queries::live_by_persistence_id_picks_up_later_writes_and_ends_at_to";
    let a = pid("q-live-pid")?;
    write(q, &a, 1, 2, CHECK).await?;
    let mut s = q.events_by_persistence_id_stream(&a, SequenceNr::FIRST, SequenceNr::new(4));
    let mut found = vec![next(&mut s, CHECK).await?, next(&mut s, CHECK).await?];
    let (later, written) = join(next(&mut s, CHECK), write(q, &a, 3, 5, CHECK)).await;
    written?;
    found.push(later?);
    found.extend(rest(&mut s, CHECK).await?);
    ensure(numbers(&found) == [1, 2, 3, 4], CHECK, || {
        format!(
            "1..=4 gave {:?}, expected [1, 2, 3, 4] and the end",
            numbers(&found)
        )
    })
}

async fn resuming_after_an_offset_misses_nothing<J: Journal + EventsByTag>(
    q: &Queries<J>,
) -> Result<(), TckFailure> {
    const CHECK: &str = "queries::resuming_after_an_offset_misses_nothing";
    let (a, b) = (pid("q-resume-a")?, pid("q-resume-b")?);
    let all = tag("all")?;
    write(q, &a, 1, 3, CHECK).await?;
    write(q, &b, 1, 2, CHECK).await?;
    let mut seen = Vec::new();
    {
        let mut s = q.events_by_tag_stream(&all, Offset::ZERO);
        for _ in 0..3 {
            seen.push(next(&mut s, CHECK).await?);
        }
    }
    let last = seen.last().map_or(Offset::ZERO, |t| t.offset);
    write(q, &a, 4, 5, CHECK).await?;
    let mut s = q.events_by_tag_stream(&all, last);
    for _ in 0..4 {
        seen.push(next(&mut s, CHECK).await?);
    }
    let want = expected(&[
        ("q-resume-a", 1),
        ("q-resume-a", 2),
        ("q-resume-a", 3),
        ("q-resume-b", 1),
        ("q-resume-b", 2),
        ("q-resume-a", 4),
        ("q-resume-a", 5),
    ]);
    ensure(tagged_ids(&seen) == want, CHECK, || {
        format!(
            "resumed after {last}: {:?}, expected {want:?}",
            tagged_ids(&seen)
        )
    })?;
    // A sequence number query resumes from the number after the last seen.
    let mut s = q.current_events_by_persistence_id_stream(&a, SequenceNr::new(4), SequenceNr::MAX);
    let tail = rest(&mut s, CHECK).await?;
    ensure(numbers(&tail) == [4, 5], CHECK, || {
        format!("from 4 gave {:?}", numbers(&tail))
    })
}
