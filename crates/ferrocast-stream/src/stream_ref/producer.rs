//! The producing end: pulls upstream only against the consumer's demand.

use std::sync::Arc;

use ferrocast_actor::ActorRef;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::endpoint::{Endpoint, Event};
use super::{StreamRefError, StreamRefMsg, StreamRefSettings};
use crate::elements::Elements;
use crate::error::StreamError;

type Partner<T> = ActorRef<StreamRefMsg<T>>;

/// Waits for the consumer's `Subscribe` (SourceRef), or subscribes to a
/// known consumer (SinkRef), then sends elements as demand allows.
pub(super) async fn produce<T: Send + 'static>(
    mut upstream: Elements<T>,
    endpoint: &Arc<Endpoint<T>>,
    mut rx: mpsc::UnboundedReceiver<Event<T>>,
    known: Option<Partner<T>>,
    settings: &StreamRefSettings,
) -> Result<(), StreamError> {
    let partner = match known {
        Some(p) => {
            p.tell(StreamRefMsg::Subscribe {
                partner: endpoint.actor_ref(),
            });
            p
        }
        None => {
            let wait = tokio::time::timeout(settings.subscription_timeout, async {
                loop {
                    match rx.recv().await {
                        Some(Event::Msg(StreamRefMsg::Subscribe { partner })) => {
                            return Ok(partner);
                        }
                        Some(Event::Msg(StreamRefMsg::Cancel)) | None => {
                            return Err(StreamRefError::PartnerTerminated);
                        }
                        Some(_) => {}
                    }
                }
            });
            match wait.await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => {
                    return Err(
                        StreamRefError::SubscriptionTimeout(settings.subscription_timeout).into(),
                    );
                }
            }
        }
    };
    endpoint.watch(&partner);
    let result = pump(&mut upstream, &mut rx, &partner).await;
    endpoint.unwatch(&partner);
    result
}

async fn pump<T: Send + 'static>(
    upstream: &mut Elements<T>,
    rx: &mut mpsc::UnboundedReceiver<Event<T>>,
    partner: &Partner<T>,
) -> Result<(), StreamError> {
    let mut seq: u64 = 0;
    let mut granted: u64 = 0;
    loop {
        let event = if seq < granted {
            tokio::select! {
                biased;
                event = rx.recv() => event,
                item = upstream.next() => {
                    match item {
                        Some(Ok(elem)) => {
                            // `send` waits for room in the outbound queue
                            // rather than dropping the element.
                            if partner.send(StreamRefMsg::Element { seq, elem }).await.is_err() {
                                return Err(StreamRefError::PartnerTerminated.into());
                            }
                            seq += 1;
                        }
                        Some(Err(e)) => {
                            partner.tell(StreamRefMsg::Failure { message: e.to_string() });
                            return Err(e);
                        }
                        None => {
                            partner.tell(StreamRefMsg::Complete { count: seq });
                            return Ok(());
                        }
                    }
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        match event {
            Some(Event::Msg(StreamRefMsg::Demand { cumulative })) => {
                granted = granted.max(cumulative);
            }
            // Cancelled: dropping upstream cancels it.
            Some(Event::Msg(StreamRefMsg::Cancel)) => return Ok(()),
            Some(Event::Msg(StreamRefMsg::Subscribe { partner: other })) => {
                if other != *partner {
                    other.tell(StreamRefMsg::Failure {
                        message: StreamRefError::AlreadySubscribed.to_string(),
                    });
                }
            }
            Some(Event::Terminated(uid)) if uid == partner.uid() => {
                return Err(StreamRefError::PartnerTerminated.into());
            }
            Some(_) => {}
            None => return Err(StreamRefError::PartnerTerminated.into()),
        }
    }
}
