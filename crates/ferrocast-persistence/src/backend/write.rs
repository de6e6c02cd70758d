//! The group-commit front: writes queued to one writer, and what they
//! answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use crate::durable_state::{DurableStateError, DurableStateRecord};
use crate::ids::{PersistenceId, Revision, SequenceNr};
use crate::journal::{JournalError, validate_batch};
use crate::repr::PersistentRepr;
use crate::snapshot_store::{Snapshot, SnapshotError};

/// A write, as queued to a backend's writer. Not `non_exhaustive`: a new
/// kind of write is one every backend must handle.
#[derive(Debug)]
pub enum WriteOp {
    /// [`Journal::write`](crate::Journal::write), checked by
    /// [`check_events`].
    WriteEvents(Vec<PersistentRepr>),
    /// [`Journal::delete_up_to`](crate::Journal::delete_up_to).
    DeleteEvents(PersistenceId, SequenceNr),
    /// [`SnapshotStore::save`](crate::SnapshotStore::save).
    SaveSnapshot(Snapshot),
    /// [`SnapshotStore::delete_up_to`](crate::SnapshotStore::delete_up_to).
    DeleteSnapshots(PersistenceId, SequenceNr),
    /// [`DurableStateStore::upsert`](crate::DurableStateStore::upsert).
    UpsertState(DurableStateRecord),
    /// [`DurableStateStore::delete`](crate::DurableStateStore::delete).
    DeleteState(PersistenceId, Revision),
}

/// What a write did. Conflicts wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written.
    Done,
    /// An event batch did not continue its log, which expects `expected`.
    SequenceConflict {
        /// The highest stored sequence number plus one.
        expected: SequenceNr,
    },
    /// A durable-state write did not follow the stored revision.
    RevisionConflict {
        /// The revision the write must have had.
        expected: Revision,
    },
}

/// One write and where its outcome (or the backend's error `E`) goes.
#[derive(Debug)]
pub struct WriteRequest<E> {
    /// The write.
    pub op: WriteOp,
    /// The writer's answer.
    pub reply: oneshot::Sender<Result<WriteOutcome, E>>,
}

/// How well group commit works: requests per commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed (or attempted).
    pub commits: u64,
    /// Write requests they carried.
    pub requests: u64,
}

/// Counters a writer updates and its store reads.
#[derive(Debug, Default)]
pub struct CommitCounters {
    commits: AtomicU64,
    requests: AtomicU64,
}

