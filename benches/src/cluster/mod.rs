//! The `cluster` suite: how fast a cluster of OS processes notices and removes a member
//! killed with `kill -9`, with the default settings and with `ClusterSettings::fast_failover`.
//!
//! # Processes
//!
//! A child run (`__run cluster ferrocast failover-default|failover-fast`) is the
//! orchestrator, not a member. It starts three member processes of this binary
//! (`__run cluster ferrocast member-default|member-fast`); the first forms the cluster, the
//! others join through it (its address reaches them in `FERROCAST_BENCH_SEED`). Each member
//! prints `ADDR <address>`, `CONVERGED <n>` whenever its view has n members, all Up and
//! converged, and one line per event about another member: `UNREACHABLE <port> <unix µs>`,
//! `REMOVED <port> <unix µs>`. Once all three printed `CONVERGED 3`, the orchestrator lets
//! heartbeats run for 3 s (the failure detectors learn the interval), notes the wall clock
//! and sends SIGKILL to the third member (never the leader: the leader is the lowest
//! address, and the victim is whichever member is not). The two survivors' timestamps
//! minus the kill time, the slower survivor counting, are the metrics. All processes share
//! one host clock.
//!
//! # Metrics
//!
//! - `kill9_to_unreachable_ms`: until both survivors' failure detectors gave up on it
//!   (the event is published when the node's own detector, or gossip from the other
//!   survivor, marks it unreachable).
//! - `kill9_to_removed_ms`: until both survivors removed it: detection, the split brain
//!   resolver's `stable_after`, downing by the leader, removal at convergence.
//!
//! - `simN_*` (run `sim`): the deterministic simulator (`ferrocast_cluster::sim`), N = 5,
//!   10, 25 nodes on a lossless network with 1–40 ms delays, in *simulated* time: from
//!   start to one converged cluster with every member Up, and from the crash of a member to
//!   its removal on every survivor, with the default and the fast-failover settings; the
//!   median of 5 seeds. The simulator checks its safety invariants after every step.
//!
//! No Rust peer has cluster membership to compare with; Akka documents its default failover
//! at about 45 s (about 25 s for ten nodes): detection, 20 s stable-after, removal.

mod member;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};

use crate::harness::{CHILD_COMMAND, Measured, Metric, Suite};

const LIBRARIES: &[&str] = &["ferrocast"];
const RUNS: &[&str] = &["failover-default", "failover-fast", "sim"];
/// Cluster sizes the simulator measures.
const SIM_SIZES: [usize; 3] = [5, 10, 25];
/// Seeds per size; the median is reported.
const SIM_SEEDS: u64 = 5;
/// Members of the measured cluster.
const MEMBERS: usize = 3;
/// Heartbeats before the kill, so the detectors know the interval.
const SETTLE: Duration = Duration::from_secs(3);
/// Forming the cluster, or removing the victim, takes longer than this only when broken.
const WAIT: Duration = Duration::from_secs(90);
/// The environment variable that gives joining members the first member's address.
pub(crate) const SEED_ENV: &str = "FERROCAST_BENCH_SEED";

/// The suite as the harness sees it.
pub(crate) fn suite() -> Suite {
    Suite {
        name: "cluster",
        libraries: LIBRARIES,
        runs: RUNS,
        metrics,
        child,
        time_limit: |_| Duration::from_secs(180),
    }
}

fn metrics(_quick: bool) -> Vec<Metric> {
    let rows: [(&str, &'static str, &'static str); 4] = [
        ("default_kill9_to_unreachable_ms", "ms", "failover-default"),
        ("default_kill9_to_removed_ms", "ms", "failover-default"),
        ("fast_kill9_to_unreachable_ms", "ms", "failover-fast"),
        ("fast_kill9_to_removed_ms", "ms", "failover-fast"),
    ];
    let mut metrics = Metric::table(rows);
    for n in SIM_SIZES {
        for name in sim_names(n) {
            metrics.push(Metric {
                name,
                unit: "ms",
                run: "sim",
            });
        }
    }
    metrics
}

fn child(library: &str, run: &str, _quick: bool) -> Result<Measured> {
    if !LIBRARIES.contains(&library) {
        bail!("unknown library {library:?}");
    }
    match run {
        "member-default" => member::run(false),
        "member-fast" => member::run(true),
        "failover-default" => failover("default"),
        "failover-fast" => failover("fast"),
        "sim" => simulate(),
        other => bail!("unknown run {other:?}"),
    }
}

