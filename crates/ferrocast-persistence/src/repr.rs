//! [`PersistentRepr`]: one event as a journal stores it.

use std::time::SystemTime;

use crate::ids::{PersistenceId, SequenceNr, Tag, WriterId};
use crate::payload::Payload;

/// One stored event: where it belongs, its bytes, and its metadata.
///
/// The journal treats the payload as opaque; only the event-sourced actor
/// (through its [`Serialization`](crate::Serialization)) reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistentRepr {
    /// The log this event belongs to.
    pub persistence_id: PersistenceId,
    /// Its position in that log.
    pub sequence_nr: SequenceNr,
    /// The serialized event.
    pub payload: Payload,
    /// Labels for queries by tag.
    pub tags: Vec<Tag>,
    /// When the writer created it (wall clock, injected by the setup): for
    /// people and queries, never for ordering.
    pub timestamp: SystemTime,
    /// Which actor incarnation wrote it.
    pub writer: WriterId,
}