impl CommitCounters {
    /// Counts one commit (or attempt) carrying `requests` requests.
    pub fn record(&self, requests: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(
            u64::try_from(requests).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The counts so far.
    pub fn snapshot(&self) -> CommitStats {
        CommitStats {
            commits: self.commits.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }
}

/// A group commit's batch: `first` and whatever else is already queued,
/// up to `max` requests. It never waits for more: under light load a
/// batch is one request, under heavy load it grows by itself while the
/// previous commit runs.
pub fn take_queued<E>(
    first: WriteRequest<E>,
    rx: &mut mpsc::Receiver<WriteRequest<E>>,
    max: usize,
) -> Vec<WriteRequest<E>> {
    let mut batch = vec![first];
    take_more(&mut batch, rx, max);
    batch
}

/// Adds to `batch` whatever is queued now, up to `max` requests in all;
/// true if it took any. A writer calls it again once it has run what its
/// batch holds, before it commits: requests sent in answer to the last
/// commit then join this one instead of waiting for the next, so that
/// `n` entities with one write in flight each share one commit rather
/// than splitting into two groups of about `n / 2`, and twice the fsyncs.
/// It never waits, so it adds no latency when nothing is queued.
pub fn take_more<E>(
    batch: &mut Vec<WriteRequest<E>>,
    rx: &mut mpsc::Receiver<WriteRequest<E>>,
    max: usize,
) -> bool {
    let before = batch.len();
    while batch.len() < max {
        match rx.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    batch.len() > before
}

/// Answers a writer's groups from a task on the callers' runtime, so that
/// a writer on a thread of its own only hands each group over.
///
/// Answering a request wakes the task that waits for it. From a thread
/// outside the runtime, each wake queues the task on the runtime's shared
/// queue and may unpark a worker: with a thousand requests per group that
/// was about a tenth of the SQLite writer thread's time, and the writer
/// thread is what bounds throughput. From a task on the runtime, the wakes
/// go to its worker's own queue, and the woken tasks run on that worker
/// while the writer runs the next group. It answers in chunks, letting
/// the callers answered so far run between them ([`reply_in_chunks`]),
/// so that their next writes reach the writer while the rest are
/// answered. The requests are dropped there too (their events are freed
/// by the threads that allocated them rather than by the writer).
///
/// Made where there is no runtime, or once its task is gone (its runtime
/// shut down), it answers on the writer's thread. Groups handed over just
/// as the runtime shuts down are dropped with the task: their callers are
/// told the writer stopped (whether they were written is then unknown to
/// them, as after any failed commit); nobody waits forever.
#[derive(Debug)]
pub struct Answerer<E> {
    groups: Option<mpsc::UnboundedSender<Answered<E>>>,
}

/// A group and its outcomes, on their way to the answering task.
type Answered<E> = (Vec<WriteRequest<E>>, Vec<Result<WriteOutcome, E>>);

impl<E: Send + 'static> Answerer<E> {
    /// Spawns the answering task on the current runtime, if there is one.
    pub fn spawn() -> Self {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Answerer { groups: None };
        };
        let (groups, mut rx) = mpsc::unbounded_channel::<Answered<E>>();
        runtime.spawn(async move {
            while let Some((batch, outcomes)) = rx.recv().await {
                reply_in_chunks(batch, outcomes).await;
            }
        });
        Answerer {
            groups: Some(groups),
        }
    }

    /// Counts the commit of `batch` and answers each request with its
    /// outcome (in order), through the task if it runs, else here.
    pub fn answer(
        &self,
        batch: Vec<WriteRequest<E>>,
        outcomes: Vec<Result<WriteOutcome, E>>,
        counters: &CommitCounters,
    ) {
        counters.record(batch.len());
        let unsent = match &self.groups {
            Some(groups) => match groups.send((batch, outcomes)) {
                Ok(()) => return,
                Err(mpsc::error::SendError(unsent)) => unsent,
            },
            None => (batch, outcomes),
        };
        reply_all(unsent.0, unsent.1);
    }
}

/// Requests the answering task answers before it lets the callers it
/// woke run (see [`reply_in_chunks`]).
const ANSWER_CHUNK: usize = 32;

/// [`reply_all`] on the callers' runtime, yielding after every
/// [`ANSWER_CHUNK`] answers so that the callers woken so far run (and,
/// with one write in flight each, send their next write) before the rest
/// are answered; the requests are dropped once all are answered.
///
/// Answering a thousand requests (and freeing their events) takes about a
/// millisecond. Answered in one go, no caller ran before the last was
/// answered, and the writer saw nothing of the next round until then:
/// measured with 1,000 entities on PostgreSQL, the next group began with
/// a few requests and the rest formed the group after it (about 600
/// events per commit). In chunks, the callers' writes reach the writer
/// from the first chunk on, and groups hold about 1,000.
async fn reply_in_chunks<E>(batch: Vec<WriteRequest<E>>, outcomes: Vec<Result<WriteOutcome, E>>) {
    let mut answered = Vec::with_capacity(batch.len());
    for (i, (request, outcome)) in batch.into_iter().zip(outcomes).enumerate() {
        // As in `reply_all`: a caller that stopped waiting changes nothing.
        let _ = request.reply.send(outcome);
        answered.push(request.op);
        if (i + 1) % ANSWER_CHUNK == 0 {
            tokio::task::yield_now().await;
        }
    }
}

/// Answers each request of `batch` with its outcome, in order.
fn reply_all<E>(batch: Vec<WriteRequest<E>>, outcomes: Vec<Result<WriteOutcome, E>>) {
    for (request, outcome) in batch.into_iter().zip(outcomes) {
        // The caller may have stopped waiting (a timeout); the write
        // stands regardless.
        let _ = request.reply.send(outcome);
    }
}

/// The store's end of the queue to its writer: turns each contract call
/// into a [`WriteRequest`] and the [`WriteOutcome`] back into the
/// contract's result. `E` is the backend's error; `stopped` is the one to
/// answer when the writer is gone.
#[derive(Debug)]
pub struct WriteQueue<E> {
    tx: mpsc::Sender<WriteRequest<E>>,
    counters: Arc<CommitCounters>,
    stopped: E,
}

impl<E> WriteQueue<E>
where
    E: std::error::Error + Clone + Send + Sync + 'static,
{
    /// The queue over a writer's channel and counters.
    pub fn new(
        tx: mpsc::Sender<WriteRequest<E>>,
        counters: Arc<CommitCounters>,
        stopped: E,
    ) -> Self {
        WriteQueue {
            tx,
            counters,
            stopped,
        }
    }

    /// Commits so far and the requests they carried.
    pub fn stats(&self) -> CommitStats {
        self.counters.snapshot()
    }

    /// Queues `op` (waiting for room) and awaits the writer's answer.
    pub async fn submit(&self, op: WriteOp) -> Result<WriteOutcome, E> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(WriteRequest { op, reply })
            .await
            .map_err(|_| self.stopped.clone())?;
        answer.await.map_err(|_| self.stopped.clone())?
    }

    /// [`Journal::write`](crate::Journal::write) of a batch that passed
    /// [`check_events`].
    pub async fn write_events(&self, events: Vec<PersistentRepr>) -> Result<(), JournalError> {
        let Some(first) = events.first() else {
            return Err(JournalError::EmptyBatch);
        };
        let (persistence_id, attempted) = (first.persistence_id.clone(), first.sequence_nr);
        match self
            .submit(WriteOp::WriteEvents(events))
            .await
            .map_err(JournalError::storage)?
        {
            WriteOutcome::Done => Ok(()),
            WriteOutcome::SequenceConflict { expected } => Err(JournalError::SequenceConflict {
                persistence_id,
                attempted,
                expected,
            }),
            WriteOutcome::RevisionConflict { .. } => Err(JournalError::storage(
                "the writer answered a revision conflict to an event write",
            )),
        }
    }

    /// [`Journal::delete_up_to`](crate::Journal::delete_up_to).
    pub async fn delete_events(
        &self,
        persistence_id: &PersistenceId,
        to: SequenceNr,
    ) -> Result<(), JournalError> {
        self.submit(WriteOp::DeleteEvents(persistence_id.clone(), to))
            .await
            .map(drop)
            .map_err(JournalError::storage)
    }

    /// [`SnapshotStore::save`](crate::SnapshotStore::save).
    pub async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), SnapshotError> {
        self.submit(WriteOp::SaveSnapshot(snapshot))
            .await
            .map(drop)
            .map_err(SnapshotError::storage)
    }

