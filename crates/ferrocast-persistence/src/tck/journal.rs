//! The journal suite.

use std::future::Future;
use std::num::NonZeroUsize;

use crate::ids::{PersistenceId, SequenceNr};
use crate::journal::{Journal, JournalError};
use crate::repr::PersistentRepr;
use crate::tck::fixtures::{event, events, numbers, pid, writer};
use crate::tck::{TckFailure, ensure, join, ok};

const ALL: NonZeroUsize = NonZeroUsize::MAX;

/// Runs every journal check, each against a fresh journal from `new`.
pub async fn journal_suite<J, F, Fut>(mut new: F) -> Result<(), TckFailure>
where
    J: Journal,
    F: FnMut() -> Fut,
    Fut: Future<Output = J>,
{
    empty_log(&new().await).await?;
    write_then_replay_round_trips(&new().await).await?;
    sequence_numbers_continue_the_log(&new().await).await?;
    conflicting_writers(&new().await).await?;
    invalid_batches_write_nothing(&new().await).await?;
    replay_ranges(&new().await).await?;
    delete_keeps_numbering(&new().await).await?;
    logs_are_independent(&new().await).await?;
    Ok(())
}

async fn replay_all(
    j: &impl Journal,
    pid: &PersistenceId,
    check: &'static str,
) -> Result<Vec<PersistentRepr>, TckFailure> {
    ok(
        j.replay(pid, SequenceNr::ZERO, SequenceNr::MAX, ALL).await,
        check,
        "replay",
    )
}

async fn highest(
    j: &impl Journal,
    pid: &PersistenceId,
    check: &'static str,
) -> Result<u64, TckFailure> {
    ok(
        j.highest_sequence_nr(pid).await,
        check,
        "highest_sequence_nr",
    )
    .map(SequenceNr::value)
}

/// Tags may come back in any order.
fn normalized(mut events: Vec<PersistentRepr>) -> Vec<PersistentRepr> {
    for e in &mut events {
        e.tags.sort();
    }
    events
}

async fn empty_log(j: &impl Journal) -> Result<(), TckFailure> {
    const CHECK: &str = "journal::empty_log";
    let p = pid("tck-empty")?;
    let h = highest(j, &p, CHECK).await?;
    ensure(h == 0, CHECK, || {
        format!("highest of an unknown log is {h}, not 0")
    })?;
    let all = replay_all(j, &p, CHECK).await?;
    ensure(all.is_empty(), CHECK, || {
        format!("replayed {:?}", numbers(&all))
    })
}

async fn write_then_replay_round_trips(j: &impl Journal) -> Result<(), TckFailure> {
    const CHECK: &str = "journal::write_then_replay_round_trips";
    let p = pid("tck-round-trip")?;
    let w = writer("writer-a")?;
    let written = events(&p, 1, 3, &w)?;
    ok(j.write(written.clone()).await, CHECK, "write 1..=3")?;
    let more = events(&p, 4, 4, &w)?;
    ok(j.write(more.clone()).await, CHECK, "write 4")?;
    let h = highest(j, &p, CHECK).await?;
    ensure(h == 4, CHECK, || format!("highest is {h}, expected 4"))?;
    let back = normalized(replay_all(j, &p, CHECK).await?);
    let expected = normalized(written.into_iter().chain(more).collect());
    ensure(back == expected, CHECK, || {
        format!("replayed events differ from those written:\n{back:?}\nvs\n{expected:?}")
    })
}

