//! The durable-state suite.

use std::future::Future;

use crate::durable_state::{DurableStateError, DurableStateRecord, DurableStateStore};
use crate::ids::{PersistenceId, Revision};
use crate::tck::fixtures::{payload, pid, tag, timestamp};
use crate::tck::{TckFailure, ensure, join, ok};

/// Runs every durable-state check, each against a fresh store from `new`.
pub async fn durable_state_suite<D, F, Fut>(mut new: F) -> Result<(), TckFailure>
where
    D: DurableStateStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = D>,
{
    revisions_follow_each_other(&new().await).await?;
    concurrent_updates_one_wins(&new().await).await?;
    delete_checks_revision(&new().await).await?;
    Ok(())
}

fn record(
    p: &PersistenceId,
    revision: u64,
    with_tag: bool,
) -> Result<DurableStateRecord, TckFailure> {
    Ok(DurableStateRecord {
        persistence_id: p.clone(),
        revision: Revision::new(revision),
        payload: payload(revision),
        tag: if with_tag { Some(tag("carts")?) } else { None },
        timestamp: timestamp(revision),
    })
}

fn is_conflict(r: &Result<(), DurableStateError>, attempted: u64, expected: u64) -> bool {
    matches!(
        r,
        Err(DurableStateError::RevisionConflict { attempted: a, expected: e, .. })
            if a.value() == attempted && e.value() == expected
    )
}

async fn revisions_follow_each_other(d: &impl DurableStateStore) -> Result<(), TckFailure> {
    const CHECK: &str = "durable_state::revisions_follow_each_other";
    let p = pid("tck-state")?;
    let none = ok(d.get(&p).await, CHECK, "get")?;
    ensure(none.is_none(), CHECK, || format!("unknown id has {none:?}"))?;
    let r = d.upsert(record(&p, 2, false)?).await;
    ensure(is_conflict(&r, 2, 1), CHECK, || {
        format!("first write at revision 2: {r:?}")
    })?;
    ok(d.upsert(record(&p, 1, true)?).await, CHECK, "upsert 1")?;
    let got = ok(d.get(&p).await, CHECK, "get")?;
    let expected = record(&p, 1, true)?;
    ensure(got.as_ref() == Some(&expected), CHECK, || {
        format!("got {got:?}, expected {expected:?}")
    })?;
    let r = d.upsert(record(&p, 1, false)?).await;
    ensure(is_conflict(&r, 1, 2), CHECK, || {
        format!("stale revision 1: {r:?}")
    })?;
    let r = d.upsert(record(&p, 3, false)?).await;
    ensure(is_conflict(&r, 3, 2), CHECK, || {
        format!("skipped revision 3: {r:?}")
    })?;
    ok(d.upsert(record(&p, 2, false)?).await, CHECK, "upsert 2")?;
    let got = ok(d.get(&p).await, CHECK, "get")?;
    let expected = record(&p, 2, false)?;
    ensure(got.as_ref() == Some(&expected), CHECK, || {
        format!("got {got:?}, expected {expected:?}")
    })
}

async fn concurrent_updates_one_wins(d: &impl DurableStateStore) -> Result<(), TckFailure> {
    const CHECK: &str = "durable_state::concurrent_updates_one_wins";
    let p = pid("tck-state-race")?;
    let mut a = record(&p, 1, false)?;
    a.payload.manifest = "a".into();
    let mut b = record(&p, 1, false)?;
    b.payload.manifest = "b".into();
    let (ra, rb) = join(d.upsert(a.clone()), d.upsert(b.clone())).await;
    let winner = match (&ra, &rb) {
        (Ok(()), Err(_)) if is_conflict(&rb, 1, 2) => a,
        (Err(_), Ok(())) if is_conflict(&ra, 1, 2) => b,
        _ => {
            return Err(TckFailure {
                check: CHECK,
                message: format!("exactly one update must win; got {ra:?} and {rb:?}"),
            });
        }
    };
    let got = ok(d.get(&p).await, CHECK, "get")?;
    ensure(got == Some(winner), CHECK, || {
        format!("stored value is not the winner's: {got:?}")
    })
}

async fn delete_checks_revision(d: &impl DurableStateStore) -> Result<(), TckFailure> {
    const CHECK: &str = "durable_state::delete_checks_revision";
    let p = pid("tck-state-delete")?;
    ok(d.upsert(record(&p, 1, false)?).await, CHECK, "upsert 1")?;
    ok(d.upsert(record(&p, 2, false)?).await, CHECK, "upsert 2")?;
    let r = d.delete(&p, Revision::new(1)).await;
    ensure(is_conflict(&r, 1, 2), CHECK, || {
        format!("delete at stale revision: {r:?}")
    })?;
    ensure(ok(d.get(&p).await, CHECK, "get")?.is_some(), CHECK, || {
        "a rejected delete removed the value".to_owned()
    })?;
    ok(d.delete(&p, Revision::new(2)).await, CHECK, "delete at 2")?;
    let got = ok(d.get(&p).await, CHECK, "get")?;
    ensure(got.is_none(), CHECK, || {
        format!("deleted value is still there: {got:?}")
    })?;
    ok(
        d.upsert(record(&p, 1, false)?).await,
        CHECK,
        "upsert 1 after delete",
    )
}
