//! The writer: the only connection that writes, with group commit.
//!
//! Write requests from every entity queue on a channel. The writer takes the
//! first, then whatever else is already queued (up to `max_batch`), and
//! commits them all in one transaction (statements on one line are
//! pipelined: sent together, run in order by the server). A group that
//! writes only events, to logs whose highest numbers the writer knows,
//! takes one round trip, unless it waits on purpose for callers just
//! answered (below); any other group takes two:
//!
//! ```text
//! one round trip (only events, every log known):
//!     plan::plan, in memory, with the known numbers
//! BEGIN; SELECT pg_advisory_xact_lock(..)
//!     | INSERT journal (UNNEST) .. WHERE (identity's last value) = $expected
//!     | COMMIT
//!     the insert wrote nothing: another store wrote; run the group again:
//!
//! two round trips (or more, in parts):
//! BEGIN; SELECT pg_advisory_xact_lock(..) | SELECT pg_sequence_last_value(..)
//!     | SELECT highest .. = ANY($1)    (only logs the writer does not know)
//!     take in what queued meanwhile; plan::plan, in memory: conflicts
//!     fail their own request only
//! WITH .. INSERT journal, event_tags, journal_highest (UNNEST) | COMMIT
//!     or, while callers just answered are still to come, the inserts
//!     alone, and then the next part (what queued while they ran), until
//!     none queued: COMMIT
//! ```
//!
//! The writer remembers the highest numbers it committed ([`Known`]) and
//! trusts them while the journal's identity shows that nobody else wrote
//! events since. In two round trips, a group then reads only the logs it
//! has not seen; if another store wrote, the logs skipped are read in one
//! more round trip (and the next group reads all its logs up front). In
//! one, the group is planned before anything is sent, and the insert
//! itself checks the identity, after the lock: if it is not where this
//! writer's last commit left it, the insert writes nothing (it counts the
//! events it wrote), the empty transaction commits, and the group runs
//! again in two round trips (as does the next, reading up front). A
//! group of conflicts only has no insert to check them, and takes two.
//! The statements are in `statements`.
//!
//! The lock is taken in a statement of its own so that the statements
//! after it (a new snapshot, READ COMMITTED) see every commit of the
//! previous holder. Snapshot, delete and durable-state statements run in
//! request order between the two lines; the last statement always travels
//! with the `COMMIT`. A pipelined `COMMIT` after a failed statement (or a
//! failed lock) only rolls back, and the statement's error fails the
//! group, so nothing failed is ever acknowledged; a group sent in one
//! round trip is acknowledged only once its `COMMIT` has answered.
//!
//! Once a group's transaction has ended, the requests queued meanwhile
//! become the next group, and it starts (all of it, or its first line)
//! before the writer hands the group just committed to the answering task
//! on the callers' runtime (`backend::Answerer`), which wakes its callers
//! while the server works on the next group.
//!
//! In two round trips, when the first line's answer is back, the requests
//! queued meanwhile join the group before it is planned
//! (`Writer::take_in`): with one write in flight per entity, the entities
//! answered by the last commit send their next writes while the lookups
//! travel, and would otherwise form a group of their own. Their highest
//! numbers come from what the writer trusts, or from one more round trip
//! under the lock. A group sent in one round trip has no such wait: what
//! queues while it travels is the next group. So a group takes two round
//! trips even if it could take one while the callers of the group last
//! answered could still join it (`Writer::start_after`): a group started
//! while the last is answered, unless it is full, and a group started
//! later with fewer requests than the last. Those callers are likely on
//! their way, and without the wait they would form groups of their own. Measured with 1,000 entities and
//! one write in flight each, always taking one round trip settled into
//! two alternating groups of 500 (twice the commits): level with two
//! round trips on a fast disk, a fifth slower with a 10 ms commit
//! (`commit_delay`); with the wait, groups and throughput stay close to
//! those of two round trips, and a single caller still gets one.
//!
//! The callers of the last group come back one by one, as the runtime
//! answers them and they write again: with 1,000 entities, over a few
//! milliseconds. Planned and sent at once after take-in, a group held
//! the first hundred of them; the rest formed the next group, two commits
//! (and two fsyncs) per round of the entities, with the server idle while
//! they came. So the transaction goes on in parts (`Writer::stream`):
//! while the group has fewer requests than the last group answered, its
//! part is inserted without the `COMMIT`, and what queued while it ran is
//! the next part; the part that brings the group to that size (or to
//! `max_batch`), or its eighth (`MAX_PARTS`), travels with the `COMMIT`,
//! and if nothing queued after a part, the `COMMIT` follows alone. The server inserts the first callers
//! while the last are on their way, and the round commits once. Every
//! part is one transaction: a failed part fails the whole group.
//!
//! Nothing waits to fill a batch: under light load a batch is one request,
//! under heavy load it grows by itself while the previous commit runs. If
//! a statement or the commit fails, the transaction is rolled back and
//! every request of the group gets that error (whether it was written is
//! then unknown to the caller, as the contracts allow); a lost connection
//! is opened again for the next group.
//!
//! The writer and its connection run on a thread of their own (see
//! `start`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use ferrocast_persistence::backend::{
    Answerer, CommitCounters, WriteOp as Op, WriteOutcome as Outcome, WriteRequest, take_more,
    take_queued,
};
use futures_util::future::{join, try_join, try_join3, try_join4};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Statement};

