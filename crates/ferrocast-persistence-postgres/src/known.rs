//! [`Known`]: the highest sequence numbers the writer committed itself, so
//! that a group need not read them again.
//!
//! Another store (another process) on the same schema may write between
//! two groups of this writer, so the numbers are only trusted after a
//! check under the lock. Every event insert takes values from the
//! journal's `ordering` identity, and only event inserts change highest
//! numbers. The schema creates the identity with `CACHE 1` and
//! `INCREMENT 1`: then every value handed out, by any session, moves the
//! identity's last value (`pg_sequence_last_value`) by one, committed or
//! rolled back. A group that read `v` under the lock and inserted `n`
//! events leaves it at exactly `v + n`; any other insert since, even one
//! rolled back, leaves it higher. So if the next group finds `v + n`,
//! nobody else wrote events and the numbers are current; otherwise they
//! are forgotten and the logs read again.
//!
//! With a cache above 1, a session hands out values it fetched earlier
//! without moving the last value, which then proves nothing: the writer
//! reads the cache (and increment) with the last value in every group,
//! and trusts nothing unless they are 1 (a schema created otherwise, or
//! altered since, only costs the reads). Nor without the right to read
//! the sequence (tables created by another role): then the writer reads
//! every log, as it would without this module. Not detected: values other
//! sessions cached before a cache was set back to 1 (restart them after
//! such a change), and inserts that bypass the identity (`OVERRIDING
//! SYSTEM VALUE`) or reset it (`setval`, `RESTART`).
//!
//! A group that writes only events to logs the writer knows need not
//! wait for that check: it is planned with the known numbers
//! ([`Known::trusted`]) and sent with its `BEGIN` and `COMMIT` at once,
//! its insert guarded by the same expression, read by the insert itself
//! after the lock: unless the last value is where this writer left it,
//! the insert writes nothing (and takes no value), and the group runs
//! again the two-round-trip way ([`Known::missed`]).
//!
//! A failed group forgets everything (its insert may have taken values,
//! its `COMMIT` may or may not have happened), and so does a reconnect
//! (a new writer starts with nothing known).

use std::collections::HashMap;

/// Numbers kept at most; past that they are forgotten (and read again as
/// groups need them), so that a node writing to ever new logs does not
/// grow without bound.
const LIMIT: usize = 100_000;

/// What the writer knows of the logs, as of one value of the identity.
#[derive(Debug, Default)]
pub(crate) struct Known {
    highest: HashMap<String, i64>,
    /// The identity's last value after this writer's last commit; `None`
    /// when nothing is known.
    ordering: Option<i64>,
    /// The last group found that another writer had written: with stores
    /// of several nodes writing all the time, skipping reads would cost a
    /// second round trip in most groups, so the next group reads every log
    /// up front (and trusts again if nobody wrote since).
    contended: bool,
}

