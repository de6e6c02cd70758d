//! actix 0.13, two ways: every actor on the `System`'s own thread (`Actor::start`), and
//! actors spread round-robin over 2 `Arbiter` threads (`Actor::start_in_arbiter`). Tell is
//! `do_send` (ignores the mailbox capacity, so unbounded), ask is `send`; the start hook is
//! `started`.

use actix::{Actor, Addr, Arbiter, ArbiterHandle, Context, Handler, Message};
use anyhow::{Context as _, Result, anyhow};

use super::library::{Library, Runtime, STARTED, State};

#[derive(Debug)]
pub(crate) struct Counter(State);

impl Actor for Counter {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        STARTED.arrive();
    }
}

#[derive(Debug)]
pub(crate) struct Inc;
#[derive(Debug)]
pub(crate) struct Get;

impl Message for Inc {
    type Result = ();
}

impl Message for Get {
    type Result = u64;
}

impl Handler<Inc> for Counter {
    type Result = ();
    fn handle(&mut self, _: Inc, _: &mut Context<Self>) {
        self.0.inc();
    }
}

impl Handler<Get> for Counter {
    type Result = u64;
    fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
        self.0.count
    }
}

fn tell(actor: &Addr<Counter>) -> Result<()> {
    actor.do_send(Inc);
    Ok(())
}

async fn ask(actor: &Addr<Counter>) -> Result<u64> {
    actor.send(Get).await.map_err(|e| anyhow!("send: {e}"))
}

/// Everything on the `System` thread.
#[derive(Debug)]
pub(crate) struct ActixSystem;

impl Library for ActixSystem {
    const RUNTIME: Runtime = Runtime::Actix;
    type Ref = Addr<Counter>;

    async fn setup() -> Result<Self> {
        Ok(Self)
    }

    async fn spawn(&mut self) -> Result<Self::Ref> {
        Ok(Counter(State::default()).start())
    }

    async fn tell(actor: &Self::Ref) -> Result<()> {
        tell(actor)
    }

    async fn ask(actor: &Self::Ref) -> Result<u64> {
        ask(actor).await
    }
}

/// Actors round-robin over 2 arbiters; the driver stays on the `System` thread.
#[derive(Debug)]
pub(crate) struct ActixArbiters {
    arbiters: Vec<ArbiterHandle>,
    next: usize,
}

const ARBITERS: usize = 2;

impl Library for ActixArbiters {
    const RUNTIME: Runtime = Runtime::Actix;
    type Ref = Addr<Counter>;

    async fn setup() -> Result<Self> {
        // The `Arbiter` values are leaked on purpose: dropping one does not stop its
        // thread, and the child process exits without tearing down.
        let arbiters = (0..ARBITERS)
            .map(|_| {
                let arbiter = Arbiter::new();
                let handle = arbiter.handle();
                std::mem::forget(arbiter);
                handle
            })
            .collect();
        Ok(Self { arbiters, next: 0 })
    }

    async fn spawn(&mut self) -> Result<Self::Ref> {
        let arbiter = self
            .arbiters
            .get(self.next % ARBITERS)
            .context("no arbiter")?;
        self.next += 1;
        Ok(Counter::start_in_arbiter(arbiter, |_| {
            Counter(State::default())
        }))
    }

    async fn tell(actor: &Self::Ref) -> Result<()> {
        tell(actor)
    }

    async fn ask(actor: &Self::Ref) -> Result<u64> {
        ask(actor).await
    }
}