use crate::config::PostgresConfig;
use crate::error::PostgresError;
use crate::known::Known;
use crate::plan::{self, Step};
use crate::schema;
use crate::statements::Statements;
use crate::stats::OneRoundTripCounters;

/// One write and where its outcome goes.
pub(crate) type Request = WriteRequest<PostgresError>;

/// The writer's connection, its statements, and what it knows of the logs
/// on this connection (a new connection starts knowing nothing).
struct Writer {
    client: Client,
    statements: Statements,
    /// The highest numbers this writer committed, trusted while the
    /// journal's identity shows nobody else wrote (see [`Known`]).
    known: RefCell<Known>,
    one_round_trip: Arc<OneRoundTripCounters>,
}

impl Writer {
    async fn open(
        config: &PostgresConfig,
        one_round_trip: Arc<OneRoundTripCounters>,
    ) -> Result<Self, PostgresError> {
        let mut named = config.clone();
        if named.connection.get_application_name().is_none() {
            // Tells the writer apart in `pg_stat_activity`.
            named
                .connection
                .application_name(format!("ferrocast writer {}", config.schema));
        }
        let client = schema::connect(&named).await?;
        schema::create(&client, &config.schema).await?;
        Ok(Writer {
            statements: Statements::prepare(&client, &config.schema).await?,
            known: RefCell::new(Known::default()),
            one_round_trip,
            client,
        })
    }

    /// Starts a group: commits it in one round trip if it can
    /// ([`Writer::commit_known`]), else sends its first round trip
    /// ([`Writer::begin`]).
    async fn start(&self, batch: &[Request]) -> Started {
        match self.commit_known(batch).await {
            Some(outcomes) => Started::Finished(outcomes),
            None => Started::Begun(self.begin(batch).await),
        }
    }

    /// [`Writer::start`], unless the group has fewer requests than
    /// `expected`, what it would have if the callers of the group last
    /// answered (or being answered), likely to write again at once, were
    /// in it: then the group takes two round trips, the first a wait that
    /// lets them join (`take_in`) rather than form a group of their own
    /// (with one write in flight per entity, alternating groups of half
    /// the entities, twice the commits).
    async fn start_after(&self, batch: &[Request], expected: usize) -> Started {
        if batch.len() < expected {
            Started::Begun(self.begin(batch).await)
        } else {
            self.start(batch).await
        }
    }

