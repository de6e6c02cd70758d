//! The snapshot-store suite.

use std::future::Future;

use crate::ids::{PersistenceId, SequenceNr};
use crate::snapshot_store::{Snapshot, SnapshotMetadata, SnapshotStore};
use crate::tck::fixtures::{payload, pid, timestamp};
use crate::tck::{TckFailure, ensure, ok};

/// Runs every snapshot-store check, each against a fresh store from `new`.
pub async fn snapshot_store_suite<S, F, Fut>(mut new: F) -> Result<(), TckFailure>
where
    S: SnapshotStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    latest_by_bound(&new().await).await?;
    save_replaces_same_sequence_nr(&new().await).await?;
    delete_up_to(&new().await).await?;
    stores_are_independent(&new().await).await?;
    Ok(())
}

fn snapshot(p: &PersistenceId, nr: u64, version: u64) -> Snapshot {
    Snapshot {
        metadata: SnapshotMetadata {
            persistence_id: p.clone(),
            sequence_nr: SequenceNr::new(nr),
            timestamp: timestamp(nr),
        },
        payload: payload(nr * 1000 + version),
    }
}

async fn latest_nr(
    s: &impl SnapshotStore,
    p: &PersistenceId,
    max: u64,
    check: &'static str,
) -> Result<Option<u64>, TckFailure> {
    let got = ok(
        s.load_latest(p, SequenceNr::new(max)).await,
        check,
        "load_latest",
    )?;
    Ok(got.map(|s| s.metadata.sequence_nr.value()))
}

async fn latest_by_bound(s: &impl SnapshotStore) -> Result<(), TckFailure> {
    const CHECK: &str = "snapshot_store::latest_by_bound";
    let p = pid("tck-snap")?;
    let none = latest_nr(s, &p, u64::MAX, CHECK).await?;
    ensure(none.is_none(), CHECK, || {
        format!("unknown id has snapshot {none:?}")
    })?;
    for nr in [10, 5, 15] {
        ok(s.save(snapshot(&p, nr, 0)).await, CHECK, "save")?;
    }
    let got = ok(
        s.load_latest(&p, SequenceNr::MAX).await,
        CHECK,
        "load_latest",
    )?;
    let expected = snapshot(&p, 15, 0);
    ensure(got.as_ref() == Some(&expected), CHECK, || {
        format!("latest is {got:?}, expected {expected:?}")
    })?;
    for (max, expected) in [(12, Some(10)), (10, Some(10)), (4, None), (5, Some(5))] {
        let got = latest_nr(s, &p, max, CHECK).await?;
        ensure(got == expected, CHECK, || {
            format!("latest at or below {max} is {got:?}, expected {expected:?}")
        })?;
    }
    Ok(())
}

async fn save_replaces_same_sequence_nr(s: &impl SnapshotStore) -> Result<(), TckFailure> {
    const CHECK: &str = "snapshot_store::save_replaces_same_sequence_nr";
    let p = pid("tck-snap-replace")?;
    ok(s.save(snapshot(&p, 7, 1)).await, CHECK, "save")?;
    ok(s.save(snapshot(&p, 7, 2)).await, CHECK, "save again")?;
    let got = ok(
        s.load_latest(&p, SequenceNr::MAX).await,
        CHECK,
        "load_latest",
    )?;
    let expected = snapshot(&p, 7, 2);
    ensure(got.as_ref() == Some(&expected), CHECK, || {
        format!("second save at 7 did not replace the first: {got:?}")
    })
}

async fn delete_up_to(s: &impl SnapshotStore) -> Result<(), TckFailure> {
    const CHECK: &str = "snapshot_store::delete_up_to";
    let p = pid("tck-snap-delete")?;
    for nr in [5, 10, 15] {
        ok(s.save(snapshot(&p, nr, 0)).await, CHECK, "save")?;
    }
    ok(
        s.delete_up_to(&p, SequenceNr::new(10)).await,
        CHECK,
        "delete_up_to",
    )?;
    let below = latest_nr(s, &p, 14, CHECK).await?;
    ensure(below.is_none(), CHECK, || {
        format!("snapshot {below:?} survived delete_up_to(10)")
    })?;
    let latest = latest_nr(s, &p, u64::MAX, CHECK).await?;
    ensure(latest == Some(15), CHECK, || {
        format!("delete_up_to(10) removed 15: latest is {latest:?}")
    })?;
    ok(
        s.delete_up_to(&p, SequenceNr::MAX).await,
        CHECK,
        "delete all",
    )?;
    let latest = latest_nr(s, &p, u64::MAX, CHECK).await?;
    ensure(latest.is_none(), CHECK, || {
        format!("after delete all: {latest:?}")
    })
}

async fn stores_are_independent(s: &impl SnapshotStore) -> Result<(), TckFailure> {
    const CHECK: &str = "snapshot_store::stores_are_independent";
    let p = pid("tck-snap-one")?;
    let q = pid("tck-snap-two")?;
    ok(s.save(snapshot(&p, 3, 0)).await, CHECK, "save p")?;
    ok(s.save(snapshot(&q, 4, 0)).await, CHECK, "save q")?;
    ok(s.delete_up_to(&q, SequenceNr::MAX).await, CHECK, "delete q")?;
    let got = ok(s.load_latest(&p, SequenceNr::MAX).await, CHECK, "load p")?;
    ensure(got == Some(snapshot(&p, 3, 0)), CHECK, || {
        format!("deleting q changed p: {got:?}")
    })
}
