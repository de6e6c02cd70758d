//! The writer thread: the only connection that writes, with group commit.
//!
//! Write requests from every entity queue on a channel. The thread takes
//! the first, then whatever else is already queued (up to `max_batch`), and
//! runs them all in one `BEGIN IMMEDIATE` transaction; before it commits,
//! it takes and runs what was queued meanwhile, until the queue is empty
//! (`take_more`). One commit then acknowledges the whole group, once the
//! sync thread has made it durable (under `Synchronous::Full`, an
//! `fdatasync` of the WAL that overlaps the next group: see `sync`).
//! Nothing waits to fill a batch: under light load a batch is one request,
//! under heavy load it grows by itself.
//!
//! A conflict (a second writer of a persistence id, a stale revision) is
//! decided before its request writes anything, so the group runs without
//! savepoints: a savepoint per request would copy every page the request
//! touches into a statement journal. Only if a request fails part-way
//! through (an SQL error, a value out of range) is the transaction rolled
//! back and the group run again with a savepoint per request, so that the
//! error stays with its own request.

use std::sync::Arc;

use ferrocast_persistence::backend::{
    Answerer, CommitCounters, WriteOp, WriteOutcome as Outcome, WriteRequest, take_more,
    take_queued,
};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::config::{SqliteConfig, Synchronous};
use crate::error::SqliteError;
use crate::ops::Statements;
use crate::schema::connect_writer;
use crate::sync::{Durability, Group, Syncer, open_wal};

/// One write and where its outcome goes.
pub(crate) type Request = WriteRequest<SqliteError>;

