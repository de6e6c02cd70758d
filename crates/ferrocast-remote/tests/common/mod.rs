//! Nodes over real loopback TCP for the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, Context, ReplyTo,
};
use ferrocast_remote::{Registry, RemoteConfig, Remoting};
use serde::{Deserialize, Serialize};

/// Long enough for loopback on a loaded 2-core machine; tests wait for
/// events, never for time.
pub const WAIT: Duration = Duration::from_secs(10);

#[derive(Serialize, Deserialize, Debug)]
pub enum CounterMsg {
    Add(u64),
    Get(ReplyTo<u64>),
    /// Sends the current count to `to` (a reference inside a message).
    Report(ActorRef<u64>),
    Blob(Vec<u8>),
    Stop,
}

#[derive(Default)]
pub struct Counter {
    pub count: u64,
}

impl Actor for Counter {
    type Msg = CounterMsg;
    async fn handle(&mut self, msg: CounterMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            CounterMsg::Add(n) => self.count += n,
            CounterMsg::Get(reply) => {
                let _ = reply.send(self.count);
            }
            CounterMsg::Report(to) => to.tell(self.count),
            CounterMsg::Blob(b) => self.count += b.len() as u64,
            CounterMsg::Stop => ctx.stop(),
        }
        Ok(())
    }
}

pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register::<CounterMsg>("test.CounterMsg")
        .expect("fresh registry");
    r
}

pub fn fast_config() -> RemoteConfig {
    let mut c = RemoteConfig::bind("127.0.0.1", 0);
    c.heartbeat_interval = Duration::from_millis(50);
    c.system_message_resend_interval = Duration::from_millis(200);
    c.reconnect_backoff_min = Duration::from_millis(20);
    c.reconnect_backoff_max = Duration::from_millis(200);
    c.failure_detector.acceptable_heartbeat_pause = Duration::from_millis(300);
    c.failure_detector.first_heartbeat_estimate = Duration::from_millis(50);
    c.failure_detector.min_std_deviation = Duration::from_millis(20);
    c.failure_detector.threshold = 5.0;
    c
}

pub struct Node {
    pub system: ActorSystem,
    pub remoting: Remoting,
}

impl Node {
    pub async fn start(name: &str, config: RemoteConfig) -> Node {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let system = ActorSystem::new(name, ActorSystemConfig::default()).expect("system");
        let remoting = Remoting::start(&system, registry(), config)
            .await
            .expect("remoting");
        Node { system, remoting }
    }

    pub fn path_of<M: Send + 'static>(&self, r: &ActorRef<M>) -> String {
        format!("{}{}", self.remoting.address(), r.path())
    }

    pub async fn stop(self) {
        self.remoting.shutdown();
        self.system.terminate().await;
    }
}

/// A counter exposed on `node`, and its full path.
pub fn exposed_counter(node: &Node, name: &str) -> (ActorRef<CounterMsg>, String) {
    let counter = node.system.spawn(name, Counter::default).expect("spawn");
    node.remoting.expose(&counter).expect("expose");
    let path = node.path_of(&counter);
    (counter, path)
}
