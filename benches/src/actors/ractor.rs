//! ractor 0.16: `Actor::spawn` (awaits `pre_start`, the start hook), `cast` and `call`.
//! ractor's mailbox is unbounded; the actor's state is the `State` type, the actor value a
//! zero-sized behaviour.

use anyhow::{Result, anyhow};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::library::{Library, Runtime, STARTED, State};

#[derive(Debug)]
pub(crate) enum Msg {
    Inc,
    Get(RpcReplyPort<u64>),
}

// ractor's `cluster` feature (for the `remote` suite's ractor_cluster) replaces its blanket
// `Message` impl with one for byte-convertible types only; a local-only message says so
// itself. The defaults are the local path: no serialization, as without `cluster`.
impl ractor::Message for Msg {}

#[derive(Debug)]
pub(crate) struct Counter;

impl Actor for Counter {
    type Msg = Msg;
    type State = State;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Msg>, (): ()) -> Result<State, ActorProcessingErr> {
        STARTED.arrive();
        Ok(State::default())
    }

    async fn handle(
        &self,
        _: ActorRef<Msg>,
        msg: Msg,
        state: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Msg::Inc => state.inc(),
            Msg::Get(reply) => {
                let _ = reply.send(state.count);
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Ractor;

impl Library for Ractor {
    const RUNTIME: Runtime = Runtime::Tokio;
    type Ref = ActorRef<Msg>;

    async fn setup() -> Result<Self> {
        Ok(Self)
    }

    async fn spawn(&mut self) -> Result<Self::Ref> {
        let (actor, _join) = Counter::spawn(None, Counter, ()).await?;
        Ok(actor)
    }

    async fn tell(actor: &Self::Ref) -> Result<()> {
        actor.cast(Msg::Inc).map_err(|e| anyhow!("cast: {e}"))
    }

    async fn ask(actor: &Self::Ref) -> Result<u64> {
        match actor
            .call(Msg::Get, None)
            .await
            .map_err(|e| anyhow!("call: {e}"))?
        {
            CallResult::Success(count) => Ok(count),
            CallResult::Timeout => Err(anyhow!("call timed out")),
            CallResult::SenderError => Err(anyhow!("reply dropped")),
        }
    }
}
