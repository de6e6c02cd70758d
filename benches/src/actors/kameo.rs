//! kameo 0.22: `Spawn::spawn_with_mailbox` with `mailbox::unbounded()`, `tell(..).try_send()`
//! and `ask(..)`; the start hook is `on_start`.

use anyhow::Result;
use kameo::Actor;
use kameo::actor::{ActorRef, Spawn as _};
use kameo::error::Infallible;
use kameo::mailbox;
use kameo::message::{Context, Message};

use super::library::{Library, Runtime, STARTED, State};

#[derive(Debug)]
pub(crate) struct Counter(State);

impl Actor for Counter {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(state: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        STARTED.arrive();
        Ok(state)
    }
}

#[derive(Debug)]
pub(crate) struct Inc;
#[derive(Debug)]
pub(crate) struct Get;

impl Message<Inc> for Counter {
    type Reply = ();
    async fn handle(&mut self, _: Inc, _: &mut Context<Self, ()>) {
        self.0.inc();
    }
}

impl Message<Get> for Counter {
    type Reply = u64;
    async fn handle(&mut self, _: Get, _: &mut Context<Self, u64>) -> u64 {
        self.0.count
    }
}

#[derive(Debug)]
pub(crate) struct Kameo;

impl Library for Kameo {
    const RUNTIME: Runtime = Runtime::Tokio;
    type Ref = ActorRef<Counter>;

    async fn setup() -> Result<Self> {
        Ok(Self)
    }

    async fn spawn(&mut self) -> Result<Self::Ref> {
        Ok(Counter::spawn_with_mailbox(
            Counter(State::default()),
            mailbox::unbounded(),
        ))
    }

    async fn tell(actor: &Self::Ref) -> Result<()> {
        actor
            .tell(Inc)
            .try_send()
            .map_err(|e| anyhow::anyhow!("tell: {e}"))
    }

    async fn ask(actor: &Self::Ref) -> Result<u64> {
        actor
            .ask(Get)
            .await
            .map_err(|e| anyhow::anyhow!("ask: {e}"))
    }
}
