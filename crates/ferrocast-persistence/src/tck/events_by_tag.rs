//! The events-by-tag suite.

use std::future::Future;
use std::num::NonZeroUsize;

use crate::ids::{SequenceNr, Tag};
use crate::journal::Journal;
use crate::query::{EventsByTag, Offset, TaggedEvent};
use crate::tck::fixtures::{events, pid, tag, writer};
use crate::tck::{TckFailure, ensure, ok};

const ALL: NonZeroUsize = NonZeroUsize::MAX;

/// Runs every events-by-tag check, each against a fresh journal from `new`.
pub async fn events_by_tag_suite<J, F, Fut>(mut new: F) -> Result<(), TckFailure>
where
    J: Journal + EventsByTag,
    F: FnMut() -> Fut,
    Fut: Future<Output = J>,
{
    tagged_events_in_offset_order(&new().await).await?;
    resume_after_an_offset(&new().await).await?;
    deleted_events_are_not_returned(&new().await).await?;
    Ok(())
}

async fn query(
    j: &impl EventsByTag,
    t: &Tag,
    after: Offset,
    max: NonZeroUsize,
    check: &'static str,
) -> Result<Vec<TaggedEvent>, TckFailure> {
    ok(j.events_by_tag(t, after, max).await, check, "events_by_tag")
}

/// `(persistence id, sequence number)` of each result.
fn ids(found: &[TaggedEvent]) -> Vec<(String, u64)> {
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

fn strictly_increasing(found: &[TaggedEvent]) -> bool {
    found.windows(2).all(|w| w[0].offset < w[1].offset)
        && found.first().is_none_or(|t| t.offset > Offset::ZERO)
}

async fn tagged_events_in_offset_order(j: &(impl Journal + EventsByTag)) -> Result<(), TckFailure> {
    const CHECK: &str = "events_by_tag::tagged_events_in_offset_order";
    let (a, b) = (pid("tck-tag-a")?, pid("tck-tag-b")?);
    let w = writer("writer-a")?;
    // Fixtures tag every event "all" and even-numbered ones "even".
    ok(j.write(events(&a, 1, 2, &w)?).await, CHECK, "write a 1..=2")?;
    ok(j.write(events(&b, 1, 3, &w)?).await, CHECK, "write b 1..=3")?;
    ok(j.write(events(&a, 3, 4, &w)?).await, CHECK, "write a 3..=4")?;
    let all = query(j, &tag("all")?, Offset::ZERO, ALL, CHECK).await?;
    let expected: Vec<(String, u64)> = [
        ("tck-tag-a", 1),
        ("tck-tag-a", 2),
        ("tck-tag-b", 1),
        ("tck-tag-b", 2),
        ("tck-tag-b", 3),
        ("tck-tag-a", 3),
        ("tck-tag-a", 4),
    ]
    .iter()
    .map(|(p, n)| ((*p).to_owned(), *n))
    .collect();
    ensure(ids(&all) == expected, CHECK, || {
        format!("tag \"all\" gave {:?}, expected {expected:?}", ids(&all))
    })?;
    ensure(strictly_increasing(&all), CHECK, || {
        "offsets are not strictly increasing from above zero".to_owned()
    })?;
    let even = query(j, &tag("even")?, Offset::ZERO, ALL, CHECK).await?;
    let expected_even = [("tck-tag-a", 2), ("tck-tag-b", 2), ("tck-tag-a", 4)];
    ensure(
        ids(&even)
            == expected_even
                .iter()
                .map(|(p, n)| ((*p).to_owned(), *n))
                .collect::<Vec<_>>(),
        CHECK,
        || format!("tag \"even\" gave {:?}", ids(&even)),
    )?;
    let unknown = query(j, &tag("nobody")?, Offset::ZERO, ALL, CHECK).await?;
    ensure(unknown.is_empty(), CHECK, || {
        format!("an unused tag gave {:?}", ids(&unknown))
    })?;
    // Where a current query stops: the last offset of the tag.
    let latest = ok(j.latest_offset(&tag("all")?).await, CHECK, "latest_offset")?;
    let last = all.last().map(|t| t.offset);
    ensure(Some(latest) == last, CHECK, || {
        format!("latest_offset of \"all\" is {latest}, its last event's is {last:?}")
    })?;
    let none = ok(
        j.latest_offset(&tag("nobody")?).await,
        CHECK,
        "latest_offset",
    )?;
    ensure(none == Offset::ZERO, CHECK, || {
        format!("latest_offset of an unused tag is {none}")
    })
}

async fn resume_after_an_offset(j: &(impl Journal + EventsByTag)) -> Result<(), TckFailure> {
    const CHECK: &str = "events_by_tag::resume_after_an_offset";
    let a = pid("tck-tag-resume")?;
    let w = writer("writer-a")?;
    let all = tag("all")?;
    ok(j.write(events(&a, 1, 5, &w)?).await, CHECK, "write 1..=5")?;
    let two = NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN);
    let mut seen = Vec::new();
    let mut after = Offset::ZERO;
    for _ in 0..10 {
        let page = query(j, &all, after, two, CHECK).await?;
        ensure(page.len() <= 2, CHECK, || {
            format!("page of {} for max 2", page.len())
        })?;
        let Some(last) = page.last() else { break };
        after = last.offset;
        seen.extend(page);
    }
    ensure(
        ids(&seen).iter().map(|(_, n)| *n).collect::<Vec<_>>() == [1, 2, 3, 4, 5],
        CHECK,
        || format!("paging gave {:?}", ids(&seen)),
    )?;
    ensure(strictly_increasing(&seen), CHECK, || {
        "offsets across pages are not strictly increasing".to_owned()
    })?;
    // Events written later come after the last offset seen.
    ok(j.write(events(&a, 6, 6, &w)?).await, CHECK, "write 6")?;
    let more = query(j, &all, after, ALL, CHECK).await?;
    ensure(
        ids(&more) == [("tck-tag-resume".to_owned(), 6)],
        CHECK,
        || format!("after the last offset: {:?}", ids(&more)),
    )
}

async fn deleted_events_are_not_returned(
    j: &(impl Journal + EventsByTag),
) -> Result<(), TckFailure> {
    const CHECK: &str = "events_by_tag::deleted_events_are_not_returned";
    let a = pid("tck-tag-delete")?;
    let w = writer("writer-a")?;
    ok(j.write(events(&a, 1, 4, &w)?).await, CHECK, "write 1..=4")?;
    ok(
        j.delete_up_to(&a, SequenceNr::new(2)).await,
        CHECK,
        "delete up to 2",
    )?;
    let found = query(j, &tag("all")?, Offset::ZERO, ALL, CHECK).await?;
    ensure(
        ids(&found).iter().map(|(_, n)| *n).collect::<Vec<_>>() == [3, 4],
        CHECK,
        || format!("after deleting up to 2: {:?}", ids(&found)),
    )
}
