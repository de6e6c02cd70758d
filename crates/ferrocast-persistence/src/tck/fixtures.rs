//! Test data for the suites: ids, payloads and timestamps that every
//! backend must round-trip exactly.

use std::time::{Duration, SystemTime};

use crate::ids::{PersistenceId, SequenceNr, Tag, WriterId};
use crate::payload::{Payload, SerializerId};
use crate::repr::PersistentRepr;
use crate::tck::TckFailure;

pub(crate) fn pid(name: &str) -> Result<PersistenceId, TckFailure> {
    PersistenceId::new(name).map_err(|e| TckFailure {
        check: "fixtures",
        message: e.to_string(),
    })
}

pub(crate) fn writer(name: &str) -> Result<WriterId, TckFailure> {
    WriterId::new(name).map_err(|e| TckFailure {
        check: "fixtures",
        message: e.to_string(),
    })
}

pub(crate) fn tag(name: &str) -> Result<Tag, TckFailure> {
    Tag::new(name).map_err(|e| TckFailure {
        check: "fixtures",
        message: e.to_string(),
    })
}

/// Whole milliseconds: the precision every backend must keep.
pub(crate) fn timestamp(n: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + n)
}

pub(crate) fn payload(n: u64) -> Payload {
    // Non-UTF-8 bytes on purpose: payloads are opaque binary.
    let mut bytes = vec![0xff, 0x00, 0xfe];
    bytes.extend_from_slice(&n.to_be_bytes());
    Payload::new(
        SerializerId::new(100 + (n % 3) as u32),
        format!("m{n}").as_str(),
        bytes,
    )
}

pub(crate) fn event(
    pid: &PersistenceId,
    nr: u64,
    writer: &WriterId,
) -> Result<PersistentRepr, TckFailure> {
    let tags = if nr % 2 == 0 {
        vec![tag("even")?, tag("all")?]
    } else {
        vec![tag("all")?]
    };
    Ok(PersistentRepr {
        persistence_id: pid.clone(),
        sequence_nr: SequenceNr::new(nr),
        payload: payload(nr),
        tags,
        timestamp: timestamp(nr),
        writer: writer.clone(),
    })
}

/// Events `from..=to` of `pid`, written by `writer`.
pub(crate) fn events(
    pid: &PersistenceId,
    from: u64,
    to: u64,
    writer: &WriterId,
) -> Result<Vec<PersistentRepr>, TckFailure> {
    (from..=to).map(|n| event(pid, n, writer)).collect()
}

pub(crate) fn numbers(events: &[PersistentRepr]) -> Vec<u64> {
    events.iter().map(|e| e.sequence_nr.value()).collect()
}
