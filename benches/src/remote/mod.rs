//! The `remote` suite: messages between two OS processes on loopback, Ferrocast's remoting
//! (`ferrocast-remote`) beside ractor's (`ractor_cluster`).
//!
//! # Two processes per measurement
//!
//! The harness's child run (`__run remote <library> tell|ask`) is the *sending* node. It
//! re-executes the binary once more as `__run remote <library> serve`, the *receiving* node,
//! which starts its node and one receiver actor, prints `ADDR <address>` on stdout and serves
//! until its stdin closes (the sender is done, or died). The sender reads that line,
//! connects, measures, then closes the helper's stdin and kills it. Each library's run is
//! its own pair of processes; both use a multi-thread tokio runtime with 2 workers, so on a
//! 2-core machine the two nodes share the cores, as two nodes on one host do.
//!
//! # Runs
//!
//! - `tell`: one-way throughput. The sender sends N messages (2,000,000; 200,000 with
//!   `--quick`), each an enum variant carrying a 100-byte `Vec<u8>`, to one remote actor, and
//!   the clock stops when the receiver has counted all N: messages from one sender to one
//!   receiver are ordered in both libraries, so the sender asks the receiver for its count
//!   after the last one (and asks again, 1 ms apart, while it is short). 10,000 untimed
//!   messages go first so connections are up and warm.
//!   Ferrocast sends with `ActorRef::send().await`, which waits when its outbound lane (8 MiB
//!   of encoded messages by default) is full; `tell` would drop to dead letters instead. The
//!   run fails unless `RemoteMetrics::dropped_overflow` stays 0. ractor's `cast` to a remote
//!   actor never waits: the message is serialized into the unbounded mailbox of the node
//!   session actor, which writes to the socket.
//! - `ask`: round-trip latency. 20,000 sequential asks (2,000 with `--quick`) of the
//!   receiver's count (a request with a `u64` answer), after 1,000 (200) untimed ones; p50
//!   and p99 (nearest rank) of the per-ask wall time. Ferrocast: `ActorRef::ask`; ractor:
//!   `call` of an `#[rpc]` variant.
//!
//! # Set-up per library
//!
//! - Ferrocast: `Remoting::start` with `RemoteConfig::bind("127.0.0.1", 0)` and every other
//!   setting at its default (plain TCP, no secret); the receiver is spawned with an
//!   unbounded mailbox, exposed, and resolved by the sender from its full path. Messages
//!   use the default binary codec (postcard, serde derives).
//! - `ractor_cluster` 0.16: a `NodeServer` per process on 127.0.0.1 (no encryption, the
//!   default `Isolated` connection mode), the sender connects with `client_connect`; the
//!   receiver joins a process group and the sender waits until the group shows a remote
//!   member. Messages derive `RactorClusterMessage` (the crate's own byte encoding). ractor
//!   mailboxes are unbounded. The receiving node's port is taken by binding port 0 and
//!   releasing it, as `NodeServer` does not report the port it picked.
//!
//! # Left out
//!
//! kameo 0.22's `remote` feature (libp2p 0.56 with QUIC, noise, yamux, Kademlia and mDNS) is
//! not a column. It builds (240 crates; 24 min 45 s in a scratch crate on this 2-core
//! machine, at low priority beside other builds), but its ready-made `remote::bootstrap`
//! finds peers over mDNS, that is multicast to the local network, which a loopback-only
//! benchmark must not send; without it each process needs a hand-built libp2p swarm
//! (transport, behaviour, dialing, a Kademlia registration and lookup), which would
//! measure our libp2p set-up as much as kameo, and would add those 240 crates to this
//! crate's build for every suite.

mod ferrocast;
mod ractor_cluster;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::harness::{CHILD_COMMAND, Measured, Metric, Suite};

/// The payload of every one-way message.
pub(crate) const PAYLOAD_BYTES: usize = 100;
/// Long enough never to fire in a healthy run; a stuck peer fails the run instead.
pub(crate) const WAIT: Duration = Duration::from_secs(30);
/// How long the answer to the count after the last one-way message may take: a library
/// without backpressure may still have most of the messages queued at that moment.
pub(crate) const DRAIN_WAIT: Duration = Duration::from_secs(150);

const LIBRARIES: &[&str] = &["ferrocast", "ractor_cluster"];
const RUNS: &[&str] = &["tell", "ask"];
/// The hidden run of the receiving helper process.
const SERVE: &str = "serve";
/// The line with which the helper announces where it listens.
const ADDRESS_PREFIX: &str = "ADDR ";

const TELL: &str = "tell_100b_msgs_per_s";
const ASK_P50: &str = "ask_p50_us";
const ASK_P99: &str = "ask_p99_us";

