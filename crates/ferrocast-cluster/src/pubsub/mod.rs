//! Distributed publish-subscribe: topics whose subscribers live on any
//! node, as Akka Typed's `Topic`.
//!
//! A [`Topic<M>`] is one node's handle on the topic named `name` for
//! messages of type `M`. [`Topic::publish`] delivers to every subscriber
//! on every reachable member; [`Topic::subscribe`] and
//! [`Topic::unsubscribe`] take local actors.
//!
//! # How it works
//!
//! Each node has one *mediator* per topic: an actor that fans a message
//! out to the node's local subscribers. While a node has at least one
//! local subscriber, its mediator is registered in the cluster
//! receptionist under the topic (a [`KeyKind::Topic`] key, apart from
//! service keys), so the replication, failure handling and eventual
//! consistency are the receptionist's (see [`crate::receptionist`]).
//! A publish tells each local subscriber directly and sends the message
//! once to the mediator of each other node that has subscribers, which
//! fans it out there: one remote message per node, not per subscriber.
//!
//! # Delivery
//!
//! At most once, like every tell: a message is lost with a connection,
//! and a subscriber on a node that the publisher does not know has
//! subscribers yet (a subscription still spreading) misses it. Messages
//! from one publisher arrive at each subscriber in publish order (one
//! remoting lane, then one mediator mailbox). A subscriber that stops is
//! unsubscribed (watched). Publishing with no subscriber anywhere is not
//! an error: it is counted ([`TopicMetrics::dropped_no_subscribers`]) and
//! logged at debug level, as are messages that reach a mediator whose
//! subscribers have all gone.
//!
//! `M` must be registered in remoting's registry on every node (it crosses
//! the network) and `Clone` (one copy per subscriber and node). A topic
//! handle lives as long as the receptionist: topics are few and long-lived.
//!
//! ```no_run
//! # async fn example(receptionist: ferrocast_cluster::receptionist::ClusterReceptionist,
//! #     me: ferrocast_actor::ActorRef<String>) -> Result<(), Box<dyn std::error::Error>> {
//! use ferrocast_cluster::pubsub::DistributedPubSub;
//!
//! let pubsub = DistributedPubSub::new(&receptionist);
//! let news = pubsub.topic::<String>("news")?;
//! news.subscribe(me);
//! news.publish("hello, everyone".to_owned());
//! # Ok(()) }
//! ```

use std::any::TypeId;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use ferrocast_actor::{Actor, ActorError, ActorRef, ActorUid, AnyRef, Context, SystemMessage};

use crate::receptionist::death_watch::{OnTerminated, hook};
use crate::receptionist::{ClusterReceptionist, Inner, KeyKind, ReceptionistError, RegistryKey};

/// Counters of one topic on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicMetrics {
    /// Messages published through this node's handle.
    pub published: u64,
    /// Copies sent to other nodes' mediators.
    pub sent_remote: u64,
    /// Copies told to this node's subscribers (published here or arriving
    /// from other nodes).
    pub delivered_local: u64,
    /// Publishes that found no subscriber anywhere, and remote messages
    /// that found no local subscriber any more.
    pub dropped_no_subscribers: u64,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    sent_remote: AtomicU64,
    delivered_local: AtomicU64,
    dropped_no_subscribers: AtomicU64,
}

type Subscribers<M> = Arc<Mutex<Vec<ActorRef<M>>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fans the messages from other nodes out to the local subscribers.
struct Mediator<M> {
    topic: String,
    subscribers: Subscribers<M>,
    counters: Arc<Counters>,
}

impl<M: Clone + Send + 'static> Actor for Mediator<M> {
    type Msg = M;

    async fn handle(&mut self, msg: M, _: &mut Context<Self>) -> Result<(), ActorError> {
        let subs = lock(&self.subscribers).clone();
        fan_out(&self.topic, &subs, msg, &self.counters);
        Ok(())
    }
}

