//! The local receptionist: find actors by typed service key.
//!
//! Actors register under a [`ServiceKey<M>`]; anyone can look the key up or
//! subscribe to its [`Listing`]. A registered actor that stops is removed
//! (the receptionist watches it) and subscribers get the new listing. The
//! cluster receptionist (ferrocast-cluster) extends this across nodes.

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, Weak};

use crate::actor_ref::ActorRef;
use crate::path::ActorPath;
use crate::target::{ActorTarget, ActorUid, AnyRef, SystemMessage};

/// Names a service and the message type its actors accept.
pub struct ServiceKey<M> {
    id: Cow<'static, str>,
    _msg: PhantomData<fn(M)>,
}

impl<M> ServiceKey<M> {
    /// A key; two keys are the same service when id and message type match.
    pub fn new(id: impl Into<Cow<'static, str>>) -> Self {
        ServiceKey {
            id: id.into(),
            _msg: PhantomData,
        }
    }

    /// The service id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<M> Clone for ServiceKey<M> {
    fn clone(&self) -> Self {
        ServiceKey::new(self.id.clone())
    }
}

impl<M> fmt::Debug for ServiceKey<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceKey<{}>({})", std::any::type_name::<M>(), self.id)
    }
}

/// The actors registered under one key at one moment.
pub struct Listing<M> {
    /// The service id.
    pub key: String,
    /// The registered actors, in registration order.
    pub services: Vec<ActorRef<M>>,
}

impl<M> Clone for Listing<M> {
    fn clone(&self) -> Self {
        Listing {
            key: self.key.clone(),
            services: self.services.clone(),
        }
    }
}

impl<M: 'static> fmt::Debug for Listing<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listing")
            .field("key", &self.key)
            .field("services", &self.services)
            .finish()
    }
}

struct Entry<M> {
    key: String,
    services: Vec<ActorRef<M>>,
    subscribers: Vec<ActorRef<Listing<M>>>,
}

impl<M: Send + 'static> Entry<M> {
    fn listing(&self) -> Listing<M> {
        Listing {
            key: self.key.clone(),
            services: self.services.clone(),
        }
    }

    fn notify(&mut self) {
        let listing = self.listing();
        self.subscribers.retain(|s| !s.is_terminated());
        for s in &self.subscribers {
            s.tell(listing.clone());
        }
    }
}

trait ErasedEntry: Send {
    fn remove(&mut self, uid: ActorUid);
    fn as_any(&mut self) -> &mut dyn Any;
}

impl<M: Send + 'static> ErasedEntry for Entry<M> {
    fn remove(&mut self, uid: ActorUid) {
        let before = self.services.len();
        self.services.retain(|s| s.uid() != uid);
        if self.services.len() != before {
            self.notify();
        }
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

type Entries = HashMap<(std::any::TypeId, String), Box<dyn ErasedEntry>>;

struct Inner {
    entries: Mutex<Entries>,
    uid: ActorUid,
}

/// Registry of services by key, local to one actor system.
pub struct Receptionist {
    inner: Arc<Inner>,
}

/// Watches registered actors on the receptionist's behalf.
struct Watcher {
    inner: Weak<Inner>,
    uid: ActorUid,
}

impl ActorTarget for Watcher {
    fn uid(&self) -> ActorUid {
        self.uid
    }

    fn path(&self) -> ActorPath {
        ActorPath::new("/system/receptionist".to_owned())
    }

    fn send_system(&self, msg: SystemMessage) {
        if let (SystemMessage::Terminated { actor }, Some(inner)) = (msg, self.inner.upgrade()) {
            let mut entries = inner.entries.lock().unwrap_or_else(|e| e.into_inner());
            for entry in entries.values_mut() {
                entry.remove(actor.uid());
            }
        }
    }

    fn is_terminated(&self) -> bool {
        self.inner.strong_count() == 0
    }
}

impl Receptionist {
    pub(crate) fn new(uid: ActorUid) -> Self {
        Receptionist {
            inner: Arc::new(Inner {
                entries: Mutex::new(HashMap::new()),
                uid,
            }),
        }
    }

    fn with_entry<M: Send + 'static, T>(
        &self,
        key: &ServiceKey<M>,
        f: impl FnOnce(&mut Entry<M>) -> T,
    ) -> T {
        let mut entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries
            .entry((std::any::TypeId::of::<M>(), key.id.to_string()))
            .or_insert_with(|| {
                Box::new(Entry::<M> {
                    key: key.id.to_string(),
                    services: Vec::new(),
                    subscribers: Vec::new(),
                })
            });
        match entry.as_any().downcast_mut::<Entry<M>>() {
            Some(e) => f(e),
            None => unreachable!("entries are keyed by message type"),
        }
    }

    fn watcher(&self) -> AnyRef {
        AnyRef(Arc::new(Watcher {
            inner: Arc::downgrade(&self.inner),
            uid: self.inner.uid,
        }))
    }

    /// Registers `service` under `key`; subscribers get the new listing.
    pub fn register<M: Send + 'static>(&self, key: &ServiceKey<M>, service: ActorRef<M>) {
        let added = self.with_entry(key, |e| {
            if e.services.contains(&service) {
                return false;
            }
            e.services.push(service.clone());
            e.notify();
            true
        });
        if added {
            service.as_any().send_system(SystemMessage::Watch {
                watcher: self.watcher(),
            });
        }
    }

    /// Removes `service` from `key`.
    pub fn deregister<M: Send + 'static>(&self, key: &ServiceKey<M>, service: &ActorRef<M>) {
        self.with_entry(key, |e| e.remove(service.uid()));
    }

    /// The current listing of `key`.
    pub fn find<M: Send + 'static>(&self, key: &ServiceKey<M>) -> Listing<M> {
        self.with_entry(key, |e| e.listing())
    }

    /// Sends `subscriber` the current listing now and every change after.
    pub fn subscribe<M: Send + 'static>(
        &self,
        key: &ServiceKey<M>,
        subscriber: ActorRef<Listing<M>>,
    ) {
        self.with_entry(key, |e| {
            subscriber.tell(e.listing());
            e.subscribers.push(subscriber);
        });
    }
}

impl fmt::Debug for Receptionist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.inner.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("Receptionist").field("keys", &n).finish()
    }
}
