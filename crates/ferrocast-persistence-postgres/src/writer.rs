//! The writer: the only connection that writes, with group commit.
//!
//! Write requests from every entity queue on a channel. The writer takes the
//! first, then whatever else is already queued (up to `max_batch`), and
//! commits them all in one transaction, in two round trips when the group
//! only writes events (statements on one line are pipelined: sent together,
//! run in order by the server):
//!
//! ```text
//! BEGIN; SELECT pg_advisory_xact_lock(..) | SELECT pg_sequence_last_value(..)
//!     | SELECT highest .. = ANY($1)    (only logs the writer does not know)
//!     plan::plan, in memory: conflicts fail their own request only
//! WITH .. INSERT journal, event_tags, journal_highest (UNNEST) | COMMIT
//! ```
//!
//! The writer remembers the highest numbers it committed ([`Known`]) and
//! trusts them while the journal's identity shows that nobody else wrote
//! events since; then a group reads only the logs it has not seen. If
//! another store wrote, the logs skipped are read in one more round trip.
//!
//! The lock is taken in a statement of its own so that the `SELECT` after
//! it (a new snapshot, READ COMMITTED) sees every commit of the previous
//! holder. Snapshot, delete and durable-state statements run in request
//! order between the two lines; the last statement always travels with the
//! `COMMIT`. A pipelined `COMMIT` after a failed statement only rolls back,
//! and the statement's error fails the group, so nothing failed is ever
//! acknowledged.
//!
//! Once a group's transaction has ended, the requests queued meanwhile
//! become the next group, and its first line goes out before the writer
//! answers the group just committed: the server reads the next group's
//! lookups while the writer wakes hundreds of callers, rather than sit idle.
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
    CommitCounters, WriteOutcome as Outcome, WriteRequest, answer_all, millis, take_queued,
};
use futures_util::future::{join, try_join, try_join4};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Statement};

use crate::config::PostgresConfig;
use crate::error::PostgresError;
use crate::known::Known;
use crate::plan::{self, EventRun, Step};
use crate::schema::{self, lock_sql};

/// One write and where its outcome goes.
pub(crate) type Request = WriteRequest<PostgresError>;

/// The writer's connection and its statements, prepared once: a group
/// runs a few statements, so preparing per group would double its round
/// trips.
struct Writer {
    client: Client,
    /// `BEGIN` and the schema's advisory lock, sent as one simple query.
    begin: String,
    /// The last value the journal's `ordering` identity handed out.
    ordering: Statement,
    /// The highest numbers this writer committed, trusted while `ordering`
    /// shows nobody else wrote (see [`Known`]).
    known: RefCell<Known>,
    highest: Statement,
    revisions: Statement,
    insert_events: Statement,
    /// `insert_events` for groups without tags, the common case: no tag
    /// aggregation, join or `RETURNING` for the server to run.
    insert_untagged: Statement,
    delete_events: Statement,
    save_snapshot: Statement,
    delete_snapshots: Statement,
    upsert_state: Statement,
    delete_state: Statement,
}

