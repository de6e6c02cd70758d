//! The `stream` suite: operator throughput of `ferrocast-stream` beside the same pipeline
//! written with plain `futures::StreamExt` and as a hand-written loop.
//!
//! Columns: `ferrocast` (a `Source` blueprint, run with `run_fold`), `futures` (the same
//! closures on `futures_util::stream`, monomorphized, spawned as one task), `loop` (a `for`
//! loop in one task; only where a loop means the same thing: not for `map_async` with more
//! than one future in flight, where its cells are `null` / `-`).
//!
//! Every child checks its result against an untimed plain computation of the same closures
//! and fails the run on a mismatch.
//!
//! `source_ref_100b` (elements/s through a `SourceRef` between two nodes over loopback
//! TCP; `stream_ref.rs` says how) has a `ferrocast` cell only: the other columns have no
//! stream refs, so their cells are `null` / `-`.

mod scenario;
mod stream_ref;

use std::time::Duration;

use anyhow::{Result, bail};

use crate::harness::{Measured, Metric, Suite};
use scenario::Sizes;

const PIPELINE: &str = "pipeline_5_stages";
const MAP_ASYNC: [(&str, usize); 3] = [
    ("map_async_p1", 1),
    ("map_async_p4", 4),
    ("map_async_p16", 16),
];

const SOURCE_REF: &str = "source_ref_100b";

const LIBRARIES: &[&str] = &["ferrocast", "futures", "loop"];

/// One child run per metric: every number comes from its own process.
const RUNS: &[&str] = &[
    PIPELINE,
    "map_async_p1",
    "map_async_p4",
    "map_async_p16",
    SOURCE_REF,
];

/// The suite as the harness sees it.
pub(crate) fn suite() -> Suite {
    Suite {
        name: "stream",
        libraries: LIBRARIES,
        runs: RUNS,
        metrics,
        child,
        time_limit: |quick| Duration::from_secs(if quick { 20 } else { 120 }),
    }
}

fn metrics(_quick: bool) -> Vec<Metric> {
    Metric::table(RUNS.iter().map(|&run| {
        let unit = if run == SOURCE_REF {
            "elements/s"
        } else {
            "ns/item"
        };
        (run, unit, run)
    }))
}

fn child(library: &str, run: &str, quick: bool) -> Result<Measured> {
    let sizes = Sizes::new(quick);
    let library = match library {
        "ferrocast" => scenario::Variant::Ferrocast,
        "futures" => scenario::Variant::Futures,
        "loop" => scenario::Variant::Loop,
        other => bail!("unknown library {other:?}"),
    };
    if run == SOURCE_REF {
        let value = match library {
            scenario::Variant::Ferrocast => stream_ref::source_ref(sizes.stream_ref_elements)?,
            // Not applicable: no stream refs.
            scenario::Variant::Futures | scenario::Variant::Loop => f64::NAN,
        };
        return Ok(vec![(run.to_owned(), value)]);
    }
    let ns_per_item = if run == PIPELINE {
        scenario::pipeline(library, sizes.pipeline_items)?
    } else if let Some(&(_, parallelism)) = MAP_ASYNC.iter().find(|(name, _)| *name == run) {
        scenario::map_async(library, parallelism, sizes.map_async_items)?
    } else {
        bail!("unknown run {run:?}")
    };
    Ok(vec![(run.to_owned(), ns_per_item)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_belongs_to_a_run() {
        for m in metrics(true) {
            assert!(RUNS.contains(&m.run), "{}", m.name);
        }
        for (name, _) in MAP_ASYNC {
            assert!(RUNS.contains(&name), "{name}");
        }
    }

    #[test]
    fn small_runs_agree() {
        use scenario::Variant::{Ferrocast, Futures, Loop};
        for variant in [Ferrocast, Futures, Loop] {
            assert!(scenario::pipeline(variant, 10_000).is_ok());
            for parallelism in [1, 4] {
                assert!(scenario::map_async(variant, parallelism, 1_000).is_ok());
            }
        }
    }

    #[test]
    fn a_short_source_ref_run_counts_every_element() {
        let rate = stream_ref::source_ref(2_000);
        assert!(rate.as_ref().is_ok_and(|r| *r > 0.0), "{rate:?}");
    }
}