    /// [`SnapshotStore::delete_up_to`](crate::SnapshotStore::delete_up_to).
    pub async fn delete_snapshots(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> Result<(), SnapshotError> {
        self.submit(WriteOp::DeleteSnapshots(persistence_id.clone(), max))
            .await
            .map(drop)
            .map_err(SnapshotError::storage)
    }

    /// [`DurableStateStore::upsert`](crate::DurableStateStore::upsert).
    pub async fn upsert_state(&self, record: DurableStateRecord) -> Result<(), DurableStateError> {
        let persistence_id = record.persistence_id.clone();
        let attempted = record.revision;
        let outcome = self.submit(WriteOp::UpsertState(record)).await;
        state_result(outcome, persistence_id, attempted)
    }

    /// [`DurableStateStore::delete`](crate::DurableStateStore::delete).
    pub async fn delete_state(
        &self,
        persistence_id: &PersistenceId,
        revision: Revision,
    ) -> Result<(), DurableStateError> {
        let outcome = self
            .submit(WriteOp::DeleteState(persistence_id.clone(), revision))
            .await;
        state_result(outcome, persistence_id.clone(), revision)
    }
}

fn state_result<E: std::error::Error + Send + Sync + 'static>(
    outcome: Result<WriteOutcome, E>,
    persistence_id: PersistenceId,
    attempted: Revision,
) -> Result<(), DurableStateError> {
    match outcome.map_err(DurableStateError::storage)? {
        WriteOutcome::RevisionConflict { expected } => Err(DurableStateError::RevisionConflict {
            persistence_id,
            attempted,
            expected,
        }),
        _ => Ok(()),
    }
}