impl Known {
    /// Of `logs`, those whose highest number a group must read with the
    /// identity's value: all of them unless some are trusted.
    pub(crate) fn to_read<'a>(&self, logs: &[&'a str]) -> Vec<&'a str> {
        if self.ordering.is_none() || self.contended {
            return logs.to_vec();
        }
        logs.iter()
            .copied()
            .filter(|pid| !self.highest.contains_key(*pid))
            .collect()
    }

    /// For a group writing only events to `logs`: the identity's last value
    /// this writer's last commit left and every log's highest number, if
    /// it knows them all, not yet checked. The group may then be planned
    /// and sent at once, its insert guarded by that value (see
    /// `writer`); if the guard fails, [`Known::missed`].
    pub(crate) fn trusted(&self, logs: &[&str]) -> Option<(i64, HashMap<String, i64>)> {
        let ordering = self.ordering.filter(|_| !self.contended)?;
        let highest = logs
            .iter()
            .map(|pid| Some(((*pid).to_owned(), *self.highest.get(*pid)?)))
            .collect::<Option<_>>()?;
        Some((ordering, highest))
    }

    /// A guarded insert found that another store wrote events since this
    /// writer's last commit: everything is forgotten, and the groups read
    /// their logs up front until one finds nobody else wrote since the
    /// last (as after [`Known::complete`] found another writer).
    pub(crate) fn missed(&mut self) {
        self.forget();
        self.contended = true;
    }

    /// The highest number of `pid`, if the writer trusts one: only between
    /// a [`Known::complete`] that found the identity where this writer left
    /// it and the group's end (otherwise nothing is kept).
    pub(crate) fn get(&self, pid: &str) -> Option<i64> {
        self.highest.get(pid).copied()
    }

    /// Completes `highest`, read for [`Known::to_read`] of `logs` when the
    /// identity's last value was `ordering` (`None`: not usable). Returns
    /// the logs whose numbers must still be read: none if the known
    /// numbers are current, else those that were not read (and everything
    /// known is forgotten).
    pub(crate) fn complete<'a>(
        &mut self,
        ordering: Option<i64>,
        logs: &[&'a str],
        highest: &mut HashMap<String, i64>,
    ) -> Vec<&'a str> {
        if ordering.is_some() && self.ordering == ordering {
            for pid in logs {
                if let Some(nr) = self.highest.get(*pid) {
                    highest.entry((*pid).to_owned()).or_insert(*nr);
                }
            }
            self.contended = false;
            return Vec::new();
        }
        // What `to_read` left out: nothing has changed since it was asked.
        let read = self.to_read(logs);
        let unread = logs
            .iter()
            .copied()
            .filter(|pid| !read.contains(pid))
            .collect();
        let contended = self.ordering.is_some() || self.contended;
        self.forget();
        self.contended = contended;
        unread
    }

    /// A group committed: it found the identity at `ordering` (`None`: not
    /// usable), inserted `inserted` events, and left these highest
    /// numbers.
    pub(crate) fn committed<'a>(
        &mut self,
        ordering: Option<i64>,
        inserted: usize,
        highest: impl IntoIterator<Item = (&'a str, i64)>,
    ) {
        let Some(after) = ordering.and_then(|ordering| {
            i64::try_from(inserted)
                .ok()
                .and_then(|n| ordering.checked_add(n))
        }) else {
            return self.forget();
        };
        if self.highest.len() > LIMIT {
            self.highest.clear();
        }
        self.highest
            .extend(highest.into_iter().map(|(pid, nr)| (pid.to_owned(), nr)));
        self.ordering = Some(after);
    }

    /// Trusts nothing until the next group has read again.
    pub(crate) fn forget(&mut self) {
        self.highest.clear();
        self.ordering = None;
        self.contended = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
        pairs.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect()
    }

    #[test]
    fn nothing_is_known_at_first() {
        let mut k = Known::default();
        assert_eq!(k.to_read(&["a", "b"]), ["a", "b"]);
        let mut read = map(&[("a", 3)]);
        assert!(k.complete(Some(7), &["a", "b"], &mut read).is_empty());
        assert_eq!(read, map(&[("a", 3)]));
    }

    #[test]
    fn own_commits_are_known_while_the_identity_is_where_they_left_it() {
        let mut k = Known::default();
        k.committed(Some(7), 2, [("a", 4), ("b", 1)]);
        assert_eq!(k.to_read(&["a", "b", "c"]), ["c"]);
        let mut read = map(&[("c", 9)]);
        assert!(k.complete(Some(9), &["a", "b", "c"], &mut read).is_empty());
        assert_eq!(read, map(&[("a", 4), ("b", 1), ("c", 9)]));
        // The next commit builds on it.
        k.committed(Some(9), 1, [("c", 10)]);
        assert!(k.to_read(&["a", "c"]).is_empty());
    }

    #[test]
    fn another_writer_makes_the_skipped_logs_be_read_and_everything_forgotten() {
        let mut k = Known::default();
        k.committed(Some(7), 2, [("a", 4), ("b", 1)]);
        let mut read = map(&[("c", 9)]);
        assert_eq!(
            k.complete(Some(10), &["a", "b", "c"], &mut read),
            ["a", "b"]
        );
        assert_eq!(read, map(&[("c", 9)]));
        assert_eq!(k.to_read(&["a"]), ["a"]);
    }

    #[test]
    fn after_another_writer_the_next_group_reads_everything_then_trusts_again() {
        let mut k = Known::default();
        k.committed(Some(7), 2, [("a", 4)]);
        let mut read = HashMap::new();
        assert_eq!(k.complete(Some(10), &["a"], &mut read), ["a"]);
        k.committed(Some(10), 1, [("a", 6)]);
        // Contended: read up front, so another writer again costs no
        // second round trip.
        assert_eq!(k.to_read(&["a"]), ["a"]);
        let mut read = map(&[("a", 6)]);
        assert!(k.complete(Some(12), &["a"], &mut read).is_empty());
        k.committed(Some(12), 1, [("a", 7)]);
        assert_eq!(k.to_read(&["a"]), ["a"]);
        // Nobody wrote since: the read value stands, and trust is back.
        let mut read = map(&[("a", 7)]);
        assert!(k.complete(Some(13), &["a"], &mut read).is_empty());
        assert_eq!(read, map(&[("a", 7)]));
        k.committed(Some(13), 0, []);
        assert!(k.to_read(&["a"]).is_empty());
    }

    #[test]
    fn an_unusable_identity_trusts_nothing() {
        let mut k = Known::default();
        k.committed(None, 2, [("a", 4)]);
        assert_eq!(k.to_read(&["a"]), ["a"]);
        k.committed(Some(7), 2, [("a", 4)]);
        let mut read = HashMap::new();
        assert_eq!(k.complete(None, &["a"], &mut read), ["a"]);
        assert_eq!(k.to_read(&["a"]), ["a"]);
    }

    #[test]
    fn a_group_of_known_logs_is_trusted_until_a_guard_misses() {
        let mut k = Known::default();
        assert_eq!(k.trusted(&["a"]), None);
        k.committed(Some(7), 2, [("a", 4), ("b", 1)]);
        assert_eq!(
            k.trusted(&["a", "b"]),
            Some((9, map(&[("a", 4), ("b", 1)])))
        );
        assert_eq!(k.trusted(&["a", "c"]), None, "c is not known");
        // The guarded insert wrote nothing: another store wrote.
        k.missed();
        assert_eq!(k.trusted(&["a"]), None);
        // The group runs again, reading every log, and commits.
        assert_eq!(k.to_read(&["a"]), ["a"]);
        let mut read = map(&[("a", 6)]);
        assert!(k.complete(Some(12), &["a"], &mut read).is_empty());
        k.committed(Some(12), 1, [("a", 7)]);
        // Contended: the next group reads up front, not guarded.
        assert_eq!(k.trusted(&["a"]), None);
        assert_eq!(k.to_read(&["a"]), ["a"]);
        let mut read = map(&[("a", 7)]);
        assert!(k.complete(Some(13), &["a"], &mut read).is_empty());
        k.committed(Some(13), 1, [("a", 8)]);
        // Nobody wrote since: trusted again.
        assert_eq!(k.trusted(&["a"]), Some((14, map(&[("a", 8)]))));
    }

    #[test]
    fn a_failed_group_forgets() {
        let mut k = Known::default();
        k.committed(Some(7), 2, [("a", 4)]);
        k.forget();
        assert_eq!(k.to_read(&["a"]), ["a"]);
        let mut read = HashMap::new();
        assert!(k.complete(Some(9), &["a"], &mut read).is_empty());
        assert!(read.is_empty());
    }
}
