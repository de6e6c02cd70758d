//! Ferrocast's benchmark crate: Ferrocast measured beside other Rust actor libraries.
//!
//! ```text
//! cargo run --release -p ferrocast-bench -- actors [--quick] [--runs N] [--only lib,lib]
//! ```
//!
//! prints a table (each peer's value and the ratio ferrocast / peer) and, as the last line
//! of stdout, one JSON object `{"bench":"actors","quick":false,"runs":3,"results":[{"name":..,
//! "unit":..,"ferrocast":X,"kameo":Y,..},..]}` (`null` and an `errors` map where a run
//! failed). Progress goes to stderr. Later suites (`remote`, `persistence`, `stream`) reuse
//! `harness.rs` and `report.rs` and print the same shape.
//!
//! # Methodology
//!
//! - **One OS process per (library, run).** The parent re-executes itself
//!   (`std::env::current_exe()`) as `__run <suite> <library> <run> [--quick]`; the child
//!   prints `metric value` lines and exits without tearing its actors down. No library
//!   inherits another's heap fragmentation, threads or resident pages. A child that fails,
//!   panics or exceeds its time limit puts an error in its cells; the suite goes on.
//! - **Median of 3 runs** (1 with `--quick`), run rep-major (every library once, then
//!   again) so slow drift of the machine spreads over all libraries alike.
//! - **Same shape everywhere.** Actor state is 48 bytes, mailboxes are unbounded, every
//!   tokio-based library gets a multi-thread runtime with 2 workers; actix runs once on its
//!   own `System` (1 thread) and once with its actors spread over 2 `Arbiter`s. The driver
//!   code (`actors/scenario.rs`) is shared: a library only says how to spawn, tell and ask.
//! - **Completion is seen by the actor.** An actor's `Inc` handler reports to a global gate
//!   when its count reaches its share; the driver awaits the gate (a tokio `Notify`). An ask
//!   queued behind the tells would not do: xtra 0.6 reorders equal-priority messages.
//! - **Wall time on purpose.** Numbers are `std::time::Instant` deltas; hence the
//!   crate-level allow of the workspace's `disallowed_methods` (product code must use an
//!   injectable clock; a benchmark wants the real one).
//! - **Memory** per idle actor: resident set from `/proc/self/statm` and live bytes from a
//!   counting global allocator (counting is switched on only around the measured section,
//!   so it costs the timed message loops nothing; the spawn run is timed with it on, as its
//!   memory is read at the same moment), both as delta / N while all N actors are alive. The
//!   one handle the benchmark keeps per actor is included in both.
//! - **Two processes for remoting.** A `remote` child run is the sending node; it starts a
//!   second process of this binary (`__run remote <library> serve`) as the receiving node
//!   and reads its address from that process's stdout. Both nodes talk over loopback TCP;
//!   one-way throughput stops the clock when the receiver has counted every message, ask
//!   latency is per round trip. Details in `remote/mod.rs`.
//!
//! # Dependencies and why
//!
//! - `ferrocast-actor`: the subject.
//! - `kameo` 0.22, `ractor` 0.16, `xtra` 0.6 (feature `tokio`), `actix` 0.13: the peers,
//!   with their default features except where noted in `Cargo.toml`.
//! - `tokio`: the runtime of every library but actix, and the raw task + mpsc baseline.
//! - `ferrocast-remote` and `serde` (workspace versions): the `remote` suite's subject and
//!   the derives of the message type it sends between processes.
//! - `ractor_cluster` 0.16, with ractor's `cluster` feature: the `remote` suite's peer,
//!   ractor's node-to-node remoting and its `RactorClusterMessage` derive. The feature drops
//!   ractor's blanket `Message` impl, so the `actors` suite's ractor message implements
//!   `ractor::Message` by hand (the default methods: local delivery, no serialization).
//!   kameo's `remote` feature is not used; `remote/mod.rs` says why.
//! - `ferrocast-stream`, `futures-util` (workspace versions): the `stream` suite's subject
//!   and its plain-`futures::StreamExt` baseline.
//! - `ferrocast-cluster`: the `cluster` suite's subject (member processes on loopback,
//!   killed with SIGKILL; see `cluster/mod.rs`). No peer: no Rust actor library has
//!   cluster membership.
//! - `anyhow`: errors of a child run, shown in the table instead of aborting the suite.
//!
//! The JSON is written by hand (`report.rs`): it is a flat shape and not worth a serializer.

// Benchmarks measure wall time on purpose; the workspace bans `Instant::now` and
// `thread::sleep` for product code, where time must be injectable.
#![allow(clippy::disallowed_methods)]

mod actors;
mod alloc;
mod cluster;
mod harness;
mod persistence;
mod probe;
mod remote;
mod report;
mod stream;

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

const USAGE: &str = "usage: ferrocast-bench <suite> [--quick] [--runs N] [--only lib,lib]
suites: actors, cluster, persistence, persistence-postgres, remote, stream";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let suites = [
        actors::suite(),
        cluster::suite(),
        persistence::suite(),
        persistence::postgres::suite(),
        remote::suite(),
        stream::suite(),
    ];
    match args.first().map(String::as_str) {
        Some(harness::CHILD_COMMAND) => harness::child_main(&suites, &args[1..]),
        Some("-h" | "--help") | None => {
            eprintln!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(name) => match suites.iter().find(|s| s.name == name) {
            // Needs a server: without one, a note and no rows.
            Some(suite)
                if suite.name == "persistence-postgres"
                    && persistence::postgres::url_or_note().is_none() =>
            {
                ExitCode::SUCCESS
            }
            Some(suite) => match harness::Options::parse(&args[1..]) {
                Ok(options) => harness::parent_main(suite, &options),
                Err(e) => {
                    eprintln!("{e}\n{USAGE}");
                    ExitCode::from(2)
                }
            },
            None => {
                eprintln!("unknown suite {name:?}\n{USAGE}");
                ExitCode::from(2)
            }
        },
    }
}
