//! Message adapters: a reference of one message type feeding an actor of
//! another.

use std::sync::Arc;
use std::task::{Context, Poll};

use crate::actor_ref::{ActorRef, SendError, TrySendError};
use crate::deadline::AskTimer;
use crate::path::ActorPath;
use crate::target::{ActorTarget, ActorUid, MessageTarget, SystemMessage};

pub(crate) struct Adapter<N, M> {
    target: ActorRef<M>,
    map: Box<dyn Fn(N) -> M + Send + Sync>,
}

impl<N: Send + 'static, M: Send + 'static> Adapter<N, M> {
    pub(crate) fn new_ref(
        target: ActorRef<M>,
        map: impl Fn(N) -> M + Send + Sync + 'static,
    ) -> ActorRef<N> {
        ActorRef::from_target(Arc::new(Adapter {
            target,
            map: Box::new(map),
        }))
    }
}

/// An adapter has the identity of the actor it feeds: watching it watches
/// that actor.
impl<N: Send + 'static, M: Send + 'static> ActorTarget for Adapter<N, M> {
    fn uid(&self) -> ActorUid {
        self.target.uid()
    }

    fn path(&self) -> ActorPath {
        self.target.path()
    }

    fn send_system(&self, msg: SystemMessage) {
        self.target.target.send_system(msg)
    }

    fn is_terminated(&self) -> bool {
        self.target.is_terminated()
    }

    fn ask_timer(&self) -> Option<&AskTimer> {
        self.target.target.ask_timer()
    }
}

impl<N: Send + 'static, M: Send + 'static> MessageTarget<N> for Adapter<N, M> {
    fn tell(&self, msg: N) {
        self.target.tell((self.map)(msg))
    }

    fn try_tell(&self, msg: N) -> Result<(), TrySendError<N>> {
        if self.target.is_terminated() {
            return Err(TrySendError::Closed(msg));
        }
        self.target.tell((self.map)(msg));
        Ok(())
    }

    fn poll_send(
        &self,
        slot: &mut Option<N>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<N>>> {
        let Some(msg) = slot.take() else {
            return Poll::Ready(Ok(()));
        };
        Poll::Ready(
            self.try_tell(msg)
                .map_err(|e| SendError::Closed(e.into_inner())),
        )
    }
}
