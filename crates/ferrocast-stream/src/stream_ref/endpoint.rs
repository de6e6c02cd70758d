//! The addressable end of a stream ref: a reference that is not an actor,
//! whose messages and death-watch notifications go to the stream's task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use ferrocast_actor::{
    ActorPath, ActorRef, ActorSystem, ActorTarget, ActorUid, AnyRef, DeadLetterReason,
    MessageTarget, SendError, SystemMessage, TrySendError, Watchers,
};
use tokio::sync::mpsc;

use super::StreamRefMsg;

/// What reaches a stream ref's task.
pub(crate) enum Event<T> {
    Msg(StreamRefMsg<T>),
    /// A watched partner stopped (or its node was quarantined).
    Terminated(ActorUid),
}

pub(crate) struct Endpoint<T> {
    uid: ActorUid,
    path: ActorPath,
    this: Weak<Endpoint<T>>,
    tx: mpsc::UnboundedSender<Event<T>>,
    watchers: Watchers,
    closed: AtomicBool,
    system: ActorSystem,
}

impl<T: Send + 'static> Endpoint<T> {
    pub(crate) fn new(
        system: &ActorSystem,
        kind: &str,
    ) -> (Arc<Endpoint<T>>, mpsc::UnboundedReceiver<Event<T>>) {
        let uid = system.next_uid();
        let (tx, rx) = mpsc::unbounded_channel();
        let endpoint = Arc::new_cyclic(|this| Endpoint {
            uid,
            path: ActorPath::new(format!("/system/stream-refs/{kind}-{}", uid.actor)),
            this: this.clone(),
            tx,
            watchers: Watchers::default(),
            closed: AtomicBool::new(false),
            system: system.clone(),
        });
        (endpoint, rx)
    }

    pub(crate) fn actor_ref(self: &Arc<Self>) -> ActorRef<StreamRefMsg<T>> {
        ActorRef::from_target(self.clone())
    }

    fn any_ref(&self) -> Option<AnyRef> {
        let this: Arc<dyn ActorTarget> = self.this.upgrade()?;
        Some(AnyRef::from_target(this))
    }

    /// Watches `partner`: its termination arrives as [`Event::Terminated`].
    pub(crate) fn watch(&self, partner: &ActorRef<StreamRefMsg<T>>) {
        if let Some(me) = self.any_ref() {
            partner
                .as_any()
                .send_system(SystemMessage::Watch { watcher: me });
        }
    }

    pub(crate) fn unwatch(&self, partner: &ActorRef<StreamRefMsg<T>>) {
        if let Some(me) = self.any_ref() {
            partner
                .as_any()
                .send_system(SystemMessage::Unwatch { watcher: me });
        }
    }

    /// The stream is over: refuse further messages and tell the watchers.
    pub(crate) fn terminate(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.watchers.terminate(|| self.any_ref());
        }
    }
}

impl<T: Send + 'static> ActorTarget for Endpoint<T> {
    fn uid(&self) -> ActorUid {
        self.uid
    }

    fn path(&self) -> ActorPath {
        self.path.clone()
    }

    fn send_system(&self, msg: SystemMessage) {
        match self.watchers.handle(msg, || self.any_ref()) {
            Some(SystemMessage::Terminated { actor }) => {
                let _ = self.tx.send(Event::Terminated(actor.uid()));
            }
            Some(SystemMessage::Stop) => {
                let _ = self.tx.send(Event::Msg(StreamRefMsg::Cancel));
            }
            _ => {}
        }
    }

    fn is_terminated(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl<T: Send + 'static> MessageTarget<StreamRefMsg<T>> for Endpoint<T> {
    fn tell(&self, msg: StreamRefMsg<T>) {
        if self.try_tell(msg).is_err() {
            if let Some(me) = self.any_ref() {
                self.system.dead_letter(
                    || me,
                    std::any::type_name::<StreamRefMsg<T>>(),
                    DeadLetterReason::Terminated,
                );
            }
        }
    }

    fn try_tell(&self, msg: StreamRefMsg<T>) -> Result<(), TrySendError<StreamRefMsg<T>>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(TrySendError::Closed(msg));
        }
        // Unbounded, but bounded in practice: elements arrive only against
        // demand, and control messages are few.
        self.tx.send(Event::Msg(msg)).map_err(|e| match e.0 {
            Event::Msg(m) => TrySendError::Closed(m),
            Event::Terminated(_) => TrySendError::Closed(StreamRefMsg::Cancel),
        })
    }

    fn poll_send(
        &self,
        slot: &mut Option<StreamRefMsg<T>>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<StreamRefMsg<T>>>> {
        let Some(msg) = slot.take() else {
            return Poll::Ready(Ok(()));
        };
        Poll::Ready(
            self.try_tell(msg)
                .map_err(|e| SendError::Closed(e.into_inner())),
        )
    }
}

/// Terminates the endpoint when the stream's task ends or is dropped.
pub(crate) struct EndpointGuard<T: Send + 'static>(pub(crate) Arc<Endpoint<T>>);

impl<T: Send + 'static> Drop for EndpointGuard<T> {
    fn drop(&mut self) {
        self.0.terminate();
    }
}
