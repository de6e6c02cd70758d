//! Baseline: no actor library, a tokio task looping over an unbounded mpsc receiver.

use anyhow::{Context as _, Result};
use tokio::sync::{mpsc, oneshot};

use super::library::{Library, Runtime, STARTED, State};

#[derive(Debug)]
pub(crate) enum Msg {
    Inc,
    Get(oneshot::Sender<u64>),
}

#[derive(Debug)]
pub(crate) struct TokioTask;

async fn run(mut state: State, mut mailbox: mpsc::UnboundedReceiver<Msg>) {
    STARTED.arrive();
    while let Some(msg) = mailbox.recv().await {
        match msg {
            Msg::Inc => state.inc(),
            Msg::Get(reply) => {
                let _ = reply.send(state.count);
            }
        }
    }
}

impl Library for TokioTask {
    const RUNTIME: Runtime = Runtime::Tokio;
    type Ref = mpsc::UnboundedSender<Msg>;

    async fn setup() -> Result<Self> {
        Ok(Self)
    }

    async fn spawn(&mut self) -> Result<Self::Ref> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(State::default(), rx));
        Ok(tx)
    }

    async fn tell(actor: &Self::Ref) -> Result<()> {
        actor.send(Msg::Inc).ok().context("task gone")
    }

    async fn ask(actor: &Self::Ref) -> Result<u64> {
        let (tx, rx) = oneshot::channel();
        actor.send(Msg::Get(tx)).ok().context("task gone")?;
        rx.await.context("task dropped the reply")
    }
}