fn fan_out<M: Clone + Send + 'static>(
    topic: &str,
    subs: &[ActorRef<M>],
    msg: M,
    counters: &Counters,
) {
    let Some((last, rest)) = subs.split_last() else {
        counters
            .dropped_no_subscribers
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(topic, "topic message without local subscribers dropped");
        return;
    };
    for s in rest {
        s.tell(msg.clone());
    }
    last.tell(msg);
    counters
        .delivered_local
        .fetch_add(subs.len() as u64, Ordering::Relaxed);
}

struct TopicInner<M> {
    name: String,
    key: RegistryKey,
    receptionist: Weak<Inner>,
    subscribers: Subscribers<M>,
    mediator: ActorRef<M>,
    /// Watches local subscribers (see `OnTerminated`).
    watcher: AnyRef,
    counters: Arc<Counters>,
    /// Other nodes' mediators as of a receptionist generation: a publish
    /// builds typed references only after the listings changed.
    remote: Mutex<(u64, Vec<ActorRef<M>>)>,
}

impl<M: Clone + Send + 'static> TopicInner<M> {
    /// The mediators of the other nodes that have subscribers.
    fn remote_mediators(&self) -> Vec<ActorRef<M>> {
        let Some(r) = self.receptionist.upgrade() else {
            return Vec::new();
        };
        // Read before the lookup: a change in between only makes the
        // next publish look up again.
        let generation = r.generation();
        let mut cache = lock(&self.remote);
        if cache.0 != generation {
            cache.1 = r
                .lookup::<M>(&self.key)
                .into_iter()
                .filter(|(owner, _)| owner != r.self_node())
                .map(|(_, m)| m)
                .collect();
            cache.0 = generation;
        }
        cache.1.clone()
    }

    /// Registers the mediator while there are local subscribers, and
    /// deregisters it when the last one left. Runs under the subscribers'
    /// lock so that concurrent changes cannot leave the registration
    /// behind the subscriber set.
    fn sync_registration(&self, subs: &[ActorRef<M>]) {
        let Some(receptionist) = self.receptionist.upgrade() else {
            return;
        };
        if subs.is_empty() {
            receptionist.deregister_local(&self.key, &self.mediator.as_any());
        } else if let Err(error) = receptionist.register_local(self.key.clone(), &self.mediator) {
            tracing::warn!(topic = %self.name, %error, "cannot register the topic's mediator");
        }
    }
}

impl<M: Clone + Send + 'static> OnTerminated for TopicInner<M> {
    fn terminated(&self, uid: ActorUid) {
        let mut subs = lock(&self.subscribers);
        let before = subs.len();
        subs.retain(|s| s.uid() != uid);
        if subs.len() != before {
            self.sync_registration(&subs);
        }
    }
}

/// One node's handle on a topic. Cheap to clone; every handle of a name
/// and message type on a node is the same topic.
pub struct Topic<M> {
    inner: Arc<TopicInner<M>>,
}

impl<M> Clone for Topic<M> {
    fn clone(&self) -> Self {
        Topic {
            inner: self.inner.clone(),
        }
    }
}

impl<M> fmt::Debug for Topic<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topic")
            .field("name", &self.inner.name)
            .field("manifest", &self.inner.key.manifest)
            .finish_non_exhaustive()
    }
}