/// Starts the writer thread on a new connection, and the sync thread that
/// answers its groups once they are durable (see `sync`). Resolves once
/// the database is open, its schema exists and the statements are
/// prepared. Answers go through a task on the caller's runtime
/// ([`Answerer`]).
pub(crate) async fn start(
    config: &SqliteConfig,
    counters: Arc<CommitCounters>,
    durability: Arc<Durability>,
) -> Result<mpsc::Sender<Request>, SqliteError> {
    let (tx, rx) = mpsc::channel::<Request>(config.write_queue.get());
    let (ready_tx, ready_rx) = oneshot::channel();
    let thread_config = config.clone();
    let answerer = Answerer::spawn();
    std::thread::Builder::new()
        .name("ferrocast-sqlite-writer".to_owned())
        .spawn(move || {
            let started = connect_writer(&thread_config).and_then(|conn| {
                let syncer = start_syncer(&conn, &thread_config, &durability, answerer, counters)?;
                Ok((conn, syncer))
            });
            let (conn, syncer) = match started {
                Ok(started) => started,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let answer = |group| syncer.after_sync(durability.begun(), group);
            serve(&conn, rx, &thread_config, &durability, answer, |r| {
                let _ = ready_tx.send(r);
            });
        })
        .map_err(|e| SqliteError::Task(format!("cannot start the writer thread: {e}")))?;
    ready_rx.await.map_err(|_| SqliteError::WriterStopped)??;
    Ok(tx)
}

/// A group of fewer requests waits for the sync under way (if any)
/// before it commits, taking in what is queued meanwhile. Committing at
/// once would keep the writer busy, but each commit rewrites the first
/// index level's pages it touches, about one per event in a small group:
/// with 1,000 entities and a slow disk, groups of 100 wrote some 4 KiB of
/// WAL per event. Larger groups commit at once (one sync covers them all).
const SMALL_GROUP: usize = 256;

/// Under `FULL`, the writer's connection commits without syncing and the
/// sync thread `fdatasync`s the WAL; under `NORMAL` nothing is synced per
/// commit, and the sync thread only answers.
fn start_syncer(
    conn: &Connection,
    config: &SqliteConfig,
    durability: &Arc<Durability>,
    answerer: Answerer<SqliteError>,
    counters: Arc<CommitCounters>,
) -> Result<Syncer, SqliteError> {
    let durability = Arc::clone(durability);
    match config.synchronous {
        Synchronous::Full => {
            conn.execute_batch("PRAGMA synchronous = NORMAL")?;
            let wal = open_wal(&config.path)?;
            Syncer::spawn(move || wal.sync_data(), durability, answerer, counters)
        }
        Synchronous::Normal => Syncer::spawn(|| Ok(()), durability, answerer, counters),
    }
}

/// Prepares the statements, reports readiness, then runs until every
/// sender is gone, handing each group and its outcomes to `answer`. Once
/// a sync has failed, it writes no more: every request gets that error.
fn serve(
    conn: &Connection,
    mut rx: mpsc::Receiver<Request>,
    config: &SqliteConfig,
    durability: &Arc<Durability>,
    mut answer: impl FnMut(Group),
    ready: impl FnOnce(Result<(), SqliteError>),
) {
    let mut st = match Statements::prepare(conn) {
        Ok(st) => st,
        Err(e) => return ready(Err(e)),
    };
    let mut writer = match Writer::new(&mut st, config, Arc::clone(durability)) {
        Ok(w) => w,
        Err(e) => return ready(Err(e)),
    };
    ready(Ok(()));
    // A plain thread: `blocking_recv` parks it until a request arrives.
    while let Some(first) = rx.blocking_recv() {
        let max = config.max_batch.get();
        let mut batch = take_queued(first, &mut rx, max);
        let outcomes = match durability.failed() {
            Some(e) => batch.iter().map(|_| Err(e.clone())).collect(),
            None => writer.commit(&mut batch, |b| {
                take_more(b, &mut rx, max)
                    || (b.len() < SMALL_GROUP
                        && durability.wait_synced()
                        && take_more(b, &mut rx, max))
            }),
        };
        answer((batch, outcomes));
    }
}

/// The writer's statements and what it knows of the first index level.
struct Writer<'s, 'c> {
    st: &'s mut Statements<'c>,
    /// Entries in `journal_recent` (an upper bound: deletions are not
    /// subtracted).
    recent: u64,
    /// Move the first index level once it holds this many entries.
    recent_limit: u64,
    /// Counts each `COMMIT` before it runs (see `sync`).
    durability: Arc<Durability>,
}

impl<'s, 'c> Writer<'s, 'c> {
    fn new(
        st: &'s mut Statements<'c>,
        config: &SqliteConfig,
        durability: Arc<Durability>,
    ) -> Result<Self, SqliteError> {
        let recent = st.recent_index_rows()?;
        Ok(Writer {
            st,
            recent,
            recent_limit: u64::try_from(config.recent_index_rows.get()).unwrap_or(u64::MAX),
            durability,
        })
    }

    /// Runs `batch` in one transaction, and whatever `more` adds to it
    /// before the commit (`more` answers whether it added any); returns one
    /// outcome per request. If the transaction itself fails, it is rolled
    /// back and every request fails with that error.
    fn commit(
        &mut self,
        batch: &mut Vec<Request>,
        more: impl FnMut(&mut Vec<Request>) -> bool,
    ) -> Vec<Result<Outcome, SqliteError>> {
        let result = match self.try_bare(batch, more) {
            Ok(None) => self.try_isolated(batch),
            Ok(Some(outcomes)) => Ok(outcomes),
            Err(e) => Err(e),
        };
        match result {
            Ok(outcomes) => outcomes,
            Err(e) => {
                self.st.rollback();
                tracing::warn!(error = %e, requests = batch.len(), "sqlite group commit failed");
                // What the first index level holds is unknown after a failed move.
                if let Ok(n) = self.st.recent_index_rows() {
                    self.recent = n;
                }
                batch.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }

    /// The group with no savepoints, taking in what `more` adds until it
    /// adds nothing. `None` if a request failed part-way: the transaction
    /// is then rolled back, nothing of the group stays.
    fn try_bare(
        &mut self,
        batch: &mut Vec<Request>,
        mut more: impl FnMut(&mut Vec<Request>) -> bool,
    ) -> Result<Option<Vec<Result<Outcome, SqliteError>>>, SqliteError> {
        self.st.begin()?;
        let mut outcomes = Vec::with_capacity(batch.len());
        loop {
            for request in &batch[outcomes.len()..] {
                let outcome = self.st.apply(&request.op);
                if outcome.is_err() {
                    self.st.rollback();
                    return Ok(None);
                }
                outcomes.push(outcome);
            }
            if !more(batch) {
                break;
            }
        }
        self.finish(batch, &outcomes)?;
        Ok(Some(outcomes))
    }

    /// The group with a savepoint per request, so that an error undoes only
    /// its own request.
    fn try_isolated(
        &mut self,
        batch: &[Request],
    ) -> Result<Vec<Result<Outcome, SqliteError>>, SqliteError> {
        let st = &mut *self.st;
        st.begin()?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for request in batch {
            st.savepoint.execute([])?;
            let outcome = st.apply(&request.op);
            if outcome.is_err() {
                st.rollback_to.execute([])?;
            }
            st.release.execute([])?;
            outcomes.push(outcome);
        }
        self.finish(batch, &outcomes)?;
        Ok(outcomes)
    }

    /// Moves the first index level if it is full, then commits.
    fn finish(
        &mut self,
        batch: &[Request],
        outcomes: &[Result<Outcome, SqliteError>],
    ) -> Result<(), SqliteError> {
        let recent = self.recent + written_events(batch, outcomes);
        let moved = recent >= self.recent_limit && self.move_recent_index();
        self.durability.committing();
        self.st.commit()?;
        self.recent = if moved { 0 } else { recent };
        Ok(())
    }

    /// Moves the first index level into the second, in its own savepoint;
    /// true if it moved. If that fails, the group still commits and the
    /// entries stay where they are (reads find them there), to be moved by
    /// a later group.
    fn move_recent_index(&mut self) -> bool {
        let st = &mut *self.st;
        let moved = st
            .savepoint
            .execute([])
            .map_err(SqliteError::from)
            .and_then(|_| {
                let moved = st.move_recent_index();
                if moved.is_err() {
                    st.rollback_to.execute([])?;
                }
                st.release.execute([])?;
                moved
            });
        if let Err(e) = &moved {
            tracing::warn!(error = %e, "sqlite: moving the recent index failed; a later group retries");
        }
        moved.is_ok()
    }
}

/// Events that `batch` added to the journal, by its outcomes.
fn written_events(batch: &[Request], outcomes: &[Result<Outcome, SqliteError>]) -> u64 {
    batch
        .iter()
        .zip(outcomes)
        .map(|(request, outcome)| match (&request.op, outcome) {
            (WriteOp::WriteEvents(events), Ok(Outcome::Done)) => events.len() as u64,
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use ferrocast_persistence::backend::{CommitStats, WriteOp as Op};
    use ferrocast_persistence::{
        Payload, PersistenceId, PersistentRepr, SequenceNr, SerializerId, WriterId,
    };

    use super::*;

    fn event(pid: &str, nr: u64) -> PersistentRepr {
        PersistentRepr {
            persistence_id: PersistenceId::new(pid).unwrap(),
            sequence_nr: SequenceNr::new(nr),
            payload: Payload::new(SerializerId::new(100), "m", vec![1, 2, 3]),
            tags: Vec::new(),
            timestamp: std::time::SystemTime::UNIX_EPOCH,
            writer: WriterId::new("w").unwrap(),
        }
    }

    /// A fresh database file in a directory of its own.
    fn temp_config(name: &str) -> (std::path::PathBuf, SqliteConfig) {
        let dir =
            std::env::temp_dir().join(format!("ferrocast-writer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = SqliteConfig::new(dir.join("w.db"));
        (dir, config)
    }

    fn ungated() -> Arc<Durability> {
        Arc::new(Durability::new(false))
    }

    fn request(op: Op) -> (Request, oneshot::Receiver<Result<Outcome, SqliteError>>) {
        let (reply, answer) = oneshot::channel();
        (Request { op, reply }, answer)
    }

    /// Commits `ops` as one group that nothing joins (the answers are not
    /// looked at: `commit` returns the outcomes).
    fn run_group(writer: &mut Writer<'_, '_>, ops: Vec<Op>) -> Vec<Result<Outcome, SqliteError>> {
        let mut batch: Vec<Request> = ops.into_iter().map(|op| request(op).0).collect();
        writer.commit(&mut batch, |_| false)
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    fn replay_all(conn: &Connection, pid: &str) -> Vec<u64> {
        crate::reads::replay(
            conn,
            &PersistenceId::new(pid).unwrap(),
            SequenceNr::ZERO,
            SequenceNr::MAX,
            100,
        )
        .unwrap()
        .iter()
        .map(|e| e.sequence_nr.value())
        .collect()
    }

    #[test]
    fn the_recent_index_moves_when_full_and_reads_see_both_levels() {
        let (dir, mut config) = temp_config("levels");
        config.recent_index_rows = std::num::NonZeroUsize::new(4).unwrap();
        let conn = connect_writer(&config).unwrap();
        let mut st = Statements::prepare(&conn).unwrap();
        let mut writer = Writer::new(&mut st, &config, ungated()).unwrap();
        let mut group = |ops: Vec<Op>| run_group(&mut writer, ops);
        // 3 entries: below the limit, all in the first level.
        group(vec![
            Op::WriteEvents(vec![event("a", 1), event("a", 2)]),
            Op::WriteEvents(vec![event("b", 1)]),
        ]);
        assert_eq!(
            (
                count(&conn, "journal_recent"),
                count(&conn, "journal_by_pid")
            ),
            (3, 0)
        );
        // The 4th and 5th fill it: the group moves all 5 to the second level.
        group(vec![
            Op::WriteEvents(vec![event("a", 3)]),
            Op::WriteEvents(vec![event("b", 2)]),
        ]);
        assert_eq!(
            (
                count(&conn, "journal_recent"),
                count(&conn, "journal_by_pid")
            ),
            (0, 5)
        );
        group(vec![Op::WriteEvents(vec![event("a", 4)])]);
        assert_eq!(
            (
                count(&conn, "journal_recent"),
                count(&conn, "journal_by_pid")
            ),
            (1, 5)
        );
        assert_eq!(replay_all(&conn, "a"), [1, 2, 3, 4]);
        assert_eq!(replay_all(&conn, "b"), [1, 2]);
        // A second writer is refused whichever level holds the log's end.
        let outcomes = group(vec![
            Op::WriteEvents(vec![event("b", 2)]),
            Op::WriteEvents(vec![event("a", 4)]),
        ]);
        assert_eq!(
            outcomes.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
            [
                Outcome::SequenceConflict {
                    expected: SequenceNr::new(3)
                },
                Outcome::SequenceConflict {
                    expected: SequenceNr::new(5)
                },
            ]
        );
        // Deleting up to 3 reaches into both levels.
        group(vec![Op::DeleteEvents(
            PersistenceId::new("a").unwrap(),
            SequenceNr::new(4),
        )]);
        assert_eq!(replay_all(&conn, "a"), Vec::<u64>::new());
        assert_eq!(count(&conn, "journal"), 2);
        assert_eq!(
            (
                count(&conn, "journal_recent"),
                count(&conn, "journal_by_pid")
            ),
            (0, 2)
        );
        drop(st);
        // A writer opened later counts what the first level holds.
        group_after_reopen(&config);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Three events in the first level, the limit 4: a new writer must move
    /// them with the next group.
    fn group_after_reopen(config: &SqliteConfig) {
        let conn = connect_writer(config).unwrap();
        let mut st = Statements::prepare(&conn).unwrap();
        let mut writer = Writer::new(&mut st, config, ungated()).unwrap();
        run_group(
            &mut writer,
            vec![Op::WriteEvents(vec![
                event("c", 1),
                event("c", 2),
                event("c", 3),
            ])],
        );
        assert_eq!(count(&conn, "journal_recent"), 3);
        drop(st);
        let conn = connect_writer(config).unwrap();
        let mut st = Statements::prepare(&conn).unwrap();
        let mut writer = Writer::new(&mut st, config, ungated()).unwrap();
        run_group(&mut writer, vec![Op::WriteEvents(vec![event("c", 4)])]);
        assert_eq!(
            (
                count(&conn, "journal_recent"),
                count(&conn, "journal_by_pid")
            ),
            (0, 6)
        );
        assert_eq!(replay_all(&conn, "c"), [1, 2, 3, 4]);
    }

    #[test]
    fn a_request_failing_part_way_is_undone_alone() {
        let (dir, config) = temp_config("partial");
        let conn = connect_writer(&config).unwrap();
        let mut st = Statements::prepare(&conn).unwrap();
        let mut writer = Writer::new(&mut st, &config, ungated()).unwrap();
        // The second event's number is beyond SQLite's integers: the first
        // is inserted before the request fails.
        let beyond = u64::try_from(i64::MAX).unwrap() + 1;
        let outcomes = run_group(
            &mut writer,
            vec![
                Op::WriteEvents(vec![event("a", 1)]),
                Op::WriteEvents(vec![event("b", 1), event("b", beyond)]),
                Op::WriteEvents(vec![event("c", 1)]),
            ],
        );
        assert_eq!(outcomes[0].as_ref().unwrap(), &Outcome::Done);
        assert!(matches!(outcomes[1], Err(SqliteError::OutOfRange(_))));
        assert_eq!(outcomes[2].as_ref().unwrap(), &Outcome::Done);
        assert_eq!(replay_all(&conn, "a"), [1]);
        assert_eq!(replay_all(&conn, "b"), Vec::<u64>::new());
        assert_eq!(replay_all(&conn, "c"), [1]);
        assert_eq!(count(&conn, "journal_recent"), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn requests_queued_while_the_group_runs_join_it_and_a_late_failure_is_undone_alone() {
        let (dir, config) = temp_config("more");
        let conn = connect_writer(&config).unwrap();
        let mut st = Statements::prepare(&conn).unwrap();
        let mut writer = Writer::new(&mut st, &config, ungated()).unwrap();
        let beyond = u64::try_from(i64::MAX).unwrap() + 1;
        let mut batch = vec![request(Op::WriteEvents(vec![event("a", 1)])).0];
        // Arrives once the first request ran: the second event of "b" fails
        // after its first was inserted.
        let mut late = vec![
            vec![Op::WriteEvents(vec![event("a", 2)])],
            vec![
                Op::WriteEvents(vec![event("b", 1), event("b", beyond)]),
                Op::WriteEvents(vec![event("c", 1)]),
            ],
        ]
        .into_iter();
        let mut calls = 0;
        let outcomes = writer.commit(&mut batch, |b| {
            calls += 1;
            match late.next() {
                Some(ops) => {
                    b.extend(ops.into_iter().map(|op| request(op).0));
                    true
                }
                None => false,
            }
        });
        // The failure ends the bare run before a third call; the group runs
        // again, isolated, with all four.
        assert_eq!(calls, 2);
        assert_eq!(outcomes.len(), 4);
        assert_eq!(outcomes[0].as_ref().unwrap(), &Outcome::Done);
        assert_eq!(outcomes[1].as_ref().unwrap(), &Outcome::Done);
        assert!(matches!(outcomes[2], Err(SqliteError::OutOfRange(_))));
        assert_eq!(outcomes[3].as_ref().unwrap(), &Outcome::Done);
        assert_eq!(replay_all(&conn, "a"), [1, 2]);
        assert_eq!(replay_all(&conn, "b"), Vec::<u64>::new());
        assert_eq!(replay_all(&conn, "c"), [1]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn after_a_failed_sync_nothing_more_is_written() {
        let (dir, config) = temp_config("sync-failed");
        let conn = connect_writer(&config).unwrap();
        let durability = Arc::new(Durability::new(true));
        durability.fail(SqliteError::Sync(Arc::new(std::io::Error::other(
            "disk gone",
        ))));
        let (tx, rx) = mpsc::channel(4);
        let (request, answer) = request(Op::WriteEvents(vec![event("a", 1)]));
        tx.try_send(request).unwrap();
        drop(tx);
        let mut groups = Vec::new();
        serve(
            &conn,
            rx,
            &config,
            &durability,
            |g| groups.push(g),
            |r| r.unwrap(),
        );
        let (batch, outcomes) = groups.pop().unwrap();
        assert!(matches!(outcomes[..], [Err(SqliteError::Sync(_))]));
        drop((batch, answer));
        assert_eq!(count(&conn, "journal"), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn queued_requests_share_one_commit_and_a_conflict_stays_local() {
        let (dir, config) = temp_config("group");
        let conn = connect_writer(&config).unwrap();
        let (tx, rx) = mpsc::channel(16);
        let mut answers = Vec::new();
        let ops = [
            Op::WriteEvents(vec![event("a", 1), event("a", 2)]),
            Op::WriteEvents(vec![event("b", 1)]),
            // Conflicts with the first request of the same group.
            Op::WriteEvents(vec![event("a", 1)]),
            Op::WriteEvents(vec![event("a", 3)]),
        ];
        for op in ops {
            let (reply, answer) = oneshot::channel();
            tx.try_send(Request { op, reply }).unwrap();
            answers.push(answer);
        }
        drop(tx);
        let counters = CommitCounters::default();
        // No runtime here: the answerer answers on this thread.
        let answerer = Answerer::spawn();
        let answer = |(batch, outcomes)| answerer.answer(batch, outcomes, &counters);
        serve(&conn, rx, &config, &ungated(), answer, |r| r.unwrap());
        let outcomes: Vec<_> = answers
            .into_iter()
            .map(|mut a| a.try_recv().unwrap().unwrap())
            .collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Done,
                Outcome::Done,
                Outcome::SequenceConflict {
                    expected: SequenceNr::new(3)
                },
                Outcome::Done,
            ]
        );
        assert_eq!(
            counters.snapshot(),
            CommitStats {
                commits: 1,
                requests: 4
            }
        );
        let check = crate::schema::connect(&config).unwrap();
        let a = crate::reads::replay(
            &check,
            &PersistenceId::new("a").unwrap(),
            SequenceNr::ZERO,
            SequenceNr::MAX,
            100,
        )
        .unwrap();
        assert_eq!(a.len(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
