//! The `persistence` suite: event-sourced entities on SQLite (`ferrocast-persistence-sqlite`
//! through the public API) beside raw rusqlite writing and reading the same rows in the same
//! schema shape, the practical limit of one SQLite file.
//!
//! Runs (one child process each): `persist_1` (one entity, sequential acknowledged persists:
//! throughput and latency percentiles), `persist_1000` (1,000 entities persisting at once)
//! and `replay` (recovery of one long log), the first two once more with
//! `synchronous = NORMAL` (`*_normal`). Every run creates its database in a fresh directory
//! under `std::env::temp_dir()` and deletes it before reporting.

mod ferrocast;
pub(crate) mod postgres;
mod raw;
mod raw_postgres;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::harness::{Measured, Metric, Suite};

/// Every event's payload: 100 bytes.
pub(crate) const EVENT_BYTES: usize = 100;
/// Serializer id stored with every event (an application id: 100 and above).
pub(crate) const SERIALIZER_ID: u32 = 100;
/// Manifest stored with every event.
pub(crate) const MANIFEST: &str = "bench.event.v1";
/// Entities of `persist_1000`.
pub(crate) const ENTITIES: usize = 1000;

const LIBRARIES: &[&str] = &["ferrocast", "rusqlite"];

const RUNS: &[&str] = &[
    "persist_1",
    "persist_1000",
    "replay",
    "persist_1_normal",
    "persist_1000_normal",
];

/// Workload sizes, full or `--quick`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Sequential persists of the single entity (after [`Sizes::warmup`] untimed ones).
    pub(crate) single: usize,
    /// Untimed persists of the single entity before the measured ones.
    pub(crate) warmup: usize,
    /// Persists spread evenly over [`ENTITIES`] entities.
    pub(crate) many: usize,
    /// Events of the log that is replayed.
    pub(crate) replay: usize,
}

impl Sizes {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Self {
                single: 2_000,
                warmup: 20,
                many: 20_000,
                replay: 100_000,
            }
        } else {
            Self {
                single: 20_000,
                warmup: 200,
                many: 200_000,
                replay: 1_000_000,
            }
        }
    }
}

/// `synchronous` of the run: `FULL` (the `SqliteConfig` default) or `NORMAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sync {
    Full,
    Normal,
}

/// The suite as the harness sees it.
pub(crate) fn suite() -> Suite {
    Suite {
        name: "persistence",
        libraries: LIBRARIES,
        runs: RUNS,
        metrics,
        child,
        time_limit: |quick| Duration::from_secs(if quick { 60 } else { 300 }),
    }
}

fn metrics(_quick: bool) -> Vec<Metric> {
    let rows: [(&str, &'static str, &'static str); 10] = [
        ("sqlite_persist_1_entity", "events/s", "persist_1"),
        ("sqlite_persist_1_entity_p50_us", "us", "persist_1"),
        ("sqlite_persist_1_entity_p99_us", "us", "persist_1"),
        ("sqlite_persist_1000_entities", "events/s", "persist_1000"),
        ("sqlite_replay", "events/s", "replay"),
        (
            "sqlite_normal_persist_1_entity",
            "events/s",
            "persist_1_normal",
        ),
        (
            "sqlite_normal_persist_1_entity_p50_us",
            "us",
            "persist_1_normal",
        ),
        (
            "sqlite_normal_persist_1_entity_p99_us",
            "us",
            "persist_1_normal",
        ),
        (
            "sqlite_normal_persist_1000_entities",
            "events/s",
            "persist_1000_normal",
        ),
        (
            "sqlite_1000_entities_events_per_commit",
            "events",
            "persist_1000",
        ),
    ];
    Metric::table(rows)
}

fn child(library: &str, run: &str, quick: bool) -> Result<Measured> {
    let sizes = Sizes::new(quick);
    let dir = TempDir::new(&format!("{library}-{run}"))?;
    let db = dir.path().join("journal.db");
    let (what, sync) = match run {
        "persist_1" => ("persist_1", Sync::Full),
        "persist_1000" => ("persist_1000", Sync::Full),
        "replay" => ("replay", Sync::Full),
        "persist_1_normal" => ("persist_1", Sync::Normal),
        "persist_1000_normal" => ("persist_1000", Sync::Normal),
        other => bail!("unknown run {other:?}"),
    };
    let prefix = match sync {
        Sync::Full => "sqlite",
        Sync::Normal => "sqlite_normal",
    };
    let measured = match (library, what) {
        ("ferrocast", "persist_1") => {
            ferrocast::persist_1(ferrocast::open_sqlite(&db, sync), sizes)?
        }
        ("ferrocast", "persist_1000") => {
            ferrocast::persist_1000(ferrocast::open_sqlite(&db, sync), sizes)?
        }
        ("ferrocast", _) => ferrocast::replay(ferrocast::open_sqlite(&db, Sync::Full), sizes)?,
        ("rusqlite", "persist_1") => raw::persist_1(&db, sync, sizes)?,
        ("rusqlite", "persist_1000") => raw::persist_1000(&db, sync, sizes)?,
        ("rusqlite", _) => raw::replay(&db, sizes)?,
        (other, _) => bail!("unknown library {other:?}"),
    };
    drop(dir);
    Ok(measured
        .into_iter()
        .map(|(name, value)| (format!("{prefix}_{name}"), value))
        .collect())
}

/// Throughput and latency percentiles of sequential persists.
pub(crate) fn single_entity_metrics(total: Duration, mut latencies: Vec<Duration>) -> Measured {
    let n = latencies.len();
    latencies.sort_unstable();
    let rank = |p: f64| {
        let i = ((p * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        latencies.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
    };
    vec![
        (
            "persist_1_entity".to_owned(),
            n as f64 / total.as_secs_f64(),
        ),
        ("persist_1_entity_p50_us".to_owned(), rank(0.50)),
        ("persist_1_entity_p99_us".to_owned(), rank(0.99)),
    ]
}

/// The payload of event `i`: 100 bytes, not all alike.
pub(crate) fn payload(i: u64) -> [u8; EVENT_BYTES] {
    let mut bytes = [0u8; EVENT_BYTES];
    for (k, b) in bytes.iter_mut().enumerate() {
        *b = (i as usize).wrapping_add(k) as u8;
    }
    bytes
}

/// A fresh directory under `std::env::temp_dir()`, removed with everything in it on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "ferrocast-bench-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("create temp dir {}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

    #[test]
    fn percentiles_are_nearest_rank() {
        let lat = (1..=100).map(Duration::from_micros).collect();
        let m = single_entity_metrics(Duration::from_secs(1), lat);
        assert_eq!(m[0].1, 100.0);
        assert_eq!(m[1].1, 50.0);
        assert_eq!(m[2].1, 99.0);
    }
}