    /// A group that writes only events, to logs whose highest numbers the
    /// writer knows ([`Known::trusted`]): planned with them, without a
    /// look at the tables, and sent with its `BEGIN`, lock and `COMMIT`
    /// at once. Its insert writes nothing unless the identity's last
    /// value, read by the insert itself under the lock, is still where
    /// this writer's last commit left it, which proves the numbers (see
    /// `known`) and so the plan, conflicts included.
    ///
    /// The group's outcomes; `None` if it cannot go this way, or if the
    /// insert wrote nothing (another store wrote events: the transaction
    /// committed nothing, and the group must run the two-round-trip way).
    async fn commit_known(&self, batch: &[Request]) -> Option<Vec<Result<Outcome, PostgresError>>> {
        if !batch.iter().all(|r| matches!(r.op, Op::WriteEvents(_))) {
            return None;
        }
        let (logs, _) = plan::lookups(batch.iter().map(|r| &r.op));
        let (expected, mut highest) = self.known.borrow().trusted(&logs)?;
        let plan::Plan { outcomes, steps } = plan::plan(
            batch.iter().map(|r| &r.op),
            &mut highest,
            &mut HashMap::new(),
        );
        // Only conflicts or refusals: nothing to guard, so nothing proves
        // the conflicts.
        let [Step::Events(run)] = steps.as_slice() else {
            return None;
        };
        let (c, st) = (&self.client, &self.statements);
        // `try_join3` polls in order, so the requests go out in this order.
        // A `COMMIT` after a failed statement only rolls back.
        let sent = try_join3(
            async { Ok(c.batch_execute(&st.begin).await?) },
            st.insert_guarded(c, run, expected),
            async { Ok(c.batch_execute("COMMIT").await?) },
        )
        .await;
        let events = u64::try_from(run.events.len()).unwrap_or(u64::MAX);
        match sent {
            Ok(((), written, ())) if written == events => {
                // Committed: only now does the writer know these numbers.
                let highest = highest.iter().map(|(pid, nr)| (pid.as_str(), *nr));
                self.known
                    .borrow_mut()
                    .committed(Some(expected), run.events.len(), highest);
                self.one_round_trip.committed();
                Some(outcomes)
            }
            Ok(((), 0, ())) => {
                self.known.borrow_mut().missed();
                self.one_round_trip.missed();
                None
            }
            Ok(((), written, ())) => Some(
                self.fail(
                    batch,
                    PostgresError::UnexpectedCount {
                        expected: events,
                        written,
                    },
                )
                .await,
            ),
            Err(e) => Some(self.fail(batch, e).await),
        }
    }

    /// A group's first round trip: `BEGIN`, the lock, and what its plan
    /// needs to know (read under the lock).
    async fn begin(&self, batch: &[Request]) -> Result<Stored, PostgresError> {
        let (logs, states) = plan::lookups(batch.iter().map(|r| &r.op));
        let to_read = self.known.borrow().to_read(&logs);
        let st = &self.statements;
        // `try_join4` polls in order, so the requests go out in this order.
        let ((), ordering, mut highest, revisions) = try_join4(
            async { Ok(self.client.batch_execute(&st.begin).await?) },
            self.ordering(),
            self.stored(&st.highest, &to_read),
            self.stored(&st.revisions, &states),
        )
        .await?;
        let unread = self
            .known
            .borrow_mut()
            .complete(ordering, &logs, &mut highest);
        // Another writer wrote since this one's last commit: rare, one more
        // round trip.
        highest.extend(self.stored(&st.highest, &unread).await?);
        Ok(Stored {
            highest,
            revisions,
            ordering,
        })
    }

