//! Deciding a group of writes in memory, before any of it is sent.
//!
//! The writer task holds the schema's advisory lock for its transaction,
//! so nobody else changes the log while it decides: it reads the highest
//! sequence number of every persistence id the group writes (and the
//! revision of every durable state it touches) in one query each, then
//! [`plan`] settles every request here, without I/O: conflicts and values
//! out of range (or text PostgreSQL cannot store) fail only their own
//! request, and what is accepted becomes a few [`Step`]s, consecutive event
//! writes from many entities merged into one insert. This is what makes a group cost a handful of round
//! trips however many requests it carries.

use std::collections::HashMap;

use ferrocast_persistence::{
    DurableStateRecord, PersistenceId, PersistentRepr, Revision, SequenceNr, Snapshot,
};

use ferrocast_persistence::backend::{
    WriteOp as Op, WriteOutcome as Outcome, clamp_to_i64, from_i64, to_i64,
};

use crate::codec::storable;
use crate::error::PostgresError;

/// One statement of a group's transaction, values already checked.
#[derive(Debug)]
pub(crate) enum Step<'a> {
    /// Accepted event writes next to each other in the group.
    Events(EventRun<'a>),
    DeleteEvents(&'a PersistenceId, i64),
    SaveSnapshot(&'a Snapshot, i64),
    DeleteSnapshots(&'a PersistenceId, i64),
    UpsertState(&'a DurableStateRecord, i64),
    DeleteState(&'a PersistenceId),
}

/// Event writes of many entities, inserted with one statement.
#[derive(Debug, Default)]
pub(crate) struct EventRun<'a> {
    /// Each event with its sequence number as a `bigint`, in group order.
    pub(crate) events: Vec<(&'a PersistentRepr, i64)>,
}

impl Plan<'_> {
    /// The events the plan inserts, in all its runs.
    pub(crate) fn inserted(&self) -> usize {
        self.steps
            .iter()
            .map(|step| match step {
                Step::Events(run) => run.events.len(),
                _ => 0,
            })
            .sum()
    }
}

/// A decided group.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// One per request, in order; final once the transaction commits.
    pub(crate) outcomes: Vec<Result<Outcome, PostgresError>>,
    /// What to run, in request order.
    pub(crate) steps: Vec<Step<'a>>,
}

/// The persistence ids whose highest sequence numbers, and those whose
/// durable-state revisions, a group needs (each once).
pub(crate) fn lookups<'a>(ops: impl Iterator<Item = &'a Op>) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut logs = Vec::new();
    let mut states = Vec::new();
    for op in ops {
        match op {
            Op::WriteEvents(events) => {
                if let Some(e) = events.first() {
                    logs.push(e.persistence_id.as_str());
                }
            }
            Op::UpsertState(r) => states.push(r.persistence_id.as_str()),
            Op::DeleteState(pid, _) => states.push(pid.as_str()),
            _ => {}
        }
    }
    for v in [&mut logs, &mut states] {
        v.sort_unstable();
        v.dedup();
    }
    (logs, states)
}

/// Decides every op of a group given the stored highest sequence numbers
/// and revisions (absent: zero), as [`lookups`] asked for them; leaves in
/// them what the plan writes, for the ops of the same transaction planned
/// after these (and, once it commits, for the writer to remember).
pub(crate) fn plan<'a>(
    ops: impl Iterator<Item = &'a Op>,
    highest: &mut HashMap<String, i64>,
    revisions: &mut HashMap<String, i64>,
) -> Plan<'a> {
    let mut outcomes = Vec::new();
    let mut steps: Vec<Step<'a>> = Vec::new();
    for op in ops {
        let outcome = match op {
            Op::WriteEvents(events) => write_events(events, highest, &mut steps),
            Op::DeleteEvents(pid, to) => storable_texts([pid.as_str()]).map(|()| {
                steps.push(Step::DeleteEvents(pid, clamp_to_i64(to.value())));
                Outcome::Done
            }),
            Op::SaveSnapshot(s) => save_snapshot(s, &mut steps),
            Op::DeleteSnapshots(pid, max) => storable_texts([pid.as_str()]).map(|()| {
                steps.push(Step::DeleteSnapshots(pid, clamp_to_i64(max.value())));
                Outcome::Done
            }),
            Op::UpsertState(r) => upsert_state(r, revisions, &mut steps),
            Op::DeleteState(pid, revision) => delete_state(pid, *revision, revisions, &mut steps),
        };
        outcomes.push(outcome);
    }
    Plan { outcomes, steps }
}

