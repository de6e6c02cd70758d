//! The two halves of a `kill -9` test: a child process that writes as fast
//! as it can and prints each acknowledgement, and the parent's check, after
//! the kill, that every acknowledged event is stored in order, without gaps
//! or duplicates. The process handling (spawn, kill) stays in the test.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::num::NonZeroUsize;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::SystemTime;

use crate::ids::{PersistenceId, SequenceNr, WriterId};
use crate::journal::Journal;
use crate::payload::{Payload, SerializerId};
use crate::repr::PersistentRepr;
use crate::tck::{TckFailure, ensure, ok};

const CHECK: &str = "crash";

/// Event `nr` of `pid`: untagged, its number as payload.
fn crash_event(pid: &PersistenceId, nr: u64, writer: &WriterId) -> PersistentRepr {
    PersistentRepr {
        persistence_id: pid.clone(),
        sequence_nr: SequenceNr::new(nr),
        payload: Payload::new(SerializerId::new(100), "n", nr.to_be_bytes().to_vec()),
        tags: Vec::new(),
        timestamp: SystemTime::UNIX_EPOCH,
        writer: writer.clone(),
    }
}

/// The child's whole process: a two-thread runtime that opens the store
/// with `open` and runs [`write_until_killed`]. Returns only if the runtime
/// cannot be built or every writer stopped.
pub fn run_crash_child<J, F, Fut>(open: F, writers: u64, max_per_writer: u64)
where
    J: Journal,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = J>,
{
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async move {
        let store = open().await;
        write_until_killed(Arc::new(store), writers, max_per_writer).await;
    });
}

/// The child's half: `writers` tasks, each writing events 1, 2, ... of
/// `crash-<w>` one at a time (up to `max_per_writer`, should the parent
/// be gone), printing `ack <w> <nr>` on stdout after each acknowledgement.
/// Runs until killed.
pub async fn write_until_killed<J: Journal>(store: Arc<J>, writers: u64, max_per_writer: u64) {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let (Ok(pid), Ok(writer)) = (
                PersistenceId::new(&format!("crash-{w}")),
                WriterId::new("crash-child"),
            ) else {
                return;
            };
            for nr in 1..=max_per_writer {
                if store
                    .write(vec![crash_event(&pid, nr, &writer)])
                    .await
                    .is_err()
                {
                    return;
                }
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "ack {w} {nr}");
                let _ = out.flush();
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// The parent's half: runs this test binary again as the child (only the
/// test `test`, with `env` set so it knows it is the child), reads its
/// acknowledgements, and kills it (`SIGKILL`) after `kill_after` of them.
/// Returns the highest acknowledged number per writer.
pub fn kill_child_after_acks(
    test: &str,
    env: (&str, &OsStr),
    kill_after: usize,
) -> Result<HashMap<u64, u64>, TckFailure> {
    let exe = ok(std::env::current_exe(), CHECK, "current_exe")?;
    let mut child = ok(
        Command::new(exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(env.0, env.1)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn(),
        CHECK,
        "spawn the child",
    )?;
    let Some(stdout) = child.stdout.take() else {
        return Err(TckFailure {
            check: CHECK,
            message: "the child has no stdout".to_owned(),
        });
    };
    let mut killed = Ok(());
    let (acked, seen) = read_acks(BufReader::new(stdout), kill_after, || {
        killed = child.kill();
    });
    let _ = child.wait();
    ok(killed, CHECK, "kill the child")?;
    ensure(seen == kill_after, CHECK, || {
        format!("the child stopped early, after {seen} acknowledgements")
    })?;
    Ok(acked)
}

/// The highest acknowledged number per writer in the child's output,
/// after `kill_after` acknowledgements (then `kill` is called) or the end
/// of the output; and how many were read.
fn read_acks(
    stdout: impl BufRead,
    kill_after: usize,
    kill: impl FnOnce(),
) -> (HashMap<u64, u64>, usize) {
    let mut acked: HashMap<u64, u64> = HashMap::new();
    let mut seen = 0;
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        let mut parts = line.split_whitespace();
        if parts.next() != Some("ack") {
            continue;
        }
        let (Some(Ok(w)), Some(Ok(nr))) = (
            parts.next().map(str::parse::<u64>),
            parts.next().map(str::parse::<u64>),
        ) else {
            continue;
        };
        let best = acked.entry(w).or_default();
        *best = (*best).max(nr);
        seen += 1;
        if seen == kill_after {
            kill();
            break;
        }
    }
    (acked, seen)
}

/// The parent's check on the reopened store: each writer's log is 1, 2,
/// ... without gaps or duplicates, holds at least what was acknowledged,
/// and its highest sequence number is its length.
pub async fn check_acknowledged<J: Journal>(
    store: &J,
    acked: &HashMap<u64, u64>,
) -> Result<(), TckFailure> {
    for (w, best) in acked {
        let pid = PersistenceId::new(&format!("crash-{w}")).map_err(|e| TckFailure {
            check: CHECK,
            message: e.to_string(),
        })?;
        let events = ok(
            store
                .replay(&pid, SequenceNr::ZERO, SequenceNr::MAX, NonZeroUsize::MAX)
                .await,
            CHECK,
            "replay",
        )?;
        let nrs: Vec<u64> = events.iter().map(|e| e.sequence_nr.value()).collect();
        let len = nrs.len() as u64;
        ensure(nrs.iter().copied().eq(1..=len), CHECK, || {
            format!("crash-{w} is not gap-free and in order: {nrs:?}")
        })?;
        ensure(len >= *best, CHECK, || {
            format!("acknowledged {best} of crash-{w}, found {len}")
        })?;
        let highest = ok(store.highest_sequence_nr(&pid).await, CHECK, "highest")?;
        ensure(highest.value() == len, CHECK, || {
            format!("crash-{w}: highest {highest}, {len} events")
        })?;
    }
    Ok(())
}