    /// After the first round trip (or a part, see [`Writer::stream`]),
    /// before the plan: the requests queued meanwhile join the group
    /// (`take_more`), so that entities answered by the last commit, which
    /// send their next write while this group's lookups travel, share
    /// this commit instead of waiting for the next. What they need that
    /// the group has not read (or planned, in an earlier part) comes from
    /// the numbers the writer trusts (see [`Known::get`]), else from one
    /// more round trip under the lock; requests queued during that one
    /// join too, until none are queued or the group is full.
    async fn take_in(
        &self,
        batch: &mut Vec<Request>,
        rx: &mut mpsc::Receiver<Request>,
        max: usize,
        stored: &mut Stored,
    ) -> Result<(), PostgresError> {
        loop {
            let old = batch.len();
            if !take_more(batch, rx, max) {
                return Ok(());
            }
            let (logs, states) = plan::lookups(batch[old..].iter().map(|r| &r.op));
            let mut to_read = Vec::new();
            {
                let known = self.known.borrow();
                for pid in logs {
                    if stored.highest.contains_key(pid) {
                        continue;
                    }
                    match known.get(pid) {
                        Some(nr) => {
                            stored.highest.insert(pid.to_owned(), nr);
                        }
                        None => to_read.push(pid),
                    }
                }
            }
            let states: Vec<&str> = states
                .into_iter()
                .filter(|pid| !stored.revisions.contains_key(*pid))
                .collect();
            let st = &self.statements;
            let (highest, revisions) = try_join(
                self.stored(&st.highest, &to_read),
                self.stored(&st.revisions, &states),
            )
            .await?;
            stored.highest.extend(highest);
            stored.revisions.extend(revisions);
        }
    }

    /// The journal identity's last value, if it can be trusted.
    async fn ordering(&self) -> Result<Option<i64>, PostgresError> {
        let Some(statement) = &self.statements.ordering else {
            return Ok(None);
        };
        match self.client.query_opt(statement, &[]).await? {
            Some(row) => Ok(row.try_get(0)?),
            None => Ok(None),
        }
    }

    /// The rest of the transaction [`Writer::begin`] began (or the error it
    /// met), taking in requests as they queue ([`Writer::stream`]): one
    /// outcome per request of `batch`, as it is in the end. If the
    /// transaction fails, it is rolled back and every request gets the
    /// error.
    async fn finish(
        &self,
        batch: &mut Vec<Request>,
        rx: &mut mpsc::Receiver<Request>,
        limits: Limits,
        begun: Result<Stored, PostgresError>,
    ) -> Vec<Result<Outcome, PostgresError>> {
        let result = match begun {
            Ok(stored) => self.stream(batch, rx, limits, stored).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(outcomes) => outcomes,
            Err(e) => self.fail(batch, e).await,
        }
    }

    /// A group's transaction failed with `e`: rolled back (if it had not
    /// ended), and every request gets the error.
    async fn fail(
        &self,
        batch: &[Request],
        e: PostgresError,
    ) -> Vec<Result<Outcome, PostgresError>> {
        // Its insert may have taken identity values, its `COMMIT` may have
        // happened or not.
        self.known.borrow_mut().forget();
        // Fails harmlessly if the transaction never began or ended.
        let _ = self.client.batch_execute("ROLLBACK").await;
        tracing::warn!(error = %e, requests = batch.len(), "postgres group commit failed");
        batch.iter().map(|_| Err(e.clone())).collect()
    }

