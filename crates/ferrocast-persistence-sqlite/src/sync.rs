//! Syncing the WAL on a thread of its own, so that the writer runs the
//! next group while the last one's fsync is under way.
//!
//! Under [`Synchronous::Full`](crate::Synchronous::Full), SQLite would
//! fsync the WAL inside every `COMMIT`, and the writer thread would wait for
//! the disk (about 3–4 ms here) with nothing else to do: with 1,000
//! entities, the commit of each group and the statements of the next ran
//! strictly in turn. Instead the writer's connection commits with
//! `synchronous = NORMAL` (the commit is written to the WAL, not synced),
//! hands the group to the [`Syncer`], and goes on with the next group. The
//! syncer `fdatasync`s the WAL file, which makes durable every commit
//! written before the call, and only then answers the groups it covers: an
//! acknowledged write is durable exactly as under `FULL`. One sync covers
//! every commit made while the previous one ran.
//!
//! A commit is visible to readers as soon as it is written, before its
//! sync. So that no read of this store returns what a power loss could
//! still take away, [`Durability`] counts commits begun and commits synced,
//! and a read waits, after its query, until every commit begun by then is
//! synced (at most one sync; at once when the writer is idle). Readers of
//! the same file outside this store (another store or process) do not
//! wait: they may see a commit up to one sync before it is durable.
//!
//! If a sync fails, what the kernel kept of the WAL is unknown: every group
//! it covers is answered with [`SqliteError::Sync`], the store stops
//! writing (each later write gets the same error) and reads fail too.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};

use ferrocast_persistence::backend::{
    Answerer, CommitCounters, WriteOutcome as Outcome, WriteRequest,
};

use crate::error::SqliteError;

/// A group's requests and their outcomes.
pub(crate) type Group = (
    Vec<WriteRequest<SqliteError>>,
    Vec<Result<Outcome, SqliteError>>,
);

/// Commits begun and commits synced, shared by the writer, the syncer and
/// the readers of one store.
#[derive(Debug)]
pub(crate) struct Durability {
    /// Whether reads wait for syncs (`FULL`; under `NORMAL` nothing is
    /// synced per commit, and nothing is promised across a power loss).
    gated: bool,
    /// Commits begun: incremented by the writer before each `COMMIT`.
    begun: AtomicU64,
    synced: Mutex<Synced>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Synced {
    /// Every commit up to this count is durable.
    upto: u64,
    /// A sync failed: the store writes no more.
    failed: Option<SqliteError>,
}

impl Durability {
    /// `gated`: reads wait for the sync of what they saw.
    pub(crate) fn new(gated: bool) -> Self {
        Durability {
            gated,
            begun: AtomicU64::new(0),
            synced: Mutex::new(Synced::default()),
            changed: Condvar::new(),
        }
    }

    /// The writer is about to run a `COMMIT`.
    pub(crate) fn committing(&self) {
        self.begun.fetch_add(1, Ordering::SeqCst);
    }

