//! Ferrocast (`ferrocast-actor`): one `ActorSystem`, actors spawned with
//! `spawn_anonymous(Props::new(..).with_mailbox(MailboxConfig::unbounded()))`, tell is
//! `ActorRef::tell`, ask is `ActorRef::ask`; the start hook is `started`.

use std::time::Duration;

use anyhow::Result;
use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, Context, MailboxConfig, Props,
    ReplyTo,
};

use super::library::{Library, Runtime, STARTED, State};

/// Long enough never to fire in a healthy run; a stuck actor fails the run instead.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct Counter(State);

#[derive(Debug)]
pub(crate) enum Msg {
    Inc,
    Get(ReplyTo<u64>),
}

impl Actor for Counter {
    type Msg = Msg;

    async fn started(&mut self, _: &mut Context<Self>) -> Result<(), ActorError> {
        STARTED.arrive();
        Ok(())
    }

    async fn handle(&mut self, msg: Msg, _: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            Msg::Inc => self.0.inc(),
            Msg::Get(reply) => {
                let _ = reply.send(self.0.count);
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Ferrocast {
    system: ActorSystem,
}

impl Library for Ferrocast {
    const RUNTIME: Runtime = Runtime::Tokio;
    type Ref = ActorRef<Msg>;

    async fn setup() -> Result<Self> {
        Ok(Self {
            system: ActorSystem::new("bench", ActorSystemConfig::default())?,
        })
    }

    async fn spawn(&mut self) -> Result<Self::Ref> {
        let props =
            Props::new(|| Counter(State::default())).with_mailbox(MailboxConfig::unbounded());
        Ok(self.system.spawn_anonymous(props)?)
    }

    async fn tell(actor: &Self::Ref) -> Result<()> {
        actor.tell(Msg::Inc);
        Ok(())
    }

    async fn ask(actor: &Self::Ref) -> Result<u64> {
        Ok(actor.ask(Msg::Get, ASK_TIMEOUT).await?)
    }
}
