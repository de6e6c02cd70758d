//! [`Supervisor`]: a parent that spawns one child and reports each of its
//! failures, to test how an entity fails.

use std::time::Duration;

use ferrocast_actor::{
    Actor, ActorError, ActorRef, ActorSystem, ActorSystemConfig, Context, Directive, Failure,
    Props, ReplyTo, SupervisorStrategy,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::recovery::RecoveryError;
use crate::serialization::DecodeError;
use crate::tck::{TckFailure, ok};

/// Describes a failure for the test.
pub type Describe = fn(&Failure) -> String;

/// Spawns `child` on start; on each failure of it sends `describe(failure)`
/// to `report`, then applies `directive`.
pub struct Supervisor<C: Actor> {
    child: Option<Props<C>>,
    child_ref: Option<ActorRef<C::Msg>>,
    directive: Directive,
    report: UnboundedSender<String>,
    describe: Describe,
}

impl<C: Actor> std::fmt::Debug for Supervisor<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("directive", &self.directive)
            .finish_non_exhaustive()
    }
}

impl<C: Actor> Supervisor<C> {
    /// A supervisor of `child`.
    pub fn new(
        child: Props<C>,
        directive: Directive,
        report: UnboundedSender<String>,
        describe: Describe,
    ) -> Self {
        Supervisor {
            child: Some(child),
            child_ref: None,
            directive,
            report,
            describe,
        }
    }
}

/// Asks a [`Supervisor`] for its child (`None` before it started).
#[derive(Debug)]
pub struct GetChild<M: Send + 'static>(pub ReplyTo<Option<ActorRef<M>>>);

impl<C: Actor> Actor for Supervisor<C> {
    type Msg = GetChild<C::Msg>;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        if let Some(props) = self.child.take() {
            self.child_ref = Some(ctx.spawn("child", props)?);
        }
        Ok(())
    }

    async fn handle(&mut self, msg: Self::Msg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let _ = msg.0.send(self.child_ref.clone());
        Ok(())
    }

    fn supervisor_strategy(&self) -> SupervisorStrategy {
        let report = self.report.clone();
        let describe = self.describe;
        let directive = self.directive;
        SupervisorStrategy::restart().with_decider(move |failure| {
            let _ = report.send(describe(failure));
            directive
        })
    }
}

/// Names the typed recovery error a failure carries, as
/// `event <id> <nr> <kind>` or `snapshot <id> <nr> malformed`, so tests
/// compare one string.
pub fn describe_recovery_failure(failure: &Failure) -> String {
    let Failure::Error(e) = failure else {
        return format!("other: {failure}");
    };
    match e.downcast_ref::<RecoveryError>() {
        Some(RecoveryError::Event {
            persistence_id,
            sequence_nr,
            source,
        }) => {
            let kind = match source {
                DecodeError::UnknownSerializer { serializer, .. } => {
                    format!("unknown-serializer-{serializer}")
                }
                DecodeError::Malformed { .. } => "malformed".to_owned(),
                other => format!("{other}"),
            };
            format!("event {persistence_id} {sequence_nr} {kind}")
        }
        Some(RecoveryError::Snapshot {
            persistence_id,
            sequence_nr,
            source: DecodeError::Malformed { .. },
        }) => format!("snapshot {persistence_id} {sequence_nr} malformed"),
        Some(other) => format!("recovery: {other}"),
        None => format!("error: {e}"),
    }
}

/// Where [`first_failure`] leaves a failed child: the description of its
/// first failure, the child (stopped: `Directive::Stop`) and the system,
/// to terminate.
#[derive(Debug)]
pub struct FailedChild<M: Send + 'static> {
    /// `describe` of the first failure.
    pub failure: String,
    /// The child, which was stopped.
    pub child: ActorRef<M>,
    /// The system it ran in.
    pub system: ActorSystem,
}

/// Runs `child()` under a [`Supervisor`] that stops it on failure, in a
/// new actor system, and waits (up to `timeout`) for its first failure.
pub async fn first_failure<C, F>(
    child: F,
    describe: Describe,
    timeout: Duration,
) -> Result<FailedChild<C::Msg>, TckFailure>
where
    C: Actor,
    F: Fn() -> Props<C> + Send + 'static,
{
    const CHECK: &str = "first_failure";
    let system = ok(
        ActorSystem::new("first-failure", ActorSystemConfig::default()),
        CHECK,
        "actor system",
    )?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = ok(
        system.spawn("sup", move || {
            Supervisor::new(child(), Directive::Stop, tx.clone(), describe)
        }),
        CHECK,
        "spawn",
    )?;
    let failure = ok(
        tokio::time::timeout(timeout, rx.recv()).await,
        CHECK,
        "waiting for a failure",
    )?;
    let child = ok(sup.ask(GetChild, timeout).await, CHECK, "get child")?;
    match (failure, child) {
        (Some(failure), Some(child)) => Ok(FailedChild {
            failure,
            child,
            system,
        }),
        _ => Err(TckFailure {
            check: CHECK,
            message: "the supervisor stopped without a child or a report".to_owned(),
        }),
    }
}
