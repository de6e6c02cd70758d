//! Ferrocast's demo.
//!
//! With no command it runs the supervision demo (supervision and restarts
//! under load, see `supervision`), then a three-member cluster in this
//! process (see `cluster_demo`), and exits. `node` runs one cluster member
//! per process with its HTTP management endpoint (see `node`).
//!
//! ```text
//! cargo run --release -p ferrocast-demo -- [--seconds N] [--workers N] [--fail-every N] [--skip-cluster | --cluster-only]
//! cargo run --release -p ferrocast-demo -- node --bind HOST:PORT [--seed HOST:PORT,...] [--http HOST:PORT] [--fast] ...
//! ```

mod cluster_demo;
mod cluster_node;
mod events;
mod node;
mod node_args;
mod supervision;

use std::process::ExitCode;

use anyhow::{Context as _, bail};

const USAGE: &str = "\
usage: ferrocast-demo [--seconds N] [--workers N] [--fail-every N] [--skip-cluster | --cluster-only]
       ferrocast-demo node --help";

/// The default demo's arguments.
struct DemoArgs {
    seconds: u64,
    workers: usize,
    fail_every: u64,
    supervision: bool,
    cluster: bool,
}

/// `Ok(None)`: help was asked for.
fn parse_demo_args(args: &[String]) -> anyhow::Result<Option<DemoArgs>> {
    let mut out = DemoArgs {
        seconds: 5,
        workers: 8,
        fail_every: 250_000,
        supervision: true,
        cluster: true,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => out.seconds = value()?.parse().context("--seconds")?,
            "--workers" => out.workers = value()?.parse().context("--workers")?,
            "--fail-every" => out.fail_every = value()?.parse().context("--fail-every")?,
            "--skip-cluster" => out.cluster = false,
            "--cluster-only" => out.supervision = false,
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    if out.workers == 0 || out.fail_every == 0 || out.seconds == 0 {
        bail!("--seconds, --workers and --fail-every must be positive");
    }
    if !out.cluster && !out.supervision {
        bail!("--skip-cluster and --cluster-only leave nothing to run");
    }
    Ok(Some(out))
}

fn init_tracing(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn run(args: Vec<String>) -> anyhow::Result<()> {
    if args.first().map(String::as_str) == Some("node") {
        let Some(node_args) = node_args::parse(&args[1..])? else {
            println!("{}", node_args::USAGE);
            return Ok(());
        };
        init_tracing("info,ferrocast_remote=warn");
        return node::run(node_args).await;
    }
    let Some(demo) = parse_demo_args(&args)? else {
        println!("{USAGE}");
        return Ok(());
    };
    init_tracing("off");
    if demo.supervision {
        supervision::run(demo.seconds, demo.workers, demo.fail_every).await?;
    }
    if demo.cluster {
        cluster_demo::run().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