/// `Ok` if PostgreSQL can store every text.
fn storable_texts<'t>(texts: impl IntoIterator<Item = &'t str>) -> Result<(), PostgresError> {
    if texts.into_iter().all(storable) {
        Ok(())
    } else {
        Err(PostgresError::Unstorable("text containing NUL"))
    }
}

fn write_events<'a>(
    events: &'a [PersistentRepr],
    highest: &mut HashMap<String, i64>,
    steps: &mut Vec<Step<'a>>,
) -> Result<Outcome, PostgresError> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(Outcome::Done);
    };
    let pid = first.persistence_id.as_str();
    let stored = SequenceNr::new(from_i64(
        highest.get(pid).copied().unwrap_or(0),
        "highest sequence number",
    )?);
    let expected = stored.next();
    if first.sequence_nr != expected || stored == SequenceNr::MAX {
        return Ok(Outcome::SequenceConflict { expected });
    }
    storable_texts(events.iter().flat_map(|e| {
        [
            e.persistence_id.as_str(),
            e.payload.manifest.as_str(),
            e.writer.as_str(),
        ]
        .into_iter()
        .chain(e.tags.iter().map(|t| t.as_str()))
    }))?;
    let numbered = events
        .iter()
        .map(|e| Ok((e, to_i64(e.sequence_nr.value(), "sequence number")?)))
        .collect::<Result<Vec<_>, PostgresError>>()?;
    let new_highest = to_i64(last.sequence_nr.value(), "sequence number")?;
    match steps.last_mut() {
        Some(Step::Events(run)) => run.events.extend(numbered),
        _ => steps.push(Step::Events(EventRun { events: numbered })),
    }
    highest.insert(pid.to_owned(), new_highest);
    Ok(Outcome::Done)
}

fn save_snapshot<'a>(s: &'a Snapshot, steps: &mut Vec<Step<'a>>) -> Result<Outcome, PostgresError> {
    storable_texts([
        s.metadata.persistence_id.as_str(),
        s.payload.manifest.as_str(),
    ])?;
    let nr = to_i64(s.metadata.sequence_nr.value(), "snapshot sequence number")?;
    steps.push(Step::SaveSnapshot(s, nr));
    Ok(Outcome::Done)
}

fn revision_of(
    revisions: &HashMap<String, i64>,
    pid: &PersistenceId,
) -> Result<Revision, PostgresError> {
    let stored = revisions.get(pid.as_str()).copied().unwrap_or(0);
    Ok(Revision::new(from_i64(stored, "revision")?))
}

fn upsert_state<'a>(
    r: &'a DurableStateRecord,
    revisions: &mut HashMap<String, i64>,
    steps: &mut Vec<Step<'a>>,
) -> Result<Outcome, PostgresError> {
    let current = revision_of(revisions, &r.persistence_id)?;
    let expected = current.next();
    if r.revision != expected || current == Revision::new(u64::MAX) {
        return Ok(Outcome::RevisionConflict { expected });
    }
    storable_texts(
        [r.persistence_id.as_str(), r.payload.manifest.as_str()]
            .into_iter()
            .chain(r.tag.as_ref().map(|t| t.as_str())),
    )?;
    let revision = to_i64(r.revision.value(), "revision")?;
    revisions.insert(r.persistence_id.as_str().to_owned(), revision);
    steps.push(Step::UpsertState(r, revision));
    Ok(Outcome::Done)
}

fn delete_state<'a>(
    pid: &'a PersistenceId,
    revision: Revision,
    revisions: &mut HashMap<String, i64>,
    steps: &mut Vec<Step<'a>>,
) -> Result<Outcome, PostgresError> {
    let current = revision_of(revisions, pid)?;
    if current != revision {
        return Ok(Outcome::RevisionConflict { expected: current });
    }
    storable_texts([pid.as_str()])?;
    // Deleted: the next write starts again at revision 1.
    revisions.insert(pid.as_str().to_owned(), 0);
    steps.push(Step::DeleteState(pid));
    Ok(Outcome::Done)
}

#[cfg(test)]
#[path = "plan_test.rs"]
mod tests;
