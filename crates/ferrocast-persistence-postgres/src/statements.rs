//! [`Statements`]: the writer's statements, prepared once per connection
//! (a group runs a few statements, so preparing per group would double
//! its round trips), and how a plan's [`Step`]s run on them.

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use ferrocast_persistence::backend::millis;

use crate::error::PostgresError;
use crate::plan::{EventRun, Step};
use crate::schema::{highest_sql, lock_sql};

/// The writer's statements for one schema, on one connection.
pub(crate) struct Statements {
    /// `BEGIN` (READ COMMITTED) and the schema's advisory lock, sent as
    /// one simple query.
    pub(crate) begin: String,
    /// The journal identity's last value, `NULL` when it proves nothing
    /// (a cache or increment other than 1, or no right to read it; see
    /// `known`). `None` if the journal has no identity sequence.
    pub(crate) ordering: Option<Statement>,
    /// The highest sequence numbers of `$1` (persistence ids).
    pub(crate) highest: Statement,
    /// The durable-state revisions of `$1` (persistence ids).
    pub(crate) revisions: Statement,
    insert_events: Statement,
    /// `insert_events` for groups without tags, the common case: no tag
    /// aggregation, join or `RETURNING` for the server to run.
    insert_untagged: Statement,
    /// The inserts of a group sent with its `BEGIN` and `COMMIT` (see
    /// [`Statements::insert_guarded`]). `None` with `ordering`.
    guarded: Option<Guarded>,
    delete_events: Statement,
    save_snapshot: Statement,
    delete_snapshots: Statement,
    upsert_state: Statement,
    delete_state: Statement,
}

/// The event inserts that write nothing unless the journal identity's last
/// value, read by the statement itself (after the lock), is the one given.
struct Guarded {
    tagged: Statement,
    untagged: Statement,
}

/// The insert of a run without tags: its events as parallel arrays
/// (`$1`..`$7`), offsets handed out in group order. `guard`: see
/// [`insert_tagged_sql`].
fn insert_untagged_sql(s: &str, guard: Option<&str>) -> String {
    let filter = guard.map_or(String::new(), |g| format!("WHERE ({g}) = $8"));
    format!(
        r#"INSERT INTO "{s}".journal (persistence_id, sequence_nr, serializer_id,
                                      manifest, payload, tags, timestamp_ms, writer)
           SELECT u.p, u.n, u.ser, u.m, u.pl, '{{}}', u.ts, u.w
           FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[], $5::bytea[],
                       $6::int8[], $7::text[])
                WITH ORDINALITY AS u(p, n, ser, m, pl, ts, w, i)
           {filter}
           ORDER BY u.i"#
    )
}

/// The insert of a run with tags: its events as parallel arrays
/// (`$1`..`$7`, offsets handed out in group order) and their tags (`$8`,
/// `$9`: gathered per event from the flat tag arrays).
///
/// With a `guard` (the identity's trusted last value, see `known`), the
/// insert writes nothing unless it equals the last parameter. The filter
/// uses no column, so the server checks it once before the first row
/// (a one-time filter): a failed guard takes no identity value. The
/// guarded tagged statement returns the number of events it wrote (its
/// command tag would count tag rows).
fn insert_tagged_sql(s: &str, guard: Option<&str>) -> String {
    let tag_rows = format!(
        r#"INSERT INTO "{s}".event_tags (tag, ordering)
           SELECT t.tag, ins.ordering FROM ins, unnest(ins.tags) AS t(tag)
           ON CONFLICT DO NOTHING"#
    );
    let (filter, rest) = match guard {
        Some(g) => (
            format!("WHERE ({g}) = $10"),
            format!(", tagged AS ({tag_rows}) SELECT count(*) FROM ins"),
        ),
        None => (String::new(), tag_rows),
    };
    format!(
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
             {filter}
             ORDER BY u.i
             RETURNING ordering, tags)
           {rest}"#
    )
}

