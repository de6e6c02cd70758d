//! The system event stream: typed publish/subscribe inside one system.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::actor_ref::{ActorRef, TrySendError};
use crate::target::AnyRef;

/// Publish/subscribe by event type. Subscribers are actor references; an
/// event is delivered with `try_tell`, so a subscriber with a full mailbox
/// misses it (counted in [`EventStream::dropped`]) and a stopped subscriber
/// is removed.
#[derive(Default)]
pub struct EventStream {
    topics: RwLock<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    dropped: AtomicU64,
}

type Subscribers<E> = Vec<ActorRef<E>>;

/// Published on the event stream each time an actor fails (before its
/// parent decides), for monitoring and tests. The failure itself goes to
/// the parent; this carries its text.
#[derive(Clone, Debug)]
pub struct ActorFailed {
    /// The actor that failed.
    pub actor: AnyRef,
    /// What went wrong, as text.
    pub reason: String,
    /// True for a panic.
    pub panic: bool,
}

impl EventStream {
    /// Subscribes `subscriber` to events of type `E`.
    pub fn subscribe<E: Clone + Send + 'static>(&self, subscriber: ActorRef<E>) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        let subs = topics
            .entry(TypeId::of::<E>())
            .or_insert_with(|| Box::new(Subscribers::<E>::new()))
            .downcast_mut::<Subscribers<E>>();
        if let Some(subs) = subs {
            if !subs.contains(&subscriber) {
                subs.push(subscriber);
            }
        }
    }

    /// Removes a subscription.
    pub fn unsubscribe<E: Clone + Send + 'static>(&self, subscriber: &ActorRef<E>) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if let Some(subs) = topics
            .get_mut(&TypeId::of::<E>())
            .and_then(|s| s.downcast_mut::<Subscribers<E>>())
        {
            subs.retain(|s| s != subscriber);
        }
    }

    /// True if anyone subscribes to `E`.
    pub fn has_subscribers<E: 'static>(&self) -> bool {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        topics
            .get(&TypeId::of::<E>())
            .and_then(|s| s.downcast_ref::<Subscribers<E>>())
            .is_some_and(|s| !s.is_empty())
    }

    /// Delivers `event` to every subscriber of `E`; returns how many got it.
    pub fn publish<E: Clone + Send + 'static>(&self, event: E) -> usize {
        let mut delivered = 0;
        let mut closed = false;
        {
            let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
            let Some(subs) = topics
                .get(&TypeId::of::<E>())
                .and_then(|s| s.downcast_ref::<Subscribers<E>>())
            else {
                return 0;
            };
            for s in subs {
                match s.try_tell(event.clone()) {
                    Ok(()) => delivered += 1,
                    Err(TrySendError::Full(_)) => {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Closed(_)) => closed = true,
                }
            }
        }
        if closed {
            let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
            if let Some(subs) = topics
                .get_mut(&TypeId::of::<E>())
                .and_then(|s| s.downcast_mut::<Subscribers<E>>())
            {
                subs.retain(|s| !s.is_terminated());
            }
        }
        delivered
    }

    /// Events not delivered because a subscriber's mailbox was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topics = self.topics.read().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("EventStream")
            .field("topics", &topics)
            .field("dropped", &self.dropped())
            .finish()
    }
}
