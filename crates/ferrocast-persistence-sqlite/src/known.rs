//! The highest sequence numbers the writer knows, so that a write need not
//! read its log's highest number from `journal_highest` first.
//!
//! Every event write checks that it continues its log (this is how a
//! second writer of a persistence id is refused). Reading the stored
//! highest number is an index search per request; at 1,000 entities per
//! group it was a tenth of the writer thread's time. So the writer keeps
//! the numbers it has read or committed, on two conditions:
//!
//! - **No other connection has committed since.** The writer checks
//!   `PRAGMA data_version` at the start of every group, inside its
//!   `BEGIN IMMEDIATE` (so under the write lock, and nothing else commits
//!   until it does). The value changes when another connection (another
//!   store, another process) has committed to the file, and not for the
//!   writer's own commits. A change forgets everything.
//! - **Nothing of a failed group is kept.** A group's own writes go into
//!   the map as it makes them: within the group they are exactly what the
//!   writer's connection would read (its transaction sees its own
//!   writes), and after its `COMMIT` they are committed state. A group
//!   that is rolled back (in full, or to run it again request by
//!   request), or whose commit fails, forgets everything.
//!
//! The map is bounded: past [`MAX_KNOWN`] persistence ids it starts again
//! empty, and the next writes read their numbers once more (a group's own
//! numbers included: its reads see its writes). It is looked up and
//! updated for every write, so it hashes with foldhash rather than std's
//! SipHash (about 7% of the writer thread's time, measured): seeded at
//! random per map, and holding only ids this store was asked to write.

use std::collections::HashMap;

use ferrocast_persistence::PersistenceId;

/// Persistence ids remembered at most (about 100 bytes each).
pub(crate) const MAX_KNOWN: usize = 100_000;

/// The highest numbers the writer knows: committed ones, and those of the
/// group in progress.
#[derive(Debug, Default)]
pub(crate) struct KnownHighest {
    highest: HashMap<PersistenceId, i64, foldhash::fast::RandomState>,
    /// `PRAGMA data_version` when `highest` was last valid.
    data_version: Option<i64>,
}

impl KnownHighest {
    /// At the start of a group, inside its transaction: `data_version` is
    /// the connection's current one.
    pub(crate) fn begin(&mut self, data_version: i64) {
        if self.data_version != Some(data_version) {
            self.highest.clear();
            self.data_version = Some(data_version);
        }
    }

    /// The highest number of `pid` as this group sees it, if known.
    pub(crate) fn get(&self, pid: &PersistenceId) -> Option<i64> {
        self.highest.get(pid).copied()
    }

    /// `pid`'s highest number is now `highest`: read from the database
    /// inside this group, or written by it.
    pub(crate) fn set(&mut self, pid: &PersistenceId, highest: i64) {
        if let Some(known) = self.highest.get_mut(pid) {
            *known = highest;
            return;
        }
        if self.highest.len() >= MAX_KNOWN {
            self.highest.clear();
        }
        self.highest.insert(pid.clone(), highest);
    }

    /// The group (or part of it) was rolled back, or its commit failed:
    /// nothing it wrote counts, and nothing else is trusted either.
    pub(crate) fn forget(&mut self) {
        self.highest.clear();
        self.data_version = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PersistenceId {
        PersistenceId::new(s).unwrap()
    }

    #[test]
    fn a_failed_group_forgets_what_it_wrote() {
        let mut k = KnownHighest::default();
        k.begin(1);
        k.set(&id("a"), 3);
        k.set(&id("a"), 5);
        assert_eq!(k.get(&id("a")), Some(5));
        k.forget();
        assert_eq!(k.get(&id("a")), None);
        k.begin(1);
        k.set(&id("a"), 5);
        // Committed: the next group with the same data_version trusts it.
        k.begin(1);
        assert_eq!(k.get(&id("a")), Some(5));
    }

    #[test]
    fn another_connections_commit_forgets_everything() {
        let mut k = KnownHighest::default();
        k.begin(7);
        k.set(&id("a"), 1);
        k.begin(8);
        assert_eq!(k.get(&id("a")), None);
    }

    #[test]
    fn the_map_is_bounded() {
        let mut k = KnownHighest::default();
        k.begin(1);
        for i in 0..=MAX_KNOWN {
            k.set(&id(&format!("p{i}")), 1);
        }
        assert!(k.highest.len() <= MAX_KNOWN);
        assert_eq!(k.get(&id(&format!("p{MAX_KNOWN}"))), Some(1));
    }
}
