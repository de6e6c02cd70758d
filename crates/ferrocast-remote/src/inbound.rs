//! Inbound frames: user messages to exports and pending asks, system
//! messages, acknowledgements, heartbeats and identify.

//! [`Remoting`]: a node's transport, its exports, and the inbound dispatch.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferrocast_actor::transport::with_transport;
use ferrocast_actor::{AnyRef, SystemMessage};
use tokio::time::Instant;

use crate::association::{Association, lock};
use crate::protocol::{
    self, ActorIdentity, DeathWatchNotification, Envelope, Heartbeat, Identify, Quarantined,
    SystemAck, SystemEnvelope, SystemKind, kind,
};
use crate::refs::Scope;
use crate::serialization::InboundError;

use crate::remoting::{REPLY_BIT, SERVICE_BIT};
use crate::shared::{Export, Shared};
use crate::watch::WatchProxy;

impl Shared {
    /// Dispatches one inbound frame from the peer incarnation `peer`.
    /// Bad input is counted and logged, never a panic; an error return
    /// closes the connection.
    pub(crate) fn on_frame(
        self: &Arc<Self>,
        peer: &Arc<Association>,
        peer_uid: u64,
        kind_: u8,
        body: &[u8],
    ) -> Result<(), protocol::DecodeError> {
        match kind_ {
            kind::ENVELOPE => {
                let env = Envelope::decode(body)?;
                self.counters.received.fetch_add(1, Ordering::Relaxed);
                let scope = Scope::new(self);
                if let Err(e) = with_transport(&scope, || self.deliver(&env)) {
                    self.count_inbound_error(&e, peer);
                }
            }
            kind::SYSTEM => {
                let env: SystemEnvelope = protocol::decode(body)?;
                self.on_system(peer, peer_uid, env);
            }
            kind::SYSTEM_ACK => {
                let ack: SystemAck = protocol::decode(body)?;
                if peer.uid.load(Ordering::Acquire) == peer_uid {
                    peer.on_ack(ack.seq, Instant::now());
                }
            }
            kind::HEARTBEAT => {
                let _hb: Heartbeat = protocol::decode(body)?;
                self.push_control(
                    peer,
                    kind::HEARTBEAT_RSP,
                    &Heartbeat {
                        uid: self.local.uid,
                    },
                );
            }
            kind::HEARTBEAT_RSP => {
                let rsp: Heartbeat = protocol::decode(body)?;
                let mut st = peer.state();
                if st.uid == Some(rsp.uid) {
                    st.detector.heartbeat(Instant::now());
                }
            }
            kind::IDENTIFY => {
                let req: Identify = protocol::decode(body)?;
                let answer = self.identify(&req);
                self.push_control(peer, kind::ACTOR_IDENTITY, &answer);
            }
            kind::ACTOR_IDENTITY => {
                let answer: ActorIdentity = protocol::decode(body)?;
                if let Some(tx) = lock(&self.identify).remove(&answer.correlation) {
                    let _ = tx.send(answer);
                }
            }
            kind::QUARANTINED => {
                let q: Quarantined = protocol::decode(body)?;
                if q.uid == self.local.uid {
                    tracing::warn!(peer = %peer.remote, reason = %q.reason,
                        "this node was quarantined by a peer");
                }
            }
            other => {
                self.counters
                    .malformed_frames
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %peer.remote, kind = other, "unknown frame kind dropped");
            }
        }
        Ok(())
    }

    fn deliver(&self, env: &Envelope<'_>) -> Result<(), InboundError> {
        if env.recipient & REPLY_BIT != 0 {
            let pending = lock(&self.replies).remove(&env.recipient);
            return match pending {
                Some(p) => (p.complete)(env.serializer_id, env.manifest, env.payload),
                // The asker timed out and its slot was swept: normal.
                None => Ok(()),
            };
        }
        let export = {
            let exports = self.exports.read().unwrap_or_else(|e| e.into_inner());
            if env.recipient & SERVICE_BIT != 0 {
                exports.services.get(&env.recipient).cloned()
            } else {
                exports.by_id.get(&env.recipient).cloned()
            }
        };
        match export {
            Some(e) => (e.deliver)(env.serializer_id, env.manifest, env.payload),
            None => Err(InboundError::UnknownRecipient(env.recipient)),
        }
    }

    fn count_inbound_error(&self, e: &InboundError, peer: &Association) {
        let counter = match e {
            InboundError::WrongManifest { .. } => &self.counters.dropped_unknown_manifest,
            InboundError::Decode(_) => &self.counters.dropped_undecodable,
            InboundError::UnknownRecipient(_) => &self.counters.dropped_unknown_recipient,
        };
        let c = counter.fetch_add(1, Ordering::Relaxed);
        if c == 0 || c.is_power_of_two() {
            tracing::warn!(peer = %peer.remote, error = %e, count = c + 1, "inbound message dropped");
        }
    }

    fn identify(&self, req: &Identify) -> ActorIdentity {
        let exports = self.exports.read().unwrap_or_else(|e| e.into_inner());
        let found = exports
            .by_path
            .get(&req.path)
            .and_then(|id| exports.by_id.get(id));
        match found {
            Some(e) if e.target.is_terminated() => ActorIdentity {
                correlation: req.correlation,
                actor_id: 0,
                error: String::new(),
            },
            Some(e) if !e.entry.accepts(req.serializer_id, &req.manifest) => ActorIdentity {
                correlation: req.correlation,
                actor_id: 0,
                error: format!(
                    "the actor at {} reads {} (serializer {}), not {} (serializer {})",
                    req.path,
                    e.entry.manifest,
                    e.entry.serializer_id,
                    req.manifest,
                    req.serializer_id
                ),
            },
            Some(e) => ActorIdentity {
                correlation: req.correlation,
                actor_id: e.target.uid().actor,
                error: String::new(),
            },
            None => ActorIdentity {
                correlation: req.correlation,
                actor_id: 0,
                error: String::new(),
            },
        }
    }

    fn on_system(self: &Arc<Self>, peer: &Arc<Association>, peer_uid: u64, env: SystemEnvelope) {
        if env.to_uid != self.local.uid {
            // Queued for an earlier incarnation of this node: not ours, and
            // not acknowledged (that sender's state for it is gone).
            return;
        }
        let (deliver, acked) = {
            let mut st = peer.state();
            if st.inbound_uid != peer_uid {
                st.inbound_uid = peer_uid;
                st.inbound_expected = 1;
            }
            let deliver = env.seq == st.inbound_expected;
            if deliver {
                st.inbound_expected += 1;
            }
            (deliver, st.inbound_expected - 1)
        };
        self.push_control(peer, kind::SYSTEM_ACK, &SystemAck { seq: acked });
        if !deliver {
            return;
        }
        match env.kind {
            Some(SystemKind::Watch(w)) => self.peer_watches(peer, peer_uid, w.watchee),
            Some(SystemKind::Unwatch(w)) => {
                let proxy = peer.state().watched_by_peer.remove(&w.watchee);
                let export = self.export_by_id(w.watchee);
                if let (Some(proxy), Some(e)) = (proxy, export) {
                    e.target
                        .send_system(SystemMessage::Unwatch { watcher: proxy });
                }
            }
            Some(SystemKind::DeathWatchNotification(n)) => {
                let watched = peer.state().watching.remove(&n.actor);
                if let Some(w) = watched {
                    for watcher in w.watchers.into_values() {
                        watcher.send_system(SystemMessage::Terminated {
                            actor: w.actor.clone(),
                        });
                    }
                }
            }
            None => {
                self.counters
                    .malformed_frames
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn export_by_id(&self, id: u64) -> Option<Arc<Export>> {
        self.exports
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .get(&id)
            .cloned()
    }

    /// The peer watches local actor `actor`: a proxy watcher relays its
    /// termination as a death-watch notification.
    fn peer_watches(self: &Arc<Self>, peer: &Arc<Association>, peer_uid: u64, actor: u64) {
        let Some(export) = self.export_by_id(actor) else {
            self.push_system(
                peer,
                peer_uid,
                SystemKind::DeathWatchNotification(DeathWatchNotification {
                    actor,
                    existence_confirmed: false,
                }),
            );
            return;
        };
        let proxy = AnyRef::from_target(Arc::new(WatchProxy {
            uid: self.system.next_uid(),
            shared: Arc::downgrade(self),
            peer: peer.clone(),
            peer_uid,
            actor,
        }));
        peer.state().watched_by_peer.insert(actor, proxy.clone());
        export
            .target
            .send_system(SystemMessage::Watch { watcher: proxy });
    }

    /// Removes reply slots whose askers gave up.
    pub(crate) fn sweep_replies(&self) {
        lock(&self.replies).retain(|_, p| !(p.closed)());
    }
}
