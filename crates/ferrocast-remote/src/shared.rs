//! The state behind a `Remoting` handle: associations, lanes, quarantine.

//! [`Remoting`]: a node's transport, its exports, and the inbound dispatch.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use ferrocast_actor::transport::with_transport;
use ferrocast_actor::{ActorSystem, AnyRef, SystemMessage};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::address::{NodeAddress, UniqueAddress};
use crate::association::{Association, CONTROL, LARGE, ORDINARY, PushError, lock};
use crate::config::RemoteConfig;
use crate::failure_detector::PhiAccrualDetector;
use crate::frame;
use crate::metrics::Counters;
use crate::protocol::{ActorIdentity, Envelope, SystemKind, kind};
use crate::refs::{ClosedFn, Scope};
use crate::serialization::{ExportFn, Registry, ReplyFn, TypeEntry};

use crate::remoting::RemoteEvent;

pub(crate) struct Export {
    pub(crate) path: String,
    pub(crate) target: AnyRef,
    pub(crate) typed: Box<dyn Any + Send + Sync>,
    pub(crate) entry: Arc<TypeEntry>,
    pub(crate) deliver: ExportFn,
}

#[derive(Default)]
pub(crate) struct Exports {
    pub(crate) by_id: HashMap<u64, Arc<Export>>,
    pub(crate) by_path: HashMap<String, u64>,
    /// Well-known services by service id (see [`crate::Remoting::expose_service`]).
    pub(crate) services: HashMap<u64, Arc<Export>>,
}

pub(crate) struct PendingReply {
    pub(crate) complete: ReplyFn,
    pub(crate) closed: ClosedFn,
}

/// The state behind a [`Remoting`] handle.
pub(crate) struct Shared {
    pub(crate) system: ActorSystem,
    pub(crate) registry: Arc<Registry>,
    pub(crate) config: RemoteConfig,
    pub(crate) local: UniqueAddress,
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) tls: Option<crate::tls::Tls>,
    pub(crate) exports: RwLock<Exports>,
    pub(crate) replies: Mutex<HashMap<u64, PendingReply>>,
    pub(crate) next_reply: AtomicU64,
    pub(crate) associations: Mutex<HashMap<NodeAddress, Arc<Association>>>,
    pub(crate) quarantined: RwLock<HashSet<u64>>,
    pub(crate) identify: Mutex<HashMap<u64, oneshot::Sender<ActorIdentity>>>,
    pub(crate) next_correlation: AtomicU64,
    pub(crate) counters: Counters,
    pub(crate) closed: watch::Sender<bool>,
    /// Watches exported actors to remove them when they stop.
    pub(crate) reaper: AnyRef,
    pub(crate) me: std::sync::Weak<Shared>,
}

impl Shared {
    pub(crate) fn arc(&self) -> Option<Arc<Shared>> {
        self.me.upgrade()
    }

