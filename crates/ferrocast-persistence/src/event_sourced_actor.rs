//! [`EventSourcedActor`]: runs an [`EventSourced`] behavior as an actor.
//!
//! The actor recovers in `started`, then handles one command at a time. A
//! persist is awaited inside the command's handler, so commands that arrive
//! during recovery or while a write is in flight wait, in order, in the
//! actor's bounded mailbox: that mailbox is the stash of Akka's persistent
//! actors, with its bound and its typed overflow (`try_tell` and `send` give
//! the command back, `ask` fails with `MailboxFull` or times out). Waiting
//! there, rather than in a second queue fed by a completion message, means
//! no completion can be lost to a full mailbox's overflow policy.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ferrocast_actor::{Actor, ActorError, Context, Props};

use crate::behavior::{CommandRejected, EventSourced};
use crate::effect::{Action, Callback, Effect, EventRejected};
use crate::ids::{PersistenceId, SequenceNr, WriterId};
use crate::journal::{Journal, JournalError};
use crate::recovery::recover;
use crate::repr::PersistentRepr;
use crate::setup::EventSourcedSetup;
use crate::snapshot_store::{Snapshot, SnapshotMetadata, SnapshotStore};

/// A persist failed in the journal; the actor fails with this error and its
/// supervisor decides (by default: restart with backoff, which recovers
/// from what was actually stored).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistFailed {
    /// The journal rejected or failed the write (a
    /// [`JournalError::SequenceConflict`] means another writer exists).
    #[error("persisting events {from}.. of {persistence_id} failed: {source}")]
    Journal {
        /// Whose log.
        persistence_id: PersistenceId,
        /// The first sequence number of the batch.
        from: SequenceNr,
        /// Why.
        #[source]
        source: JournalError,
    },
    /// The journal did not answer in time; the batch may or may not be
    /// stored.
    #[error("persisting events {from}.. of {persistence_id} timed out after {after:?}")]
    Timeout {
        /// Whose log.
        persistence_id: PersistenceId,
        /// The first sequence number of the batch.
        from: SequenceNr,
        /// The configured bound.
        after: Duration,
    },
}

/// The actor that runs an [`EventSourced`] behavior against a journal and a
/// snapshot store. Its protocol is the behavior's `Command`.
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use ferrocast_actor::{ActorSystem, ActorSystemConfig, ReplyTo};
/// # use ferrocast_persistence::*;
/// # #[derive(Default)] struct Counter;
/// # enum Cmd { Add(u64, ReplyTo<u64>) }
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Added(u64);
/// # impl EventSourced for Counter {
/// #     type Command = Cmd; type Event = Added; type State = u64;
/// #     fn empty_state(&self) -> u64 { 0 }
/// #     fn on_command(&mut self, _s: &u64, cmd: Cmd) -> Effect<Self> {
/// #         let Cmd::Add(n, reply) = cmd; Effect::persist(Added(n)).then_reply(reply, |s| *s)
/// #     }
/// #     fn on_event(&self, s: &mut u64, e: &Added) { *s += e.0 }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let system = ActorSystem::new("example", ActorSystemConfig::default())?;
/// let journal = Arc::new(InMemoryJournal::default());
/// let setup = EventSourcedSetup::<Counter, _>::new(
///     PersistenceId::new("counter-1")?,
///     journal.clone(),
///     Serialization::new("counter.added.v1", Json),
/// );
/// let counter = system.spawn("counter-1", EventSourcedActor::props(setup.clone(), Counter::default))?;
/// assert_eq!(counter.ask(|r| Cmd::Add(2, r), Duration::from_secs(1)).await?, 2);
/// system.stop(&counter);
/// # system.terminate().await;
/// // Same persistence id, same journal: the state comes back.
/// let system = ActorSystem::new("example", ActorSystemConfig::default())?;
/// let again = system.spawn("counter-1", EventSourcedActor::props(setup, Counter::default))?;
/// assert_eq!(again.ask(|r| Cmd::Add(3, r), Duration::from_secs(1)).await?, 5);
/// # system.terminate().await;
/// # Ok(()) }
/// ```
pub struct EventSourcedActor<B: EventSourced, J, S> {
    behavior: B,
    state: B::State,
    setup: EventSourcedSetup<B, J, S>,
    /// The last event stored and applied.
    sequence_nr: SequenceNr,
    /// This incarnation's identity in the journal, set in `started` (no
    /// command is handled before).
    writer: WriterId,
    /// Sequence numbers of the snapshots known to exist, oldest first (at
    /// most `keep`): retention deletes everything below the oldest.
    snapshots: VecDeque<SequenceNr>,
}

