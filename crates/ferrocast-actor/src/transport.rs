//! Hooks through which a transport carries references inside messages.
//!
//! A message may hold an [`ActorRef`] (a reply-to address) or a
//! [`ReplyTo`] (the answer channel of an `ask`). When a transport such as
//! ferrocast-remote serializes such a message for another node, it installs
//! a [`RefTransport`] with [`with_transport`] for the duration of the call;
//! with the `serde` feature, `ActorRef<M>` and `ReplyTo<R>` then serialize
//! to a name that the transport exports (messages to it come back to the
//! local actor or asker), and deserialize into references that send over
//! the transport. Outside such a scope they refuse to serialize with a
//! clear error, rather than produce a name nobody can resolve.
//!
//! The scope is a thread-local pointer set only while the transport's own
//! (de)serialization call runs: it is not a registry, and several systems
//! and transports in one process never see each other's.

use std::any::{Any, TypeId};
use std::cell::Cell;

use crate::target::AnyRef;

/// What a transport does with references found inside messages.
///
/// `typed` and the returned boxes hold the concrete `ActorRef<M>` /
/// `ReplyTo<R>`, identified by `TypeId::of::<M>()` / `TypeId::of::<R>()`,
/// so the transport can keep typed glue per registered message type
/// without this crate knowing its serialization registry.
pub trait RefTransport {
    /// Names `target` for another node and exports it, so that messages
    /// sent to that name reach it. `typed` is the `ActorRef<M>`.
    fn export_ref(
        &self,
        target: AnyRef,
        typed: Box<dyn Any + Send + Sync>,
        msg_type: TypeId,
    ) -> Result<String, String>;

    /// Turns a name made by some node's `export_ref` into a boxed
    /// `ActorRef<M>` with `TypeId::of::<M>() == msg_type`.
    fn import_ref(&self, name: &str, msg_type: TypeId) -> Result<Box<dyn Any + Send>, String>;

    /// Names an answer channel (a boxed `ReplyTo<R>`, moved out of the
    /// request) so that the answer sent to that name completes it.
    fn export_reply(
        &self,
        reply: Box<dyn Any + Send>,
        reply_type: TypeId,
    ) -> Result<String, String>;

    /// Turns a name made by `export_reply` into a boxed `ReplyTo<R>` that
    /// sends its answer over the transport.
    fn import_reply(&self, name: &str, reply_type: TypeId) -> Result<Box<dyn Any + Send>, String>;
}

type TransportPtr = *const (dyn RefTransport + 'static);

thread_local! {
    static CURRENT: Cell<Option<TransportPtr>> = const { Cell::new(None) };
}

/// Runs `f` with `transport` installed for the references that `f`
/// serializes or deserializes on this thread. Scopes nest; the previous one
/// is restored when `f` returns or unwinds.
pub fn with_transport<T>(transport: &dyn RefTransport, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<TransportPtr>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let ptr: *const (dyn RefTransport + '_) = transport;
    // SAFETY: only the lifetime bound of the trait object changes (same
    // layout). The pointer is dereferenced only by `current`, on this
    // thread, while `f` runs, and `_restore` removes it before `transport`'s
    // borrow ends, even on unwind.
    let ptr: TransportPtr = unsafe { std::mem::transmute(ptr) };
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(ptr))));
    f()
}

/// Calls `f` with the transport installed on this thread, if any.
#[cfg_attr(not(feature = "serde"), allow(dead_code))]
pub(crate) fn current<T>(f: impl FnOnce(&dyn RefTransport) -> T) -> Option<T> {
    let ptr = CURRENT.with(|c| c.get())?;
    // SAFETY: set by `with_transport`, whose borrow is alive while the
    // pointer is installed (see there).
    Some(f(unsafe { &*ptr }))
}

#[cfg(feature = "serde")]
mod serde_impls {
    use std::any::TypeId;

    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::current;
    use crate::actor_ref::ActorRef;
    use crate::reply::ReplyTo;

    const NO_TRANSPORT: &str = "actor references serialize only inside a transport's scope \
         (ferrocast-remote); see ferrocast_actor::transport";

    impl<M: Send + 'static> Serialize for ActorRef<M> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let name =
                current(|t| t.export_ref(self.as_any(), Box::new(self.clone()), TypeId::of::<M>()))
                    .unwrap_or_else(|| Err(NO_TRANSPORT.to_owned()))
                    .map_err(S::Error::custom)?;
            s.serialize_str(&name)
        }
    }

    impl<'de, M: Send + 'static> Deserialize<'de> for ActorRef<M> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let name = String::deserialize(d)?;
            let any = current(|t| t.import_ref(&name, TypeId::of::<M>()))
                .unwrap_or_else(|| Err(NO_TRANSPORT.to_owned()))
                .map_err(D::Error::custom)?;
            any.downcast::<ActorRef<M>>()
                .map(|r| *r)
                .map_err(|_| D::Error::custom("transport imported a reference of another type"))
        }
    }

    impl<R: Send + 'static> Serialize for ReplyTo<R> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let taken = self
                .take()
                .ok_or_else(|| S::Error::custom("ReplyTo was already answered or serialized"))?;
            let name = current(move |t| t.export_reply(Box::new(taken), TypeId::of::<R>()))
                .unwrap_or_else(|| Err(NO_TRANSPORT.to_owned()))
                .map_err(S::Error::custom)?;
            s.serialize_str(&name)
        }
    }

    impl<'de, R: Send + 'static> Deserialize<'de> for ReplyTo<R> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let name = String::deserialize(d)?;
            let any = current(|t| t.import_reply(&name, TypeId::of::<R>()))
                .unwrap_or_else(|| Err(NO_TRANSPORT.to_owned()))
                .map_err(D::Error::custom)?;
            any.downcast::<ReplyTo<R>>()
                .map(|r| *r)
                .map_err(|_| D::Error::custom("transport imported a reply of another type"))
        }
    }
}
