//! [`Effect`]: what a command handler decides, and what runs after it.

use std::fmt;
use std::sync::Arc;

use ferrocast_actor::ReplyTo;

use crate::behavior::EventSourced;
use crate::serialization::SerializeError;

/// Events of an effect were rejected before reaching the journal; none of
/// the effect's events were stored and the actor goes on.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EventRejected {
    /// Event number `index` (0-based, in the effect) cannot be serialized.
    #[error("event {index} of the batch cannot be serialized: {source}")]
    Serialize {
        /// Which event of the batch.
        index: usize,
        /// Why.
        #[source]
        source: Arc<SerializeError>,
    },
}

/// What runs after an effect: on success with the new state, on rejection
/// with the reason. Exactly one of the two runs, at most once.
pub(crate) trait Callback<S>: Send {
    fn done(self: Box<Self>, state: &S);
    fn rejected(self: Box<Self>, reason: EventRejected);
}

struct Then<F>(F);

impl<S, F: FnOnce(&S) + Send> Callback<S> for Then<F> {
    fn done(self: Box<Self>, state: &S) {
        (self.0)(state)
    }
    fn rejected(self: Box<Self>, _reason: EventRejected) {}
}

struct OnRejected<F>(F);

impl<S, F: FnOnce(EventRejected) + Send> Callback<S> for OnRejected<F> {
    fn done(self: Box<Self>, _state: &S) {}
    fn rejected(self: Box<Self>, reason: EventRejected) {
        (self.0)(reason)
    }
}

struct ReplyResult<R, E, F> {
    reply: ReplyTo<Result<R, E>>,
    make: F,
}

impl<S, R, E, F> Callback<S> for ReplyResult<R, E, F>
where
    R: Send,
    E: From<EventRejected> + Send,
    F: FnOnce(&S) -> R + Send,
{
    fn done(self: Box<Self>, state: &S) {
        // The asker may have given up; that is normal.
        let _ = self.reply.send(Ok((self.make)(state)));
    }
    fn rejected(self: Box<Self>, reason: EventRejected) {
        let _ = self.reply.send(Err(E::from(reason)));
    }
}

pub(crate) enum Action<B: EventSourced> {
    Nothing,
    Persist(Vec<B::Event>),
    Unhandled,
    Stash(B::Command),
    Stop,
}

/// The outcome of a command: an action (persist events, nothing, unhandled,
/// stash, stop) and the side effects that follow it.
///
/// Side effects ([`then`](Effect::then), [`then_reply`](Effect::then_reply),
/// ...) run in order after the events are stored and applied, with the new
/// state. If the events are rejected (they cannot be serialized), the
/// rejection callbacks run instead. If the journal fails, none run and the
/// actor fails (repliers see their `ReplyTo` dropped).
pub struct Effect<B: EventSourced> {
    pub(crate) action: Action<B>,
    pub(crate) callbacks: Vec<Box<dyn Callback<B::State>>>,
    pub(crate) stop: bool,
    pub(crate) unstash: bool,
}

impl<B: EventSourced> Effect<B> {
    fn with(action: Action<B>) -> Self {
        Effect {
            action,
            callbacks: Vec::new(),
            stop: false,
            unstash: false,
        }
    }

    /// Persists one event, then applies it.
    pub fn persist(event: B::Event) -> Self {
        Self::with(Action::Persist(vec![event]))
    }

    /// Persists several events atomically (all or none), then applies them.
    /// An empty list is [`Effect::none`].
    pub fn persist_all(events: Vec<B::Event>) -> Self {
        if events.is_empty() {
            return Self::none();
        }
        Self::with(Action::Persist(events))
    }

    /// Persists nothing; side effects run at once.
    pub fn none() -> Self {
        Self::with(Action::Nothing)
    }

    /// The command is not for this state; it is logged and dropped.
    pub fn unhandled() -> Self {
        Self::with(Action::Unhandled)
    }

    /// Keeps `command` in the actor's stash until an effect with
    /// [`then_unstash_all`](Effect::then_unstash_all). A full stash hands the
    /// command to [`EventSourced::on_command_rejected`].
    pub fn stash(command: B::Command) -> Self {
        Self::with(Action::Stash(command))
    }

    /// Stops the actor after the side effects.
    pub fn stop() -> Self {
        Self::with(Action::Stop)
    }

    /// Runs `f` with the new state.
    pub fn then(mut self, f: impl FnOnce(&B::State) + Send + 'static) -> Self {
        self.callbacks.push(Box::new(Then(f)));
        self
    }

    /// Replies `make(new state)` to `reply`. On rejection `reply` is dropped,
    /// so an asker fails fast with `AskError::NoReply`.
    pub fn then_reply<R: Send + 'static>(
        self,
        reply: ReplyTo<R>,
        make: impl FnOnce(&B::State) -> R + Send + 'static,
    ) -> Self {
        self.then(move |state| {
            let _ = reply.send(make(state));
        })
    }

    /// Replies `Ok(make(new state))`, or `Err(rejection.into())` when the
    /// events were rejected: a typed answer either way.
    pub fn then_reply_result<R, E>(
        mut self,
        reply: ReplyTo<Result<R, E>>,
        make: impl FnOnce(&B::State) -> R + Send + 'static,
    ) -> Self
    where
        R: Send + 'static,
        E: From<EventRejected> + Send + 'static,
    {
        self.callbacks.push(Box::new(ReplyResult { reply, make }));
        self
    }

    /// Runs `f` if the events are rejected (instead of the side effects).
    pub fn on_rejected(mut self, f: impl FnOnce(EventRejected) + Send + 'static) -> Self {
        self.callbacks.push(Box::new(OnRejected(f)));
        self
    }

    /// Stops the actor once the side effects ran.
    pub fn then_stop(mut self) -> Self {
        self.stop = true;
        self
    }

    /// Handles every stashed command (in order) before the next mailbox
    /// message.
    pub fn then_unstash_all(mut self) -> Self {
        self.unstash = true;
        self
    }
}

impl<B: EventSourced> fmt::Debug for Effect<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match &self.action {
            Action::Nothing => "none".to_owned(),
            Action::Persist(events) => format!("persist({})", events.len()),
            Action::Unhandled => "unhandled".to_owned(),
            Action::Stash(_) => "stash".to_owned(),
            Action::Stop => "stop".to_owned(),
        };
        f.debug_struct("Effect")
            .field("action", &action)
            .field("side_effects", &self.callbacks.len())
            .field("then_stop", &self.stop)
            .field("then_unstash_all", &self.unstash)
            .finish()
    }
}
