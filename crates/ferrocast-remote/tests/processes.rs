//! Two OS processes on loopback: tell, ask and death watch across them;
//! `kill -9` of the other process is detected and quarantined; a process
//! restarted on the same address forms a fresh association.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use common::*;
use ferrocast_actor::AskError;
use ferrocast_testkit::TestProbe;

/// Set in the child process: the port to listen on (0: any).
const CHILD_ENV: &str = "FERROCAST_REMOTE_CHILD_PORT";
const TEST: &str = "two_processes_tell_ask_watch_kill_and_restart";

/// The child: a node with an exposed counter; prints its path and serves
/// until its stdin closes (the parent died) or it is killed.
fn child(port: u16) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut config = fast_config();
        config.bind_port = port;
        let node = Node::start("procs", config).await;
        let (_counter, path) = exposed_counter(&node, "counter");
        // Straight to the pipe: `println!` may be captured by the harness.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "PATH {path}");
        let _ = out.flush();
        drop(out);
        // Serve until the parent goes away.
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
    });
}

struct ChildNode {
    proc: Child,
    path: String,
    /// Kept open: the child's harness still prints when it ends.
    _stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

fn spawn_child(port: u16) -> ChildNode {
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    let path = lines
        .by_ref()
        .map_while(Result::ok)
        // The harness may print "test name ... " on the same line first.
        .find_map(|l| l.split_once("PATH ").map(|(_, p)| p.trim().to_owned()))
        .expect("the child prints its path");
    ChildNode {
        proc,
        path,
        _stdout: lines,
    }
}

fn port_of(path: &str) -> u16 {
    let p: ferrocast_remote::RemotePath = path.parse().unwrap();
    p.address.port
}

#[test]
fn two_processes_tell_ask_watch_kill_and_restart() {
    if let Ok(port) = std::env::var(CHILD_ENV) {
        child(port.parse().unwrap());
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let first = spawn_child(0);
        let port = port_of(&first.path);
        let me = Node::start("procs", fast_config()).await;
        let remote = me
            .remoting
            .resolve::<CounterMsg>(&first.path, WAIT)
            .await
            .unwrap();
        for i in 1..=100 {
            remote.tell(CounterMsg::Add(i));
        }
        assert_eq!(remote.ask(CounterMsg::Get, WAIT).await.unwrap(), 5050);
        let first_uid = me.remoting.peer_uid(&remote_address(&first.path)).unwrap();

        // kill -9: the failure detector notices, the watcher is told, the
        // incarnation is quarantined.
        let mut probe = TestProbe::<u64>::new(&me.system);
        probe.watch(&remote);
        // One round trip, so the watch is in place before the kill.
        assert_eq!(remote.ask(CounterMsg::Get, WAIT).await.unwrap(), 5050);
        let mut first = first;
        first.proc.kill().unwrap();
        let _ = first.proc.wait();
        probe.expect_terminated(&remote, WAIT).await;
        assert!(me.remoting.is_quarantined(first_uid));
        assert!(matches!(
            remote.ask(CounterMsg::Get, WAIT).await,
            Err(AskError::Terminated)
        ));

        // Restarted on the same address: a new incarnation, a fresh
        // association, a fresh counter.
        let second = spawn_child(port);
        assert_eq!(port_of(&second.path), port);
        let fresh = me
            .remoting
            .resolve::<CounterMsg>(&second.path, WAIT)
            .await
            .unwrap();
        assert_eq!(fresh.ask(CounterMsg::Get, WAIT).await.unwrap(), 0);
        let second_uid = me.remoting.peer_uid(&remote_address(&second.path)).unwrap();
        assert_ne!(first_uid, second_uid);
        let mut second = second;
        drop(second.proc.stdin.take());
        let _ = second.proc.wait();
        me.stop().await;
    });
}

fn remote_address(path: &str) -> ferrocast_remote::NodeAddress {
    path.parse::<ferrocast_remote::RemotePath>()
        .unwrap()
        .address
}
