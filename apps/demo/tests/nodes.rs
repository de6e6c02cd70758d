//! `ferrocast-demo node` as real processes on loopback: they form a
//! cluster, survive `kill -9`, take a restarted member back, and leave
//! gracefully through the management endpoint or on SIGTERM.
//!
//! The members are other processes: the tests read `GET /cluster/members`
//! again whenever a member prints a line (an event, or `CONVERGED n` when
//! its view settles), never on a timer. Every wait is bounded. Children are
//! killed when a test ends, pass or fail (and their output is printed on
//! failure).

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_ferrocast-demo");
/// Bound of one convergence (fast failover removes a crashed member in
/// about 3 s; the slack is for a loaded machine).
const CONVERGE: Duration = Duration::from_secs(45);

/// One cluster test at a time: several clusters of processes on two
/// cores would starve heartbeats into false "unreachable"s.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// `n` distinct free ports: all bound at once, so none is handed out
/// twice, then released for the children to bind.
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect()
}

/// A node process; killed (SIGKILL) when dropped.
struct Proc {
    child: Child,
    remote: u16,
    http: u16,
    /// Standard output so far, filled line by line.
    out: Arc<std::sync::Mutex<String>>,
    /// Notified on every line any member of the test prints.
    printed: Arc<Notify>,
    err: PathBuf,
}

impl Proc {
    fn address(&self) -> String {
        format!("ferrocast://demo@127.0.0.1:{}", self.remote)
    }

    fn stdout(&self) -> String {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `kill -9`.
    async fn kill(&mut self) {
        self.child.kill().await.expect("SIGKILL");
    }

    fn terminate(&self) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM")
            .success();
        assert!(ok, "kill -TERM {pid}");
    }

