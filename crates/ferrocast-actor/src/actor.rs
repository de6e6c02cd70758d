//! The [`Actor`] trait, the error a handler returns, and [`Props`].

use std::fmt;
use std::future::Future;

use crate::context::Context;
use crate::mailbox::MailboxConfig;
use crate::supervision::SupervisorStrategy;
use crate::target::AnyRef;

/// A typed actor: state behind a mailbox, handling one message at a time.
///
/// Handlers get `&mut self` and the actor's [`Context`]; they are `async`,
/// and the next message is not taken until the current handler returns. A
/// handler that returns an error or panics *fails* the actor: its parent's
/// [`SupervisorStrategy`] decides whether it resumes, restarts (a fresh
/// instance from its [`Props`] factory), stops, or escalates.
///
/// ```
/// use ferrocast_actor::{Actor, ActorError, Context, ReplyTo};
///
/// #[derive(Default)]
/// struct Counter { count: u64 }
///
/// enum CounterMsg { Add(u64), Get(ReplyTo<u64>) }
///
/// impl Actor for Counter {
///     type Msg = CounterMsg;
///
///     async fn handle(&mut self, msg: CounterMsg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
///         match msg {
///             CounterMsg::Add(n) => self.count += n,
///             CounterMsg::Get(reply) => { let _ = reply.send(self.count); }
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Actor: Send + Sized + 'static {
    /// The protocol: the one message type this actor accepts.
    type Msg: Send + 'static;

    /// Runs before the first message, on every (re)start.
    fn started(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ActorError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Handles one message.
    fn handle(
        &mut self,
        msg: Self::Msg,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ActorError>> + Send;

    /// Runs when the actor stops, after its children have stopped, and on
    /// the old instance before a restart.
    fn stopped(&mut self, ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// A watched actor stopped (see [`Context::watch`]). The default fails
    /// this actor with a death-pact error, as in Akka: an actor that watches
    /// another and does not handle its termination should not go on as if
    /// nothing happened.
    fn terminated(
        &mut self,
        actor: AnyRef,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ActorError>> + Send {
        let _ = ctx;
        async move {
            Err(ActorError::msg(format!(
                "death pact: watched actor {actor} terminated"
            )))
        }
    }

    /// How this actor supervises its children. Asked each time a child fails.
    fn supervisor_strategy(&self) -> SupervisorStrategy {
        SupervisorStrategy::default()
    }
}

/// The error a failed handler returns. Any `std::error::Error` converts
/// into it with `?`; [`ActorError::msg`] makes one from text.
pub struct ActorError {
    inner: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl ActorError {
    /// An error with a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        ActorError {
            inner: message.to_string().into(),
        }
    }

    /// The underlying error, if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.inner.downcast_ref::<E>()
    }

    /// The underlying error.
    pub fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.inner
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for ActorError {
    fn from(e: E) -> Self {
        ActorError { inner: Box::new(e) }
    }
}

impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl fmt::Debug for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// How to create (and re-create on restart) an actor, and its mailbox.
///
/// Any `FnMut() -> A` converts into `Props`, so `system.spawn("name", ||
/// Counter::default())` works; use [`Props::new`] to set options.
pub struct Props<A> {
    pub(crate) factory: Box<dyn FnMut() -> A + Send>,
    pub(crate) mailbox: Option<MailboxConfig>,
    pub(crate) stash_capacity: Option<usize>,
}

impl<A: Actor> Props<A> {
    /// Props from a factory; the factory runs on the actor's first turn and
    /// again on every restart.
    pub fn new(factory: impl FnMut() -> A + Send + 'static) -> Self {
        Props {
            factory: Box::new(factory),
            mailbox: None,
            stash_capacity: None,
        }
    }

    /// Uses this mailbox instead of the system's default.
    pub fn with_mailbox(mut self, mailbox: MailboxConfig) -> Self {
        self.mailbox = Some(mailbox);
        self
    }

    /// Bounds the stash (default: the system's `stash_capacity`).
    pub fn with_stash_capacity(mut self, capacity: usize) -> Self {
        self.stash_capacity = Some(capacity);
        self
    }
}

impl<A: Actor, F: FnMut() -> A + Send + 'static> From<F> for Props<A> {
    fn from(factory: F) -> Self {
        Props::new(factory)
    }
}

impl<A> fmt::Debug for Props<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Props")
            .field("actor", &std::any::type_name::<A>())
            .field("mailbox", &self.mailbox)
            .finish()
    }
}
