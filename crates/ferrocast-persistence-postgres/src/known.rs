//! [`Known`]: the highest sequence numbers the writer committed itself, so
//! that a group need not read them again.
//!
//! Another store (another process) on the same schema may write between
//! two groups of this writer, so the numbers are only trusted after a
//! check under the lock: every event insert takes values from the
//! journal's `ordering` identity (cache 1, as created), and only event
//! inserts change highest numbers. If the identity's last value is the one
//! this writer's last commit left, nobody wrote events since and the
//! numbers are current; otherwise they are forgotten and read again. A
//! failed group forgets them too (its insert may have taken values).

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
}

impl Known {
    /// Of `logs`, those whose highest number a group must read with the
    /// identity's value: all of them unless some are known.
    pub(crate) fn to_read<'a>(&self, logs: &[&'a str]) -> Vec<&'a str> {
        if self.ordering.is_none() {
            return logs.to_vec();
        }
        logs.iter()
            .copied()
            .filter(|pid| !self.highest.contains_key(*pid))
            .collect()
    }

    /// Completes `highest`, read for [`Known::to_read`] of `logs` when the
    /// identity's last value was `ordering`. Returns the logs whose numbers
    /// must still be read: none if the known numbers are current, else
    /// those that were not read (and everything known is forgotten).
    pub(crate) fn complete<'a>(
        &mut self,
        ordering: i64,
        logs: &[&'a str],
        highest: &mut HashMap<String, i64>,
    ) -> Vec<&'a str> {
        if self.ordering == Some(ordering) {
            for pid in logs {
                if let Some(nr) = self.highest.get(*pid) {
                    highest.insert((*pid).to_owned(), *nr);
                }
            }
            return Vec::new();
        }
        let unread = if self.ordering.is_some() {
            logs.iter()
                .copied()
                .filter(|pid| self.highest.contains_key(*pid))
                .collect()
        } else {
            Vec::new()
        };
        self.forget();
        unread
    }

    /// A group committed: it found the identity at `ordering`, inserted
    /// `inserted` events, and left these highest numbers.
    pub(crate) fn committed<'a>(
        &mut self,
        ordering: i64,
        inserted: usize,
        highest: impl IntoIterator<Item = (&'a str, i64)>,
    ) {
        let Some(after) = i64::try_from(inserted)
            .ok()
            .and_then(|n| ordering.checked_add(n))
        else {
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
        assert!(k.complete(7, &["a", "b"], &mut read).is_empty());
        assert_eq!(read, map(&[("a", 3)]));
    }

    #[test]
    fn own_commits_are_known_while_the_identity_is_where_they_left_it() {
        let mut k = Known::default();
        k.committed(7, 2, [("a", 4), ("b", 1)]);
        assert_eq!(k.to_read(&["a", "b", "c"]), ["c"]);
        let mut read = map(&[("c", 9)]);
        assert!(k.complete(9, &["a", "b", "c"], &mut read).is_empty());
        assert_eq!(read, map(&[("a", 4), ("b", 1), ("c", 9)]));
    }

    #[test]
    fn another_writer_makes_the_skipped_logs_be_read_and_everything_forgotten() {
        let mut k = Known::default();
        k.committed(7, 2, [("a", 4), ("b", 1)]);
        let mut read = map(&[("c", 9)]);
        assert_eq!(k.complete(10, &["a", "b", "c"], &mut read), ["a", "b"]);
        assert_eq!(read, map(&[("c", 9)]));
        assert_eq!(k.to_read(&["a"]), ["a"]);
    }

    #[test]
    fn a_failed_group_forgets() {
        let mut k = Known::default();
        k.committed(7, 2, [("a", 4)]);
        k.forget();
        assert_eq!(k.to_read(&["a"]), ["a"]);
        let mut read = HashMap::new();
        assert!(k.complete(9, &["a"], &mut read).is_empty());
        assert!(read.is_empty());
    }
}
