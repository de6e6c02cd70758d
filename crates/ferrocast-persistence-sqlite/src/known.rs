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
//! - **Only committed numbers count.** What a group writes is `pending`
//!   until its `COMMIT` succeeds; a rolled-back group, or one whose commit
//!   fails, forgets its pending numbers (and, to be safe, all others).
//!
//! The map is bounded: past [`MAX_KNOWN`] persistence ids it starts again
//! empty, and the next writes read their numbers once more.

use std::collections::HashMap;

use ferrocast_persistence::PersistenceId;

/// Persistence ids remembered at most (about 100 bytes each).
pub(crate) const MAX_KNOWN: usize = 100_000;

/// The committed highest numbers the writer knows, and those of the
/// group in progress.
#[derive(Debug, Default)]
pub(crate) struct KnownHighest {
    committed: HashMap<PersistenceId, i64>,
    pending: HashMap<PersistenceId, i64>,
    /// `PRAGMA data_version` when `committed` was last valid.
    data_version: Option<i64>,
}

impl KnownHighest {
    /// At the start of a group, inside its transaction: `data_version` is
    /// the connection's current one.
    pub(crate) fn begin(&mut self, data_version: i64) {
        self.pending.clear();
        if self.data_version != Some(data_version) {
            self.committed.clear();
            self.data_version = Some(data_version);
        }
    }

    /// The highest number of `pid` as this group sees it, if known.
    pub(crate) fn get(&self, pid: &PersistenceId) -> Option<i64> {
        self.pending
            .get(pid)
            .or_else(|| self.committed.get(pid))
            .copied()
    }

    /// `highest` was read from the database inside this group, before the
    /// group wrote to `pid`: it is committed state.
    pub(crate) fn read(&mut self, pid: &PersistenceId, highest: i64) {
        if self.committed.len() >= MAX_KNOWN {
            self.committed.clear();
        }
        self.committed.insert(pid.clone(), highest);
    }

    /// The group wrote `pid`'s events up to `highest`.
    pub(crate) fn wrote(&mut self, pid: &PersistenceId, highest: i64) {
        self.pending.insert(pid.clone(), highest);
    }

    /// The group committed.
    pub(crate) fn committed(&mut self) {
        if self.committed.len() + self.pending.len() > MAX_KNOWN {
            self.committed.clear();
        }
        self.committed.extend(self.pending.drain());
    }

    /// The group (or part of it) was rolled back, or its commit failed:
    /// nothing it wrote counts, and nothing else is trusted either.
    pub(crate) fn forget(&mut self) {
        self.pending.clear();
        self.committed.clear();
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
    fn pending_numbers_count_only_once_committed() {
        let mut k = KnownHighest::default();
        k.begin(1);
        k.read(&id("a"), 3);
        k.wrote(&id("a"), 5);
        assert_eq!(k.get(&id("a")), Some(5));
        k.forget();
        assert_eq!(k.get(&id("a")), None);
        k.begin(1);
        k.wrote(&id("a"), 5);
        k.committed();
        k.begin(1);
        assert_eq!(k.get(&id("a")), Some(5));
    }

    #[test]
    fn another_connections_commit_forgets_everything() {
        let mut k = KnownHighest::default();
        k.begin(7);
        k.wrote(&id("a"), 1);
        k.committed();
        k.begin(8);
        assert_eq!(k.get(&id("a")), None);
    }

    #[test]
    fn the_map_is_bounded() {
        let mut k = KnownHighest::default();
        k.begin(1);
        for i in 0..=MAX_KNOWN {
            k.read(&id(&format!("p{i}")), 1);
        }
        assert!(k.committed.len() <= MAX_KNOWN);
        assert_eq!(k.get(&id(&format!("p{MAX_KNOWN}"))), Some(1));
    }
}
