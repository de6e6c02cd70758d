//! Stream refs: one end of a stream handed to another node in a message.
//!
//! A [`SourceRef<T>`] is the materialized value of [`Sink::source_ref`]:
//! send it in a message to another node, and there [`SourceRef::source`]
//! emits what the original stream feeds into the sink. A [`SinkRef<T>`]
//! (from [`Source::sink_ref`]) is the reverse: what the other node runs
//! into [`SinkRef::sink`] is emitted by the original source.
//!
//! Flow control is by demand: the consuming end grants a cumulative number
//! of elements (its buffer), and the producing end never sends beyond it, so
//! no buffer on either side grows past `buffer_capacity`. Elements carry
//! sequence numbers: remoting is at most once, and a lost element fails the
//! stream ([`StreamRefError::ElementsLost`]) rather than silently skipping
//! it. Demand is resent every `demand_redelivery_interval` while nothing
//! arrives, so a lost demand message only delays. Each end watches the
//! other: when the other side stops, or its node is judged dead and
//! quarantined, the stream fails ([`StreamRefError::PartnerTerminated`])
//! instead of waiting forever. A ref is used once; a second subscriber is
//! refused.
//!
//! Over the network, the protocol message [`StreamRefMsg<T>`] must be
//! registered in the remoting registry like any message type
//! (`registry.register::<StreamRefMsg<T>>("app.stream.Orders")`). Within
//! one node, stream refs work without remoting.

mod consumer;
mod endpoint;
mod producer;

use std::fmt;
use std::time::Duration;

use ferrocast_actor::{ActorRef, ActorSystem};
use serde::{Deserialize, Serialize};

use crate::completion::Completion;
use crate::elements::Elements;
use crate::error::{StreamError, StreamErrorKind};
use crate::runnable::StreamTask;
use crate::sink::Sink;
use crate::source::Source;
use endpoint::{Endpoint, EndpointGuard};

/// The stream ref protocol, both directions.
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize + Send + 'static",
    deserialize = "T: Deserialize<'de> + Send + 'static"
))]
#[non_exhaustive]
pub enum StreamRefMsg<T> {
    /// The sender is the other end of the stream.
    Subscribe {
        /// Where to send to the subscriber.
        partner: ActorRef<StreamRefMsg<T>>,
    },
    /// The consumer accepts elements up to this cumulative count.
    Demand {
        /// Total elements granted since the start.
        cumulative: u64,
    },
    /// The consumer cancelled.
    Cancel,
    /// Element number `seq` (from 0).
    Element {
        /// Its sequence number.
        seq: u64,
        /// The element.
        elem: T,
    },
    /// The stream completed after `count` elements.
    Complete {
        /// How many elements were sent.
        count: u64,
    },
    /// The producing stream failed.
    Failure {
        /// Its error, as text.
        message: String,
    },
}

impl<T: Send + 'static> fmt::Debug for StreamRefMsg<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamRefMsg::Subscribe { partner } => write!(f, "Subscribe({})", partner.path()),
            StreamRefMsg::Demand { cumulative } => write!(f, "Demand({cumulative})"),
            StreamRefMsg::Cancel => f.write_str("Cancel"),
            StreamRefMsg::Element { seq, .. } => write!(f, "Element({seq})"),
            StreamRefMsg::Complete { count } => write!(f, "Complete({count})"),
            StreamRefMsg::Failure { message } => write!(f, "Failure({message:?})"),
        }
    }
}

/// Why a stream ref failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamRefError {
    /// Nobody subscribed within the subscription timeout.
    #[error("no subscriber within {0:?}")]
    SubscriptionTimeout(Duration),
    /// The other end stopped, or its node was judged dead.
    #[error("the other end of the stream ref terminated")]
    PartnerTerminated,
    /// Elements went missing in transit (remoting is at most once).
    #[error("stream ref lost elements: expected {expected}, got {got}")]
    ElementsLost {
        /// The sequence number expected next.
        expected: u64,
        /// The one that arrived.
        got: u64,
    },
    /// The producing stream failed with this message.
    #[error("remote stream failed: {0}")]
    RemoteFailure(String),
    /// The ref was already used by another subscriber.
    #[error("the stream ref already has a subscriber")]
    AlreadySubscribed,
    /// The other end broke the protocol (sent past the demand, ...).
    #[error("stream ref protocol violation: {0}")]
    Protocol(&'static str),
}

impl From<StreamRefError> for StreamError {
    fn from(e: StreamRefError) -> Self {
        StreamError::new(StreamErrorKind::StreamRef(e))
    }
}

/// Tuning of stream refs (Akka's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRefSettings {
    /// Elements the consuming end grants at a time (its buffer).
    pub buffer_capacity: u32,
    /// How long the end that waits for a subscriber waits.
    pub subscription_timeout: Duration,
    /// Demand is resent when nothing arrived for this long.
    pub demand_redelivery_interval: Duration,
    /// After the other end terminated, how long a completion or failure
    /// still in transit is awaited before failing.
    pub final_termination_signal_deadline: Duration,
}

