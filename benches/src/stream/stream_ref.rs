//! `source_ref_100b`: elements per second through a [`SourceRef`] from one node to another.
//!
//! Two `ActorSystem`s in this process, each with `ferrocast_remote::Remoting` on
//! `127.0.0.1:0` (default `RemoteConfig`, plain TCP), on one tokio runtime with 2 workers. The
//! producing node runs `Source::iter(0..n).map(|_| 100-byte Vec<u8>)` into
//! `Sink::source_ref` and sends the ref, inside a message, to a consumer actor on the other
//! node; the consumer runs `source_ref.source(..)` to a fold counting the 100-byte elements
//! and answers the count. The clock runs from the ask to the answer, so it includes the
//! subscription handshake (one round trip) and the demand-based flow control (default
//! `StreamRefSettings`: a buffer of 32, topped up at half). An untimed run of a tenth of the
//! elements goes first, so the connection is up and warm. The run fails unless the count is
//! exact. Elements cross the network as `StreamRefMsg<Vec<u8>>` in the default binary codec.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, Context, ReplyTo,
};
use ferrocast_remote::{Registry, RemoteConfig, Remoting};
use ferrocast_stream::{Sink, Source, SourceRef, StreamRefMsg};
use serde::{Deserialize, Serialize};

/// Bytes per element.
const ELEMENT_BYTES: usize = 100;
/// Long enough never to fire in a healthy run; a stuck stream fails the run instead.
const WAIT: Duration = Duration::from_secs(100);

#[derive(Serialize, Deserialize)]
enum ConsumerMsg {
    /// Run the ref to its end and answer how many 100-byte elements came.
    Consume(SourceRef<Vec<u8>>, ReplyTo<u64>),
}

struct Consumer;

impl Actor for Consumer {
    type Msg = ConsumerMsg;

    async fn handle(
        &mut self,
        msg: ConsumerMsg,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let ConsumerMsg::Consume(source_ref, reply) = msg;
        let done = source_ref
            .source(&ctx.system())
            .run_fold(0u64, |n, e: Vec<u8>| {
                n + u64::from(e.len() == ELEMENT_BYTES)
            });
        // The stream runs in its own task; the actor stays free.
        tokio::spawn(async move {
            let _ = reply.send(done.await.unwrap_or(0));
        });
        Ok(())
    }
}

async fn node() -> Result<(ActorSystem, Remoting)> {
    let system = ActorSystem::new("bench", ActorSystemConfig::default())?;
    let mut registry = Registry::new();
    registry.register::<ConsumerMsg>("bench.stream.Consumer")?;
    registry.register::<StreamRefMsg<Vec<u8>>>("bench.stream.StreamRef.bytes")?;
    let remoting = Remoting::start(&system, registry, RemoteConfig::bind("127.0.0.1", 0)).await?;
    Ok((system, remoting))
}

/// Streams `n` elements from `system` to `consumer`'s node; returns when all have arrived.
async fn stream_once(system: &ActorSystem, consumer: &ActorRef<ConsumerMsg>, n: u64) -> Result<()> {
    let payload = vec![7u8; ELEMENT_BYTES];
    let source_ref = Source::iter(0..n)
        .map(move |_| payload.clone())
        .run_with(Sink::source_ref(system));
    let got = consumer
        .ask(|reply| ConsumerMsg::Consume(source_ref, reply), WAIT)
        .await?;
    ensure!(got == n, "the consumer counted {got} of {n} elements");
    Ok(())
}

/// `source_ref_100b`, in elements per second.
pub(crate) fn source_ref(elements: u64) -> Result<f64> {
    ensure!(elements > 0, "no elements");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(super::scenario::TOKIO_WORKERS)
        .enable_all()
        .build()?;
    let out = rt.block_on(async move {
        let (producer, producer_remoting) = node().await?;
        let (consumer_system, consumer_remoting) = node().await?;
        let consumer = consumer_system.spawn("consumer", || Consumer)?;
        let path = consumer_remoting.expose(&consumer)?;
        let consumer = producer_remoting
            .resolve::<ConsumerMsg>(&format!("{}{}", path.address, path.path), WAIT)
            .await?;
        stream_once(&producer, &consumer, (elements / 10).max(1)).await?;
        let started = Instant::now();
        stream_once(&producer, &consumer, elements).await?;
        let elapsed = started.elapsed();
        // Both nodes stay up until the process exits: shutting down is not measured.
        std::mem::forget((producer_remoting, consumer_remoting, consumer_system));
        Ok(elements as f64 / elapsed.as_secs_f64())
    });
    std::mem::forget(rt);
    out
}
