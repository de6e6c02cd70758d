//! The `actors` suite: local messaging, ask latency, spawn cost and idle memory of Ferrocast
//! beside kameo, ractor, xtra, actix (one thread, and two arbiters) and a raw tokio task.

mod actix;
mod ferrocast;
mod kameo;
mod library;
mod ractor;
mod scenario;
mod tokio_raw;
mod xtra;

use std::time::Duration;

use anyhow::{Result, bail};

use crate::harness::{Measured, Metric, Suite};
use library::Library;
use scenario::Sizes;

const TELL_1: &str = "tell_1_actor";
const TELL_100: &str = "tell_100_actors";
const TELL_ALLOCS: &str = "tell_allocs_per_msg";
const ASK_P50: &str = "ask_p50_ns";
const ASK_P99: &str = "ask_p99_ns";
const SPAWN_PER_ACTOR: &str = "spawn_us_per_actor";
const IDLE_RSS: &str = "idle_bytes_rss";
const IDLE_ALLOC: &str = "idle_bytes_alloc";

/// `spawn_1m_ms` for the full run; `spawn_100k_ms` under `--quick`, so the label says what
/// was measured.
fn spawn_metric(n: usize) -> String {
    match n {
        1_000_000 => "spawn_1m_ms".to_owned(),
        n if n % 1000 == 0 => format!("spawn_{}k_ms", n / 1000),
        n => format!("spawn_{n}_ms"),
    }
}

const LIBRARIES: &[&str] = &[
    "ferrocast",
    "kameo",
    "ractor",
    "xtra",
    "actix",
    "actix_arbiters",
    "tokio",
];

const RUNS: &[&str] = &["tell_1", "tell_100", "ask", "spawn"];

/// The suite as the harness sees it.
pub(crate) fn suite() -> Suite {
    Suite {
        name: "actors",
        libraries: LIBRARIES,
        runs: RUNS,
        metrics,
        child,
        time_limit: |quick| Duration::from_secs(if quick { 20 } else { 240 }),
    }
}

fn metrics(quick: bool) -> Vec<Metric> {
    let spawn_name = spawn_metric(Sizes::new(quick).spawns);
    let rows: [(&str, &'static str, &'static str); 9] = [
        (TELL_1, "ns/msg", "tell_1"),
        (TELL_100, "ns/msg", "tell_100"),
        (ASK_P50, "ns", "ask"),
        (ASK_P99, "ns", "ask"),
        (&spawn_name, "ms", "spawn"),
        (SPAWN_PER_ACTOR, "us/actor", "spawn"),
        (IDLE_RSS, "bytes/actor", "spawn"),
        (IDLE_ALLOC, "bytes/actor", "spawn"),
        (TELL_ALLOCS, "allocs/msg", "tell_1"),
    ];
    Metric::table(rows)
}

fn child(library: &str, run: &str, quick: bool) -> Result<Measured> {
    let sizes = Sizes::new(quick);
    match library {
        "ferrocast" => measure::<ferrocast::Ferrocast>(run, sizes),
        "kameo" => measure::<kameo::Kameo>(run, sizes),
        "ractor" => measure::<ractor::Ractor>(run, sizes),
        "xtra" => measure::<xtra::Xtra>(run, sizes),
        "actix" => measure::<actix::ActixSystem>(run, sizes),
        "actix_arbiters" => measure::<actix::ActixArbiters>(run, sizes),
        "tokio" => measure::<tokio_raw::TokioTask>(run, sizes),
        other => bail!("unknown library {other:?}"),
    }
}

fn measure<L: Library>(run: &str, sizes: Sizes) -> Result<Measured> {
    match run {
        "tell_1" => scenario::tell_1::<L>(sizes),
        "tell_100" => scenario::tell_100::<L>(sizes),
        "ask" => scenario::ask::<L>(sizes),
        "spawn" => scenario::spawn::<L>(sizes),
        other => bail!("unknown run {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_metric_names_say_the_count() {
        assert_eq!(spawn_metric(1_000_000), "spawn_1m_ms");
        assert_eq!(spawn_metric(100_000), "spawn_100k_ms");
    }

    #[test]
    fn every_metric_belongs_to_a_run() {
        for m in metrics(true) {
            assert!(RUNS.contains(&m.run), "{}", m.name);
        }
    }
}