impl<B, J, S> EventSourcedActor<B, J, S>
where
    B: EventSourced,
    J: Journal,
    S: SnapshotStore,
{
    /// An actor running `behavior` against `setup`'s stores. It recovers
    /// when it starts; [`props`](Self::props) is the usual way to spawn it.
    pub fn new(setup: EventSourcedSetup<B, J, S>, behavior: B) -> Self {
        let state = behavior.empty_state();
        EventSourcedActor {
            behavior,
            state,
            setup,
            sequence_nr: SequenceNr::ZERO,
            writer: WriterId::placeholder(),
            snapshots: VecDeque::new(),
        }
    }

    /// Props that build the actor from `setup` and a behavior from `make`,
    /// again on every restart (which recovers from the stores).
    pub fn props(
        setup: EventSourcedSetup<B, J, S>,
        mut make: impl FnMut() -> B + Send + 'static,
    ) -> Props<Self> {
        Props::new(move || Self::new(setup.clone(), make()))
    }

    /// The current state (for tests and harnesses).
    pub fn state(&self) -> &B::State {
        &self.state
    }

    /// The last stored sequence number.
    pub fn sequence_nr(&self) -> SequenceNr {
        self.sequence_nr
    }

    async fn persist(
        &mut self,
        events: Vec<B::Event>,
        callbacks: Vec<Box<dyn Callback<B::State>>>,
    ) -> Result<(), PersistFailed> {
        let setup = &self.setup;
        let pid = &setup.persistence_id;
        let writer = self.writer.clone();
        let from = self.sequence_nr.next();
        let mut batch = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let payload = match setup.events.encode(event) {
                Ok(p) => p,
                Err(e) => {
                    let reason = EventRejected::Serialize {
                        index,
                        source: Arc::new(e),
                    };
                    tracing::warn!(persistence_id = %pid, %reason, "events rejected");
                    for cb in callbacks {
                        cb.rejected(reason.clone());
                    }
                    return Ok(());
                }
            };
            batch.push(PersistentRepr {
                persistence_id: pid.clone(),
                sequence_nr: from.plus(index as u64),
                payload,
                tags: self.behavior.tags(event),
                timestamp: (setup.clock)(),
                writer: writer.clone(),
            });
        }
        let after = setup.config.write_timeout;
        match tokio::time::timeout(after, setup.journal.write(batch)).await {
            Ok(Ok(())) => {}
            Ok(Err(source)) => {
                return Err(PersistFailed::Journal {
                    persistence_id: pid.clone(),
                    from,
                    source,
                });
            }
            Err(_) => {
                return Err(PersistFailed::Timeout {
                    persistence_id: pid.clone(),
                    from,
                    after,
                });
            }
        }
        let mut snapshot_due = false;
        for (i, event) in events.iter().enumerate() {
            let nr = from.plus(i as u64);
            self.behavior.on_event(&mut self.state, event);
            snapshot_due |= self.behavior.snapshot_when(&self.state, event, nr);
        }
        let last = from.plus((events.len() as u64).saturating_sub(1));
        self.sequence_nr = last;
        if let Some(n) = self.setup.config.snapshots.every {
            snapshot_due |= from.prev().value() / n.get() != last.value() / n.get();
        }
        for cb in callbacks {
            cb.done(&self.state);
        }
        if snapshot_due {
            self.snapshot().await;
        }
        Ok(())
    }

    /// Saves the current state and applies retention. Failures are logged:
    /// the events are stored, so a lost snapshot only makes recovery longer.
    async fn snapshot(&mut self) {
        let Some(states) = &self.setup.states else {
            return;
        };
        let pid = self.setup.persistence_id.clone();
        let at = self.sequence_nr;
        let payload = match states.encode(&self.state) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(persistence_id = %pid, sequence_nr = %at, error = %e, "cannot serialize snapshot");
                return;
            }
        };
        let snapshot = Snapshot {
            metadata: SnapshotMetadata {
                persistence_id: pid.clone(),
                sequence_nr: at,
                timestamp: (self.setup.clock)(),
            },
            payload,
        };
        let after = self.setup.config.write_timeout;
        let store = self.setup.snapshots.clone();
        match tokio::time::timeout(after, store.save(snapshot)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(persistence_id = %pid, sequence_nr = %at, error = %e, "snapshot failed");
                return;
            }
            Err(_) => {
                tracing::warn!(persistence_id = %pid, sequence_nr = %at, "snapshot timed out");
                return;
            }
        }
        self.snapshots.push_back(at);
        let policy = self.setup.config.snapshots;
        while self.snapshots.len() > policy.keep.get() {
            self.snapshots.pop_front();
        }
        let Some(&oldest) = self.snapshots.front() else {
            return;
        };
        if self.snapshots.len() == policy.keep.get() {
            if let Err(e) = store.delete_up_to(&pid, oldest.prev()).await {
                tracing::warn!(persistence_id = %pid, error = %e, "deleting old snapshots failed");
            }
        }
        if policy.delete_events {
            let journal = self.setup.journal.clone();
            if let Err(e) = journal.delete_up_to(&pid, oldest).await {
                tracing::warn!(persistence_id = %pid, error = %e, "deleting old events failed");
            }
        }
    }

    fn run_effect_now(&mut self, effect_callbacks: Vec<Box<dyn Callback<B::State>>>) {
        for cb in effect_callbacks {
            cb.done(&self.state);
        }
    }
}

