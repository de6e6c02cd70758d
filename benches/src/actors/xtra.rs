//! xtra 0.6 (feature `tokio`): `spawn_tokio` with `Mailbox::unbounded()`; tell is
//! `send(..).detach()` (resolves once queued), ask is `send(..)`; the start hook is `started`.

use anyhow::{Result, anyhow};
use xtra::{Actor, Address, Context, Handler, Mailbox};

use super::library::{Library, Runtime, STARTED, State};

#[derive(Debug)]
pub(crate) struct Counter(State);

impl Actor for Counter {
    type Stop = ();

    async fn started(&mut self, _: &Mailbox<Self>) -> Result<(), ()> {
        STARTED.arrive();
        Ok(())
    }

    async fn stopped(self) {}
}

#[derive(Debug)]
pub(crate) struct Inc;
#[derive(Debug)]
pub(crate) struct Get;

impl Handler<Inc> for Counter {
    type Return = ();
    async fn handle(&mut self, _: Inc, _: &mut Context<Self>) {
        self.0.inc();
    }
}

impl Handler<Get> for Counter {
    type Return = u64;
    async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
        self.0.count
    }
}

#[derive(Debug)]
pub(crate) struct Xtra;

impl Library for Xtra {
    const RUNTIME: Runtime = Runtime::Tokio;
    type Ref = Address<Counter>;

    async fn setup() -> Result<Self> {
        Ok(Self)
    }

    async fn spawn(&mut self) -> Result<Self::Ref> {
        Ok(xtra::spawn_tokio(
            Counter(State::default()),
            Mailbox::unbounded(),
        ))
    }

    async fn tell(actor: &Self::Ref) -> Result<()> {
        actor
            .send(Inc)
            .detach()
            .await
            .map(drop)
            .map_err(|e| anyhow!("send: {e}"))
    }

    async fn ask(actor: &Self::Ref) -> Result<u64> {
        actor.send(Get).await.map_err(|e| anyhow!("send: {e}"))
    }
}