async fn sequence_numbers_continue_the_log(j: &impl Journal) -> Result<(), TckFailure> {
    const CHECK: &str = "journal::sequence_numbers_continue_the_log";
    let p = pid("tck-sequence")?;
    let w = writer("writer-a")?;
    let conflict = |r: Result<(), JournalError>, attempted: u64, expected: u64, what: &str| match r
    {
        Err(JournalError::SequenceConflict {
            persistence_id,
            attempted: a,
            expected: e,
        }) if persistence_id == p && a.value() == attempted && e.value() == expected => Ok(()),
        other => Err(TckFailure {
            check: CHECK,
            message: format!(
                "{what}: expected SequenceConflict {{ attempted: {attempted}, expected: {expected} }}, got {other:?}"
            ),
        }),
    };
    conflict(
        j.write(events(&p, 2, 3, &w)?).await,
        2,
        1,
        "a log must start at 1",
    )?;
    ok(j.write(events(&p, 1, 3, &w)?).await, CHECK, "write 1..=3")?;
    conflict(
        j.write(events(&p, 3, 4, &w)?).await,
        3,
        4,
        "overlapping batch",
    )?;
    conflict(
        j.write(events(&p, 5, 6, &w)?).await,
        5,
        4,
        "batch leaving a gap",
    )?;
    conflict(
        j.write(events(&p, 1, 1, &w)?).await,
        1,
        4,
        "rewriting the start",
    )?;
    let h = highest(j, &p, CHECK).await?;
    ensure(h == 3, CHECK, || {
        format!("rejected batches changed highest to {h}")
    })?;
    let all = replay_all(j, &p, CHECK).await?;
    ensure(numbers(&all) == [1, 2, 3], CHECK, || {
        format!("rejected batches changed the log: {:?}", numbers(&all))
    })
}

async fn conflicting_writers(j: &impl Journal) -> Result<(), TckFailure> {
    const CHECK: &str = "journal::conflicting_writers";
    let p = pid("tck-two-writers")?;
    let a = writer("writer-a")?;
    let b = writer("writer-b")?;
    ok(j.write(events(&p, 1, 1, &a)?).await, CHECK, "write 1")?;
    // Both writers recovered to 1 and now write 2..=4 at the same time.
    let (ra, rb) = join(
        j.write(events(&p, 2, 4, &a)?),
        j.write(events(&p, 2, 4, &b)?),
    )
    .await;
    let winner = match (&ra, &rb) {
        (Ok(()), Err(JournalError::SequenceConflict { .. })) => &a,
        (Err(JournalError::SequenceConflict { .. }), Ok(())) => &b,
        _ => {
            return Err(TckFailure {
                check: CHECK,
                message: format!(
                    "exactly one writer must win and the other see a SequenceConflict; got {ra:?} and {rb:?}"
                ),
            });
        }
    };
    let all = replay_all(j, &p, CHECK).await?;
    ensure(numbers(&all) == [1, 2, 3, 4], CHECK, || {
        format!("log after two writers: {:?}", numbers(&all))
    })?;
    ensure(all[1..].iter().all(|e| &e.writer == winner), CHECK, || {
        "events of the two writers interleave".to_owned()
    })?;
    // The loser recovers and goes on after the winner.
    ok(
        j.write(events(&p, 5, 5, &a)?).await,
        CHECK,
        "write 5 after recovering",
    )
}

async fn invalid_batches_write_nothing(j: &impl Journal) -> Result<(), TckFailure> {
    const CHECK: &str = "journal::invalid_batches_write_nothing";
    let p = pid("tck-invalid")?;
    let q = pid("tck-invalid-other")?;
    let w = writer("writer-a")?;
    let r = j.write(Vec::new()).await;
    ensure(matches!(r, Err(JournalError::EmptyBatch)), CHECK, || {
        format!("empty batch: {r:?}")
    })?;
    let gap = vec![event(&p, 1, &w)?, event(&p, 3, &w)?];
    let r = j.write(gap).await;
    ensure(
        matches!(r, Err(JournalError::InvalidBatch { .. })),
        CHECK,
        || format!("non-consecutive batch: {r:?}"),
    )?;
    let mixed = vec![event(&p, 1, &w)?, event(&q, 2, &w)?];
    let r = j.write(mixed).await;
    ensure(
        matches!(r, Err(JournalError::InvalidBatch { .. })),
        CHECK,
        || format!("batch for two persistence ids: {r:?}"),
    )?;
    let zero = vec![event(&p, 0, &w)?];
    let r = j.write(zero).await;
    ensure(r.is_err(), CHECK, || {
        "a batch starting at 0 was accepted".to_owned()
    })?;
    for id in [&p, &q] {
        let h = highest(j, id, CHECK).await?;
        ensure(h == 0, CHECK, || {
            format!("invalid batches left highest {h} for {id}")
        })?;
    }
    Ok(())
}