    /// Commits begun so far.
    pub(crate) fn begun(&self) -> u64 {
        self.begun.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Synced> {
        self.synced.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The commits up to `upto` are durable.
    pub(crate) fn synced(&self, upto: u64) {
        let mut s = self.lock();
        s.upto = s.upto.max(upto);
        self.changed.notify_all();
    }

    /// A sync failed with `e`.
    pub(crate) fn fail(&self, e: SqliteError) {
        let mut s = self.lock();
        s.failed.get_or_insert(e);
        self.changed.notify_all();
    }

    /// The failure that stopped the store, if any.
    pub(crate) fn failed(&self) -> Option<SqliteError> {
        self.lock().failed.clone()
    }

    /// Called by a read after its query: waits until every commit begun
    /// by now (so every commit the query could see) is synced. A commit
    /// becomes visible inside its `COMMIT`, after `committing` counted it.
    pub(crate) fn wait_visible(&self) -> Result<(), SqliteError> {
        if !self.gated {
            return Ok(());
        }
        let (s, _) = self.wait_for_begun();
        s.failed.clone().map_or(Ok(()), Err)
    }

    /// Waits until every commit begun so far is synced (or a sync failed);
    /// true if it had to wait.
    pub(crate) fn wait_synced(&self) -> bool {
        self.wait_for_begun().1
    }

    /// Waits until every commit begun by now is synced, or a sync failed:
    /// the state then, and whether it had to wait.
    fn wait_for_begun(&self) -> (MutexGuard<'_, Synced>, bool) {
        let target = self.begun();
        let mut s = self.lock();
        let mut waited = false;
        while s.upto < target && s.failed.is_none() {
            waited = true;
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        (s, waited)
    }
}

/// The writer's end of the sync thread.
#[derive(Debug)]
pub(crate) struct Syncer {
    groups: mpsc::Sender<(u64, Group)>,
}

impl Syncer {
    /// Starts the sync thread: `sync` makes every commit written so far
    /// durable (`fdatasync` of the WAL, or nothing under `NORMAL`); the
    /// groups it covers are then answered through `answerer` and counted.
    /// The thread ends once the `Syncer` is dropped and every group handed
    /// to it is answered.
    pub(crate) fn spawn(
        mut sync: impl FnMut() -> std::io::Result<()> + Send + 'static,
        durability: Arc<Durability>,
        answerer: Answerer<SqliteError>,
        counters: Arc<CommitCounters>,
    ) -> Result<Self, SqliteError> {
        let (groups, rx) = mpsc::channel::<(u64, Group)>();
        std::thread::Builder::new()
            .name("ferrocast-sqlite-sync".to_owned())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    // Everything handed over by now: one sync covers it all.
                    let mut due = vec![first];
                    due.extend(rx.try_iter());
                    let upto = due.iter().map(|(n, _)| *n).max().unwrap_or(0);
                    let synced = match durability.failed() {
                        Some(e) => Err(e),
                        None => sync().map_err(|e| SqliteError::Sync(Arc::new(e))),
                    };
                    match synced {
                        Ok(()) => {
                            durability.synced(upto);
                            for (_, (batch, outcomes)) in due {
                                answerer.answer(batch, outcomes, &counters);
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "sqlite: syncing the WAL failed; the store stops writing");
                            durability.fail(e.clone());
                            for (_, (batch, outcomes)) in due {
                                let failed = outcomes.iter().map(|_| Err(e.clone())).collect();
                                answerer.answer(batch, failed, &counters);
                            }
                        }
                    }
                }
            })
            .map_err(|e| SqliteError::Task(format!("cannot start the sync thread: {e}")))?;
        Ok(Syncer { groups })
    }

    /// Answers `group` once the commits up to `upto` are synced.
    pub(crate) fn after_sync(&self, upto: u64, group: Group) {
        // The thread ends only once this sender is dropped: it receives.
        let _ = self.groups.send((upto, group));
    }
}

/// Opens the WAL file of the database at `path` for syncing (a `-wal`
/// sibling; the writer's connection, in WAL mode, keeps it in place).
pub(crate) fn open_wal(path: &std::path::Path) -> Result<File, SqliteError> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&wal)
        .map_err(|e| SqliteError::Sync(Arc::new(e)))
}

#[cfg(test)]
mod tests {
    use ferrocast_persistence::PersistenceId;
    use ferrocast_persistence::SequenceNr;
    use ferrocast_persistence::backend::WriteOp;
    use tokio::sync::oneshot;

    use super::*;

    type Answer = oneshot::Receiver<Result<Outcome, SqliteError>>;

    /// A group of `n` requests, all `Done`, and where their answers arrive.
    fn group(n: u64) -> (Group, Vec<Answer>) {
        let (batch, answers) = (0..n)
            .map(|i| {
                let (reply, answer) = oneshot::channel();
                let pid = PersistenceId::new(&format!("p{i}")).unwrap();
                let op = WriteOp::DeleteEvents(pid, SequenceNr::new(1));
                (WriteRequest { op, reply }, answer)
            })
            .unzip();
        let outcomes = (0..n).map(|_| Ok(Outcome::Done)).collect();
        ((batch, outcomes), answers)
    }