/// Microseconds since the Unix epoch: comparable across the processes of one host.
pub(crate) fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A member process, killed when dropped.
struct Member {
    process: Child,
    port: u16,
    address: String,
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One line a member printed.
struct Line {
    member: usize,
    text: String,
}

fn spawn_member(
    index: usize,
    config: &str,
    seed: Option<&str>,
    lines: &mpsc::Sender<Line>,
) -> Result<Member> {
    let exe = std::env::current_exe().context("find own executable")?;
    let mut command = Command::new(exe);
    command.args([
        CHILD_COMMAND,
        "cluster",
        "ferrocast",
        &format!("member-{config}"),
    ]);
    if let Some(seed) = seed {
        command.env(SEED_ENV, seed);
    }
    let mut process = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("spawn a member")?;
    let stdout = process.stdout.take().context("member stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let Some(address) = first.trim().strip_prefix("ADDR ") else {
        let _ = process.kill();
        bail!("member {index} printed {first:?} instead of its address");
    };
    let address = address.to_owned();
    let port = address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .context("member address without a port")?;
    let tx = lines.clone();
    std::thread::spawn(move || {
        for text in reader.lines().map_while(Result::ok) {
            if tx
                .send(Line {
                    member: index,
                    text,
                })
                .is_err()
            {
                break;
            }
        }
    });
    Ok(Member {
        process,
        port,
        address,
    })
}

/// Hands lines to `on_line` until it says all arrived; fails after `WAIT`.
fn collect(
    lines: &mpsc::Receiver<Line>,
    what: &str,
    mut on_line: impl FnMut(&Line) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if on_line(&line) {
                    return Ok(());
                }
            }
            Err(_) => bail!("timed out waiting for {what}"),
        }
    }
}

fn failover(config: &str) -> Result<Measured> {
    let (tx, rx) = mpsc::channel();
    let mut members = vec![spawn_member(0, config, None, &tx)?];
    let seed = members[0].address.clone();
    for i in 1..MEMBERS {
        members.push(spawn_member(i, config, Some(&seed), &tx)?);
    }
    let mut converged = [false; MEMBERS];
    collect(&rx, "all members Up", |l| {
        if l.text == format!("CONVERGED {MEMBERS}") {
            converged[l.member] = true;
        }
        converged.iter().all(|c| *c)
    })?;
    std::thread::sleep(SETTLE);
    // The leader has the lowest address; kill the member with the highest.
    let victim = (0..MEMBERS)
        .max_by_key(|i| members[*i].port)
        .context("no members")?;
    let victim_port = members[victim].port;
    let killed_at = unix_micros();
    members[victim].process.kill().context("kill -9")?;
    let mut unreachable = [None::<u64>; MEMBERS];
    let mut removed = [None::<u64>; MEMBERS];
    let survivors: Vec<usize> = (0..MEMBERS).filter(|i| *i != victim).collect();
    collect(&rx, "the survivors to remove the killed member", |l| {
        let mut parts = l.text.split(' ');
        if let (Some(kind), Some(port), Some(at)) = (parts.next(), parts.next(), parts.next()) {
            let at = at.parse::<u64>().ok();
            if port.parse::<u16>().ok() == Some(victim_port) {
                match kind {
                    "UNREACHABLE" => unreachable[l.member] = unreachable[l.member].or(at),
                    "REMOVED" => removed[l.member] = removed[l.member].or(at),
                    _ => {}
                }
            }
        }
        survivors
            .iter()
            .all(|s| unreachable[*s].is_some() && removed[*s].is_some())
    })?;
    let slowest = |times: &[Option<u64>]| {
        survivors
            .iter()
            .filter_map(|s| times[*s])
            .max()
            .map_or(f64::NAN, |t| t.saturating_sub(killed_at) as f64 / 1000.0)
    };
    Ok(vec![
        (
            format!("{config}_kill9_to_unreachable_ms"),
            slowest(&unreachable),
        ),
        (format!("{config}_kill9_to_removed_ms"), slowest(&removed)),
    ])
}

/// The simulator's rows for `n` nodes: formed, and crash-to-removed with each config.
fn sim_names(n: usize) -> [String; 3] {
    [
        format!("sim{n}_default_converged_ms"),
        format!("sim{n}_default_crash_to_removed_ms"),
        format!("sim{n}_fast_crash_to_removed_ms"),
    ]
}

/// Simulated time (not wall time) for 5, 10 and 25 nodes to form a converged cluster and
/// to remove a crashed member, median over seeds; the simulator checks its safety
/// invariants (no split brain, no removal without Down or Exiting) on every step.
fn simulate() -> Result<Measured> {
    use ferrocast_cluster::ClusterSettings;
    use ferrocast_cluster::sim::measure_convergence;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut out = Vec::new();
    for n in SIM_SIZES {
        let (mut formed, mut removed, mut fast_removed) = (Vec::new(), Vec::new(), Vec::new());
        for seed in 1..=SIM_SEEDS {
            let d = measure_convergence(n, seed, ClusterSettings::default())
                .map_err(|e| anyhow::anyhow!("{n} nodes, seed {seed}: {e:?}"))?;
            formed.push(d.formed_after.as_secs_f64() * 1000.0);
            removed.push(d.removed_after.as_secs_f64() * 1000.0);
            let f = measure_convergence(n, seed, ClusterSettings::fast_failover())
                .map_err(|e| anyhow::anyhow!("{n} nodes fast, seed {seed}: {e:?}"))?;
            fast_removed.push(f.removed_after.as_secs_f64() * 1000.0);
        }
        let [a, b, c] = sim_names(n);
        out.push((a, median(formed)));
        out.push((b, median(removed)));
        out.push((c, median(fast_removed)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_belongs_to_a_run() {
        for m in metrics(false) {
            assert!(RUNS.contains(&m.run), "{}", m.name);
            if m.run != "sim" {
                assert!(m.name.starts_with(m.run.trim_start_matches("failover-")));
            }
        }
    }
}