    async fn exit_status(&mut self, within: Duration) -> ExitStatus {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(s) => s.expect("wait"),
            Err(_) => panic!("{} did not exit within {within:?}", self.address()),
        }
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// The processes of one test; prints their output if the test fails.
struct Nodes {
    name: &'static str,
    procs: Vec<Proc>,
    seeds: String,
    ports: Vec<(u16, u16)>,
    starts: usize,
    printed: Arc<Notify>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for p in &self.procs {
                eprintln!("===== {} stdout", p.address());
                eprintln!("{}", p.stdout());
                let err = std::fs::read_to_string(&p.err).unwrap_or_default();
                let tail: Vec<_> = err.lines().rev().take(40).collect();
                eprintln!("===== {} stderr (last lines)", p.address());
                for l in tail.into_iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
        // kill_on_drop sends SIGKILL to every child still running.
    }
}

impl Nodes {
    /// Starts `n` members whose seeds are all of them.
    fn start(name: &'static str, n: usize) -> Nodes {
        let free = free_ports(2 * n);
        let ports: Vec<(u16, u16)> = free.chunks(2).map(|c| (c[0], c[1])).collect();
        let seeds = ports
            .iter()
            .map(|(r, _)| format!("127.0.0.1:{r}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Nodes {
            name,
            procs: Vec::new(),
            seeds,
            ports,
            starts: 0,
            printed: Arc::new(Notify::new()),
        };
        for i in 0..n {
            let p = nodes.spawn(i);
            nodes.procs.push(p);
        }
        nodes
    }

    /// Starts member `i` on its ports (again, after a kill).
    fn spawn(&mut self, i: usize) -> Proc {
        let (remote, http) = self.ports[i];
        self.starts += 1;
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let base = format!("{}-{}-{}-{}", self.name, std::process::id(), i, self.starts);
        let err = dir.join(format!("{base}.err"));
        let mut child = Command::new(BIN)
            .args(["node", "--system", "demo", "--fast"])
            .args(["--bind", &format!("127.0.0.1:{remote}")])
            .args(["--seed", &self.seeds])
            .args(["--http", &format!("127.0.0.1:{http}")])
            .env(
                "RUST_LOG",
                "info,ferrocast_cluster=debug,ferrocast_remote=warn",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn ferrocast-demo node");
        let out = Arc::new(std::sync::Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        tokio::spawn({
            let (out, printed) = (out.clone(), self.printed.clone());
            async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                    o.push_str(&line);
                    o.push('\n');
                    drop(o);
                    printed.notify_waiters();
                }
            }
        });
        Proc {
            child,
            remote,
            http,
            out,
            printed: self.printed.clone(),
            err,
        }
    }
}

/// One HTTP/1.0 request: the status and the body.
async fn http(
    port: u16,
    method: &str,
    path: &str,
    form: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let body = form.unwrap_or("");
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
        if form.is_some() {
            req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(req.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
        Ok((status, body.to_owned()))
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("HTTP request timed out")))
}

async fn members(p: &Proc) -> Option<Value> {
    match http(p.http, "GET", "/cluster/members", None).await {
        Ok((200, body)) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

/// `n` members, all Up, none unreachable, with a leader.
fn converged(m: &Value, n: usize) -> bool {
    let Some(list) = m["members"].as_array() else {
        return false;
    };
    list.len() == n
        && list.iter().all(|x| x["status"] == "Up")
        && m["unreachable"].as_array().is_some_and(|u| u.is_empty())
        && m["leader"].is_string()
}

/// Waits until every one of `procs` sees `n` converged members and all
/// agree on the leader; the last answer of the first.
async fn wait_converged(procs: &[&Proc], n: usize, what: &str) -> Value {
    let deadline = Instant::now() + CONVERGE;
    let mut last = Vec::new();
    let printed = procs[0].printed.clone();
    loop {
        // Registered before reading, so a line printed meanwhile counts.
        let next_line = printed.notified();
        tokio::pin!(next_line);
        next_line.as_mut().enable();
        last.clear();
        for p in procs {
            last.push(members(p).await);
        }
        let ok = last
            .iter()
            .all(|m| m.as_ref().is_some_and(|m| converged(m, n)));
        let leaders: Vec<_> = last.iter().flatten().map(|m| m["leader"].clone()).collect();
        if ok && leaders.windows(2).all(|w| w[0] == w[1]) {
            return last[0].clone().expect("checked");
        }
        if tokio::time::timeout_at(deadline, next_line).await.is_err() {
            panic!(
                "{what}: not converged to {n} members within {CONVERGE:?}; last answers: {last:#?}"
            );
        }
    }
}

fn uid_of(m: &Value, address: &str) -> Option<String> {
    m["members"]
        .as_array()?
        .iter()
        .find(|x| x["node"] == address)
        .and_then(|x| x["nodeUid"].as_str().map(String::from))
}

/// The positions of `needles` in `text`, in order; panics if one is missing.
fn assert_in_order(text: &str, needles: &[String]) {
    let mut at = 0;
    for n in needles {
        match text[at..].find(n.as_str()) {
            Some(i) => at += i + n.len(),
            None => panic!("{n:?} missing (or out of order) in:\n{text}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_leader_is_downed_and_removed_then_rejoins_with_a_new_uid() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut nodes = Nodes::start("kill-leader", 3);
    let all: Vec<&Proc> = nodes.procs.iter().collect();
    let view = wait_converged(&all, 3, "three Up").await;
    for p in &nodes.procs {
        assert!(
            p.stdout().contains(&format!("READY {}", p.address())),
            "{}",
            p.stdout()
        );
    }
    let leader = view["leader"].as_str().expect("a leader").to_owned();
    let victim = nodes
        .procs
        .iter()
        .position(|p| p.address() == leader)
        .expect("the leader is one of ours");
    let old_uid = uid_of(&view, &leader).expect("the leader's uid");

    nodes.procs[victim].kill().await;
    let survivors: Vec<&Proc> = (0..3)
        .filter(|i| *i != victim)
        .map(|i| &nodes.procs[i])
        .collect();
    let after = wait_converged(&survivors, 2, "killed leader removed").await;
    assert_ne!(after["leader"], leader, "a new leader: {after}");
    assert!(uid_of(&after, &leader).is_none());
    for p in &survivors {
        assert_in_order(
            &p.stdout(),
            &[
                format!("EVENT UnreachableMember {leader} uid={old_uid}"),
                format!("EVENT MemberDowned {leader} uid={old_uid}"),
                format!("EVENT MemberRemoved {leader} uid={old_uid} previous=Down"),
            ],
        );
        assert!(p.stdout().contains("EVENT LeaderChanged"), "{}", p.stdout());
    }

    // The same address again: a new incarnation joins.
    let again = nodes.spawn(victim);
    nodes.procs[victim] = again;
    let all: Vec<&Proc> = nodes.procs.iter().collect();
    let back = wait_converged(&all, 3, "restarted member Up").await;
    let new_uid = uid_of(&back, &leader).expect("the restarted member is listed");
    assert_ne!(new_uid, old_uid);
    for p in &nodes.procs {
        let (status, _) = http(p.http, "GET", "/ready", None)
            .await
            .expect("ready answers");
        assert_eq!(status, 200, "{}", p.address());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_over_http_and_sigterm_both_leave_gracefully_and_exit_zero() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut nodes = Nodes::start("leave", 3);
    let all: Vec<&Proc> = nodes.procs.iter().collect();
    wait_converged(&all, 3, "three Up").await;

    // Leave, asked of another member, with the address percent-encoded.
    let leaver = nodes.procs[2].address();
    let encoded = leaver
        .replace(':', "%3A")
        .replace('/', "%2F")
        .replace('@', "%40");
    let (status, body) = http(
        nodes.procs[0].http,
        "PUT",
        &format!("/cluster/members/{encoded}"),
        Some("operation=Leave"),
    )
    .await
    .expect("PUT answers");
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["message"], format!("Leaving {leaver}"));
    let exit = nodes.procs[2].exit_status(CONVERGE).await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        nodes.procs[2]
            .stdout()
            .contains("STOPPED removed from the cluster")
    );
    let survivors = [&nodes.procs[0], &nodes.procs[1]];
    wait_converged(&survivors, 2, "leaver removed").await;
    for p in survivors {
        assert_in_order(
            &p.stdout(),
            &[
                format!("EVENT MemberLeft {leaver} "),
                format!("EVENT MemberExited {leaver} "),
                format!("EVENT MemberRemoved {leaver} "),
            ],
        );
        assert!(
            p.stdout()
                .contains(&format!("EVENT MemberRemoved {leaver} uid="))
        );
    }

    // SIGTERM: coordinated shutdown leaves first, then exits 0.
    let second = nodes.procs[1].address();
    nodes.procs[1].terminate();
    let exit = nodes.procs[1].exit_status(CONVERGE).await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        nodes.procs[1]
            .stdout()
            .contains("STOPPED left after a signal")
    );
    wait_converged(&[&nodes.procs[0]], 1, "signalled member removed").await;
    assert_in_order(
        &nodes.procs[0].stdout(),
        &[
            format!("EVENT MemberLeft {second} "),
            format!("EVENT MemberExited {second} "),
            format!("EVENT MemberRemoved {second} "),
        ],
    );
    // The one left serves on.
    let (status, _) = http(nodes.procs[0].http, "GET", "/ready", None)
        .await
        .expect("ready");
    assert_eq!(status, 200);
    assert!(nodes.procs[0].is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_members_lose_two_to_kill_9_and_the_majority_carries_on() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut nodes = Nodes::start("five", 5);
    let all: Vec<&Proc> = nodes.procs.iter().collect();
    wait_converged(&all, 5, "five Up").await;
    let gone = [nodes.procs[3].address(), nodes.procs[4].address()];
    nodes.procs[3].kill().await;
    nodes.procs[4].kill().await;
    let survivors: Vec<&Proc> = nodes.procs[..3].iter().collect();
    let view = wait_converged(&survivors, 3, "two killed removed").await;
    for a in &gone {
        assert!(uid_of(&view, a).is_none(), "{a} still listed: {view}");
    }
    for p in &mut nodes.procs[..3] {
        assert!(p.is_running(), "{} stopped", p.address());
        let (status, _) = http(p.http, "GET", "/ready", None).await.expect("ready");
        assert_eq!(status, 200, "{}", p.address());
    }
}

#[tokio::test]
async fn bad_arguments_exit_nonzero_with_a_message() {
    let cases: &[&[&str]] = &[
        &["node"],
        &["node", "--bind"],
        &["node", "--bind", "nonsense"],
        &["node", "--bind", "127.0.0.1:70000"],
        &["node", "--bind", "127.0.0.1:1", "--http", "localhost"],
        &["node", "--bind", "127.0.0.1:1", "--downing", "keep-nobody"],
        &[
            "node",
            "--bind",
            "127.0.0.1:1",
            "--downing",
            "static-quorum=zero",
        ],
        &["node", "--bind", "127.0.0.1:1", "--system", "no/slash"],
        &["node", "--bind", "127.0.0.1:1", "--seed", "a:b"],
        &["node", "--bind", "127.0.0.1:1", "--what"],
        &["--seconds", "soon"],
        &["--frobnicate"],
    ];
    for args in cases {
        let out = Command::new(BIN)
            .args(*args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A port in use is an error too, not a panic.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let out = Command::new(BIN)
        .args(["node", "--bind", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for help in [&["node", "--help"][..], &["--help"][..]] {
        let out = Command::new(BIN).args(help).output().await.expect("run");
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage:"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_demo_finishes_on_its_own() {
    let _one = ONE_AT_A_TIME.lock().await;
    let run = Command::new(BIN)
        .args(["--seconds", "1"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the demo finishes within 90 s")
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_in_order(
        &text,
        &[
            "coordinated shutdown complete".to_owned(),
            "all three Up".to_owned(),
            "a sees MemberRemoved".to_owned(),
            "previous=Down".to_owned(),
            "b leaves gracefully".to_owned(),
            "previous=Exiting".to_owned(),
            "cluster demo done".to_owned(),
        ],
    );
}