    fn answered(answers: Vec<Answer>) -> Vec<Result<Outcome, SqliteError>> {
        answers
            .into_iter()
            .map(|a| a.blocking_recv().unwrap())
            .collect()
    }

    /// What `wait_visible` would do now, without waiting.
    fn would_wait(d: &Durability) -> bool {
        let s = d.lock();
        d.gated && s.failed.is_none() && s.upto < d.begun()
    }

    #[test]
    fn a_read_waits_until_every_commit_it_could_see_is_synced() {
        let d = Arc::new(Durability::new(true));
        assert!(!would_wait(&d), "nothing committed: no wait");
        assert!(!d.wait_synced());
        d.committing();
        assert!(would_wait(&d));
        d.synced(0);
        assert!(would_wait(&d), "an older sync does not cover it");
        let reader = {
            let d = Arc::clone(&d);
            std::thread::spawn(move || d.wait_visible())
        };
        let writer = {
            let d = Arc::clone(&d);
            std::thread::spawn(move || d.wait_synced())
        };
        d.synced(1);
        assert!(reader.join().unwrap().is_ok());
        writer.join().unwrap();
        assert!(!d.wait_synced(), "all synced: no wait");
        // Under NORMAL nothing is synced per commit, and reads never wait.
        let ungated = Durability::new(false);
        ungated.committing();
        assert!(!would_wait(&ungated));
    }

    #[test]
    fn one_sync_covers_every_group_handed_over_while_the_last_ran() {
        let d = Arc::new(Durability::new(true));
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let syncs = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&syncs);
        let sync = move || {
            counted.fetch_add(1, Ordering::SeqCst);
            entered_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            Ok(())
        };
        let counters = Arc::new(CommitCounters::default());
        let syncer =
            Syncer::spawn(sync, Arc::clone(&d), Answerer::spawn(), counters.clone()).unwrap();
        let (first, first_answers) = group(1);
        d.committing();
        syncer.after_sync(d.begun(), first);
        entered.recv().unwrap();
        // The first sync is under way: two more groups commit meanwhile.
        let (second, second_answers) = group(2);
        d.committing();
        syncer.after_sync(d.begun(), second);
        let (third, third_answers) = group(3);
        d.committing();
        syncer.after_sync(d.begun(), third);
        release.send(()).unwrap();
        assert!(answered(first_answers).iter().all(|a| a.is_ok()));
        entered.recv().unwrap();
        release.send(()).unwrap();
        assert!(answered(second_answers).iter().all(|a| a.is_ok()));
        assert!(answered(third_answers).iter().all(|a| a.is_ok()));
        assert_eq!(syncs.load(Ordering::SeqCst), 2);
        assert!(d.wait_visible().is_ok());
        assert_eq!(counters.snapshot().requests, 6);
    }

    #[test]
    fn a_failed_sync_fails_its_groups_every_later_group_and_reads() {
        let d = Arc::new(Durability::new(true));
        let sync = || Err(std::io::Error::other("disk gone"));
        let counters = Arc::new(CommitCounters::default());
        let syncer = Syncer::spawn(sync, Arc::clone(&d), Answerer::spawn(), counters).unwrap();
        let (failed, answers) = group(2);
        d.committing();
        syncer.after_sync(d.begun(), failed);
        for answer in answered(answers) {
            assert!(matches!(answer, Err(SqliteError::Sync(_))), "{answer:?}");
        }
        assert!(matches!(d.failed(), Some(SqliteError::Sync(_))));
        assert!(matches!(d.wait_visible(), Err(SqliteError::Sync(_))));
        // A group the writer handed over before it saw the failure.
        let (later, answers) = group(1);
        syncer.after_sync(d.begun(), later);
        assert!(matches!(answered(answers)[0], Err(SqliteError::Sync(_))));
    }
}
