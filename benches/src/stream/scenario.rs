//! The workloads, each written three times over the same functions: as a Ferrocast
//! blueprint, with plain `futures::StreamExt`, and as a hand-written loop.
//!
//! Every variant runs inside one driver task on a tokio multi-thread runtime with 2 workers
//! (as in the `actors` suite); the pipeline itself runs in one further task (Ferrocast's
//! `run_fold` spawns it, the others are `tokio::spawn`ed), which the driver awaits. Each
//! measurement is preceded by an untimed warm-up over a tenth of the items.

use std::future::Future;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};
use ferrocast_stream::{Source, StreamOps};
use futures_util::StreamExt as _;
use futures_util::future::ready;
use futures_util::stream;

/// Workload sizes, full or `--quick`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Items through `pipeline_5_stages`.
    pub(crate) pipeline_items: u64,
    /// Items through each `map_async_p*`.
    pub(crate) map_async_items: u64,
    /// Elements through `source_ref_100b`.
    pub(crate) stream_ref_elements: u64,
}

impl Sizes {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Self {
                pipeline_items: 1_000_000,
                map_async_items: 100_000,
                stream_ref_elements: 100_000,
            }
        } else {
            Self {
                pipeline_items: 10_000_000,
                map_async_items: 1_000_000,
                stream_ref_elements: 1_000_000,
            }
        }
    }
}

/// Which column is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    Ferrocast,
    Futures,
    Loop,
}

// The stage functions, shared by every variant.

fn spread(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Keeps three items in four.
fn keep(x: &u64) -> bool {
    *x & 3 != 0
}

fn mix(x: u64) -> u64 {
    x ^ (x >> 29)
}

const SCAN_ZERO: u64 = 1;

fn running_sum(acc: u64, x: u64) -> u64 {
    acc.wrapping_add(x)
}

const FOLD_ZERO: u64 = 7;

/// Order-sensitive, so a reordering pipeline fails its check.
fn checksum(acc: u64, x: u64) -> u64 {
    acc.wrapping_mul(31).wrapping_add(x)
}

/// Ferrocast's `scan` emits its zero before the first element (as Akka's does); `futures`'
/// `scan` does not. The `futures` and `loop` variants therefore start their fold with the
/// zero already folded in, which gives all three the same result at no per-item cost.
fn fold_start() -> u64 {
    checksum(FOLD_ZERO, SCAN_ZERO)
}

/// The future of `map_async`: yields to the scheduler once, then computes.
async fn async_step(x: u64) -> u64 {
    tokio::task::yield_now().await;
    spread(x)
}

/// `map → filter → map → scan → fold` as a loop; also the reference for the checks.
fn pipeline_loop(items: u64) -> u64 {
    let (mut scan, mut fold) = (SCAN_ZERO, fold_start());
    for i in 0..items {
        let x = spread(i);
        if !keep(&x) {
            continue;
        }
        scan = running_sum(scan, mix(x));
        fold = checksum(fold, scan);
    }
    fold
}

async fn pipeline_once(variant: Variant, items: u64) -> Result<u64> {
    let items = black_box(items);
    Ok(match variant {
        Variant::Ferrocast => {
            Source::iter(0..items)
                .map(spread)
                .filter(keep)
                .map(mix)
                .scan(SCAN_ZERO, running_sum)
                .run_fold(FOLD_ZERO, checksum)
                .await?
        }
        Variant::Futures => {
            tokio::spawn(
                stream::iter(0..items)
                    .map(spread)
                    .filter(|x| ready(keep(x)))
                    .map(mix)
                    .scan(SCAN_ZERO, |acc, x| {
                        *acc = running_sum(*acc, x);
                        ready(Some(*acc))
                    })
                    .fold(fold_start(), |acc, x| ready(checksum(acc, x))),
            )
            .await?
        }
        Variant::Loop => tokio::spawn(async move { pipeline_loop(items) }).await?,
    })
}

/// `pipeline_5_stages`, in ns per source item.
pub(crate) fn pipeline(variant: Variant, items: u64) -> Result<f64> {
    measure(items, pipeline_loop, move |n| pipeline_once(variant, n))
}

/// The reference of `map_async`: the same values without the yield.
fn map_async_reference(items: u64) -> u64 {
    (0..items).map(spread).fold(FOLD_ZERO, checksum)
}

async fn map_async_once(variant: Variant, parallelism: NonZeroUsize, items: u64) -> Result<u64> {
    let items = black_box(items);
    Ok(match variant {
        Variant::Ferrocast => {
            Source::iter(0..items)
                .map_async(parallelism, async_step)
                .run_fold(FOLD_ZERO, checksum)
                .await?
        }
        Variant::Futures => {
            tokio::spawn(
                stream::iter(0..items)
                    .map(async_step)
                    .buffered(parallelism.get())
                    .fold(FOLD_ZERO, |acc, x| ready(checksum(acc, x))),
            )
            .await?
        }
        // Only called with parallelism 1 (see `map_async`).
        Variant::Loop => {
            tokio::spawn(async move {
                let mut acc = FOLD_ZERO;
                for i in 0..items {
                    acc = checksum(acc, async_step(i).await);
                }
                acc
            })
            .await?
        }
    })
}

/// `map_async_p<parallelism>`, in ns per item. A loop awaits one future at a time, which
/// is the same thing as parallelism 1 only: for more, its value is NaN (not applicable).
pub(crate) fn map_async(variant: Variant, parallelism: usize, items: u64) -> Result<f64> {
    let parallelism = NonZeroUsize::new(parallelism).context("parallelism 0")?;
    if variant == Variant::Loop && parallelism.get() > 1 {
        return Ok(f64::NAN);
    }
    measure(items, map_async_reference, move |n| {
        map_async_once(variant, parallelism, n)
    })
}

/// Worker threads of the runtime, as in the `actors` suite.
pub(crate) const TOKIO_WORKERS: usize = 2;

/// On a fresh 2-worker runtime, in one driver task: an untimed, checked warm-up over a
/// tenth of `items`, then the timed, checked run over `items`; returns ns per item. The
/// runtime is leaked (the child exits right after).
fn measure<R, Fut>(items: u64, reference: fn(u64) -> u64, run: R) -> Result<f64>
where
    R: Fn(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<u64>> + Send,
{
    ensure!(items > 0, "no items");
    let warmup = (items / 10).max(1);
    let (expected_warmup, expected) = (reference(warmup), reference(items));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(TOKIO_WORKERS)
        .enable_all()
        .build()?;
    let driver = async move {
        let got = run(warmup).await?;
        ensure!(
            got == expected_warmup,
            "warm-up result {got} != reference {expected_warmup}"
        );
        let t = Instant::now();
        let got = run(items).await?;
        let elapsed = t.elapsed();
        ensure!(got == expected, "result {got} != reference {expected}");
        Ok(elapsed.as_nanos() as f64 / items as f64)
    };
    let out = rt.block_on(async move { tokio::spawn(driver).await })?;
    std::mem::forget(rt);
    out
}