impl<M: Clone + Send + 'static> Topic<M> {
    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Delivers `msg` to every subscriber on every reachable member that
    /// this node knows of: directly to local ones, through one message
    /// per other node.
    pub fn publish(&self, msg: M) {
        let t = &self.inner;
        t.counters.published.fetch_add(1, Ordering::Relaxed);
        let local = lock(&t.subscribers).clone();
        let remote = t.remote_mediators();
        for m in &remote {
            m.tell(msg.clone());
        }
        t.counters
            .sent_remote
            .fetch_add(remote.len() as u64, Ordering::Relaxed);
        if local.is_empty() && !remote.is_empty() {
            return;
        }
        fan_out(&t.name, &local, msg, &t.counters);
    }

    /// Subscribes the local actor `subscriber` (again: nothing changes).
    pub fn subscribe(&self, subscriber: ActorRef<M>) {
        let t = &self.inner;
        let mut subs = lock(&t.subscribers);
        if subs.contains(&subscriber) {
            return;
        }
        subs.push(subscriber.clone());
        t.sync_registration(&subs);
        drop(subs);
        subscriber.as_any().send_system(SystemMessage::Watch {
            watcher: t.watcher.clone(),
        });
    }

    /// Unsubscribes `subscriber` (nothing if it is not subscribed).
    pub fn unsubscribe(&self, subscriber: &ActorRef<M>) {
        let t = &self.inner;
        let mut subs = lock(&t.subscribers);
        let before = subs.len();
        subs.retain(|s| s != subscriber);
        if subs.len() != before {
            t.sync_registration(&subs);
            drop(subs);
            subscriber.as_any().send_system(SystemMessage::Unwatch {
                watcher: t.watcher.clone(),
            });
        }
    }

    /// The number of subscribers on this node.
    pub fn local_subscribers(&self) -> usize {
        lock(&self.inner.subscribers).len()
    }

    /// The number of other nodes this node currently publishes to.
    pub fn remote_nodes(&self) -> usize {
        self.inner.remote_mediators().len()
    }

    /// Counters of this topic on this node.
    pub fn metrics(&self) -> TopicMetrics {
        let c = &self.inner.counters;
        TopicMetrics {
            published: c.published.load(Ordering::Relaxed),
            sent_remote: c.sent_remote.load(Ordering::Relaxed),
            delivered_local: c.delivered_local.load(Ordering::Relaxed),
            dropped_no_subscribers: c.dropped_no_subscribers.load(Ordering::Relaxed),
        }
    }
}

/// Creates and finds one node's topics. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DistributedPubSub {
    receptionist: ClusterReceptionist,
}

impl DistributedPubSub {
    /// Pub-sub over `receptionist`'s replication.
    pub fn new(receptionist: &ClusterReceptionist) -> Self {
        DistributedPubSub {
            receptionist: receptionist.clone(),
        }
    }

    /// The topic `name` for messages `M` on this node, created (with its
    /// mediator actor) on first use.
    pub fn topic<M: Clone + Send + 'static>(
        &self,
        name: &str,
    ) -> Result<Topic<M>, ReceptionistError> {
        let r = &self.receptionist.inner;
        let key = r.key::<M>(KeyKind::Topic, name)?;
        let mut topics = lock(&r.topics);
        let slot = (TypeId::of::<M>(), name.to_owned());
        if let Some(t) = topics.get(&slot).and_then(|t| t.downcast_ref::<Topic<M>>()) {
            return Ok(t.clone());
        }
        let subscribers: Subscribers<M> = Arc::new(Mutex::new(Vec::new()));
        let counters = Arc::new(Counters::default());
        let mediator = r
            .system()
            .spawn_anonymous({
                let (topic, subscribers, counters) =
                    (name.to_owned(), subscribers.clone(), counters.clone());
                move || Mediator {
                    topic: topic.clone(),
                    subscribers: subscribers.clone(),
                    counters: counters.clone(),
                }
            })
            .map_err(|e| ReceptionistError::Spawn(e.to_string()))?;
        let watcher_uid = r.system().next_uid();
        let inner = Arc::new_cyclic(|me: &Weak<TopicInner<M>>| TopicInner {
            name: name.to_owned(),
            key,
            receptionist: Arc::downgrade(r),
            subscribers,
            mediator,
            watcher: hook(watcher_uid, "/system/pubsub-topic", me.clone()),
            counters,
            remote: Mutex::new((u64::MAX, Vec::new())),
        });
        let topic = Topic { inner };
        topics.insert(slot, Box::new(topic.clone()));
        Ok(topic)
    }
}
