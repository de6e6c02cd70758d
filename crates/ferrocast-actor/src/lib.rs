//! Typed actors for Ferrocast.
//!
//! An [`Actor`] owns its state and handles one message at a time from a
//! bounded mailbox. Actors live in an [`ActorSystem`], form a hierarchy
//! (parents supervise children and outlive them), watch each other, run
//! timers, stash, and talk through typed [`ActorRef`]s whose semantics are
//! the same for local and (with ferrocast-remote) remote actors.
//!
//! ```
//! use std::time::Duration;
//! use ferrocast_actor::{Actor, ActorError, ActorSystem, ActorSystemConfig, Context, ReplyTo};
//!
//! #[derive(Default)]
//! struct Counter { count: u64 }
//!
//! enum CounterMsg { Add(u64), Get(ReplyTo<u64>) }
//!
//! impl Actor for Counter {
//!     type Msg = CounterMsg;
//!     async fn handle(&mut self, msg: CounterMsg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
//!         match msg {
//!             CounterMsg::Add(n) => self.count += n,
//!             CounterMsg::Get(reply) => { let _ = reply.send(self.count); }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let system = ActorSystem::new("example", ActorSystemConfig::default())?;
//! let counter = system.spawn("counter", Counter::default)?;
//! counter.tell(CounterMsg::Add(2));
//! counter.tell(CounterMsg::Add(3));
//! let total = counter.ask(CounterMsg::Get, Duration::from_secs(1)).await?;
//! assert_eq!(total, 5);
//! system.terminate().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`actor`](Actor): the trait, [`ActorError`], [`Props`].
//! - `actor_ref`: [`ActorRef`], `tell`/`try_tell`/`send`/`ask` and their errors.
//! - `target`: the contract behind references ([`ActorTarget`],
//!   [`MessageTarget`], [`SystemMessage`], [`AnyRef`]) that probes and
//!   remote references implement.
//! - `cell`: mailbox, lifecycle and the turn that runs handlers (the
//!   scheduling model is described there).
//! - `context`: [`Context`]: children, watch, timers, stash, adapters, pipe.
//! - `harness`: [`SyncHarness`]: drives one actor's handlers by hand,
//!   without a runtime (re-exported by ferrocast-testkit).
//! - `supervision`: [`SupervisorStrategy`], [`Directive`], [`Backoff`].
//! - `mailbox`: [`MailboxConfig`], [`OverflowPolicy`].
//! - `system`: [`ActorSystem`]; `config`: [`ActorSystemConfig`];
//!   `dispatch`: running turns, inline starts, lingering turns;
//!   `deadline`: [`AskTimer`], the per-system ask deadline keeper.
//! - `shutdown`: [`CoordinatedShutdown`]; `dead_letters`: [`DeadLetter`];
//!   `event_stream`: [`EventStream`]; `receptionist`: [`Receptionist`];
//!   `watchers`: [`Watchers`], death watch for custom targets.
//! - [`transport`]: the hooks through which ferrocast-remote carries
//!   `ActorRef`s and `ReplyTo`s inside serialized messages (their serde
//!   impls are behind the `serde` feature).
//!
//! Semantics (ordering, delivery, supervision) are in
//! `docs/actors/semantics.md`; the mechanism (turns, lingering, the ask
//! deadline keeper, memory layout) in `docs/actors/algorithm.md`.

mod actor;
mod actor_ref;
mod adapter;
mod cell;
mod config;
mod context;
mod dead_letters;
mod deadline;
mod dispatch;
mod event_stream;
mod harness;
mod mailbox;
mod path;
mod receptionist;
mod reply;
mod shutdown;
mod supervision;
mod system;
mod target;
mod timers;
pub mod transport;
mod watchers;

pub use actor::{Actor, ActorError, Props};
pub use actor_ref::{ActorRef, AskError, SendError, TrySendError};
pub use cell::SpawnError;
pub use config::{
    ActorSystemConfig, ConfigError, DeadLettersConfig, ENV_PREFIX, ShutdownConfig,
    SupervisionConfig,
};
pub use context::{Context, StashFull};
pub use dead_letters::{DeadLetter, DeadLetterReason};
pub use deadline::AskTimer;
pub use event_stream::{ActorFailed, EventStream};
pub use harness::{HarnessError, SyncHarness};
pub use mailbox::{MailboxConfig, OverflowPolicy};
pub use path::{ActorPath, InvalidName};
pub use receptionist::{Listing, Receptionist, ServiceKey};
pub use reply::{ReplySink, ReplyTo};
pub use shutdown::{CoordinatedShutdown, PHASES, ShutdownError, ShutdownReason};
pub use supervision::{Backoff, Directive, Failure, SupervisorStrategy};
pub use system::{ActorSystem, SystemError};
pub use target::{ActorTarget, ActorUid, AnyRef, MessageTarget, SystemMessage};
pub use timers::TimerKey;
pub use watchers::Watchers;
