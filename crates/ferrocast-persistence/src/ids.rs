//! Identifiers: [`PersistenceId`], [`SequenceNr`], [`Revision`], [`Tag`],
//! [`WriterId`]. Small newtypes so that no signature takes three adjacent
//! strings or a bare `u64`.

use std::fmt;
use std::sync::Arc;

/// Longest persistence id or tag, in bytes: backends index these columns.
pub const MAX_ID_LEN: usize = 255;

/// An identifier was empty or too long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: must be 1 to {MAX_ID_LEN} bytes")]
pub struct InvalidId {
    /// Which kind of identifier (`"persistence id"`, `"tag"`, ...).
    pub kind: &'static str,
    /// The rejected text.
    pub value: String,
}

fn checked(kind: &'static str, value: &str) -> Result<Arc<str>, InvalidId> {
    if value.is_empty() || value.len() > MAX_ID_LEN {
        return Err(InvalidId {
            kind,
            value: value.to_owned(),
        });
    }
    Ok(Arc::from(value))
}

/// The identity of one event log: an entity's name in the journal.
///
/// Unique across the cluster; two writers with the same id are detected by
/// the journal's sequence-number check. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersistenceId(Arc<str>);

impl PersistenceId {
    /// A persistence id; 1 to [`MAX_ID_LEN`] bytes.
    pub fn new(id: &str) -> Result<Self, InvalidId> {
        checked("persistence id", id).map(PersistenceId)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersistenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PersistenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersistenceId({:?})", &*self.0)
    }
}

/// A label on an event, for queries by tag across persistence ids.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(Arc<str>);

impl Tag {
    /// A tag; 1 to [`MAX_ID_LEN`] bytes.
    pub fn new(tag: &str) -> Result<Self, InvalidId> {
        checked("tag", tag).map(Tag)
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:?})", &*self.0)
    }
}

/// Which incarnation of an actor wrote an event: stored with every event so
/// that, after two writers collided, an operator can see who wrote what.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WriterId(Arc<str>);

impl WriterId {
    /// A writer id; 1 to [`MAX_ID_LEN`] bytes.
    pub fn new(id: &str) -> Result<Self, InvalidId> {
        checked("writer id", id).map(WriterId)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of an actor that has not started yet.
    pub(crate) fn placeholder() -> Self {
        WriterId(Arc::from("unstarted"))
    }
}

impl fmt::Display for WriterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WriterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WriterId({:?})", &*self.0)
    }
}

/// The position of an event in its persistence id's log: 1, 2, 3, ...
/// without gaps. [`SequenceNr::ZERO`] means "nothing written yet".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct SequenceNr(u64);

impl SequenceNr {
    /// Before the first event.
    pub const ZERO: SequenceNr = SequenceNr(0);
    /// The first event's number.
    pub const FIRST: SequenceNr = SequenceNr(1);
    /// The largest number: "up to the end" in ranges.
    pub const MAX: SequenceNr = SequenceNr(u64::MAX);

    /// A sequence number from its value.
    pub const fn new(value: u64) -> Self {
        SequenceNr(value)
    }

    /// The number.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// The next number (saturating: a log at `u64::MAX` is full, and the
    /// journal rejects the write as a conflict).
    pub const fn next(self) -> Self {
        SequenceNr(self.0.saturating_add(1))
    }

    /// The previous number, or zero.
    pub const fn prev(self) -> Self {
        SequenceNr(self.0.saturating_sub(1))
    }

    /// This number plus `n` (saturating).
    pub const fn plus(self, n: u64) -> Self {
        SequenceNr(self.0.saturating_add(n))
    }
}

impl fmt::Display for SequenceNr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The version of a durable-state value: 1 for the first write, then +1 for
/// each update. [`Revision::ZERO`] means "absent".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Revision(u64);

impl Revision {
    /// No value stored.
    pub const ZERO: Revision = Revision(0);

    /// A revision from its value.
    pub const fn new(value: u64) -> Self {
        Revision(value)
    }

    /// The number.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// The next revision (saturating).
    pub const fn next(self) -> Self {
        Revision(self.0.saturating_add(1))
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(PersistenceId::new("cart-1").is_ok());
        assert!(PersistenceId::new("").is_err());
        assert!(Tag::new(&"x".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(WriterId::new(&"x".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn sequence_numbers_saturate() {
        assert_eq!(SequenceNr::MAX.next(), SequenceNr::MAX);
        assert_eq!(SequenceNr::ZERO.prev(), SequenceNr::ZERO);
        assert_eq!(SequenceNr::ZERO.next(), SequenceNr::FIRST);
        assert_eq!(SequenceNr::FIRST.plus(2).value(), 3);
    }
}
