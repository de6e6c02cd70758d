//! What a probe's references point at: an unbounded channel into the probe,
//! plus the probe's side of death watch.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};

use ferrocast_actor::{
    ActorPath, ActorTarget, ActorUid, AnyRef, MessageTarget, SendError, SystemMessage,
    TrySendError, Watchers,
};
use tokio::sync::mpsc;

pub(crate) struct ProbeTarget<M> {
    uid: ActorUid,
    path: ActorPath,
    /// Lets the target name itself in the terminations it sends.
    this: Weak<ProbeTarget<M>>,
    messages: mpsc::UnboundedSender<M>,
    terminations: mpsc::UnboundedSender<AnyRef>,
    /// Actors the probe watches; a termination of any other is dropped, so
    /// one already on its way after an unwatch is not reported.
    watching: Mutex<HashSet<ActorUid>>,
    /// Actors watching the probe, told when it is dropped.
    watchers: Watchers,
}

/// The probe's ends of the channels.
pub(crate) struct Receivers<M> {
    pub(crate) messages: mpsc::UnboundedReceiver<M>,
    pub(crate) terminations: mpsc::UnboundedReceiver<AnyRef>,
}

impl<M: Send + 'static> ProbeTarget<M> {
    pub(crate) fn new(uid: ActorUid, path: ActorPath) -> (Arc<Self>, Receivers<M>) {
        let (messages, message_rx) = mpsc::unbounded_channel();
        let (terminations, termination_rx) = mpsc::unbounded_channel();
        let target = Arc::new_cyclic(|this| ProbeTarget {
            uid,
            path,
            this: this.clone(),
            messages,
            terminations,
            watching: Mutex::new(HashSet::new()),
            watchers: Watchers::default(),
        });
        let receivers = Receivers {
            messages: message_rx,
            terminations: termination_rx,
        };
        (target, receivers)
    }

    fn any_ref(&self) -> Option<AnyRef> {
        let this: Arc<dyn ActorTarget> = self.this.upgrade()?;
        Some(AnyRef::from_target(this))
    }

    fn watching(&self) -> MutexGuard<'_, HashSet<ActorUid>> {
        self.watching.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn start_watching(&self, target: &AnyRef) {
        self.watching().insert(target.uid());
    }

    pub(crate) fn stop_watching(&self, target: &AnyRef) {
        self.watching().remove(&target.uid());
    }

    /// The probe is gone: tells its watchers, as a stopping actor does.
    pub(crate) fn terminate(&self) {
        self.watchers.terminate(|| self.any_ref());
    }
}

impl<M: Send + 'static> ActorTarget for ProbeTarget<M> {
    fn uid(&self) -> ActorUid {
        self.uid
    }

    fn path(&self) -> ActorPath {
        self.path.clone()
    }

    fn send_system(&self, msg: SystemMessage) {
        match self.watchers.handle(msg, || self.any_ref()) {
            Some(SystemMessage::Terminated { actor }) if self.watching().remove(&actor.uid()) => {
                // The probe may be gone; then nobody is waiting.
                let _ = self.terminations.send(actor);
            }
            // A probe is nobody's parent and has no lifecycle to drive.
            _ => {}
        }
    }

    fn is_terminated(&self) -> bool {
        self.messages.is_closed()
    }
}

impl<M: Send + 'static> MessageTarget<M> for ProbeTarget<M> {
    fn tell(&self, msg: M) {
        // A message to a dropped probe is lost, like one to a stopped actor.
        let _ = self.messages.send(msg);
    }

    fn try_tell(&self, msg: M) -> Result<(), TrySendError<M>> {
        self.messages
            .send(msg)
            .map_err(|mpsc::error::SendError(msg)| TrySendError::Closed(msg))
    }

    fn poll_send(
        &self,
        slot: &mut Option<M>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<M>>> {
        let Some(msg) = slot.take() else {
            return Poll::Ready(Ok(()));
        };
        Poll::Ready(
            self.messages
                .send(msg)
                .map_err(|mpsc::error::SendError(msg)| SendError::Closed(msg)),
        )
    }
}
