//! Raw tokio-postgres: the same rows, in the `journal` table `ferrocast-persistence-postgres`
//! itself creates (its store opens the schema first; `journal_highest` is written only at
//! deletions), written and read by hand on one connection with prepared statements: the
//! practical limit of one server connection.
//!
//! - One entity: every event is its own transaction, one statement that inserts the event
//!   (committed on its own: one round trip and one WAL flush per event), since each must be
//!   durable before the next is sent.
//! - 1,000 entities: with one persist in flight per entity, a hand-written writer commits
//!   one event of every entity per transaction, as one array (`UNNEST`) statement.
//! - Replay: one `SELECT` over the log's rows in order on a fresh connection, streamed,
//!   every column read into owned values.
//!
//! It skips what the library does on top: the advisory lock and the sequence-number read
//! before a write (the `UNIQUE` constraint still holds), tags, the writer task and its
//! channel, actors, asks, serialization and paging.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, ensure};
use ferrocast_persistence_postgres::{PostgresConfig, PostgresStore};
use futures_util::StreamExt as _;
use tokio_postgres::{Client, NoTls};

use super::{ENTITIES, EVENT_BYTES, MANIFEST, SERIALIZER_ID, Sizes};
use crate::harness::Measured;

const WRITER: &str = "bench";

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A connection to `url`, after the library's own store has created schema `s` and its
/// tables (opened and closed, untimed): the same tables by construction.
async fn open(url: &str, s: &str) -> Result<Client> {
    let config = PostgresConfig::from_url(url)?.with_schema(s);
    drop(PostgresStore::open(config).await?);
    connect(url).await
}

/// Events as parallel arrays, in one statement.
fn insert_sql(s: &str) -> String {
    format!(
        r#"INSERT INTO "{s}".journal (persistence_id, sequence_nr, serializer_id, manifest,
                                      payload, tags, timestamp_ms, writer)
           SELECT p, n, $3, $4, pl, '{{}}', $5, $6
           FROM UNNEST($1::text[], $2::int8[], $7::bytea[]) AS u(p, n, pl)"#
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Writes `events` (persistence id, number) in one statement, committed on its own.
async fn write(
    client: &Client,
    insert: &tokio_postgres::Statement,
    events: &[(&str, i64)],
) -> Result<()> {
    let pids: Vec<&str> = events.iter().map(|e| e.0).collect();
    let nrs: Vec<i64> = events.iter().map(|e| e.1).collect();
    let payloads: Vec<Vec<u8>> = events
        .iter()
        .map(|e| super::payload(e.1.unsigned_abs()).to_vec())
        .collect();
    client
        .execute(
            insert,
            &[
                &pids,
                &nrs,
                &i64::from(SERIALIZER_ID),
                &MANIFEST,
                &now_ms(),
                &WRITER,
                &payloads,
            ],
        )
        .await?;
    Ok(())
}

/// One event per transaction, sequentially.
pub(crate) fn persist_1(url: &str, schema: &str, sizes: Sizes) -> Result<Measured> {
    runtime()?.block_on(async move {
        let client = open(url, schema).await?;
        let insert = client.prepare(&insert_sql(schema)).await?;
        let mut nr = 0i64;
        for _ in 0..sizes.warmup {
            nr += 1;
            write(&client, &insert, &[("entity-0", nr)]).await?;
        }
        let mut latencies = Vec::with_capacity(sizes.single);
        let started = Instant::now();
        for _ in 0..sizes.single {
            nr += 1;
            let t = Instant::now();
            write(&client, &insert, &[("entity-0", nr)]).await?;
            latencies.push(t.elapsed());
        }
        let total = started.elapsed();
        Ok(super::single_entity_metrics(total, latencies))
    })
}

/// Rounds of one event per entity, each round one transaction.
pub(crate) fn persist_1000(url: &str, schema: &str, sizes: Sizes) -> Result<Measured> {
    runtime()?.block_on(async move {
        let client = open(url, schema).await?;
        let insert = client.prepare(&insert_sql(schema)).await?;
        let pids: Vec<String> = (0..ENTITIES).map(|i| format!("entity-{i}")).collect();
        let rounds = (sizes.many / ENTITIES) as i64;
        let started = Instant::now();
        for nr in 1..=rounds {
            let events: Vec<(&str, i64)> = pids.iter().map(|p| (p.as_str(), nr)).collect();
            write(&client, &insert, &events).await?;
        }
        let total = started.elapsed();
        let events = rounds as u64 * ENTITIES as u64;
        Ok(vec![
            (
                "persist_1000_entities".to_owned(),
                events as f64 / total.as_secs_f64(),
            ),
            (
                "1000_entities_events_per_commit".to_owned(),
                ENTITIES as f64,
            ),
        ])
    })
}

/// Fills one log (untimed, statements of 10,000 events), then reads it back with one
/// streamed `SELECT` on a fresh connection.
pub(crate) fn replay(url: &str, schema: &str, sizes: Sizes) -> Result<Measured> {
    const PID: &str = "replayed";
    runtime()?.block_on(async move {
        {
            let client = open(url, schema).await?;
            let insert = client.prepare(&insert_sql(schema)).await?;
            let mut nr = 0i64;
            let total = i64::try_from(sizes.replay)?;
            while nr < total {
                let n = 10_000.min(total - nr);
                let events: Vec<(&str, i64)> = (nr + 1..=nr + n).map(|k| (PID, k)).collect();
                write(&client, &insert, &events).await?;
                nr += n;
            }
        }
        // A reader of its own, as a recovering process would have.
        let reader = connect(url).await?;
        let select = reader
            .prepare(&format!(
                r#"SELECT sequence_nr, serializer_id, manifest, payload, tags, timestamp_ms, writer
                   FROM "{schema}".journal
                   WHERE persistence_id = $1 AND sequence_nr >= $2 AND sequence_nr <= $3
                   ORDER BY sequence_nr"#
            ))
            .await?;
        let started = Instant::now();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&PID, &1i64, &i64::MAX];
        let rows = reader.query_raw(&select, params).await?;
        let mut rows = std::pin::pin!(rows);
        let mut expected = 1i64;
        let mut bytes = 0usize;
        while let Some(row) = rows.next().await {
            let row = row?;
            let nr: i64 = row.try_get(0)?;
            ensure!(nr == expected, "expected event {expected}, read {nr}");
            let _serializer: i64 = row.try_get(1)?;
            let _manifest: String = row.try_get(2)?;
            let payload: Vec<u8> = row.try_get(3)?;
            let _tags: Vec<String> = row.try_get(4)?;
            let _timestamp: i64 = row.try_get(5)?;
            let _writer: String = row.try_get(6)?;
            bytes += payload.len();
            expected += 1;
        }
        let total = started.elapsed();
        let read = usize::try_from(expected - 1)?;
        ensure!(read == sizes.replay, "read {read} events");
        ensure!(bytes == read * EVENT_BYTES, "read {bytes} payload bytes");
        Ok(vec![(
            "replay".to_owned(),
            sizes.replay as f64 / total.as_secs_f64(),
        )])
    })
}

/// Drops a run's schema and everything in it.
pub(crate) fn drop_schema(url: &str, schema: &str) -> Result<()> {
    runtime()?.block_on(async move {
        let client = connect(url).await?;
        client
            .batch_execute(&format!(r#"DROP SCHEMA IF EXISTS "{schema}" CASCADE"#))
            .await?;
        Ok(())
    })
}
