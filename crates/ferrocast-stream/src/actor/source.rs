//! A source whose materialized value is an actor reference: what is told to
//! the reference is emitted by the stream.

use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use ferrocast_actor::{
    ActorPath, ActorRef, ActorSystem, ActorTarget, ActorUid, AnyRef, DeadLetterReason,
    MessageTarget, SendError, SystemMessage, TrySendError, Watchers,
};
use futures_util::stream::Stream;

use crate::elements::Elements;
use crate::error::StreamError;
use crate::queue::{OverflowStrategy, Push, Queue, QueueOfferResult, QueueStream};
use crate::source::Source;

/// Sources fed by actors.
#[derive(Debug, Clone, Copy)]
pub struct ActorSource;

impl ActorSource {
    /// A source that materializes an [`ActorRef<T>`]: every message told to
    /// it is emitted, through a buffer of `capacity` elements whose
    /// `strategy` decides what a full buffer does. Under `Backpressure`,
    /// `send` waits for space, `try_tell` gives the message back and `tell`
    /// drops it, exactly as for an actor's bounded mailbox.
    ///
    /// The stream completes (after the buffered messages) when a message
    /// for which `is_end` is true arrives (it is not emitted) or when the
    /// reference receives `SystemMessage::Stop`. When the stream ends or is
    /// cancelled the reference terminates: watchers are told and further
    /// messages are refused.
    pub fn actor_ref<T, E>(
        system: &ActorSystem,
        capacity: NonZeroUsize,
        strategy: OverflowStrategy,
        is_end: E,
    ) -> Source<T, ActorRef<T>>
    where
        T: Send + 'static,
        E: Fn(&T) -> bool + Send + Sync + 'static,
    {
        let system = system.clone();
        let is_end: Arc<IsEnd<T>> = Arc::new(is_end);
        Source::from_materializer(move || {
            let uid = system.next_uid();
            let path = ActorPath::new(format!("/system/stream-sources/source-{}", uid.actor));
            let queue = Queue::new(capacity.get(), strategy);
            let target = Arc::new_cyclic(|this| SourceTarget {
                uid,
                path,
                this: this.clone(),
                queue: queue.clone(),
                is_end: is_end.clone(),
                watchers: Watchers::default(),
                system: system.clone(),
            });
            let elements: Elements<T> = Box::pin(SourceStream {
                output: QueueStream { queue },
                target: target.clone(),
            });
            (elements, ActorRef::from_target(target))
        })
    }
}

type IsEnd<T> = dyn Fn(&T) -> bool + Send + Sync;

struct SourceTarget<T> {
    uid: ActorUid,
    path: ActorPath,
    /// Lets the target name itself in the terminations it sends.
    this: Weak<SourceTarget<T>>,
    queue: Arc<Queue<T>>,
    is_end: Arc<IsEnd<T>>,
    /// Who watches this reference.
    watchers: Watchers,
    /// Where messages that `tell` cannot deliver are recorded.
    system: ActorSystem,
}

impl<T: Send + 'static> SourceTarget<T> {
    fn any_ref(&self) -> Option<AnyRef> {
        let this: Arc<dyn ActorTarget> = self.this.upgrade()?;
        Some(AnyRef::from_target(this))
    }

    /// The stream is over: tell the watchers, as a stopping actor does.
    fn terminate(&self) {
        self.queue.close();
        self.watchers.terminate(|| self.any_ref());
    }

    /// Applies the end marker; `None` if the message completed the stream.
    fn admit(&self, msg: T) -> Option<T> {
        if (self.is_end)(&msg) {
            self.queue.complete();
            None
        } else {
            Some(msg)
        }
    }
}

impl<T: Send + 'static> ActorTarget for SourceTarget<T> {
    fn uid(&self) -> ActorUid {
        self.uid
    }

    fn path(&self) -> ActorPath {
        self.path.clone()
    }

    fn send_system(&self, msg: SystemMessage) {
        // A source is nobody's parent and is not supervised: besides death
        // watch, only a stop means something to it.
        if let Some(SystemMessage::Stop) = self.watchers.handle(msg, || self.any_ref()) {
            self.queue.complete();
        }
    }

    fn is_terminated(&self) -> bool {
        self.queue.is_closed()
    }
}

impl<T: Send + 'static> MessageTarget<T> for SourceTarget<T> {
    fn tell(&self, msg: T) {
        let Some(msg) = self.admit(msg) else {
            return;
        };
        let reason = match self.queue.push(msg) {
            Push::Done(QueueOfferResult::Dropped) | Push::Full(_) => DeadLetterReason::MailboxFull,
            Push::Rejected(..) => DeadLetterReason::Terminated,
            Push::Done(_) => return,
        };
        if let Some(me) = self.any_ref() {
            self.system
                .dead_letter(|| me, std::any::type_name::<T>(), reason);
        }
    }

    fn try_tell(&self, msg: T) -> Result<(), TrySendError<T>> {
        let Some(msg) = self.admit(msg) else {
            return Ok(());
        };
        match self.queue.push(msg) {
            Push::Done(_) => Ok(()),
            Push::Full(msg) => Err(TrySendError::Full(msg)),
            Push::Rejected(msg, _) => Err(TrySendError::Closed(msg)),
        }
    }

    fn poll_send(
        &self,
        slot: &mut Option<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        let Some(msg) = slot.take() else {
            return Poll::Ready(Ok(()));
        };
        let Some(msg) = self.admit(msg) else {
            return Poll::Ready(Ok(()));
        };
        *slot = Some(msg);
        match std::task::ready!(self.queue.poll_push(slot, cx)) {
            // Enqueued, or dropped or failed by the overflow strategy: the
            // message was taken, as a mailbox's drop policies take it.
            Push::Done(_) => Poll::Ready(Ok(())),
            Push::Full(msg) | Push::Rejected(msg, _) => Poll::Ready(Err(SendError::Closed(msg))),
        }
    }
}

/// The element stream; ending or dropping it terminates the reference.
struct SourceStream<T: Send + 'static> {
    output: QueueStream<T>,
    target: Arc<SourceTarget<T>>,
}

impl<T: Send + 'static> Stream for SourceStream<T> {
    type Item = Result<T, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = std::task::ready!(Pin::new(&mut this.output).poll_next(cx));
        if !matches!(item, Some(Ok(_))) {
            this.target.terminate();
        }
        Poll::Ready(item)
    }
}

impl<T: Send + 'static> Drop for SourceStream<T> {
    fn drop(&mut self) {
        self.target.terminate();
    }
}