    pub(crate) fn close(&self) {
        if !self.closed.send_replace(true) {
            tracing::info!(address = %self.local, "remoting shut down");
        }
        for a in lock(&self.associations).values() {
            a.closed.store(true, Ordering::Release);
            for lane in &a.lanes {
                lane.notify.notify_one();
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    pub(crate) fn is_quarantined(&self, uid: u64) -> bool {
        self.quarantined
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&uid)
    }

    pub(crate) fn lane_for(&self, path: &str) -> usize {
        if self.config.is_large_destination(path) {
            LARGE
        } else {
            ORDINARY
        }
    }

    /// The association with `address`, created on first use.
    pub(crate) fn association(&self, address: &NodeAddress) -> Arc<Association> {
        let mut assocs = lock(&self.associations);
        if let Some(a) = assocs.get(address) {
            return a.clone();
        }
        let a = Arc::new(Association::new(
            address.clone(),
            self.config.outbound_lane_bytes,
            self.config.max_frame_size,
            self.config.max_large_frame_size,
            self.config.system_message_buffer,
            PhiAccrualDetector::new(self.config.failure_detector.clone()),
        ));
        if self.is_closed() {
            a.closed.store(true, Ordering::Release);
        }
        assocs.insert(address.clone(), a.clone());
        a
    }

    pub(crate) fn associations(&self) -> Vec<Arc<Association>> {
        lock(&self.associations).values().cloned().collect()
    }

    pub(crate) fn ensure_writer(&self, assoc: &Arc<Association>, lane: usize) {
        if !assoc.lanes[lane].started.swap(true, Ordering::AcqRel) {
            if let Some(me) = self.arc() {
                self.handle
                    .spawn(crate::connection::lane_writer(me, assoc.clone(), lane));
            }
        }
    }

    /// Encodes a user envelope into `lane`; serialization of references
    /// inside runs in this node's transport scope. Failures are counted
    /// and logged here.
    pub(crate) fn push_envelope<E: fmt::Display>(
        self: &Arc<Self>,
        assoc: &Arc<Association>,
        lane: usize,
        recipient: u64,
        entry: &TypeEntry,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), PushError<String>> {
        let scope = Scope::new(self);
        let result = assoc.lanes[lane].push(&assoc.closed, |out| {
            let start = frame::begin_frame(out, kind::ENVELOPE);
            // The payload's length is known only after encoding: the head
            // reserves a fixed-width length, patched afterwards.
            let len_at = Envelope::encode_head_reserved(
                out,
                recipient,
                entry.serializer_id,
                &entry.manifest,
            );
            let payload_at = out.len();
            with_transport(&scope, || encode(out)).map_err(|e| e.to_string())?;
            let payload_len = out.len() - payload_at;
            Envelope::patch_len(out, len_at, payload_len)?;
            frame::end_frame(out, start);
            Ok::<(), String>(())
        });
        match &result {
            Ok(()) => {
                self.counters.sent.fetch_add(1, Ordering::Relaxed);
                self.ensure_writer(assoc, lane);
            }
            Err(e) => {
                for id in scope.exported_replies.borrow().iter() {
                    lock(&self.replies).remove(id);
                }
                match e {
                    // Not a drop yet: `tell` counts it, `send` waits.
                    PushError::Full | PushError::Closed => {}
                    PushError::Oversized(n) => {
                        let c = self
                            .counters
                            .dropped_oversized
                            .fetch_add(1, Ordering::Relaxed);
                        if c.is_power_of_two() || c == 0 {
                            tracing::warn!(peer = %assoc.remote, size = n, manifest = %entry.manifest,
                                "dropping an oversized message (see max_frame_size / large_message_destinations)");
                        }
                    }
                    PushError::Encode(err) => {
                        let c = self
                            .counters
                            .serialization_failures
                            .fetch_add(1, Ordering::Relaxed);
                        if c.is_power_of_two() || c == 0 {
                            tracing::warn!(peer = %assoc.remote, manifest = %entry.manifest, error = %err,
                                "dropping a message that does not serialize");
                        }
                    }
                }
            }
        }
        result
    }

    /// Queues a control frame (best effort: heartbeats, acks, identify).
    pub(crate) fn push_control(
        &self,
        assoc: &Arc<Association>,
        kind_: u8,
        msg: &impl prost::Message,
    ) {
        let pushed = assoc.lanes[CONTROL].push::<()>(&assoc.closed, |out| {
            frame::put_message(out, kind_, msg);
            Ok(())
        });
        if pushed.is_ok() {
            self.ensure_writer(assoc, CONTROL);
        }
    }

    /// Queues a reliable system message; quarantines the peer if its
    /// buffer of unacknowledged ones is full.
    pub(crate) fn push_system(&self, assoc: &Arc<Association>, to_uid: u64, kind_: SystemKind) {
        if assoc.closed.load(Ordering::Acquire) || self.is_quarantined(to_uid) {
            return;
        }
        if assoc.send_system(to_uid, kind_, Instant::now()) {
            self.ensure_writer(assoc, CONTROL);
        } else if let Some(uid) = assoc.state().uid {
            self.quarantine(assoc, uid, "system message buffer overflow");
        }
    }

    /// Quarantines incarnation `uid` at `assoc`: its watchers learn that
    /// its actors terminated, queued traffic is dropped, and the
    /// association waits for a new incarnation.
    pub(crate) fn quarantine(&self, assoc: &Arc<Association>, uid: u64, reason: &str) {
        if !self
            .quarantined
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid)
        {
            return;
        }
        self.counters.quarantines.fetch_add(1, Ordering::Relaxed);
        let peer = UniqueAddress {
            address: assoc.remote.clone(),
            uid,
        };
        tracing::warn!(peer = %peer, reason, "association quarantined");
        let (watching, proxies) = {
            let mut st = assoc.state();
            if st.uid == Some(uid) {
                st.uid = None;
                st.unacked.clear();
                st.oldest_sent = None;
                st.next_seq = 1;
                st.detector = PhiAccrualDetector::new(self.config.failure_detector.clone());
                assoc.uid.store(0, Ordering::Release);
            }
            (
                std::mem::take(&mut st.watching),
                std::mem::take(&mut st.watched_by_peer),
            )
        };
        // User traffic queued for the quarantined incarnation is dropped;
        // the control lane is kept (identify, acks and heartbeats are not
        // tied to an incarnation, and system messages carry their target
        // uid, which the receiver checks).
        let mut dropped = 0;
        for lane in &assoc.lanes[ORDINARY..] {
            dropped += lane.clear();
        }
        if dropped > 0 {
            self.counters
                .dropped_quarantined_bytes
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        assoc.generation.fetch_add(1, Ordering::AcqRel);
        for lane in &assoc.lanes {
            lane.notify.notify_one();
        }
        for (_, w) in watching {
            for watcher in w.watchers.into_values() {
                watcher.send_system(SystemMessage::Terminated {
                    actor: w.actor.clone(),
                });
            }
        }
        for (actor, proxy) in proxies {
            let export = self
                .exports
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .by_id
                .get(&actor)
                .cloned();
            if let Some(e) = export {
                e.target
                    .send_system(SystemMessage::Unwatch { watcher: proxy });
            }
        }
        self.system
            .event_stream()
            .publish(RemoteEvent::Quarantined {
                peer,
                reason: reason.to_owned(),
            });
    }

    /// A handshake told the uid of the peer at `assoc`: admits it, or
    /// refuses a quarantined incarnation; a new uid quarantines the old.
    pub(crate) fn on_peer_uid(&self, assoc: &Arc<Association>, uid: u64) -> Result<(), String> {
        if self.is_quarantined(uid) {
            return Err(format!(
                "incarnation {uid} of {} is quarantined",
                assoc.remote
            ));
        }
        let old = assoc.state().uid;
        match old {
            Some(old) if old == uid => return Ok(()),
            Some(old) => self.quarantine(assoc, old, "the node restarted with a new uid"),
            None => {}
        }
        let mut st = assoc.state();
        if st.uid.is_none() {
            st.uid = Some(uid);
            assoc.uid.store(uid, Ordering::Release);
            drop(st);
            assoc.closed.store(self.is_closed(), Ordering::Release);
            tracing::debug!(peer = %assoc.remote, uid, "associated");
            self.system.event_stream().publish(RemoteEvent::Associated {
                peer: UniqueAddress {
                    address: assoc.remote.clone(),
                    uid,
                },
            });
        }
        Ok(())
    }
}
