//! The measurements, written once for every [`Library`]. Each runs inside one driver task
//! (an outside, non-actor task) on the library's runtime.

use std::time::Instant;

use anyhow::{Result, ensure};

use super::library::{FINISHED, Library, STARTED, arm_count_target};
use crate::harness::Measured;
use crate::probe::Baseline;

/// Workload sizes, full or `--quick`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Messages for `tell_1_actor` and `tell_100_actors`.
    pub(crate) tells: usize,
    /// Messages of the untimed pass that counts allocations per tell.
    pub(crate) alloc_probe_tells: usize,
    /// Untimed asks before the measured ones.
    pub(crate) ask_warmup: usize,
    /// Measured asks.
    pub(crate) asks: usize,
    /// Actors for the spawn and idle-memory metrics.
    pub(crate) spawns: usize,
}

impl Sizes {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Self {
                tells: 200_000,
                alloc_probe_tells: 20_000,
                ask_warmup: 2_000,
                asks: 20_000,
                spawns: 100_000,
            }
        } else {
            Self {
                tells: 2_000_000,
                alloc_probe_tells: 100_000,
                ask_warmup: 20_000,
                asks: 200_000,
                spawns: 1_000_000,
            }
        }
    }
}

/// Actors that `tell_100_actors` spreads its messages over.
pub(crate) const FAN_OUT: usize = 100;

/// `tell_1_actor`: one sender, one actor, `tells` messages, until the actor has handled the
/// last one (its count reaches `tells`). Then, untimed, allocations per tell.
pub(crate) fn tell_1<L: Library>(sizes: Sizes) -> Result<Measured> {
    L::RUNTIME.run(async move {
        let mut lib = L::setup().await?;
        let actor = lib.spawn().await?;
        arm_count_target(sizes.tells as u64, 1);
        let t = Instant::now();
        for _ in 0..sizes.tells {
            L::tell(&actor).await?;
        }
        FINISHED.wait().await;
        let elapsed = t.elapsed();
        let count = L::ask(&actor).await?;
        ensure!(
            count == sizes.tells as u64,
            "actor counted {count}, sent {}",
            sizes.tells
        );

        arm_count_target((sizes.tells + sizes.alloc_probe_tells) as u64, 1);
        crate::alloc::start();
        for _ in 0..sizes.alloc_probe_tells {
            L::tell(&actor).await?;
        }
        FINISHED.wait().await;
        let counted = crate::alloc::stop();
        Ok(vec![
            (
                super::TELL_1.into(),
                per(elapsed.as_nanos() as f64, sizes.tells),
            ),
            (
                super::TELL_ALLOCS.into(),
                per(counted.calls as f64, sizes.alloc_probe_tells),
            ),
        ])
    })?
}

/// `tell_100_actors`: one sender, `tells` messages round-robin over [`FAN_OUT`] actors,
/// until every actor has handled its share.
pub(crate) fn tell_100<L: Library>(sizes: Sizes) -> Result<Measured> {
    L::RUNTIME.run(async move {
        let mut lib = L::setup().await?;
        let mut actors = Vec::with_capacity(FAN_OUT);
        for _ in 0..FAN_OUT {
            actors.push(lib.spawn().await?);
        }
        ensure!(
            sizes.tells.is_multiple_of(FAN_OUT),
            "{} messages do not split over {FAN_OUT}",
            sizes.tells
        );
        arm_count_target((sizes.tells / FAN_OUT) as u64, FAN_OUT);
        let t = Instant::now();
        for i in 0..sizes.tells {
            L::tell(&actors[i % FAN_OUT]).await?;
        }
        FINISHED.wait().await;
        let elapsed = t.elapsed();
        let mut total = 0;
        for actor in &actors {
            total += L::ask(actor).await?;
        }
        ensure!(
            total == sizes.tells as u64,
            "actors counted {total}, sent {}",
            sizes.tells
        );
        Ok(vec![(
            super::TELL_100.into(),
            per(elapsed.as_nanos() as f64, sizes.tells),
        )])
    })?
}

/// `ask_p50_ns`, `ask_p99_ns`: sequential asks to one actor, each timed.
pub(crate) fn ask<L: Library>(sizes: Sizes) -> Result<Measured> {
    L::RUNTIME.run(async move {
        let mut lib = L::setup().await?;
        let actor = lib.spawn().await?;
        for _ in 0..sizes.ask_warmup {
            L::ask(&actor).await?;
        }
        let mut latencies = Vec::with_capacity(sizes.asks);
        for _ in 0..sizes.asks {
            let t = Instant::now();
            L::ask(&actor).await?;
            latencies.push(t.elapsed().as_nanos() as u64);
        }
        latencies.sort_unstable();
        Ok(vec![
            (super::ASK_P50.into(), percentile(&latencies, 50.0)),
            (super::ASK_P99.into(), percentile(&latencies, 99.0)),
        ])
    })?
}

/// Spawn metrics and idle memory: spawn `spawns` actors one after another, wait until every
/// start hook has run, then read the memory probes while all of them are alive.
pub(crate) fn spawn<L: Library>(sizes: Sizes) -> Result<Measured> {
    L::RUNTIME.run(async move {
        let n = sizes.spawns;
        let mut lib = L::setup().await?;
        STARTED.arm(n);
        let baseline = Baseline::take()?;
        let t = Instant::now();
        // Allocated after the baseline: the one handle kept per actor counts as its memory.
        let mut actors = Vec::with_capacity(n);
        for _ in 0..n {
            actors.push(lib.spawn().await?);
        }
        STARTED.wait().await;
        let elapsed = t.elapsed();
        let memory = baseline.per_item(n)?;
        // Keep every actor alive to the end; the process exits without tearing them down.
        std::mem::forget(actors);
        std::mem::forget(lib);
        Ok(vec![
            (super::spawn_metric(n), elapsed.as_secs_f64() * 1e3),
            (
                super::SPAWN_PER_ACTOR.into(),
                elapsed.as_secs_f64() * 1e6 / n as f64,
            ),
            (super::IDLE_RSS.into(), memory.rss),
            (super::IDLE_ALLOC.into(), memory.alloc),
        ])
    })?
}

fn per(total: f64, n: usize) -> f64 {
    total / n as f64
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7], 99.0), 7.0);
    }
}