impl Default for StreamRefSettings {
    fn default() -> Self {
        StreamRefSettings {
            buffer_capacity: 32,
            subscription_timeout: Duration::from_secs(30),
            demand_redelivery_interval: Duration::from_secs(1),
            final_termination_signal_deadline: Duration::from_secs(2),
        }
    }
}

/// A serializable handle on a running stream's output; see the module docs.
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Send + 'static")]
pub struct SourceRef<T> {
    origin: ActorRef<StreamRefMsg<T>>,
}

/// A serializable handle on a running stream's input; see the module docs.
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Send + 'static")]
pub struct SinkRef<T> {
    origin: ActorRef<StreamRefMsg<T>>,
}

impl<T> Clone for SourceRef<T> {
    fn clone(&self) -> Self {
        SourceRef {
            origin: self.origin.clone(),
        }
    }
}

impl<T> Clone for SinkRef<T> {
    fn clone(&self) -> Self {
        SinkRef {
            origin: self.origin.clone(),
        }
    }
}

impl<T: Send + 'static> fmt::Debug for SourceRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceRef({})", self.origin)
    }
}

impl<T: Send + 'static> fmt::Debug for SinkRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SinkRef({})", self.origin)
    }
}

impl<T: Send + 'static> Sink<T, SourceRef<T>> {
    /// A sink whose materialized value is a [`SourceRef`]: the stream run
    /// into it is consumed wherever the ref's [`SourceRef::source`] runs.
    /// Back-pressured: nothing is pulled beyond the consumer's demand.
    pub fn source_ref(system: &ActorSystem) -> Self {
        Self::source_ref_with(system, StreamRefSettings::default())
    }

    /// [`Sink::source_ref`] with explicit settings.
    pub fn source_ref_with(system: &ActorSystem, settings: StreamRefSettings) -> Self {
        let system = system.clone();
        Sink::from_materializer(move |upstream: Elements<T>| {
            let (endpoint, rx) = Endpoint::new(&system, "source-ref");
            let origin = endpoint.actor_ref();
            let settings = settings.clone();
            let task = StreamTask::new(async move {
                let guard = EndpointGuard(endpoint);
                let result = producer::produce(upstream, &guard.0, rx, None, &settings).await;
                if let Err(e) = result {
                    tracing::debug!(error = %e, "source ref stream failed");
                }
            });
            (task, SourceRef { origin })
        })
    }
}

impl<T: Send + 'static> SourceRef<T> {
    /// The stream's elements, on this node. Runs once: a second run is
    /// refused by the producing end.
    pub fn source(&self, system: &ActorSystem) -> Source<T> {
        self.source_with(system, StreamRefSettings::default())
    }

    /// [`SourceRef::source`] with explicit settings.
    pub fn source_with(&self, system: &ActorSystem, settings: StreamRefSettings) -> Source<T> {
        let system = system.clone();
        let origin = self.origin.clone();
        Source::from_materializer(move || {
            let (endpoint, rx) = Endpoint::new(&system, "source-ref-consumer");
            let elements = consumer::consume(endpoint, rx, Some(origin.clone()), settings.clone());
            (elements, ())
        })
    }
}

impl<T: Send + 'static> Source<T, SinkRef<T>> {
    /// A source whose materialized value is a [`SinkRef`]: what is run into
    /// the ref's [`SinkRef::sink`], wherever that is, is emitted here.
    pub fn sink_ref(system: &ActorSystem) -> Self {
        Self::sink_ref_with(system, StreamRefSettings::default())
    }

    /// [`Source::sink_ref`] with explicit settings.
    pub fn sink_ref_with(system: &ActorSystem, settings: StreamRefSettings) -> Self {
        let system = system.clone();
        Source::from_materializer(move || {
            let (endpoint, rx) = Endpoint::new(&system, "sink-ref");
            let origin = endpoint.actor_ref();
            let elements = consumer::consume(endpoint, rx, None, settings.clone());
            (elements, SinkRef { origin })
        })
    }
}

impl<T: Send + 'static> SinkRef<T> {
    /// A sink that feeds the original source; its completion tells how the
    /// stream ended on this side. Runs once.
    pub fn sink(&self, system: &ActorSystem) -> Sink<T, Completion<()>> {
        self.sink_with(system, StreamRefSettings::default())
    }

    /// [`SinkRef::sink`] with explicit settings.
    pub fn sink_with(
        &self,
        system: &ActorSystem,
        settings: StreamRefSettings,
    ) -> Sink<T, Completion<()>> {
        let system = system.clone();
        let origin = self.origin.clone();
        Sink::from_materializer(move |upstream: Elements<T>| {
            let (endpoint, rx) = Endpoint::new(&system, "sink-ref-producer");
            let (done, completion) = Completion::new();
            let settings = settings.clone();
            let origin = origin.clone();
            let task = StreamTask::new(async move {
                let guard = EndpointGuard(endpoint);
                let result =
                    producer::produce(upstream, &guard.0, rx, Some(origin), &settings).await;
                done.complete(result);
            });
            (task, completion)
        })
    }
}
