//! [`Counter`]: the smallest event-sourced entity, for backend tests.

use std::sync::Arc;

use ferrocast_actor::ReplyTo;
use serde::{Deserialize, Serialize};

use crate::behavior::EventSourced;
use crate::effect::Effect;
use crate::ids::PersistenceId;
use crate::journal::Journal;
use crate::serialization::Serialization;
use crate::serializer::Json;
use crate::setup::EventSourcedSetup;

/// Adds numbers; its state is their sum.
#[derive(Debug, Default)]
pub struct Counter;

/// What a [`Counter`] does.
#[derive(Debug)]
pub enum CounterCmd {
    /// Persists `Added(n)`, then answers the new sum.
    Add(u64, ReplyTo<u64>),
    /// Answers the sum.
    Get(ReplyTo<u64>),
}

/// The one event of a [`Counter`] (manifest `counter.added.v1`, JSON).
#[derive(Debug, Serialize, Deserialize)]
pub struct Added(pub u64);

impl EventSourced for Counter {
    type Command = CounterCmd;
    type Event = Added;
    type State = u64;

    fn empty_state(&self) -> u64 {
        0
    }

    fn on_command(&mut self, state: &u64, cmd: CounterCmd) -> Effect<Self> {
        match cmd {
            CounterCmd::Add(n, reply) => Effect::persist(Added(n)).then_reply(reply, |s| *s),
            CounterCmd::Get(reply) => {
                let _ = reply.send(*state);
                Effect::none()
            }
        }
    }

    fn on_event(&self, state: &mut u64, event: &Added) {
        *state += event.0;
    }
}

/// A counter `id` over `journal`, without snapshots.
pub fn counter_setup<J: Journal>(
    journal: Arc<J>,
    id: &PersistenceId,
) -> EventSourcedSetup<Counter, J> {
    EventSourcedSetup::new(
        id.clone(),
        journal,
        Serialization::new("counter.added.v1", Json),
    )
}