    /// A group's transaction in parts: the requests queued so far join it
    /// ([`Writer::take_in`]) and are planned and sent; if the callers
    /// expected are not all in yet (`limits.expected`), the part is sent
    /// without the `COMMIT`, and the requests queued while it travels
    /// are the next part, until none queued. The last part travels with
    /// the `COMMIT`, or the `COMMIT` follows alone.
    ///
    /// With one write in flight per entity, the callers of the last group
    /// come back one by one as the runtime answers them: the server
    /// inserts the first while the last are still on their way, rather
    /// than waiting for all of them (idle) or committing the first alone
    /// (one more commit, and its fsync, for a part of the entities).
    async fn stream(
        &self,
        batch: &mut Vec<Request>,
        rx: &mut mpsc::Receiver<Request>,
        limits: Limits,
        mut stored: Stored,
    ) -> Result<Vec<Result<Outcome, PostgresError>>, PostgresError> {
        let (c, st) = (&self.client, &self.statements);
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut inserted = 0;
        for part in 1.. {
            self.take_in(batch, rx, limits.max, &mut stored).await?;
            let last = batch.len() >= limits.expected.min(limits.max) || part >= MAX_PARTS;
            let plan = plan::plan(
                batch[outcomes.len()..].iter().map(|r| &r.op),
                &mut stored.highest,
                &mut stored.revisions,
            );
            inserted += plan.inserted();
            outcomes.extend(plan.outcomes);
            if last {
                let commit = async { Ok(c.batch_execute("COMMIT").await?) };
                match plan.steps.split_last() {
                    None => commit.await?,
                    Some((final_step, before)) => {
                        for step in before {
                            st.run(c, step).await?;
                        }
                        try_join(st.run(c, final_step), commit).await?;
                    }
                }
                break;
            }
            for step in &plan.steps {
                st.run(c, step).await?;
            }
            if rx.is_empty() || batch.len() >= limits.max {
                c.batch_execute("COMMIT").await?;
                break;
            }
        }
        // Committed: only now does the writer know these numbers (those the
        // parts planned, and those they read under the lock).
        let highest = stored.highest.iter().map(|(pid, nr)| (pid.as_str(), *nr));
        self.known
            .borrow_mut()
            .committed(stored.ordering, inserted, highest);
        Ok(outcomes)
    }

