//! Death watch on behalf of a receptionist or a topic: a tiny target that
//! turns `Terminated` into a call on its (weakly held) owner.

use std::sync::{Arc, Weak};

use ferrocast_actor::{ActorPath, ActorTarget, ActorUid, AnyRef, SystemMessage};

/// Something that keeps references and forgets them when they stop.
pub(crate) trait OnTerminated: Send + Sync + 'static {
    /// The watched actor `uid` stopped.
    fn terminated(&self, uid: ActorUid);
}

/// Watches registered actors for `T`; gone (terminated) with its owner.
struct Hook<T> {
    uid: ActorUid,
    path: ActorPath,
    owner: Weak<T>,
}

impl<T: OnTerminated> ActorTarget for Hook<T> {
    fn uid(&self) -> ActorUid {
        self.uid
    }

    fn path(&self) -> ActorPath {
        self.path.clone()
    }

    fn send_system(&self, msg: SystemMessage) {
        if let (SystemMessage::Terminated { actor }, Some(owner)) = (msg, self.owner.upgrade()) {
            owner.terminated(actor.uid());
        }
    }

    fn is_terminated(&self) -> bool {
        self.owner.strong_count() == 0
    }
}

/// A watcher reference that calls `owner.terminated` (`uid` comes from
/// the actor system's `next_uid`).
pub(crate) fn hook<T: OnTerminated>(uid: ActorUid, path: &str, owner: Weak<T>) -> AnyRef {
    AnyRef::from_target(Arc::new(Hook {
        uid,
        path: ActorPath::new(path.to_owned()),
        owner,
    }))
}
