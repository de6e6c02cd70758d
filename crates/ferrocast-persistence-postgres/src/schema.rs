//! The tables, created on open, and how connections are made.
//!
//! All tables live in the configured schema. Integers are `bigint`
//! (signed 64-bit): sequence numbers and revisions above `i64::MAX` are
//! refused, serializer ids (`u32`) fit.

use tokio_postgres::{Client, NoTls};

use crate::config::PostgresConfig;
use crate::error::PostgresError;

/// The first key of every advisory lock this crate takes; the second is
/// `hashtext(schema)`. Spells "fcst".
const LOCK_CLASS: i32 = 0x6663_7374;

/// `SELECT pg_advisory_xact_lock(..)` for `schema`: held until the end of
/// the transaction, it serializes every writer of the schema, in this
/// process or another. The schema name is validated (`[a-z0-9_]`), so it
/// can stand in a literal.
pub(crate) fn lock_sql(schema: &str) -> String {
    format!("SELECT pg_advisory_xact_lock({LOCK_CLASS}, hashtext('{schema}'))")
}

/// `(persistence_id, highest)` of every persistence id in `$1` (a text
/// array), zero for a log without events: the last entry of its log (the
/// journal's unique index, read backwards) or what `journal_highest` kept
/// when its events were deleted, whichever is higher. The writer's check
/// and the store's `highest_sequence_nr` both ask this.
pub(crate) fn highest_sql(s: &str) -> String {
    format!(
        r#"SELECT p.id, greatest(
             coalesce((SELECT h.highest FROM "{s}".journal_highest h
                       WHERE h.persistence_id = p.id), 0),
             coalesce((SELECT j.sequence_nr FROM "{s}".journal j
                       WHERE j.persistence_id = p.id
                       ORDER BY j.sequence_nr DESC LIMIT 1), 0))
           FROM unnest($1::text[]) AS p(id)"#
    )
}

fn tables(s: &str) -> String {
    format!(
        r#"
CREATE TABLE IF NOT EXISTS "{s}".journal (
    -- The offset of queries by tag. Every write transaction holds the
    -- schema's advisory lock, so values are handed out in commit order;
    -- an identity is never reused, even after deletion. No cache: every
    -- value handed out moves the last value, which tells the writer
    -- whether anyone else wrote events (see known.rs).
    ordering       BIGINT GENERATED ALWAYS AS IDENTITY (INCREMENT BY 1 CACHE 1) PRIMARY KEY,
    persistence_id TEXT   NOT NULL,
    sequence_nr    BIGINT NOT NULL,
    serializer_id  BIGINT NOT NULL,
    manifest       TEXT   NOT NULL,
    payload        BYTEA  NOT NULL,
    -- Here so that replay needs no join, and so that deleting an event
    -- finds its `event_tags` rows by their key.
    tags           TEXT[] NOT NULL,
    timestamp_ms   BIGINT NOT NULL,
    writer         TEXT   NOT NULL,
    -- The last line against a second writer: the writer task checks
    -- sequence numbers before inserting, this catches any other path.
    UNIQUE (persistence_id, sequence_nr)
);
CREATE TABLE IF NOT EXISTS "{s}".event_tags (
    tag      TEXT   NOT NULL,
    ordering BIGINT NOT NULL,
    PRIMARY KEY (tag, ordering)
);
-- A log's highest number when its events were last deleted, so that
-- numbering goes on; otherwise it is the last entry of the journal's
-- (persistence_id, sequence_nr) index. Written only at deletions.
CREATE TABLE IF NOT EXISTS "{s}".journal_highest (
    persistence_id TEXT   PRIMARY KEY,
    highest        BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS "{s}".snapshots (
    persistence_id TEXT   NOT NULL,
    sequence_nr    BIGINT NOT NULL,
    serializer_id  BIGINT NOT NULL,
    manifest       TEXT   NOT NULL,
    payload        BYTEA  NOT NULL,
    timestamp_ms   BIGINT NOT NULL,
    PRIMARY KEY (persistence_id, sequence_nr)
);
CREATE TABLE IF NOT EXISTS "{s}".durable_state (
    persistence_id TEXT   PRIMARY KEY,
    revision       BIGINT NOT NULL,
    serializer_id  BIGINT NOT NULL,
    manifest       TEXT   NOT NULL,
    payload        BYTEA  NOT NULL,
    tag            TEXT,
    timestamp_ms   BIGINT NOT NULL
);
"#
    )
}

/// Every statement of the store is a lookup on a primary key or unique
/// index. Tables that were just written have no statistics yet (autovacuum
/// analyzes them later), and a planner that expects two rows picks a bitmap
/// scan and sorts the whole log: measured, 50 ms instead of 2 ms for a
/// replay page of 1,024 events on a fresh log of 100,000. Keeping the
/// store's sessions off sequential and bitmap scans keeps every statement
/// on its index, whatever the statistics.
const SESSION: &str = "SET enable_seqscan = off; SET enable_bitmapscan = off;";

/// Opens a connection; its I/O runs on a spawned task until the client is
/// dropped or the connection fails.
pub(crate) async fn connect(config: &PostgresConfig) -> Result<Client, PostgresError> {
    let (client, connection) = config.connection.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection closed");
        }
    });
    client.batch_execute(SESSION).await?;
    Ok(client)
}

/// Creates the schema (if missing) and the tables, under the schema's
/// advisory lock so that stores opening at once do not race on the
/// catalog.
pub(crate) async fn create(client: &Client, schema: &str) -> Result<(), PostgresError> {
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; {};",
            lock_sql(schema)
        ))
        .await?;
    let result = async {
        // `CREATE SCHEMA IF NOT EXISTS` needs the CREATE privilege even when
        // the schema exists: only ask for it when it is missing.
        let exists = client
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
            .await?
            .is_some();
        if !exists {
            client
                .batch_execute(&format!(r#"CREATE SCHEMA "{schema}""#))
                .await?;
        }
        client.batch_execute(&tables(schema)).await?;
        client.batch_execute("COMMIT").await
    }
    .await;
    if result.is_err() {
        // Fails harmlessly if the transaction already ended.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    Ok(result?)
}
