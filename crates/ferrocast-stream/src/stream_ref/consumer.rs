//! The consuming end: grants demand, checks sequence numbers, and notices
//! a vanished producer.

use std::sync::Arc;

use ferrocast_actor::ActorRef;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::endpoint::{Endpoint, EndpointGuard, Event};
use super::{StreamRefError, StreamRefMsg, StreamRefSettings};
use crate::elements::Elements;
use crate::error::StreamError;

type Partner<T> = ActorRef<StreamRefMsg<T>>;

struct State<T: Send + 'static> {
    endpoint: EndpointGuard<T>,
    rx: mpsc::UnboundedReceiver<Event<T>>,
    partner: Option<Partner<T>>,
    settings: StreamRefSettings,
    /// The next sequence number expected.
    expected: u64,
    /// Cumulative demand granted.
    requested: u64,
    /// Set once the partner terminated: a completion may still be in
    /// transit until then.
    deadline: Option<Instant>,
    started: Instant,
    done: bool,
}

impl<T: Send + 'static> State<T> {
    fn subscribe_to(&mut self, partner: Partner<T>) {
        self.endpoint.0.watch(&partner);
        self.partner = Some(partner);
        self.top_up(true);
    }

    /// Grants more when half the buffer is used (or always, when `force`).
    fn top_up(&mut self, force: bool) {
        let buffer = u64::from(self.settings.buffer_capacity.max(1));
        let outstanding = self.requested - self.expected.min(self.requested);
        if force || outstanding <= buffer / 2 {
            self.requested = self.expected + buffer;
            if let Some(p) = &self.partner {
                p.tell(StreamRefMsg::Demand {
                    cumulative: self.requested,
                });
            }
        }
    }

    fn fail(&mut self, e: StreamRefError) -> Option<Result<T, StreamError>> {
        self.done = true;
        Some(Err(e.into()))
    }

    async fn next(&mut self) -> Option<Result<T, StreamError>> {
        if self.done {
            return None;
        }
        loop {
            let wait_until = match (self.deadline, &self.partner) {
                (Some(d), _) => d,
                (None, None) => self.started + self.settings.subscription_timeout,
                (None, Some(_)) => Instant::now() + self.settings.demand_redelivery_interval,
            };
            let event = match tokio::time::timeout_at(wait_until, self.rx.recv()).await {
                Ok(event) => event,
                Err(_) => {
                    if self.deadline.is_some() {
                        return self.fail(StreamRefError::PartnerTerminated);
                    }
                    if self.partner.is_none() {
                        return self.fail(StreamRefError::SubscriptionTimeout(
                            self.settings.subscription_timeout,
                        ));
                    }
                    // Nothing for a while: a demand may have been lost.
                    self.top_up(true);
                    continue;
                }
            };
            match event {
                Some(Event::Msg(StreamRefMsg::Element { seq, elem })) => {
                    if seq != self.expected {
                        return self.fail(StreamRefError::ElementsLost {
                            expected: self.expected,
                            got: seq,
                        });
                    }
                    if seq >= self.requested {
                        return self.fail(StreamRefError::Protocol("element beyond demand"));
                    }
                    self.expected += 1;
                    self.top_up(false);
                    return Some(Ok(elem));
                }
                Some(Event::Msg(StreamRefMsg::Complete { count })) => {
                    if count != self.expected {
                        return self.fail(StreamRefError::ElementsLost {
                            expected: self.expected,
                            got: count,
                        });
                    }
                    self.done = true;
                    return None;
                }
                Some(Event::Msg(StreamRefMsg::Failure { message })) => {
                    return self.fail(StreamRefError::RemoteFailure(message));
                }
                Some(Event::Msg(StreamRefMsg::Subscribe { partner })) => {
                    if self.partner.is_none() {
                        self.subscribe_to(partner);
                    } else if Some(&partner) != self.partner.as_ref() {
                        partner.tell(StreamRefMsg::Failure {
                            message: StreamRefError::AlreadySubscribed.to_string(),
                        });
                    }
                }
                Some(Event::Terminated(uid)) => {
                    if self.partner.as_ref().is_some_and(|p| p.uid() == uid) {
                        self.deadline =
                            Some(Instant::now() + self.settings.final_termination_signal_deadline);
                    }
                }
                Some(Event::Msg(StreamRefMsg::Cancel)) | None => {
                    return self.fail(StreamRefError::PartnerTerminated);
                }
                Some(Event::Msg(StreamRefMsg::Demand { .. })) => {}
            }
        }
    }
}

impl<T: Send + 'static> Drop for State<T> {
    fn drop(&mut self) {
        if let Some(p) = self.partner.take() {
            if !self.done {
                p.tell(StreamRefMsg::Cancel);
            }
            self.endpoint.0.unwatch(&p);
        }
    }
}

/// The consuming end as an element stream. With `known` (SourceRef) it
/// subscribes to the producer; without (SinkRef) it waits for one.
pub(super) fn consume<T: Send + 'static>(
    endpoint: Arc<Endpoint<T>>,
    rx: mpsc::UnboundedReceiver<Event<T>>,
    known: Option<Partner<T>>,
    settings: StreamRefSettings,
) -> Elements<T> {
    let mut state = State {
        endpoint: EndpointGuard(endpoint),
        rx,
        partner: None,
        settings,
        expected: 0,
        requested: 0,
        deadline: None,
        started: Instant::now(),
        done: false,
    };
    if let Some(p) = known {
        p.tell(StreamRefMsg::Subscribe {
            partner: state.endpoint.0.actor_ref(),
        });
        state.subscribe_to(p);
    }
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        let item = st.next().await?;
        Some((item, st))
    }))
}