/// The checks before an event batch is queued: its shape
/// ([`validate_batch`]), sequence numbers within the signed 64-bit range
/// of SQL integers, and `storable` text (a backend's own limits, such as
/// PostgreSQL's refusal of NUL; `|_| true` for none).
pub fn check_events(
    events: &[PersistentRepr],
    storable: impl Fn(&str) -> bool,
) -> Result<(), JournalError> {
    validate_batch(events)?;
    let Some(first) = events.first() else {
        return Err(JournalError::EmptyBatch);
    };
    let invalid = |reason| JournalError::InvalidBatch {
        persistence_id: first.persistence_id.clone(),
        reason,
    };
    let texts_ok = events.iter().all(|e| {
        storable(e.payload.manifest.as_str())
            && storable(e.writer.as_str())
            && storable(e.persistence_id.as_str())
            && e.tags.iter().all(|t| storable(t.as_str()))
    });
    if !texts_ok {
        return Err(invalid("text the store cannot hold"));
    }
    if events
        .last()
        .is_some_and(|last| i64::try_from(last.sequence_nr.value()).is_err())
    {
        return Err(invalid("sequence number beyond the signed 64-bit range"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Answer = oneshot::Receiver<Result<WriteOutcome, String>>;

    fn group(n: u64) -> (Vec<WriteRequest<String>>, Vec<Answer>) {
        (0..n)
            .map(|i| {
                let (reply, answer) = oneshot::channel();
                let pid = PersistenceId::new(&format!("p{i}")).unwrap();
                let op = WriteOp::DeleteEvents(pid, SequenceNr::new(i));
                (WriteRequest { op, reply }, answer)
            })
            .unzip()
    }

    /// Distinct outcomes, so that answers in the wrong order show.
    fn outcomes(n: u64) -> Vec<WriteOutcome> {
        (0..n)
            .map(|i| WriteOutcome::SequenceConflict {
                expected: SequenceNr::new(i),
            })
            .collect()
    }

    fn answer(answerer: &Answerer<String>, batch: Vec<WriteRequest<String>>, c: &CommitCounters) {
        let n = batch.len() as u64;
        answerer.answer(batch, outcomes(n).into_iter().map(Ok).collect(), c);
    }

    fn received_now(answers: Vec<Answer>) -> Vec<WriteOutcome> {
        answers
            .into_iter()
            .map(|mut a| a.try_recv().unwrap().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_writer_thread_answers_through_the_runtime_task() {
        let answerer = Answerer::spawn();
        assert!(answerer.groups.is_some());
        let counters = Arc::new(CommitCounters::default());
        let (batch, answers) = group(3);
        let c = Arc::clone(&counters);
        // Handed over from a thread outside the runtime, as a writer does.
        std::thread::spawn(move || answer(&answerer, batch, &c))
            .join()
            .unwrap();
        let mut received = Vec::new();
        for a in answers {
            received.push(a.await.unwrap().unwrap());
        }
        assert_eq!(received, outcomes(3));
        let stats = counters.snapshot();
        assert_eq!((stats.commits, stats.requests), (1, 3));
    }

    // Current-thread: what runs between two chunks is known.
    #[tokio::test]
    async fn callers_answered_in_one_chunk_run_before_the_next_chunk_is_answered() {
        let answerer = Answerer::spawn();
        let n = 3 * ANSWER_CHUNK as u64;
        let (batch, mut answers) = group(n);
        let later = answers.split_off(ANSWER_CHUNK);
        let first = answers.pop().unwrap();
        // The last caller of the first chunk looks at the next chunk's
        // first answer as soon as it runs.
        let (mut next, rest) = {
            let mut later = later.into_iter();
            (later.next().unwrap(), later.collect::<Vec<_>>())
        };
        let looked = tokio::spawn(async move {
            first.await.unwrap().unwrap();
            next.try_recv().is_ok()
        });
        let counters = CommitCounters::default();
        answer(&answerer, batch, &counters);
        assert!(
            !looked.await.unwrap(),
            "the first chunk's caller ran before the next chunk was answered"
        );
        for a in rest {
            a.await.unwrap().unwrap();
        }
    }

    #[test]
    fn without_a_runtime_it_answers_on_the_writers_thread() {
        let answerer = Answerer::spawn();
        assert!(answerer.groups.is_none());
        let (batch, answers) = group(2);
        answer(&answerer, batch, &CommitCounters::default());
        assert_eq!(received_now(answers), outcomes(2));
    }

    #[test]
    fn once_its_runtime_is_gone_it_answers_on_the_writers_thread() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let answerer = runtime.block_on(async { Answerer::spawn() });
        drop(runtime);
        let (batch, answers) = group(2);
        answer(&answerer, batch, &CommitCounters::default());
        assert_eq!(received_now(answers), outcomes(2));
    }
}
