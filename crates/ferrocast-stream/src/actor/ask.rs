//! The ask stage: each element becomes a request to an actor, up to
//! `parallelism` requests in flight, answers in element order.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferrocast_actor::{ActorRef, ReplyTo};

use crate::error::StreamError;

/// The per-element function of the ask stage: sends one request and waits
/// for its answer. A failed ask (timeout, terminated actor, no reply)
/// becomes [`StreamErrorKind::Ask`](crate::StreamErrorKind::Ask).
pub(crate) fn asker<T, M, R, F>(
    actor: ActorRef<M>,
    timeout: Duration,
    make: F,
) -> impl Fn(T) -> std::pin::Pin<Box<dyn Future<Output = Result<R, StreamError>> + Send>>
+ Send
+ Sync
+ 'static
where
    T: Send + 'static,
    M: Send + 'static,
    R: Send + 'static,
    F: Fn(T, ReplyTo<R>) -> M + Send + Sync + 'static,
{
    let make = Arc::new(make);
    move |item| {
        let actor = actor.clone();
        let make = make.clone();
        Box::pin(async move {
            actor
                .ask(move |reply| make(item, reply), timeout)
                .await
                .map_err(StreamError::from)
        })
    }
}