impl Writer {
    async fn open(config: &PostgresConfig) -> Result<Self, PostgresError> {
        let mut named = config.clone();
        if named.connection.get_application_name().is_none() {
            // Tells the writer apart in `pg_stat_activity`.
            named
                .connection
                .application_name(format!("ferrocast writer {}", config.schema));
        }
        let client = schema::connect(&named).await?;
        schema::create(&client, &config.schema).await?;
        let s = &config.schema;
        let sequence: String = client
            .query_one(
                "SELECT pg_get_serial_sequence($1, 'ordering')",
                &[&format!(r#""{s}".journal"#)],
            )
            .await?
            .try_get(0)?;
        let prepare = |sql: String| {
            let client = &client;
            async move { client.prepare(&sql).await }
        };
        Ok(Writer {
            begin: format!("BEGIN; {};", lock_sql(s)),
            ordering: prepare(format!(
                "SELECT COALESCE(pg_sequence_last_value('{sequence}'::regclass), 0)"
            ))
            .await?,
            known: RefCell::new(Known::default()),
            highest: prepare(format!(
                r#"SELECT persistence_id, highest FROM "{s}".journal_highest
                   WHERE persistence_id = ANY($1::text[])"#
            ))
            .await?,
            revisions: prepare(format!(
                r#"SELECT persistence_id, revision FROM "{s}".durable_state
                   WHERE persistence_id = ANY($1::text[])"#
            ))
            .await?,
            // One statement for a run of events: the events (offsets handed
            // out in group order), their tags (gathered per event from the
            // flat tag arrays) and the new highest numbers.
            insert_events: prepare(format!(
                r#"WITH g AS (
                     SELECT i, array_agg(tag ORDER BY k) AS tags
                     FROM UNNEST($8::text[], $9::int8[]) WITH ORDINALITY AS g(tag, i, k)
                     GROUP BY i),
                   ins AS (
                     INSERT INTO "{s}".journal (persistence_id, sequence_nr, serializer_id,
                                                manifest, payload, tags, timestamp_ms, writer)
                     SELECT u.p, u.n, u.ser, u.m, u.pl, COALESCE(g.tags, '{{}}'), u.ts, u.w
                     FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[], $5::bytea[],
                                 $6::int8[], $7::text[])
                          WITH ORDINALITY AS u(p, n, ser, m, pl, ts, w, i)
                     LEFT JOIN g ON g.i = u.i
                     ORDER BY u.i
                     RETURNING ordering, tags),
                   tagged AS (
                     INSERT INTO "{s}".event_tags (tag, ordering)
                     SELECT t.tag, ins.ordering FROM ins, unnest(ins.tags) AS t(tag)
                     ON CONFLICT DO NOTHING)
                   INSERT INTO "{s}".journal_highest (persistence_id, highest)
                   SELECT * FROM UNNEST($10::text[], $11::int8[])
                   ON CONFLICT (persistence_id) DO UPDATE SET highest = excluded.highest"#
            ))
            .await?,
            insert_untagged: prepare(format!(
                r#"WITH ins AS (
                     INSERT INTO "{s}".journal (persistence_id, sequence_nr, serializer_id,
                                                manifest, payload, tags, timestamp_ms, writer)
                     SELECT u.p, u.n, u.ser, u.m, u.pl, '{{}}', u.ts, u.w
                     FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[], $5::bytea[],
                                 $6::int8[], $7::text[])
                          WITH ORDINALITY AS u(p, n, ser, m, pl, ts, w, i)
                     ORDER BY u.i)
                   INSERT INTO "{s}".journal_highest (persistence_id, highest)
                   SELECT * FROM UNNEST($8::text[], $9::int8[])
                   ON CONFLICT (persistence_id) DO UPDATE SET highest = excluded.highest"#
            ))
            .await?,
            // Tag rows are found by their key (tag, ordering) from the
            // deleted events' own tags.
            delete_events: prepare(format!(
                r#"WITH gone AS (
                     DELETE FROM "{s}".journal
                     WHERE persistence_id = $1 AND sequence_nr <= $2
                     RETURNING ordering, tags)
                   DELETE FROM "{s}".event_tags e
                   USING (SELECT t.tag, gone.ordering FROM gone, unnest(gone.tags) AS t(tag)) d
                   WHERE e.tag = d.tag AND e.ordering = d.ordering"#
            ))
            .await?,
            save_snapshot: prepare(format!(
                r#"INSERT INTO "{s}".snapshots
                   (persistence_id, sequence_nr, serializer_id, manifest, payload, timestamp_ms)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (persistence_id, sequence_nr) DO UPDATE SET
                     serializer_id = excluded.serializer_id, manifest = excluded.manifest,
                     payload = excluded.payload, timestamp_ms = excluded.timestamp_ms"#
            ))
            .await?,
            delete_snapshots: prepare(format!(
                r#"DELETE FROM "{s}".snapshots WHERE persistence_id = $1 AND sequence_nr <= $2"#
            ))
            .await?,
            upsert_state: prepare(format!(
                r#"INSERT INTO "{s}".durable_state
                   (persistence_id, revision, serializer_id, manifest, payload, tag, timestamp_ms)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (persistence_id) DO UPDATE SET
                     revision = excluded.revision, serializer_id = excluded.serializer_id,
                     manifest = excluded.manifest, payload = excluded.payload,
                     tag = excluded.tag, timestamp_ms = excluded.timestamp_ms"#
            ))
            .await?,
            delete_state: prepare(format!(
                r#"DELETE FROM "{s}".durable_state WHERE persistence_id = $1"#
            ))
            .await?,
            client,
        })
    }

    /// A group's first round trip: `BEGIN`, the lock, and what its plan
    /// needs to know (read under the lock).
    async fn begin(&self, batch: &[Request]) -> Result<Stored, PostgresError> {
        let (logs, states) = plan::lookups(batch.iter().map(|r| &r.op));
        let to_read = self.known.borrow().to_read(&logs);
        // `try_join4` polls in order, so the requests go out in this order.
        let ((), ordering, mut highest, revisions) = try_join4(
            async { Ok(self.client.batch_execute(&self.begin).await?) },
            async {
                let row = self.client.query_one(&self.ordering, &[]).await?;
                Ok(row.try_get::<_, i64>(0)?)
            },
            self.stored(&self.highest, &to_read),
            self.stored(&self.revisions, &states),
        )
        .await?;
        let unread = self
            .known
            .borrow_mut()
            .complete(ordering, &logs, &mut highest);
        // Another writer wrote since this one's last commit: rare, one more
        // round trip.
        highest.extend(self.stored(&self.highest, &unread).await?);
        Ok(Stored {
            highest,
            revisions,
            ordering,
        })
    }

    /// The rest of the transaction [`Writer::begin`] began (or the error it
    /// met): one outcome per request. If the transaction fails, it is
    /// rolled back and every request gets the error.
    async fn finish(
        &self,
        batch: &[Request],
        begun: Result<Stored, PostgresError>,
    ) -> Vec<Result<Outcome, PostgresError>> {
        let result = match begun {
            Ok(stored) => self.try_finish(batch, stored).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(outcomes) => outcomes,
            Err(e) => {
                // Its insert may have taken identity values.
                self.known.borrow_mut().forget();
                // Fails harmlessly if the transaction never began or ended.
                let _ = self.client.batch_execute("ROLLBACK").await;
                tracing::warn!(error = %e, requests = batch.len(), "postgres group commit failed");
                batch.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }

    async fn try_finish(
        &self,
        batch: &[Request],
        stored: Stored,
    ) -> Result<Vec<Result<Outcome, PostgresError>>, PostgresError> {
        let ordering = stored.ordering;
        let plan = plan::plan(
            batch.iter().map(|r| &r.op),
            stored.highest,
            stored.revisions,
        );
        let commit = async { Ok(self.client.batch_execute("COMMIT").await?) };
        match plan.steps.split_last() {
            None => commit.await?,
            Some((last, before)) => {
                for step in before {
                    self.run(step).await?;
                }
                try_join(self.run(last), commit).await?;
            }
        }
        let runs = plan.steps.iter().filter_map(|step| match step {
            Step::Events(run) => Some(run),
            _ => None,
        });
        let inserted = runs.clone().map(|run| run.events.len()).sum();
        let highest = runs.flat_map(|run| run.highest.iter().copied());
        self.known
            .borrow_mut()
            .committed(ordering, inserted, highest);
        Ok(plan.outcomes)
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

    async fn run(&self, step: &Step<'_>) -> Result<(), PostgresError> {
        let c = &self.client;
        match step {
            Step::Events(run) => self.insert_events(run).await,
            Step::DeleteEvents(pid, to) => {
                c.execute(&self.delete_events, &[&pid.as_str(), to]).await?;
                Ok(())
            }
            Step::SaveSnapshot(s, nr) => {
                c.execute(
                    &self.save_snapshot,
                    &[
                        &s.metadata.persistence_id.as_str(),
                        nr,
                        &i64::from(s.payload.serializer.value()),
                        &s.payload.manifest.as_str(),
                        &s.payload.bytes,
                        &millis(s.metadata.timestamp),
                    ],
                )
                .await?;
                Ok(())
            }
            Step::DeleteSnapshots(pid, max) => {
                c.execute(&self.delete_snapshots, &[&pid.as_str(), max])
                    .await?;
                Ok(())
            }
            Step::UpsertState(r, revision) => {
                c.execute(
                    &self.upsert_state,
                    &[
                        &r.persistence_id.as_str(),
                        revision,
                        &i64::from(r.payload.serializer.value()),
                        &r.payload.manifest.as_str(),
                        &r.payload.bytes,
                        &r.tag.as_ref().map(|t| t.as_str()),
                        &millis(r.timestamp),
                    ],
                )
                .await?;
                Ok(())
            }
            Step::DeleteState(pid) => {
                c.execute(&self.delete_state, &[&pid.as_str()]).await?;
                Ok(())
            }
        }
    }

    /// Every event of `run` in one statement, as parallel arrays. Sends
    /// its request when first polled (pipelining relies on it).
    async fn insert_events(&self, run: &EventRun<'_>) -> Result<(), PostgresError> {
        let n = run.events.len();
        let mut pids = Vec::with_capacity(n);
        let mut nrs = Vec::with_capacity(n);
        let mut serializers = Vec::with_capacity(n);
        let mut manifests = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        let mut times = Vec::with_capacity(n);
        let mut writers = Vec::with_capacity(n);
        // Flat: each tag with the (1-based) position of its event.
        let (mut tags, mut tagged) = (Vec::new(), Vec::new());
        for (i, (e, nr)) in (1i64..).zip(&run.events) {
            pids.push(e.persistence_id.as_str());
            nrs.push(*nr);
            serializers.push(i64::from(e.payload.serializer.value()));
            manifests.push(e.payload.manifest.as_str());
            payloads.push(e.payload.bytes.as_slice());
            times.push(millis(e.timestamp));
            writers.push(e.writer.as_str());
            for t in &e.tags {
                tags.push(t.as_str());
                tagged.push(i);
            }
        }
        let (logs, highest): (Vec<&str>, Vec<i64>) = run.highest.iter().copied().unzip();
        if tags.is_empty() {
            self.client
                .execute(
                    &self.insert_untagged,
                    &[
                        &pids,
                        &nrs,
                        &serializers,
                        &manifests,
                        &payloads,
                        &times,
                        &writers,
                        &logs,
                        &highest,
                    ],
                )
                .await?;
            return Ok(());
        }
        self.client
            .execute(
                &self.insert_events,
                &[
                    &pids,
                    &nrs,
                    &serializers,
                    &manifests,
                    &payloads,
                    &times,
                    &writers,
                    &tags,
                    &tagged,
                    &logs,
                    &highest,
                ],
            )
            .await?;
        Ok(())
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
/// turns, while the server, idle, waits for the writer.
pub(crate) async fn start(
    config: &PostgresConfig,
    counters: Arc<CommitCounters>,
) -> Result<mpsc::Sender<Request>, PostgresError> {
    let (tx, rx) = mpsc::channel::<Request>(config.write_queue.get());
    let (ready_tx, ready_rx) = oneshot::channel();
    let config = config.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PostgresError::WriterStart(Arc::new(e)))?;
    std::thread::Builder::new()
        .name("ferrocast-pg-writer".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                match Writer::open(&config).await {
                    Ok(writer) => {
                        let _ = ready_tx.send(Ok(()));
                        serve(writer, config, rx, counters).await;
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
) {
    let max_batch = config.max_batch.get();
    let mut writer = Some(writer);
    // A group whose first round trip went out while the last was answered.
    let mut begun = None;
    loop {
        let (batch, stored) = match begun.take() {
            Some(next) => next,
            None => {
                let Some(first) = rx.recv().await else {
                    return;
                };
                let batch = take_queued(first, &mut rx, max_batch);
                let stored = match connected(&mut writer, &config).await {
                    Ok(w) => w.begin(&batch).await,
                    Err(e) => Err(e),
                };
                (batch, stored)
            }
        };
        let Some(w) = writer.as_ref() else {
            let e = stored.err().unwrap_or(PostgresError::WriterStopped);
            let outcomes = batch.iter().map(|_| Err(e.clone())).collect();
            answer_all(batch, outcomes, &counters);
            continue;
        };
        let outcomes = w.finish(&batch, stored).await;
        if w.client.is_closed() {
            writer = None;
            answer_all(batch, outcomes, &counters);
            continue;
        }
        // The requests queued meanwhile are the next group. Its first round
        // trip goes out before this group is answered (`join` polls in
        // order), so the server reads the next lookups while the writer
        // answers, instead of waiting for it.
        let Ok(first) = rx.try_recv() else {
            answer_all(batch, outcomes, &counters);
            continue;
        };
        let next = take_queued(first, &mut rx, max_batch);
        let (stored, ()) = join(w.begin(&next), async {
            answer_all(batch, outcomes, &counters);
        })
        .await;
        begun = Some((next, stored));
    }
}

/// What a group's plan needs from the tables: the highest sequence numbers
/// and revisions of the persistence ids it writes.
struct Stored {
    highest: HashMap<String, i64>,
    revisions: HashMap<String, i64>,
    /// The last value of the journal's `ordering` identity, for [`Known`].
    ordering: i64,
}

/// The writer's connection, opened again if it was lost.
async fn connected<'w>(
    writer: &'w mut Option<Writer>,
    config: &PostgresConfig,
) -> Result<&'w Writer, PostgresError> {
    if writer.is_none() {
        tracing::info!("postgres writer reconnecting");
        *writer = Some(Writer::open(config).await?);
    }
    writer.as_ref().ok_or(PostgresError::WriterStopped)
}
