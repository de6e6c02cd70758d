//! Suite-independent orchestration: one child process per (library, run), median of runs.
//!
//! The parent re-executes this binary as `__run <suite> <library> <run> [--quick]`. The child
//! prints one `metric value` line per metric it measured and exits at once (actors are not
//! torn down: that is not measured and can take seconds for a million of them). On failure
//! it prints `error: ..` to stderr and exits non-zero; the parent shows that in the cells of
//! the run's metrics and goes on.

use std::collections::HashMap;
use std::io::{Read, Write as _};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::report::{Cell, Report, Row};

/// The hidden subcommand of a child run.
pub(crate) const CHILD_COMMAND: &str = "__run";

/// What one child run measured: `(metric name, value)` pairs.
pub(crate) type Measured = Vec<(String, f64)>;

/// One row of a suite's table, and which run (child process) measures it.
#[derive(Debug, Clone)]
pub(crate) struct Metric {
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    pub(crate) run: &'static str,
}

impl Metric {
    /// Metrics from `(name, unit, run)` rows, as suites list them.
    pub(crate) fn table<'a>(
        rows: impl IntoIterator<Item = (&'a str, &'static str, &'static str)>,
    ) -> Vec<Metric> {
        rows.into_iter()
            .map(|(name, unit, run)| Metric {
                name: name.to_owned(),
                unit,
                run,
            })
            .collect()
    }
}

/// What each suite (`actors`, later `remote`, `persistence`, `stream`) provides.
#[derive(Debug)]
pub(crate) struct Suite {
    pub(crate) name: &'static str,
    /// Columns, the subject first.
    pub(crate) libraries: &'static [&'static str],
    /// Child runs per library; each yields one or more metrics.
    pub(crate) runs: &'static [&'static str],
    /// Rows of the table, in order; names may depend on `quick` (e.g. `spawn_100k_ms`).
    pub(crate) metrics: fn(quick: bool) -> Vec<Metric>,
    /// Child side: measure `run` of `library`, returning `(metric, value)` pairs.
    pub(crate) child: fn(library: &str, run: &str, quick: bool) -> Result<Measured>,
    /// A child taking longer than this is killed and its cells show a time-out.
    pub(crate) time_limit: fn(quick: bool) -> Duration,
}

/// Command-line options of a suite run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) runs: usize,
    pub(crate) only: Option<Vec<String>>,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut quick = false;
        let mut runs = None;
        let mut only = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--runs" => {
                    let n: usize = it.next().context("--runs needs a number")?.parse()?;
                    if n == 0 {
                        bail!("--runs must be at least 1");
                    }
                    runs = Some(n);
                }
                "--only" => {
                    let list = it.next().context("--only needs a comma-separated list")?;
                    only = Some(list.split(',').map(str::to_owned).collect());
                }
                other => bail!("unknown option {other:?}"),
            }
        }
        Ok(Self {
            quick,
            runs: runs.unwrap_or(if quick { 1 } else { 3 }),
            only,
        })
    }
}

/// Child side of [`CHILD_COMMAND`]: `args` is `<suite> <library> <run> [--quick]`.
pub(crate) fn child_main(suites: &[Suite], args: &[String]) -> ExitCode {
    let result = (|| {
        let [suite, library, run, rest @ ..] = args else {
            bail!("usage: {CHILD_COMMAND} <suite> <library> <run> [--quick]");
        };
        let suite = suites
            .iter()
            .find(|s| s.name == suite)
            .with_context(|| format!("unknown suite {suite:?}"))?;
        let quick = rest.iter().any(|a| a == "--quick");
        (suite.child)(library, run, quick)
    })();
    match result {
        Ok(values) => {
            let mut out = std::io::stdout().lock();
            for (name, value) in values {
                let _ = writeln!(out, "{name} {value}");
            }
            let _ = out.flush();
            // Skip destructors: tearing down the measured actors is not part of any metric.
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            let _ = std::io::stderr().flush();
            std::process::exit(1)
        }
    }
}