impl Statements {
    /// Prepares the statements of schema `s` (its tables exist).
    pub(crate) async fn prepare(client: &Client, s: &str) -> Result<Self, PostgresError> {
        let sequence: Option<String> = client
            .query_one(
                "SELECT pg_get_serial_sequence($1, 'ordering')",
                &[&format!(r#""{s}".journal"#)],
            )
            .await?
            .try_get(0)?;
        let prepare = |sql: String| async move { client.prepare(&sql).await };
        // The value is read only where it can be trusted: reading it
        // without the right would fail the group.
        let guard = sequence.map(|name| {
            let sequence = name.replace('\'', "''");
            format!(
                "SELECT CASE WHEN s.seqcache = 1 AND s.seqincrement = 1
                              AND has_sequence_privilege(s.seqrelid, 'SELECT,USAGE')
                         THEN COALESCE(pg_sequence_last_value(s.seqrelid), 0) END
                 FROM pg_catalog.pg_sequence s
                 WHERE s.seqrelid = '{sequence}'::regclass"
            )
        });
        let ordering = match &guard {
            Some(sql) => Some(prepare(sql.clone()).await?),
            None => None,
        };
        Ok(Statements {
            // READ COMMITTED whatever the server's default: under a
            // stricter level the statement waiting for the lock would take
            // the transaction's snapshot, before the previous holder's
            // commit, and the reads after it would not see that commit.
            begin: format!("BEGIN ISOLATION LEVEL READ COMMITTED; {};", lock_sql(s)),
            ordering,
            highest: prepare(highest_sql(s)).await?,
            revisions: prepare(format!(
                r#"SELECT persistence_id, revision FROM "{s}".durable_state
                   WHERE persistence_id = ANY($1::text[])"#
            ))
            .await?,
            insert_events: prepare(insert_tagged_sql(s, None)).await?,
            insert_untagged: prepare(insert_untagged_sql(s, None)).await?,
            guarded: match &guard {
                Some(guard) => Some(Guarded {
                    tagged: prepare(insert_tagged_sql(s, Some(guard))).await?,
                    untagged: prepare(insert_untagged_sql(s, Some(guard))).await?,
                }),
                None => None,
            },
            // Tag rows are found by their key (tag, ordering) from the
            // deleted events' own tags. The log's highest number, which
            // may be among the deleted, is kept first (all parts see the
            // rows as they were), so that numbering goes on.
            delete_events: prepare(format!(
                r#"WITH kept AS (
                     INSERT INTO "{s}".journal_highest (persistence_id, highest)
                     SELECT $1, max(sequence_nr) FROM "{s}".journal WHERE persistence_id = $1
                     HAVING max(sequence_nr) IS NOT NULL
                     ON CONFLICT (persistence_id) DO UPDATE
                     SET highest = greatest("{s}".journal_highest.highest, excluded.highest)),
                   gone AS (
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
        })
    }

    /// Runs one step of a plan on `c`, inside the group's transaction.
    /// Sends its request when first polled (pipelining relies on it).
    pub(crate) async fn run(&self, c: &Client, step: &Step<'_>) -> Result<(), PostgresError> {
        match step {
            Step::Events(run) => {
                self.insert_events(c, run, None).await?;
                Ok(())
            }
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

    /// The events of `run`, inserted only if the journal identity's last
    /// value (read by the statement, after the lock) is `expected`: the
    /// number of events written, all of them or, if not (or without an
    /// identity to read), none. Sends its request when first polled
    /// (pipelining relies on it).
    pub(crate) async fn insert_guarded(
        &self,
        c: &Client,
        run: &EventRun<'_>,
        expected: i64,
    ) -> Result<u64, PostgresError> {
        match &self.guarded {
            Some(guarded) => self.insert_events(c, run, Some((guarded, expected))).await,
            None => Ok(0),
        }
    }

    /// Every event of `run` in one statement, as parallel arrays (with a
    /// guard and the value it expects: see [`Statements::insert_guarded`]):
    /// the number of events written. Sends its request when first polled
    /// (pipelining relies on it).
    async fn insert_events(
        &self,
        c: &Client,
        run: &EventRun<'_>,
        guard: Option<(&Guarded, i64)>,
    ) -> Result<u64, PostgresError> {
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
        let expected = guard.map(|(_, value)| value);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &pids,
            &nrs,
            &serializers,
            &manifests,
            &payloads,
            &times,
            &writers,
        ];
        if !tags.is_empty() {
            params.extend([&tags as &(dyn ToSql + Sync), &tagged]);
        }
        if let Some(expected) = &expected {
            params.push(expected);
        }
        let written = match (tags.is_empty(), guard) {
            (true, None) => c.execute(&self.insert_untagged, &params).await?,
            (false, None) => {
                c.execute(&self.insert_events, &params).await?;
                // Counts tag rows: all events are written, or it failed.
                u64::try_from(n).unwrap_or(u64::MAX)
            }
            (true, Some((g, _))) => c.execute(&g.untagged, &params).await?,
            (false, Some((g, _))) => {
                let count: i64 = c.query_one(&g.tagged, &params).await?.try_get(0)?;
                u64::try_from(count).unwrap_or(0)
            }
        };
        Ok(written)
    }
}