/// Workload sizes, full or `--quick`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Timed one-way messages.
    pub(crate) tells: u64,
    /// Untimed one-way messages before them.
    pub(crate) tell_warmup: u64,
    /// Timed sequential asks.
    pub(crate) asks: usize,
    /// Untimed asks before them.
    pub(crate) ask_warmup: usize,
}

impl Sizes {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Self {
                tells: 200_000,
                tell_warmup: 10_000,
                asks: 2_000,
                ask_warmup: 200,
            }
        } else {
            Self {
                tells: 2_000_000,
                tell_warmup: 10_000,
                asks: 20_000,
                ask_warmup: 1_000,
            }
        }
    }
}

/// The suite as the harness sees it.
pub(crate) fn suite() -> Suite {
    Suite {
        name: "remote",
        libraries: LIBRARIES,
        runs: RUNS,
        metrics,
        child,
        time_limit: |quick| Duration::from_secs(if quick { 30 } else { 180 }),
    }
}

fn metrics(_quick: bool) -> Vec<Metric> {
    let rows: [(&str, &'static str, &'static str); 3] = [
        (TELL, "msgs/s", "tell"),
        (ASK_P50, "us", "ask"),
        (ASK_P99, "us", "ask"),
    ];
    Metric::table(rows)
}

fn child(library: &str, run: &str, quick: bool) -> Result<Measured> {
    if !LIBRARIES.contains(&library) {
        bail!("unknown library {library:?}");
    }
    let sizes = Sizes::new(quick);
    if run == SERVE {
        return match library {
            "ferrocast" => ferrocast::serve(),
            _ => ractor_cluster::serve(),
        };
    }
    if !RUNS.contains(&run) {
        bail!("unknown run {run:?}");
    }
    let mut helper = Helper::spawn(library, quick)?;
    let address = helper.address.clone();
    let rt = runtime()?;
    let measured = rt.block_on(async move {
        match (library, run) {
            ("ferrocast", "tell") => ferrocast::tell(&address, sizes).await,
            ("ferrocast", _) => ferrocast::ask(&address, sizes).await,
            (_, "tell") => ractor_cluster::tell(&address, sizes).await,
            _ => ractor_cluster::ask(&address, sizes).await,
        }
    });
    // Not shut down: the process exits right after, and teardown is not measured.
    std::mem::forget(rt);
    helper.stop();
    measured
}

/// The runtime of both nodes: multi-thread tokio with 2 workers, as in the `actors` suite.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Helper side: tells the sender where this node listens, and ends this process when the
/// sender closes stdin (it finished, or died).
pub(crate) fn announce(address: &str) -> Result<()> {
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut sink);
        std::process::exit(0);
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{ADDRESS_PREFIX}{address}")?;
    out.flush()?;
    Ok(())
}

/// The receiving node: a second process of this binary, killed when dropped.
struct Helper {
    process: Child,
    address: String,
}

impl Helper {
    fn spawn(library: &str, quick: bool) -> Result<Self> {
        let exe = std::env::current_exe().context("find own executable")?;
        let mut command = Command::new(exe);
        command.args([CHILD_COMMAND, "remote", library, SERVE]);
        if quick {
            command.arg("--quick");
        }
        let mut process = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn the receiving node")?;
        let stdout = process.stdout.take().context("helper stdout")?;
        let address = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix(ADDRESS_PREFIX).map(str::to_owned));
        let mut helper = Self {
            process,
            address: String::new(),
        };
        match address {
            Some(address) => {
                helper.address = address;
                Ok(helper)
            }
            None => {
                helper.stop();
                bail!("the receiving node printed no address")
            }
        }
    }

    fn stop(&mut self) {
        drop(self.process.stdin.take());
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Throughput of `n` messages in `elapsed`.
pub(crate) fn tell_metrics(n: u64, elapsed: Duration) -> Measured {
    vec![(TELL.to_owned(), n as f64 / elapsed.as_secs_f64())]
}

/// p50 and p99 (nearest rank) of per-ask latencies, in microseconds.
pub(crate) fn ask_metrics(mut latencies: Vec<Duration>) -> Measured {
    latencies.sort_unstable();
    let n = latencies.len();
    let rank = |p: f64| {
        let i = ((p * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        latencies.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
    };
    vec![
        (ASK_P50.to_owned(), rank(0.50)),
        (ASK_P99.to_owned(), rank(0.99)),
    ]
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
        let m = ask_metrics((1..=100).rev().map(Duration::from_micros).collect());
        assert_eq!(m[0].1, 50.0);
        assert_eq!(m[1].1, 99.0);
    }
}
