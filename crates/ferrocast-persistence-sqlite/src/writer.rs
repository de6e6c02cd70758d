//! The writer thread: the only connection that writes, with group commit.
//!
//! Write requests from every entity queue on a channel. The thread takes
//! the first, then whatever else is already queued (up to `max_batch`), and
//! runs them all in one `BEGIN IMMEDIATE` transaction, each in a savepoint
//! of its own so that one request's conflict or error rolls back only that
//! request. One commit (one fsync under `synchronous = FULL`) then
//! acknowledges the whole group. Nothing waits to fill a batch: under light
//! load a batch is one request, under heavy load it grows by itself.

use std::sync::Arc;

use ferrocast_persistence::backend::{
    CommitCounters, WriteOutcome as Outcome, WriteRequest, answer_all, take_queued,
};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::config::SqliteConfig;
use crate::error::SqliteError;
use crate::ops::Statements;
use crate::schema::connect_writer;

/// One write and where its outcome goes.
pub(crate) type Request = WriteRequest<SqliteError>;

/// Starts the writer thread on a new connection. Resolves once the
/// database is open, its schema exists and the statements are prepared.
pub(crate) async fn start(
    config: &SqliteConfig,
    counters: Arc<CommitCounters>,
) -> Result<mpsc::Sender<Request>, SqliteError> {
    let (tx, rx) = mpsc::channel::<Request>(config.write_queue.get());
    let (ready_tx, ready_rx) = oneshot::channel();
    let thread_config = config.clone();
    std::thread::Builder::new()
        .name("ferrocast-sqlite-writer".to_owned())
        .spawn(move || {
            let conn = match connect_writer(&thread_config) {
                Ok(conn) => conn,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let max_batch = thread_config.max_batch.get();
            serve(&conn, rx, max_batch, &counters, |r| {
                let _ = ready_tx.send(r);
            });
        })
        .map_err(|e| SqliteError::Task(format!("cannot start the writer thread: {e}")))?;
    ready_rx.await.map_err(|_| SqliteError::WriterStopped)??;
    Ok(tx)
}

/// Prepares the statements, reports readiness, then runs until every
/// sender is gone.
fn serve(
    conn: &Connection,
    mut rx: mpsc::Receiver<Request>,
    max_batch: usize,
    counters: &CommitCounters,
    ready: impl FnOnce(Result<(), SqliteError>),
) {
    let mut st = match Statements::prepare(conn) {
        Ok(st) => st,
        Err(e) => return ready(Err(e)),
    };
    ready(Ok(()));
    // A plain thread: `blocking_recv` parks it until a request arrives.
    while let Some(first) = rx.blocking_recv() {
        let batch = take_queued(first, &mut rx, max_batch);
        let outcomes = commit(&mut st, &batch);
        answer_all(batch, outcomes, counters);
    }
}

/// Runs `batch` in one transaction; returns one outcome per request. If the
/// transaction itself fails, it is rolled back and every request fails with
/// that error.
fn commit(st: &mut Statements<'_>, batch: &[Request]) -> Vec<Result<Outcome, SqliteError>> {
    match try_commit(st, batch) {
        Ok(outcomes) => outcomes,
        Err(e) => {
            // Fails harmlessly if the transaction never began or already ended.
            let _ = st.rollback.execute([]);
            tracing::warn!(error = %e, requests = batch.len(), "sqlite group commit failed");
            batch.iter().map(|_| Err(e.clone())).collect()
        }
    }
}

fn try_commit(
    st: &mut Statements<'_>,
    batch: &[Request],
) -> Result<Vec<Result<Outcome, SqliteError>>, SqliteError> {
    st.begin.execute([])?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for request in batch {
        st.savepoint.execute([])?;
        let outcome = st.apply(&request.op);
        if !matches!(outcome, Ok(Outcome::Done)) {
            // A conflict or an error leaves nothing of this request.
            st.rollback_to.execute([])?;
        }
        st.release.execute([])?;
        outcomes.push(outcome);
    }
    st.commit.execute([])?;
    Ok(outcomes)
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

    #[test]
    fn queued_requests_share_one_commit_and_a_conflict_stays_local() {
        let dir = std::env::temp_dir().join(format!("ferrocast-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = SqliteConfig::new(dir.join("w.db"));
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
        serve(&conn, rx, 1024, &counters, |r| r.unwrap());
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