/// Parent side: runs every (library, run) `options.runs` times, prints the table and, as
/// the last line of stdout, the JSON.
pub(crate) fn parent_main(suite: &Suite, options: &Options) -> ExitCode {
    let libraries: Vec<&'static str> = suite
        .libraries
        .iter()
        .copied()
        .filter(|l| {
            options
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|o| o == l))
        })
        .collect();
    if libraries.is_empty() {
        eprintln!("no library selected; known: {}", suite.libraries.join(", "));
        return ExitCode::from(2);
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("cannot find own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let mut values: HashMap<(&str, String), Vec<f64>> = HashMap::new();
    let mut errors: HashMap<(&str, &str), String> = HashMap::new();
    for rep in 1..=options.runs {
        for &library in &libraries {
            for &run in suite.runs {
                if errors.contains_key(&(library, run)) {
                    continue;
                }
                eprint!(
                    "{} {library} {run} [{rep}/{}] ... ",
                    suite.name, options.runs
                );
                let t = Instant::now();
                match run_child(&exe, suite, library, run, options.quick) {
                    Ok(measured) => {
                        let shown: Vec<String> = measured
                            .iter()
                            .map(|(m, v)| format!("{m}={v:.1}"))
                            .collect();
                        eprintln!("{} ({:.1} s)", shown.join(" "), t.elapsed().as_secs_f64());
                        for (metric, value) in measured {
                            values.entry((library, metric)).or_default().push(value);
                        }
                    }
                    Err(e) => {
                        eprintln!("FAILED: {e:#}");
                        errors.insert((library, run), format!("{e:#}"));
                    }
                }
            }
        }
    }
    let rows = (suite.metrics)(options.quick)
        .into_iter()
        .map(|metric| {
            let cells = libraries
                .iter()
                .map(|&library| {
                    if let Some(e) = errors.get(&(library, metric.run)) {
                        return Cell::Error(e.clone());
                    }
                    match values.get_mut(&(library, metric.name.clone())) {
                        Some(v) if !v.is_empty() => Cell::Value(median(v)),
                        _ => {
                            Cell::Error(format!("run {:?} reported no {}", metric.run, metric.name))
                        }
                    }
                })
                .collect();
            Row {
                name: metric.name,
                unit: metric.unit,
                cells,
            }
        })
        .collect();
    let report = Report {
        suite: suite.name,
        quick: options.quick,
        runs: options.runs,
        libraries,
        rows,
    };
    eprintln!(
        "{} suite took {:.1} s",
        suite.name,
        started.elapsed().as_secs_f64()
    );
    print!("{}", report.table());
    println!("{}", report.json());
    ExitCode::SUCCESS
}

/// The median; the mean of the two middle values for an even count.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Runs one child to completion (or its time limit) and parses its `metric value` lines.
fn run_child(
    exe: &std::path::Path,
    suite: &Suite,
    library: &str,
    run: &str,
    quick: bool,
) -> Result<Measured> {
    let mut command = Command::new(exe);
    command.args([CHILD_COMMAND, suite.name, library, run]);
    if quick {
        command.arg("--quick");
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawn child")?;
    let stdout = drain(&mut child, true);
    let stderr = drain(&mut child, false);
    let limit = (suite.time_limit)(quick);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout
        .join()
        .map_err(|_| anyhow!("stdout reader panicked"))?;
    let stderr = stderr
        .join()
        .map_err(|_| anyhow!("stderr reader panicked"))?;
    if !status.success() {
        bail!("{} ({status})", failure_text(&stderr));
    }
    let measured: Measured = stdout
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect();
    if measured.is_empty() {
        bail!("child printed no metric; stderr: {}", failure_text(&stderr));
    }
    Ok(measured)
}

/// Reads a child's stdout or stderr to the end on a thread, so a chatty child never blocks.
fn drain(child: &mut Child, stdout: bool) -> std::thread::JoinHandle<String> {
    let mut pipe: Option<Box<dyn Read + Send>> = if stdout {
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>)
    } else {
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>)
    };
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = pipe.as_mut() {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// The useful part of a failed child's stderr: its `error:` line, else a panic message.
fn failure_text(stderr: &str) -> String {
    if let Some(line) = stderr.lines().rev().find(|l| l.starts_with("error: ")) {
        return line.trim_start_matches("error: ").to_owned();
    }
    let text: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: "))
        .collect();
    let text = text.join(" | ");
    if text.is_empty() {
        "no output".to_owned()
    } else {
        text.chars().take(300).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn options_default_runs() {
        let quick = Options::parse(&["--quick".to_owned()]).unwrap();
        assert_eq!((quick.quick, quick.runs), (true, 1));
        assert_eq!(Options::parse(&[]).unwrap().runs, 3);
        assert!(Options::parse(&["--bogus".to_owned()]).is_err());
    }

    #[test]
    fn failure_text_prefers_error_line() {
        assert_eq!(failure_text("noise\nerror: boom\n"), "boom");
        assert_eq!(
            failure_text("thread 'main' panicked at x.rs:1:1:\nbad\nnote: run with RUST_BACKTRACE"),
            "thread 'main' panicked at x.rs:1:1: | bad"
        );
    }
}