    /// `(persistence_id, bigint)` rows of `query` for `pids`.
    async fn stored(
        &self,
        query: &Statement,
        pids: &[&str],
    ) -> Result<HashMap<String, i64>, PostgresError> {
        if pids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = self.client.query(query, &[&pids]).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}

/// Starts the writer on a thread of its own, on a new connection (creating
/// the schema). Resolves once the statements are prepared; the thread runs
/// until every sender is gone.
///
/// The thread has its own single-threaded runtime, which runs nothing but
/// the writer and its connection's I/O. On the caller's runtime, every
/// reply from the server would wake the writer behind whatever tasks are
/// ready there, and under load that is the entities answered by the last
/// commit: a group's two round trips would each wait for hundreds of actor
/// turns, while the server, idle, waits for the writer. Groups are
/// answered from a task on the caller's runtime ([`Answerer`]), so that
/// the writer's thread does not wake each caller itself.
pub(crate) async fn start(
    config: &PostgresConfig,
    counters: Arc<CommitCounters>,
    one_round_trip: Arc<OneRoundTripCounters>,
) -> Result<mpsc::Sender<Request>, PostgresError> {
    let (tx, rx) = mpsc::channel::<Request>(config.write_queue.get());
    let (ready_tx, ready_rx) = oneshot::channel();
    let config = config.clone();
    // On the caller's runtime, not the writer's.
    let answerer = Answerer::spawn();
    std::thread::Builder::new()
        .name("ferrocast-pg-writer".to_owned())
        .spawn(move || {
            // Built and dropped here: a runtime dropped on the caller's
            // runtime (were the thread not to start) would panic.
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(PostgresError::WriterStart(Arc::new(e))));
                    return;
                }
            };
            runtime.block_on(async move {
                match Writer::open(&config, one_round_trip).await {
                    Ok(writer) => {
                        let _ = ready_tx.send(Ok(()));
                        serve(writer, config, rx, counters, answerer).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })
        .map_err(|e| PostgresError::WriterStart(Arc::new(e)))?;
    ready_rx.await.map_err(|_| PostgresError::WriterStopped)??;
    Ok(tx)
}

async fn serve(
    writer: Writer,
    config: PostgresConfig,
    mut rx: mpsc::Receiver<Request>,
    counters: Arc<CommitCounters>,
    answerer: Answerer<PostgresError>,
) {
    let max_batch = config.max_batch.get();
    let one_round_trip = writer.one_round_trip.clone();
    let mut writer = Some(writer);
    // A group started while the last was answered.
    let mut started = None;
    // Requests of the group answered last: their callers may write again
    // at once (one write in flight each).
    let mut answered = 0;
    loop {
        let (mut batch, start, expected) = match started.take() {
            Some(next) => next,
            None => {
                let Some(first) = rx.recv().await else {
                    return;
                };
                let batch = take_queued(first, &mut rx, max_batch);
                let start = match connected(&mut writer, &config, &one_round_trip).await {
                    // Those of the callers last answered not back yet
                    // are still to come (if the batch is theirs).
                    Ok(w) => w.start_after(&batch, answered).await,
                    Err(e) => Started::Begun(Err(e)),
                };
                (batch, start, answered)
            }
        };
        let Some(w) = writer.as_ref() else {
            let e = match start {
                Started::Begun(Err(e)) => e,
                _ => PostgresError::WriterStopped,
            };
            let outcomes = batch.iter().map(|_| Err(e.clone())).collect();
            answerer.answer(batch, outcomes, &counters);
            continue;
        };
        let outcomes = match start {
            Started::Finished(outcomes) => outcomes,
            Started::Begun(stored) => {
                let limits = Limits {
                    max: max_batch,
                    expected,
                };
                w.finish(&mut batch, &mut rx, limits, stored).await
            }
        };
        answered = batch.len();
        if w.client.is_closed() {
            writer = None;
            answerer.answer(batch, outcomes, &counters);
            continue;
        }
        // The requests queued meanwhile are the next group. It starts (its
        // first round trip, or all of it) before this group is handed to
        // the answerer (`join` polls in order), so that its request is on
        // the wire first.
        let Ok(first) = rx.try_recv() else {
            answerer.answer(batch, outcomes, &counters);
            continue;
        };
        let next = take_queued(first, &mut rx, max_batch);
        // The callers of `batch` are all still to come.
        let expected = (next.len() + batch.len()).min(max_batch);
        let (start, ()) = join(w.start_after(&next, expected), async {
            answerer.answer(batch, outcomes, &counters);
        })
        .await;
        started = Some((next, start, expected));
    }
}

/// Parts of a group at most ([`Writer::stream`]): the latency the parts
/// add to the group's first requests is at most this many round trips
/// (each a statement of what queued during the one before). The callers
/// of the last group may not all come back (they wrote once, or slowly):
/// without a bound, a trickle of one request per round trip would keep a
/// group open for up to `max_batch` of them. With 1,000 entities a round
/// came back in 2 to 5 parts, rarely more.
const MAX_PARTS: usize = 8;

/// How far a group's transaction takes in requests ([`Writer::stream`]).
#[derive(Clone, Copy)]
struct Limits {
    /// Requests in a group at most.
    max: usize,
    /// Requests the group would have if the callers of the group last
    /// answered, likely to write again at once, were in it: once it has
    /// them, its next part is its last.
    expected: usize,
}

/// How a group started ([`Writer::start`]).
enum Started {
    /// Its first round trip is answered (or failed): the plan's inputs.
    Begun(Result<Stored, PostgresError>),
    /// It was committed (or failed) in one round trip: its outcomes.
    Finished(Vec<Result<Outcome, PostgresError>>),
}

/// What a group's plan needs from the tables: the highest sequence numbers
/// and revisions of the persistence ids it writes.
struct Stored {
    highest: HashMap<String, i64>,
    revisions: HashMap<String, i64>,
    /// The last value of the journal's `ordering` identity, for [`Known`]
    /// (`None`: it proves nothing).
    ordering: Option<i64>,
}

/// The writer's connection, opened again if it was lost.
async fn connected<'w>(
    writer: &'w mut Option<Writer>,
    config: &PostgresConfig,
    one_round_trip: &Arc<OneRoundTripCounters>,
) -> Result<&'w Writer, PostgresError> {
    if writer.is_none() {
        tracing::info!("postgres writer reconnecting");
        *writer = Some(Writer::open(config, one_round_trip.clone()).await?);
    }
    writer.as_ref().ok_or(PostgresError::WriterStopped)
}
