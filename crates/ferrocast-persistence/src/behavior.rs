//! [`EventSourced`]: the trait an event-sourced entity implements.

use crate::effect::Effect;
use crate::ids::{SequenceNr, Tag};

/// Why a command was given back without being handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandRejected {
    /// [`Effect::stash`] found the stash full.
    #[error("stash full ({capacity} commands)")]
    StashFull {
        /// The stash's bound.
        capacity: usize,
    },
}

/// An event-sourced entity: commands in, events persisted, state folded from
/// events (Akka's `EventSourcedBehavior`).
///
/// The state lives in memory; every change is an event in the journal. On
/// start (and restart, and when the entity moves to another node) the state
/// is rebuilt from the latest snapshot and the events after it. Run it with
/// [`EventSourcedActor`](crate::EventSourcedActor).
///
/// ```
/// use ferrocast_actor::ReplyTo;
/// use ferrocast_persistence::{Effect, EventSourced};
///
/// #[derive(Default)]
/// struct Counter;
/// enum Cmd { Add(u64, ReplyTo<u64>), Get(ReplyTo<u64>) }
/// struct Added(u64);
///
/// impl EventSourced for Counter {
///     type Command = Cmd;
///     type Event = Added;
///     type State = u64;
///
///     fn empty_state(&self) -> u64 { 0 }
///
///     fn on_command(&mut self, state: &u64, cmd: Cmd) -> Effect<Self> {
///         match cmd {
///             Cmd::Add(n, reply) => Effect::persist(Added(n)).then_reply(reply, |s| *s),
///             Cmd::Get(reply) => { let _ = reply.send(*state); Effect::none() }
///         }
///     }
///
///     fn on_event(&self, state: &mut u64, event: &Added) { *state += event.0 }
/// }
/// ```
pub trait EventSourced: Send + Sized + 'static {
    /// The protocol: messages the entity accepts.
    type Command: Send + 'static;
    /// What happened: stored in the journal, folded into the state.
    type Event: Send + 'static;
    /// The in-memory state.
    type State: Send + 'static;

    /// The state before any event.
    fn empty_state(&self) -> Self::State;

    /// Decides what a command does. Must not change the state: only events
    /// (through [`on_event`](EventSourced::on_event)) do.
    fn on_command(&mut self, state: &Self::State, command: Self::Command) -> Effect<Self>;

    /// Folds one event into the state. Runs for new events after they are
    /// stored and for old ones during recovery, so it must be deterministic
    /// and must not have side effects.
    fn on_event(&self, state: &mut Self::State, event: &Self::Event);

    /// Tags stored with `event`, for queries by tag. None by default.
    fn tags(&self, event: &Self::Event) -> Vec<Tag> {
        let _ = event;
        Vec::new()
    }

    /// Asked after each new event is applied: true takes a snapshot once the
    /// batch is applied (in addition to the every-N policy).
    fn snapshot_when(
        &self,
        state: &Self::State,
        event: &Self::Event,
        sequence_nr: SequenceNr,
    ) -> bool {
        let _ = (state, event, sequence_nr);
        false
    }

    /// Recovery finished; `state` is the recovered state. Runs before the
    /// first command is handled, on every (re)start.
    fn on_recovery_completed(&mut self, state: &Self::State) {
        let _ = state;
    }

    /// A command is given back without being handled (see
    /// [`CommandRejected`]). Answer its sender with a typed error here; the
    /// default drops it, so an asker fails fast with `AskError::NoReply`.
    fn on_command_rejected(&mut self, command: Self::Command, reason: CommandRejected) {
        tracing::debug!(%reason, "command rejected");
        drop(command);
    }
}
