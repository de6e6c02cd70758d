//! [`Watchers`]: the watched side of death watch, for custom targets.
//!
//! Actor cells keep their watchers in their context. References that are
//! not actors (test probes, stream sources, remote references) implement
//! [`ActorTarget`](crate::ActorTarget) themselves; this set gives them the
//! same semantics: a watch of a live target is remembered, a watch of a
//! terminated one is answered at once, and termination tells every watcher
//! exactly once.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use crate::target::{ActorUid, AnyRef, SystemMessage};

/// Who watches a custom target; see the module docs.
pub struct Watchers {
    /// `None` once the target has terminated.
    watchers: Mutex<Option<HashMap<ActorUid, AnyRef>>>,
}

impl Default for Watchers {
    fn default() -> Self {
        Watchers {
            watchers: Mutex::new(Some(HashMap::new())),
        }
    }
}

impl Watchers {
    fn lock(&self) -> MutexGuard<'_, Option<HashMap<ActorUid, AnyRef>>> {
        self.watchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Handles `Watch` and `Unwatch`; returns any other message for the
    /// target to handle itself. `me` names the target in a `Terminated`
    /// sent to a watcher that arrives after termination.
    pub fn handle(
        &self,
        msg: SystemMessage,
        me: impl FnOnce() -> Option<AnyRef>,
    ) -> Option<SystemMessage> {
        match msg {
            SystemMessage::Watch { watcher } => {
                let mut watchers = self.lock();
                match watchers.as_mut() {
                    Some(all) => {
                        all.insert(watcher.uid(), watcher);
                    }
                    None => {
                        drop(watchers);
                        if let Some(me) = me() {
                            watcher.send_system(SystemMessage::Terminated { actor: me });
                        }
                    }
                }
                None
            }
            SystemMessage::Unwatch { watcher } => {
                if let Some(all) = self.lock().as_mut() {
                    all.remove(&watcher.uid());
                }
                None
            }
            other => Some(other),
        }
    }

    /// The target terminated: tells every watcher once; later watches are
    /// answered at once. Idempotent.
    pub fn terminate(&self, me: impl FnOnce() -> Option<AnyRef>) {
        let watchers = self.lock().take();
        let Some(watchers) = watchers.filter(|w| !w.is_empty()) else {
            return;
        };
        let Some(me) = me() else {
            return;
        };
        for watcher in watchers.into_values() {
            watcher.send_system(SystemMessage::Terminated { actor: me.clone() });
        }
    }

    /// True once [`Watchers::terminate`] ran.
    pub fn is_terminated(&self) -> bool {
        self.lock().is_none()
    }
}

impl fmt::Debug for Watchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.lock().as_ref() {
            Some(all) => write!(f, "Watchers({})", all.len()),
            None => f.write_str("Watchers(terminated)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::path::ActorPath;
    use crate::target::ActorTarget;

    /// Records the system messages it is sent.
    struct Recorder {
        uid: ActorUid,
        got: Mutex<Vec<String>>,
    }

    impl ActorTarget for Recorder {
        fn uid(&self) -> ActorUid {
            self.uid
        }
        fn path(&self) -> ActorPath {
            ActorPath::new(format!("/test/{}", self.uid.actor))
        }
        fn send_system(&self, msg: SystemMessage) {
            self.got.lock().unwrap().push(format!("{msg:?}"));
        }
        fn is_terminated(&self) -> bool {
            false
        }
    }

    fn recorder(id: u64) -> (Arc<Recorder>, AnyRef) {
        let r = Arc::new(Recorder {
            uid: ActorUid {
                system: 1,
                actor: id,
            },
            got: Mutex::new(Vec::new()),
        });
        (r.clone(), AnyRef::from_target(r))
    }

    #[test]
    fn watchers_are_told_once_and_late_watchers_at_once() {
        let watchers = Watchers::default();
        let (me_rec, me) = recorder(1);
        let (a_rec, a) = recorder(2);
        let (b_rec, b) = recorder(3);
        let (c_rec, c) = recorder(4);
        assert!(
            watchers
                .handle(SystemMessage::Watch { watcher: a.clone() }, || None)
                .is_none()
        );
        assert!(
            watchers
                .handle(SystemMessage::Watch { watcher: b.clone() }, || None)
                .is_none()
        );
        assert!(
            watchers
                .handle(SystemMessage::Unwatch { watcher: b }, || None)
                .is_none()
        );
        assert!(matches!(
            watchers.handle(SystemMessage::Stop, || None),
            Some(SystemMessage::Stop)
        ));
        watchers.terminate(|| Some(me.clone()));
        watchers.terminate(|| Some(me.clone()));
        assert!(watchers.is_terminated());
        assert_eq!(a_rec.got.lock().unwrap().len(), 1);
        assert!(b_rec.got.lock().unwrap().is_empty());
        watchers.handle(SystemMessage::Watch { watcher: c }, || Some(me.clone()));
        let told = c_rec.got.lock().unwrap().clone();
        assert_eq!(told.len(), 1);
        assert!(told[0].starts_with("Terminated"), "{told:?}");
        assert!(me_rec.got.lock().unwrap().is_empty());
    }
}
