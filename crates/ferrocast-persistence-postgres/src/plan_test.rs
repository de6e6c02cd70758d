use std::collections::HashMap;
use std::time::SystemTime;

use ferrocast_persistence::{Payload, SerializerId, Tag, WriterId};

use super::*;

fn pid(s: &str) -> PersistenceId {
    PersistenceId::new(s).unwrap()
}

fn event(p: &str, nr: u64) -> PersistentRepr {
    PersistentRepr {
        persistence_id: pid(p),
        sequence_nr: SequenceNr::new(nr),
        payload: Payload::new(SerializerId::new(100), "m", vec![1]),
        tags: vec![Tag::new("t").unwrap()],
        timestamp: SystemTime::UNIX_EPOCH,
        writer: WriterId::new("w").unwrap(),
    }
}

fn state(p: &str, revision: u64) -> DurableStateRecord {
    DurableStateRecord {
        persistence_id: pid(p),
        revision: Revision::new(revision),
        payload: Payload::new(SerializerId::new(100), "s", vec![2]),
        tag: None,
        timestamp: SystemTime::UNIX_EPOCH,
    }
}

fn stored(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Each event of `run` as (persistence id, number).
fn numbers<'a>(run: &EventRun<'a>) -> Vec<(&'a str, i64)> {
    run.events
        .iter()
        .map(|(e, nr)| (e.persistence_id.as_str(), *nr))
        .collect()
}

fn kinds(outcomes: &[Result<Outcome, PostgresError>]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| match o {
            Ok(Outcome::Done) => "done".to_owned(),
            Ok(Outcome::SequenceConflict { expected }) => format!("seq-conflict-{expected}"),
            Ok(Outcome::RevisionConflict { expected }) => format!("rev-conflict-{expected}"),
            Err(e) => format!("err: {e}"),
        })
        .collect()
}

#[test]
fn writes_of_many_logs_merge_into_one_insert_and_conflicts_stay_local() {
    let ops = [
        Op::WriteEvents(vec![event("a", 4), event("a", 5)]),
        Op::WriteEvents(vec![event("b", 1)]),
        // A second writer of `a` in the same group: expects 6 now.
        Op::WriteEvents(vec![event("a", 4)]),
        Op::WriteEvents(vec![event("a", 6)]),
    ];
    let (logs, states) = lookups(ops.iter());
    assert_eq!(logs, ["a", "b"]);
    assert!(states.is_empty());
    let mut highest = stored(&[("a", 3)]);
    let plan = plan(ops.iter(), &mut highest, &mut HashMap::new());
    assert_eq!(
        kinds(&plan.outcomes),
        ["done", "done", "seq-conflict-6", "done"]
    );
    let [Step::Events(run)] = plan.steps.as_slice() else {
        panic!("one merged insert: {:?}", plan.steps);
    };
    assert_eq!(numbers(run), [("a", 4), ("a", 5), ("b", 1), ("a", 6)]);
    assert_eq!(highest, stored(&[("a", 6), ("b", 1)]));
    assert_eq!(plan.inserted(), 4);
}

#[test]
fn other_writes_keep_their_place_between_event_inserts() {
    let ops = [
        Op::WriteEvents(vec![event("a", 1)]),
        Op::DeleteEvents(pid("a"), SequenceNr::MAX),
        Op::WriteEvents(vec![event("a", 2)]),
    ];
    let mut highest = HashMap::new();
    let plan = plan(ops.iter(), &mut highest, &mut HashMap::new());
    assert_eq!(kinds(&plan.outcomes), ["done", "done", "done"]);
    let [
        Step::Events(one),
        Step::DeleteEvents(_, i64::MAX),
        Step::Events(two),
    ] = plan.steps.as_slice()
    else {
        panic!("{:?}", plan.steps);
    };
    assert_eq!(numbers(one), [("a", 1)]);
    assert_eq!(numbers(two), [("a", 2)]);
    assert_eq!(highest, stored(&[("a", 2)]));
}

