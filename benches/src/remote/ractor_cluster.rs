//! `ractor_cluster` 0.16: a `NodeServer` per process on 127.0.0.1 (no encryption), the
//! sender connects with `client_connect`; the receiver joins a process group, which the
//! node sessions synchronize, and the sender sends to the group's remote member. One way is
//! `cast`, the round trip `call` of an `#[rpc]` variant.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster::{NodeServer, NodeServerMessage, RactorClusterMessage};

use super::{DRAIN_WAIT, PAYLOAD_BYTES, Sizes, WAIT, announce, ask_metrics, runtime, tell_metrics};
use crate::harness::Measured;

/// Both nodes' magic cookie (the handshake's shared secret).
const COOKIE: &str = "ferrocast-bench";
/// The process group the receiver joins.
const GROUP: &str = "bench.remote";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[derive(RactorClusterMessage)]
pub(crate) enum Msg {
    Payload(Vec<u8>),
    #[rpc]
    Count(RpcReplyPort<u64>),
}

/// Counts payloads; answers the count. Its state is the count.
#[derive(Debug)]
struct Receiver;

impl Actor for Receiver {
    type Msg = Msg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, myself: ActorRef<Msg>, (): ()) -> Result<u64, ActorProcessingErr> {
        ractor::pg::join(GROUP.to_owned(), vec![myself.get_cell()]);
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<Msg>,
        msg: Msg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Msg::Payload(_) => *count += 1,
            Msg::Count(reply) => {
                let _ = reply.send(*count);
            }
        }
        Ok(())
    }
}

/// A node server on 127.0.0.1:`port` (0: any).
async fn node(name: &str, port: u16) -> Result<ActorRef<NodeServerMessage>> {
    let server = NodeServer::new(
        port,
        COOKIE.to_owned(),
        name.to_owned(),
        "127.0.0.1".to_owned(),
        None,
        None,
    )
    .with_listen_addr(LOCALHOST);
    let (server, _) = Actor::spawn(None, server, ()).await?;
    Ok(server)
}

/// The receiving node; serves until the sender closes stdin.
pub(crate) fn serve() -> Result<Measured> {
    // `NodeServer` does not report the port it bound, so pick a free one first.
    let port = std::net::TcpListener::bind((LOCALHOST, 0))?
        .local_addr()?
        .port();
    runtime()?.block_on(async move {
        let _server = node("receiver", port).await?;
        let _receiver = Actor::spawn(None, Receiver, ()).await?;
        announce(&format!("127.0.0.1:{port}"))?;
        std::future::pending::<Result<Measured>>().await
    })
}

/// Connects to the receiving node and waits for its receiver to show in the group.
async fn connect(address: &str) -> Result<ActorRef<Msg>> {
    let server = node("sender", 0).await?;
    let deadline = Instant::now() + WAIT;
    // The listener may still be starting: retry the connection until the deadline.
    while let Err(e) = ractor_cluster::client_connect(&server, address).await {
        if Instant::now() > deadline {
            bail!("connect to {address}: {e}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    loop {
        let remote = ractor::pg::get_members(&GROUP.to_owned())
            .into_iter()
            .find(|cell| !cell.get_id().is_local());
        if let Some(cell) = remote {
            return Ok(ActorRef::from(cell));
        }
        if Instant::now() > deadline {
            bail!("no remote member of {GROUP} after {} s", WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn count(receiver: &ActorRef<Msg>, timeout: Duration) -> Result<u64> {
    match receiver
        .call(Msg::Count, Some(timeout))
        .await
        .map_err(|e| anyhow!("call: {e}"))?
    {
        CallResult::Success(count) => Ok(count),
        CallResult::Timeout => Err(anyhow!("call timed out")),
        CallResult::SenderError => Err(anyhow!("reply dropped")),
    }
}

/// Asks the count until it reaches `n` (per-pair ordering: at once after the last message).
async fn await_count(receiver: &ActorRef<Msg>, n: u64) -> Result<()> {
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let count = count(receiver, DRAIN_WAIT).await?;
        if count >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("receiver counted {count} of {n}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn cast(receiver: &ActorRef<Msg>, payload: &[u8]) -> Result<()> {
    receiver
        .cast(Msg::Payload(payload.to_vec()))
        .map_err(|e| anyhow!("cast: {e}"))
        .context("the node session is gone")
}

pub(crate) async fn tell(address: &str, sizes: Sizes) -> Result<Measured> {
    let receiver = connect(address).await?;
    let payload = vec![7u8; PAYLOAD_BYTES];
    for _ in 0..sizes.tell_warmup {
        cast(&receiver, &payload)?;
    }
    await_count(&receiver, sizes.tell_warmup).await?;
    let started = Instant::now();
    for _ in 0..sizes.tells {
        cast(&receiver, &payload)?;
    }
    await_count(&receiver, sizes.tell_warmup + sizes.tells).await?;
    Ok(tell_metrics(sizes.tells, started.elapsed()))
}

pub(crate) async fn ask(address: &str, sizes: Sizes) -> Result<Measured> {
    let receiver = connect(address).await?;
    for _ in 0..sizes.ask_warmup {
        count(&receiver, WAIT).await?;
    }
    let mut latencies = Vec::with_capacity(sizes.asks);
    for _ in 0..sizes.asks {
        let t = Instant::now();
        count(&receiver, WAIT).await?;
        latencies.push(t.elapsed());
    }
    Ok(ask_metrics(latencies))
}
