//! Remote death watch: watch tables, the proxy that relays a local
//! actor's termination, the export reaper, and the housekeeping timer
//! (heartbeats, failure detection, system-message redelivery).

//! [`Remoting`]: a node's transport, its exports, and the inbound dispatch.

use std::collections::HashMap;
use std::sync::Arc;

use ferrocast_actor::{ActorPath, ActorTarget, ActorUid, AnyRef, SystemMessage};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::association::{Association, CONTROL, Watched};
use crate::protocol::{DeathWatchNotification, Heartbeat, SystemKind, Watch, kind};

use crate::shared::Shared;

impl Shared {
    /// A system message for a remote actor, from the local runtime.
    pub(crate) fn remote_system_message(
        &self,
        assoc: &Arc<Association>,
        actor: ActorUid,
        msg: SystemMessage,
        me: impl FnOnce() -> AnyRef,
    ) {
        match msg {
            SystemMessage::Watch { watcher } => {
                if self.is_quarantined(actor.system) {
                    watcher.send_system(SystemMessage::Terminated { actor: me() });
                    return;
                }
                let first = {
                    let mut st = assoc.state();
                    let w = st.watching.entry(actor.actor).or_insert_with(|| Watched {
                        actor: me(),
                        watchers: HashMap::new(),
                    });
                    let first = w.watchers.is_empty();
                    w.watchers.insert(watcher.uid(), watcher);
                    // Start the clock now, so a node that never answers a
                    // heartbeat is still detected (Akka seeds it after the
                    // first expected response; the estimate covers that).
                    if !st.detector.is_monitoring() {
                        st.detector.heartbeat(Instant::now());
                    }
                    first
                };
                if first {
                    self.push_system(
                        assoc,
                        actor.system,
                        SystemKind::Watch(Watch {
                            watchee: actor.actor,
                        }),
                    );
                }
            }
            SystemMessage::Unwatch { watcher } => {
                let last = {
                    let mut st = assoc.state();
                    match st.watching.get_mut(&actor.actor) {
                        Some(w) => {
                            w.watchers.remove(&watcher.uid());
                            let empty = w.watchers.is_empty();
                            if empty {
                                st.watching.remove(&actor.actor);
                            }
                            empty
                        }
                        None => false,
                    }
                };
                if last {
                    self.push_system(
                        assoc,
                        actor.system,
                        SystemKind::Unwatch(Watch {
                            watchee: actor.actor,
                        }),
                    );
                }
            }
            other => {
                // Stopping or supervising an actor of another node is not
                // something references do (as in Akka Typed).
                tracing::debug!(actor = ?actor, msg = ?other, "system message to a remote actor ignored");
            }
        }
    }
}

/// Relays the termination of a local actor to the peer that watches it.
pub(crate) struct WatchProxy {
    pub(crate) uid: ActorUid,
    pub(crate) shared: std::sync::Weak<Shared>,
    pub(crate) peer: Arc<Association>,
    pub(crate) peer_uid: u64,
    pub(crate) actor: u64,
}

impl ActorTarget for WatchProxy {
    fn uid(&self) -> ActorUid {
        self.uid
    }
    fn path(&self) -> ActorPath {
        ActorPath::new(format!("/system/remote-watcher/{}", self.peer.remote))
    }
    fn send_system(&self, msg: SystemMessage) {
        if let SystemMessage::Terminated { .. } = msg {
            if let Some(shared) = self.shared.upgrade() {
                let mut st = self.peer.state();
                let current = st
                    .watched_by_peer
                    .get(&self.actor)
                    .is_some_and(|p| p.uid() == self.uid);
                if current {
                    st.watched_by_peer.remove(&self.actor);
                }
                drop(st);
                if current {
                    shared.push_system(
                        &self.peer,
                        self.peer_uid,
                        SystemKind::DeathWatchNotification(DeathWatchNotification {
                            actor: self.actor,
                            existence_confirmed: true,
                        }),
                    );
                }
            }
        }
    }
    fn is_terminated(&self) -> bool {
        self.shared.upgrade().is_none_or(|s| s.is_closed())
    }
}

/// Removes exports of actors that stopped.
pub(crate) struct ExportReaper {
    pub(crate) uid: ActorUid,
    pub(crate) shared: std::sync::Weak<Shared>,
}

impl ActorTarget for ExportReaper {
    fn uid(&self) -> ActorUid {
        self.uid
    }
    fn path(&self) -> ActorPath {
        ActorPath::new("/system/remote-exports".into())
    }
    fn send_system(&self, msg: SystemMessage) {
        if let (SystemMessage::Terminated { actor }, Some(shared)) = (msg, self.shared.upgrade()) {
            shared.unexport(actor.uid().actor);
        }
    }
    fn is_terminated(&self) -> bool {
        self.shared.upgrade().is_none_or(|s| s.is_closed())
    }
}

/// Heartbeats, failure detection, system-message redelivery and reply
/// slot sweeping, on one timer per node.
pub(crate) async fn housekeeping(
    shared: std::sync::Weak<Shared>,
    mut closed: watch::Receiver<bool>,
) {
    let interval = match shared.upgrade() {
        Some(s) => s
            .config
            .heartbeat_interval
            .min(s.config.system_message_resend_interval),
        None => return,
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = closed.changed() => return,
        }
        let Some(s) = shared.upgrade() else { return };
        if s.is_closed() {
            return;
        }
        let now = Instant::now();
        for assoc in s.associations() {
            s.check_association(&assoc, now);
        }
        s.sweep_replies();
    }
}

impl Shared {
    fn check_association(&self, assoc: &Arc<Association>, now: Instant) {
        let (uid, watching, suspect, resend, give_up) = {
            let st = assoc.state();
            let Some(uid) = st.uid else {
                return;
            };
            let watching = !st.watching.is_empty();
            let suspect = watching && !st.detector.is_available(now);
            let since = st.last_resend.or(st.oldest_sent);
            let resend = !st.unacked.is_empty()
                && since.is_some_and(|t| {
                    now.duration_since(t) >= self.config.system_message_resend_interval
                });
            let give_up = st
                .oldest_sent
                .is_some_and(|t| now.duration_since(t) >= self.config.give_up_system_message_after);
            (uid, watching, suspect, resend, give_up)
        };
        if suspect {
            self.quarantine(assoc, uid, "unreachable: the failure detector suspects it");
            return;
        }
        if give_up {
            self.quarantine(assoc, uid, "system messages not acknowledged in time");
            return;
        }
        if resend {
            assoc.resend_unacked(now);
            self.ensure_writer(assoc, CONTROL);
        }
        if watching {
            self.push_control(
                assoc,
                kind::HEARTBEAT,
                &Heartbeat {
                    uid: self.local.uid,
                },
            );
        }
    }
}
