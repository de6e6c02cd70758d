//! Crash test: a process persisting at full speed is killed with SIGKILL
//! (its transactions in flight die with its connections); after a new
//! store opens the schema, every acknowledged event is there, in order,
//! with no gaps and no duplicates.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::num::NonZeroUsize;
use std::process::{Command, Stdio};

use common::TestSchema;
use ferrocast_persistence::{
    Journal, Payload, PersistenceId, PersistentRepr, SequenceNr, SerializerId, WriterId,
};

/// Set in the child process: the schema to write to (the server is
/// `FERROCAST_PG_URL`, inherited).
const CHILD_ENV: &str = "FERROCAST_PG_CRASH_CHILD";
const WRITERS: u64 = 8;
/// The child stops by itself past this, should the parent be gone.
const MAX_PER_WRITER: u64 = 50_000;
/// Acknowledgements the parent waits for before the kill.
const KILL_AFTER: usize = 2_000;

fn event(pid: &PersistenceId, nr: u64) -> PersistentRepr {
    PersistentRepr {
        persistence_id: pid.clone(),
        sequence_nr: SequenceNr::new(nr),
        payload: Payload::new(SerializerId::new(100), "n", nr.to_be_bytes().to_vec()),
        tags: Vec::new(),
        timestamp: std::time::SystemTime::UNIX_EPOCH,
        writer: WriterId::new("crash-child").unwrap(),
    }
}

fn child(schema: String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let schema = TestSchema { name: schema };
        let store = std::sync::Arc::new(schema.open().await);
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let pid = PersistenceId::new(&format!("crash-{w}")).unwrap();
                for nr in 1..=MAX_PER_WRITER {
                    store.write(vec![event(&pid, nr)]).await.unwrap();
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "ack {w} {nr}");
                    let _ = out.flush();
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

#[test]
fn acknowledged_events_survive_kill_9() {
    if let Ok(schema) = std::env::var(CHILD_ENV) {
        child(schema);
        return;
    }
    // Fails here, with directions, when there is no server.
    common::url();
    let schema = TestSchema::new("crash");
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_events_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &schema.name)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = proc.stdout.take().unwrap();
    let mut acked: HashMap<u64, u64> = HashMap::new();
    let mut seen = 0;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let mut parts = line.split_whitespace();
        if parts.next() != Some("ack") {
            continue;
        }
        let w: u64 = parts.next().unwrap().parse().unwrap();
        let nr: u64 = parts.next().unwrap().parse().unwrap();
        let best = acked.entry(w).or_default();
        *best = (*best).max(nr);
        seen += 1;
        if seen == KILL_AFTER {
            proc.kill().unwrap(); // SIGKILL
            break;
        }
    }
    let _ = proc.wait();
    assert_eq!(seen, KILL_AFTER, "the child stopped early");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = schema.open().await;
        for (w, best) in acked {
            let pid = PersistenceId::new(&format!("crash-{w}")).unwrap();
            let events = store
                .replay(&pid, SequenceNr::ZERO, SequenceNr::MAX, NonZeroUsize::MAX)
                .await
                .unwrap();
            let nrs: Vec<u64> = events.iter().map(|e| e.sequence_nr.value()).collect();
            let expected: Vec<u64> = (1..=nrs.len() as u64).collect();
            assert_eq!(nrs, expected, "gap-free, in order, no duplicates");
            assert!(
                nrs.len() as u64 >= best,
                "acked {best} of crash-{w}, found {}",
                nrs.len()
            );
            let highest = store.highest_sequence_nr(&pid).await.unwrap();
            assert_eq!(highest.value(), nrs.len() as u64);
        }
    });
}
