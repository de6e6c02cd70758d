//! Ferrocast (`ferrocast-remote`): `Remoting::start` on `127.0.0.1:0` with the default
//! `RemoteConfig`, the receiver exposed at `/user/receiver` and resolved by the sender; one
//! way is `ActorRef::send().await`, the round trip `ActorRef::ask`.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, Context, MailboxConfig, Props,
    ReplyTo,
};
use ferrocast_remote::{Registry, RemoteConfig, Remoting};
use serde::{Deserialize, Serialize};

use super::{DRAIN_WAIT, PAYLOAD_BYTES, Sizes, WAIT, announce, ask_metrics, runtime, tell_metrics};
use crate::harness::Measured;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Msg {
    Payload(Vec<u8>),
    Count(ReplyTo<u64>),
}

/// Counts payloads; answers the count.
#[derive(Debug, Default)]
struct Receiver {
    count: u64,
}

impl Actor for Receiver {
    type Msg = Msg;

    async fn handle(&mut self, msg: Msg, _: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            Msg::Payload(_) => self.count += 1,
            Msg::Count(reply) => {
                let _ = reply.send(self.count);
            }
        }
        Ok(())
    }
}

/// A node with default settings but for the port (any free one).
async fn node() -> Result<(ActorSystem, Remoting)> {
    let system = ActorSystem::new("bench", ActorSystemConfig::default())?;
    let mut registry = Registry::new();
    registry.register::<Msg>("bench.remote.Msg")?;
    let remoting = Remoting::start(&system, registry, RemoteConfig::bind("127.0.0.1", 0)).await?;
    Ok((system, remoting))
}

/// The receiving node; serves until the sender closes stdin.
pub(crate) fn serve() -> Result<Measured> {
    runtime()?.block_on(async {
        let (system, remoting) = node().await?;
        let props = Props::new(Receiver::default).with_mailbox(MailboxConfig::unbounded());
        let receiver = system.spawn("receiver", props)?;
        let path = remoting.expose(&receiver)?;
        announce(&format!("{}{}", remoting.address(), path.path))?;
        std::future::pending::<Result<Measured>>().await
    })
}

async fn connect(path: &str) -> Result<(ActorSystem, Remoting, ActorRef<Msg>)> {
    let (system, remoting) = node().await?;
    let receiver = remoting.resolve::<Msg>(path, WAIT).await?;
    Ok((system, remoting, receiver))
}

/// Asks the count until it reaches `n` (per-pair ordering: at once after the last message).
async fn await_count(receiver: &ActorRef<Msg>, n: u64) -> Result<()> {
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let count = receiver.ask(Msg::Count, DRAIN_WAIT).await?;
        if count >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("receiver counted {count} of {n}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `send` waits while the outbound lane is full, where `tell` would drop.
async fn send(receiver: &ActorRef<Msg>, payload: &[u8]) -> Result<()> {
    // The error gives the message back; it holds no reply port, but the type is not `Sync`.
    receiver
        .send(Msg::Payload(payload.to_vec()))
        .await
        .map_err(|_| anyhow!("the association to the receiver closed"))
}

pub(crate) async fn tell(path: &str, sizes: Sizes) -> Result<Measured> {
    let (_system, remoting, receiver) = connect(path).await?;
    let payload = vec![7u8; PAYLOAD_BYTES];
    for _ in 0..sizes.tell_warmup {
        send(&receiver, &payload).await?;
    }
    await_count(&receiver, sizes.tell_warmup).await?;
    let started = Instant::now();
    for _ in 0..sizes.tells {
        send(&receiver, &payload).await?;
    }
    await_count(&receiver, sizes.tell_warmup + sizes.tells).await?;
    let elapsed = started.elapsed();
    let dropped = remoting.metrics().dropped_overflow;
    if dropped != 0 {
        bail!("{dropped} messages dropped on a full outbound lane");
    }
    Ok(tell_metrics(sizes.tells, elapsed))
}

pub(crate) async fn ask(path: &str, sizes: Sizes) -> Result<Measured> {
    let (_system, _remoting, receiver) = connect(path).await?;
    for _ in 0..sizes.ask_warmup {
        receiver.ask(Msg::Count, WAIT).await?;
    }
    let mut latencies = Vec::with_capacity(sizes.asks);
    for _ in 0..sizes.asks {
        let t = Instant::now();
        receiver.ask(Msg::Count, WAIT).await?;
        latencies.push(t.elapsed());
    }
    Ok(ask_metrics(latencies))
}
