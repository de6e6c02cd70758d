//! A sink that sends each element to an actor and waits for its
//! acknowledgement before sending the next.

use ferrocast_actor::{ActorRef, AskError, ReplyTo};
use futures_util::stream::StreamExt;
use std::sync::Arc;

use crate::completion::Completion;
use crate::error::StreamError;
use crate::runnable::StreamTask;
use crate::sink::Sink;

/// Sinks into actors.
#[derive(Debug, Clone, Copy)]
pub struct ActorSink;

impl ActorSink {
    /// Sends each element to `actor` as `on_element(element, ack)` and waits
    /// until the actor answers on `ack` before pulling the next element:
    /// at most one element is in flight, so a slow actor back-pressures the
    /// stream and its mailbox never fills from this sink. (Every element
    /// carries its own acknowledgement handle, so no separate init
    /// handshake is needed.)
    ///
    /// At the end the actor is told `on_complete()` or `on_failure(error)`.
    /// The sink's [`Completion`] fails with [`StreamErrorKind::Ask`](crate::StreamErrorKind::Ask) if the
    /// actor stops or drops an `ack` without answering.
    pub fn with_backpressure<T, M, E, C, F>(
        actor: ActorRef<M>,
        on_element: E,
        on_complete: C,
        on_failure: F,
    ) -> Sink<T, Completion<()>>
    where
        T: Send + 'static,
        M: Send + 'static,
        E: Fn(T, ReplyTo<()>) -> M + Send + Sync + 'static,
        C: Fn() -> M + Send + Sync + 'static,
        F: Fn(StreamError) -> M + Send + Sync + 'static,
    {
        let protocol = Arc::new((on_element, on_complete, on_failure));
        Sink::from_materializer(move |mut upstream| {
            let (actor, protocol) = (actor.clone(), protocol.clone());
            let (done, completion) = Completion::new();
            let task = StreamTask::new(async move {
                let (on_element, on_complete, on_failure) = &*protocol;
                let result = loop {
                    match upstream.next().await {
                        Some(Ok(item)) => {
                            let (reply, ack) = ReplyTo::channel();
                            if let Err(e) = actor.send(on_element(item, reply)).await {
                                break Err(AskError::from(e).into());
                            }
                            if ack.await.is_err() {
                                break Err(StreamError::from(if actor.is_terminated() {
                                    AskError::Terminated
                                } else {
                                    AskError::NoReply
                                }));
                            }
                        }
                        Some(Err(e)) => {
                            actor.tell(on_failure(e.clone()));
                            break Err(e);
                        }
                        None => {
                            actor.tell(on_complete());
                            break Ok(());
                        }
                    }
                };
                done.complete(result);
            });
            (task, completion)
        })
    }
}
