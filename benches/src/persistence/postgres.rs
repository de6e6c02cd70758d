//! The `persistence-postgres` suite: the `persistence` suite's runs on PostgreSQL.
//! Event-sourced entities on `ferrocast-persistence-postgres` through the public API
//! (column `ferrocast`) beside raw tokio-postgres writing and reading the same rows
//! (column `tokio-postgres`, the practical limit of one server connection).
//!
//! The server is `FERROCAST_PG_URL`, as `scripts/with-postgres.sh` provides it:
//! `scripts/with-postgres.sh cargo run --release -p ferrocast-bench -- persistence-postgres`.
//! Without it the suite prints a note and reports nothing. Every run works in a fresh schema
//! and drops it before reporting.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::{Sizes, ferrocast, raw_postgres};
use crate::harness::{Measured, Metric, Suite};

/// Where the server is.
pub(crate) const URL_ENV: &str = "FERROCAST_PG_URL";

const LIBRARIES: &[&str] = &["ferrocast", "tokio-postgres"];

const RUNS: &[&str] = &["persist_1", "persist_1000", "replay"];

/// The suite as the harness sees it.
pub(crate) fn suite() -> Suite {
    Suite {
        name: "persistence-postgres",
        libraries: LIBRARIES,
        runs: RUNS,
        metrics,
        child,
        time_limit: |quick| Duration::from_secs(if quick { 60 } else { 300 }),
    }
}

/// The server's URL, or `None` after printing why the suite does not run.
pub(crate) fn url_or_note() -> Option<String> {
    match std::env::var(URL_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "note: {URL_ENV} is not set, so the PostgreSQL rows are skipped; run \
                 `scripts/with-postgres.sh cargo run --release -p ferrocast-bench -- \
                 persistence-postgres` to measure them"
            );
            None
        }
    }
}

fn metrics(_quick: bool) -> Vec<Metric> {
    let rows: [(&str, &'static str, &'static str); 6] = [
        ("pg_persist_1_entity", "events/s", "persist_1"),
        ("pg_persist_1_entity_p50_us", "us", "persist_1"),
        ("pg_persist_1_entity_p99_us", "us", "persist_1"),
        ("pg_persist_1000_entities", "events/s", "persist_1000"),
        ("pg_replay", "events/s", "replay"),
        (
            "pg_1000_entities_events_per_commit",
            "events",
            "persist_1000",
        ),
    ];
    Metric::table(rows)
}

fn child(library: &str, run: &str, quick: bool) -> Result<Measured> {
    let sizes = Sizes::new(quick);
    let url = std::env::var(URL_ENV).with_context(|| format!("{URL_ENV} is not set"))?;
    let schema = format!(
        "bench_{}_{run}_{}",
        library.replace('-', "_"),
        std::process::id()
    );
    let measured = match (library, run) {
        ("ferrocast", "persist_1") => {
            ferrocast::persist_1(ferrocast::open_postgres(&url, &schema), sizes)
        }
        ("ferrocast", "persist_1000") => {
            ferrocast::persist_1000(ferrocast::open_postgres(&url, &schema), sizes)
        }
        ("ferrocast", "replay") => {
            ferrocast::replay(ferrocast::open_postgres(&url, &schema), sizes)
        }
        ("tokio-postgres", "persist_1") => raw_postgres::persist_1(&url, &schema, sizes),
        ("tokio-postgres", "persist_1000") => raw_postgres::persist_1000(&url, &schema, sizes),
        ("tokio-postgres", "replay") => raw_postgres::replay(&url, &schema, sizes),
        (library, run) => bail!("unknown library {library:?} or run {run:?}"),
    };
    let dropped = raw_postgres::drop_schema(&url, &schema);
    let measured = measured?;
    dropped?;
    Ok(measured
        .into_iter()
        .map(|(name, value)| (format!("pg_{name}"), value))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_belongs_to_a_run() {
        for m in metrics(true) {
            assert!(RUNS.contains(&m.run), "{}", m.name);
        }
    }
}
