//! A shopping cart: the event-sourced entity the tests drive.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ferrocast_actor::ReplyTo;
use ferrocast_persistence::{
    CommandRejected, Effect, EventRejected, EventSourced, Json, SequenceNr, Serialization, Tag,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CartState {
    pub items: BTreeMap<String, u32>,
    /// Items in the order they were first added.
    pub order: Vec<String>,
    pub checked_out: bool,
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartError {
    Rejected(String),
    CheckedOut,
    Busy,
}

impl From<EventRejected> for CartError {
    fn from(e: EventRejected) -> Self {
        CartError::Rejected(e.to_string())
    }
}

pub type Reply<T> = ReplyTo<Result<T, CartError>>;

pub enum CartCmd {
    Add(String, u32, Reply<CartState>),
    AddMany(Vec<(String, u32)>, Reply<CartState>),
    Checkout(Reply<CartState>),
    Lock(Reply<()>),
    Unlock(Reply<()>),
    Get(ReplyTo<CartState>),
    Stop,
}

/// Serializing an item named "poison" fails: an event that cannot be
/// stored.
fn item_name<S: serde::Serializer>(item: &str, s: S) -> Result<S::Ok, S::Error> {
    if item == "poison" {
        return Err(serde::ser::Error::custom("poison cannot be serialized"));
    }
    s.serialize_str(item)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CartEvent {
    Added {
        #[serde(serialize_with = "item_name")]
        item: String,
        qty: u32,
    },
    CheckedOut,
    Locked,
    Unlocked,
}

#[derive(Default)]
pub struct Cart {
    /// Where `on_recovery_completed` reports the recovered state.
    pub recovered: Option<Arc<Mutex<Vec<CartState>>>>,
}

pub fn events() -> Serialization<CartEvent> {
    Serialization::new("cart.event.v1", Json)
}

pub fn states() -> Serialization<CartState> {
    Serialization::new("cart.state.v1", Json)
}

impl EventSourced for Cart {
    type Command = CartCmd;
    type Event = CartEvent;
    type State = CartState;

    fn empty_state(&self) -> CartState {
        CartState::default()
    }

    fn on_command(&mut self, state: &CartState, command: CartCmd) -> Effect<Self> {
        if state.locked {
            return match command {
                CartCmd::Unlock(reply) => Effect::persist(CartEvent::Unlocked)
                    .then_reply_result(reply, |_| ())
                    .then_unstash_all(),
                CartCmd::Get(reply) => {
                    let _ = reply.send(state.clone());
                    Effect::none()
                }
                other => Effect::stash(other),
            };
        }
        match command {
            CartCmd::Add(..) | CartCmd::AddMany(..) | CartCmd::Checkout(..)
                if state.checked_out =>
            {
                reject(command, CartError::CheckedOut);
                Effect::none()
            }
            CartCmd::Add(item, qty, reply) => Effect::persist(CartEvent::Added { item, qty })
                .then_reply_result(reply, CartState::clone),
            CartCmd::AddMany(items, reply) => Effect::persist_all(
                items
                    .into_iter()
                    .map(|(item, qty)| CartEvent::Added { item, qty })
                    .collect(),
            )
            .then_reply_result(reply, CartState::clone),
            CartCmd::Checkout(reply) => {
                Effect::persist(CartEvent::CheckedOut).then_reply_result(reply, CartState::clone)
            }
            CartCmd::Lock(reply) => {
                Effect::persist(CartEvent::Locked).then_reply_result(reply, |_| ())
            }
            CartCmd::Unlock(reply) => {
                let _ = reply.send(Ok(()));
                Effect::none()
            }
            CartCmd::Get(reply) => {
                let _ = reply.send(state.clone());
                Effect::none()
            }
            CartCmd::Stop => Effect::stop(),
        }
    }

    fn on_event(&self, state: &mut CartState, event: &CartEvent) {
        match event {
            CartEvent::Added { item, qty } => {
                if !state.items.contains_key(item) {
                    state.order.push(item.clone());
                }
                *state.items.entry(item.clone()).or_default() += qty;
            }
            CartEvent::CheckedOut => state.checked_out = true,
            CartEvent::Locked => state.locked = true,
            CartEvent::Unlocked => state.locked = false,
        }
    }

    fn tags(&self, event: &CartEvent) -> Vec<Tag> {
        match event {
            CartEvent::CheckedOut => Tag::new("checkout").into_iter().collect(),
            _ => Vec::new(),
        }
    }

    fn snapshot_when(&self, _state: &CartState, event: &CartEvent, _nr: SequenceNr) -> bool {
        *event == CartEvent::CheckedOut
    }

    fn on_recovery_completed(&mut self, state: &CartState) {
        if let Some(seen) = &self.recovered {
            seen.lock().unwrap().push(state.clone());
        }
    }

    fn on_command_rejected(&mut self, command: CartCmd, reason: CommandRejected) {
        let CommandRejected::StashFull { .. } = reason else {
            return;
        };
        reject(command, CartError::Busy);
    }
}

fn reject(command: CartCmd, error: CartError) {
    match command {
        CartCmd::Add(_, _, r) | CartCmd::AddMany(_, r) | CartCmd::Checkout(r) => {
            let _ = r.send(Err(error));
        }
        CartCmd::Lock(r) | CartCmd::Unlock(r) => {
            let _ = r.send(Err(error));
        }
        CartCmd::Get(_) | CartCmd::Stop => {}
    }
}
