//! A parent that spawns one child and reports each of its failures.

use ferrocast_actor::{
    Actor, ActorError, ActorRef, Context, Directive, Failure, Props, ReplyTo, SupervisorStrategy,
};
use tokio::sync::mpsc::UnboundedSender;

/// Describes a failure for the test (`None`: not interesting).
pub type Describe = fn(&Failure) -> String;

pub struct Supervisor<C: Actor> {
    child: Option<Props<C>>,
    child_ref: Option<ActorRef<C::Msg>>,
    directive: Directive,
    report: UnboundedSender<String>,
    describe: Describe,
}

impl<C: Actor> Supervisor<C> {
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
