//! Deterministic simulation of the membership protocol over many seeds.
//!
//! Every seed runs N nodes, each with a singleton manager, through random
//! partitions, loss, crashes, restarts and graceful leaves (checking safety
//! after every step, including "never two singleton instances"), then heals
//! the network and requires convergence with every node Up and exactly one
//! singleton instance, on the oldest.
//!
//! - `FERROCAST_SIM_SEED=<n>` replays one seed alone (with its own strategy).
//! - `FERROCAST_SIM_SEEDS=<n>` changes the number of seeds (default 1000).

use std::time::Duration;

use ferrocast_cluster::sim::{SimConfig, Simulation};
use tokio::time::Instant;

const NODES: usize = 5;
const SHARDS: u64 = 4;

fn seeds() -> u64 {
    std::env::var("FERROCAST_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

/// Runs one seed: time to convergence after the heal, then to one
/// singleton.
fn run_seed(seed: u64) -> Result<(Duration, Duration), String> {
    let strategy = SimConfig::strategy_for_seed(seed, NODES);
    let config = SimConfig::new(NODES, strategy.clone());
    Simulation::new(config, seed, Instant::now())
        .run()
        .map(|r| (r.converged_after, r.singleton_after))
        .map_err(|f| format!("seed {seed} ({strategy:?}) failed {f}"))
}

/// Runs the seeds of one shard (`seed % SHARDS == shard`), so the test
/// harness spreads them over the cores.
fn run_shard(shard: u64) {
    if let Ok(seed) = std::env::var("FERROCAST_SIM_SEED") {
        let seed: u64 = seed.parse().expect("FERROCAST_SIM_SEED is a u64");
        if seed % SHARDS == shard {
            if let Err(e) = run_seed(seed) {
                panic!("{e}");
            }
            println!("seed {seed} passed");
        }
        return;
    }
    let mut failures = Vec::new();
    let (mut slowest, mut slowest_singleton) = (Duration::ZERO, Duration::ZERO);
    for seed in (0..seeds()).filter(|s| s % SHARDS == shard) {
        match run_seed(seed) {
            Ok((c, s)) => {
                slowest = slowest.max(c);
                slowest_singleton = slowest_singleton.max(s);
            }
            Err(e) => failures.push((seed, e)),
        }
    }
    println!(
        "shard {shard}: slowest convergence after heal {slowest:?}, then one singleton after {slowest_singleton:?}"
    );
    if let Some((seed, first)) = failures.first() {
        let all: Vec<u64> = failures.iter().map(|(s, _)| *s).collect();
        panic!(
            "{} seeds failed: {all:?}\nfirst: {first}\nreplay with: FERROCAST_SIM_SEED={seed} cargo test -p ferrocast-cluster --test simulation",
            failures.len()
        );
    }
}

#[test]
fn simulation_shard_0() {
    run_shard(0);
}

#[test]
fn simulation_shard_1() {
    run_shard(1);
}

#[test]
fn simulation_shard_2() {
    run_shard(2);
}

#[test]
fn simulation_shard_3() {
    run_shard(3);
}

/// The singleton check is not vacuous: without a removal margin, the
/// surviving side of a partition starts a second instance while the downed
/// side (which has not decided yet) still runs the first.
#[test]
fn without_a_removal_margin_two_singletons_run() {
    let seed = 193;
    let mut config = SimConfig::new(NODES, SimConfig::strategy_for_seed(seed, NODES));
    config.singleton.removal_margin = Duration::ZERO;
    let failure = Simulation::new(config, seed, Instant::now())
        .run()
        .unwrap_err();
    assert!(failure.what.starts_with("two singletons"), "{failure}");
}

/// Seeds run with the shipped settings rather than the simulator's 7 s
/// `stable_after`: `ClusterSettings::default()` (3 s) and
/// `ClusterSettings::fast_failover()` (1 s, 200 ms heartbeats), with each
/// seed's strategy. These are the settings the `cluster` benchmark times,
/// so its numbers come with the same safety checks.
const SHIPPED_SEEDS: u64 = 200;

fn run_shipped(base: &ferrocast_cluster::ClusterSettings, name: &str) {
    let (mut unsafe_runs, mut not_live) = (Vec::new(), Vec::new());
    // `FERROCAST_SIM_SEED` replays one seed here too.
    let only: Option<u64> = std::env::var("FERROCAST_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    for seed in (0..SHIPPED_SEEDS).filter(|s| only.is_none_or(|o| o == *s)) {
        let strategy = SimConfig::strategy_for_seed(seed, NODES);
        let mut config = SimConfig::new(NODES, strategy.clone());
        let mut settings = base.clone();
        if let (Some(d), Some(sim)) = (settings.downing.as_mut(), config.settings.downing.as_ref())
        {
            d.strategy = sim.strategy.clone();
        }
        config.singleton = ferrocast_cluster::SingletonSettings::for_cluster(&settings);
        config.settings = settings;
        if let Err(f) = Simulation::new(config, seed, Instant::now()).run() {
            let line = format!("seed {seed} ({strategy:?}) failed {f}");
            if f.what.starts_with("liveness") {
                not_live.push(line);
            } else {
                unsafe_runs.push(line);
            }
        }
    }
    // Safety and liveness must hold on every seed.
    assert!(
        unsafe_runs.is_empty(),
        "{name}: {} of {SHIPPED_SEEDS} seeds broke safety; first: {}",
        unsafe_runs.len(),
        unsafe_runs[0]
    );
    assert!(
        not_live.is_empty(),
        "{name}: {} of {SHIPPED_SEEDS} seeds did not converge after the heal; first: {}",
        not_live.len(),
        not_live[0]
    );
}

#[test]
fn default_settings_are_safe_in_the_simulator() {
    run_shipped(&ferrocast_cluster::ClusterSettings::default(), "defaults");
}

#[test]
fn fast_failover_settings_are_safe_in_the_simulator() {
    run_shipped(
        &ferrocast_cluster::ClusterSettings::fast_failover(),
        "fast_failover",
    );
}