async fn replay_ranges(j: &impl Journal) -> Result<(), TckFailure> {
    const CHECK: &str = "journal::replay_ranges";
    let p = pid("tck-ranges")?;
    let w = writer("writer-a")?;
    ok(j.write(events(&p, 1, 10, &w)?).await, CHECK, "write 1..=10")?;
    let two = NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN);
    let cases: [(u64, u64, NonZeroUsize, &[u64]); 6] = [
        (3, 7, ALL, &[3, 4, 5, 6, 7]),
        (3, 7, two, &[3, 4]),
        (8, u64::MAX, ALL, &[8, 9, 10]),
        (11, u64::MAX, ALL, &[]),
        (7, 3, ALL, &[]),
        (10, 10, ALL, &[10]),
    ];
    for (from, to, max, expected) in cases {
        let got = ok(
            j.replay(&p, SequenceNr::new(from), SequenceNr::new(to), max)
                .await,
            CHECK,
            "replay",
        )?;
        ensure(numbers(&got) == expected, CHECK, || {
            format!(
                "replay({from}, {to}, max {max}) gave {:?}, expected {expected:?}",
                numbers(&got)
            )
        })?;
    }
    Ok(())
}

async fn delete_keeps_numbering(j: &impl Journal) -> Result<(), TckFailure> {
    const CHECK: &str = "journal::delete_keeps_numbering";
    let p = pid("tck-delete")?;
    let w = writer("writer-a")?;
    ok(j.write(events(&p, 1, 10, &w)?).await, CHECK, "write 1..=10")?;
    ok(
        j.delete_up_to(&p, SequenceNr::new(4)).await,
        CHECK,
        "delete up to 4",
    )?;
    let all = replay_all(j, &p, CHECK).await?;
    ensure(numbers(&all) == [5, 6, 7, 8, 9, 10], CHECK, || {
        format!("after deleting up to 4: {:?}", numbers(&all))
    })?;
    let h = highest(j, &p, CHECK).await?;
    ensure(h == 10, CHECK, || {
        format!("deleting changed highest to {h}")
    })?;
    ok(
        j.delete_up_to(&p, SequenceNr::MAX).await,
        CHECK,
        "delete all",
    )?;
    let all = replay_all(j, &p, CHECK).await?;
    ensure(all.is_empty(), CHECK, || {
        format!("after deleting all: {:?}", numbers(&all))
    })?;
    let h = highest(j, &p, CHECK).await?;
    ensure(h == 10, CHECK, || {
        format!("deleting all changed highest to {h}")
    })?;
    let r = j.write(events(&p, 1, 1, &w)?).await;
    ensure(
        matches!(r, Err(JournalError::SequenceConflict { .. })),
        CHECK,
        || format!("numbering restarted after delete: {r:?}"),
    )?;
    ok(
        j.write(events(&p, 11, 12, &w)?).await,
        CHECK,
        "write 11..=12",
    )?;
    let all = replay_all(j, &p, CHECK).await?;
    ensure(numbers(&all) == [11, 12], CHECK, || {
        format!("after writing past a delete: {:?}", numbers(&all))
    })
}

async fn logs_are_independent(j: &impl Journal) -> Result<(), TckFailure> {
    const CHECK: &str = "journal::logs_are_independent";
    let p = pid("tck-one")?;
    let q = pid("tck-two")?;
    let w = writer("writer-a")?;
    ok(j.write(events(&p, 1, 3, &w)?).await, CHECK, "write p 1..=3")?;
    ok(j.write(events(&q, 1, 2, &w)?).await, CHECK, "write q 1..=2")?;
    ok(j.delete_up_to(&q, SequenceNr::MAX).await, CHECK, "delete q")?;
    let hp = highest(j, &p, CHECK).await?;
    let hq = highest(j, &q, CHECK).await?;
    ensure(hp == 3 && hq == 2, CHECK, || {
        format!("highest p {hp}, q {hq}")
    })?;
    let all = replay_all(j, &p, CHECK).await?;
    ensure(numbers(&all) == [1, 2, 3], CHECK, || {
        format!("deleting q changed p: {:?}", numbers(&all))
    })?;
    ensure(all.iter().all(|e| e.persistence_id == p), CHECK, || {
        "replay of p returned events of q".to_owned()
    })
}