impl<B, J, S> Actor for EventSourcedActor<B, J, S>
where
    B: EventSourced,
    J: Journal,
    S: SnapshotStore,
{
    type Msg = B::Command;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let uid = ctx.myself().uid();
        self.writer = WriterId::new(&format!("{:x}-{}", uid.system, uid.actor))?;
        let mut state = self.behavior.empty_state();
        let recovered = recover(&self.setup, &mut self.behavior, &mut state).await?;
        self.state = state;
        self.sequence_nr = recovered.sequence_nr;
        self.snapshots = recovered.snapshot.into_iter().collect();
        tracing::debug!(
            persistence_id = %self.setup.persistence_id,
            sequence_nr = %self.sequence_nr,
            "recovered"
        );
        self.behavior.on_recovery_completed(&self.state);
        Ok(())
    }

    async fn handle(
        &mut self,
        command: B::Command,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        let Effect {
            action,
            callbacks,
            stop,
            unstash,
        } = self.behavior.on_command(&self.state, command);
        match action {
            Action::Persist(events) => self.persist(events, callbacks).await?,
            Action::Nothing => self.run_effect_now(callbacks),
            Action::Unhandled => {
                tracing::debug!(persistence_id = %self.setup.persistence_id, "unhandled command");
                self.run_effect_now(callbacks);
            }
            Action::Stash(command) => {
                if let Err(full) = ctx.stash(command) {
                    let reason = CommandRejected::StashFull {
                        capacity: full.capacity,
                    };
                    self.behavior.on_command_rejected(full.msg, reason);
                }
                self.run_effect_now(callbacks);
            }
            Action::Stop => {
                self.run_effect_now(callbacks);
                ctx.stop();
            }
        }
        if unstash {
            ctx.unstash_all();
        }
        if stop {
            ctx.stop();
        }
        Ok(())
    }
}

impl<B: EventSourced, J, S> fmt::Debug for EventSourcedActor<B, J, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSourcedActor")
            .field("persistence_id", &self.setup.persistence_id)
            .field("sequence_nr", &self.sequence_nr)
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}