#[test]
fn revisions_follow_each_other_within_a_group() {
    let ops = [
        Op::UpsertState(state("s", 3)),
        Op::UpsertState(state("s", 3)),
        Op::DeleteState(pid("s"), Revision::new(3)),
        Op::UpsertState(state("s", 1)),
        Op::DeleteState(pid("t"), Revision::new(1)),
    ];
    let (_, states) = lookups(ops.iter());
    assert_eq!(states, ["s", "t"]);
    let plan = plan(ops.iter(), &mut HashMap::new(), &mut stored(&[("s", 2)]));
    assert_eq!(
        kinds(&plan.outcomes),
        ["done", "rev-conflict-4", "done", "done", "rev-conflict-0"]
    );
    assert_eq!(plan.steps.len(), 3);
}

#[test]
fn out_of_range_and_corrupt_values_fail_only_their_request() {
    let ops = [
        Op::WriteEvents(vec![
            event("big", i64::MAX as u64),
            event("big", i64::MAX as u64 + 1),
        ]),
        Op::WriteEvents(vec![event("bad", 1)]),
        Op::WriteEvents(vec![event("ok", 1)]),
    ];
    let mut highest = stored(&[("big", i64::MAX - 1), ("bad", -1)]);
    let plan = plan(ops.iter(), &mut highest, &mut HashMap::new());
    let kinds = kinds(&plan.outcomes);
    assert!(
        kinds[0].contains("beyond PostgreSQL's bigint range"),
        "{kinds:?}"
    );
    assert!(kinds[1].contains("corrupt row"), "{kinds:?}");
    assert_eq!(kinds[2], "done");
    let [Step::Events(run)] = plan.steps.as_slice() else {
        panic!("{:?}", plan.steps);
    };
    assert_eq!(numbers(run), [("ok", 1)]);
    assert_eq!(
        highest,
        stored(&[("big", i64::MAX - 1), ("bad", -1), ("ok", 1)])
    );
}

#[test]
fn text_postgres_cannot_store_fails_only_its_request() {
    let mut nul_tag = event("a", 1);
    nul_tag.tags.push(Tag::new("x\0y").unwrap());
    let mut nul_state = state("s", 1);
    nul_state.payload.manifest = "m\0".into();
    let ops = [
        Op::WriteEvents(vec![nul_tag]),
        Op::WriteEvents(vec![event("a", 1)]),
        Op::UpsertState(nul_state),
        Op::DeleteEvents(pid("p\0"), SequenceNr::MAX),
    ];
    let plan = plan(ops.iter(), &mut HashMap::new(), &mut HashMap::new());
    let kinds = kinds(&plan.outcomes);
    assert_eq!(kinds[1], "done");
    for k in [0, 2, 3] {
        assert!(kinds[k].contains("cannot be stored"), "{kinds:?}");
    }
    assert_eq!(plan.steps.len(), 1);
}

#[test]
fn a_later_part_of_the_transaction_is_planned_after_what_earlier_parts_wrote() {
    let (mut highest, mut revisions) = (stored(&[("a", 3)]), HashMap::new());
    let first = [
        Op::WriteEvents(vec![event("a", 4)]),
        Op::UpsertState(state("s", 1)),
    ];
    let plan_first = plan(first.iter(), &mut highest, &mut revisions);
    assert_eq!(kinds(&plan_first.outcomes), ["done", "done"]);
    assert_eq!((highest["a"], revisions["s"]), (4, 1));
    let second = [
        // Continues the first part's write; a repeat of it conflicts.
        Op::WriteEvents(vec![event("a", 5)]),
        Op::WriteEvents(vec![event("a", 4)]),
        Op::UpsertState(state("s", 1)),
        Op::UpsertState(state("s", 2)),
    ];
    let plan_second = plan(second.iter(), &mut highest, &mut revisions);
    assert_eq!(
        kinds(&plan_second.outcomes),
        ["done", "seq-conflict-6", "rev-conflict-2", "done"]
    );
    assert_eq!((highest["a"], revisions["s"]), (5, 2));
}
