//! One association per peer node: three outbound lanes, the reliable
//! system-message channel, and the death-watch bookkeeping toward it.
//!
//! Connections are one-way: this node writes to a peer over its own three
//! lane connections (control, ordinary, large) and reads what the peer
//! sends over the peer's. Each lane is a byte queue that senders encode
//! frames into directly (no allocation per message) and that one writer
//! task drains with one `write_all` per batch.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use ferrocast_actor::{ActorUid, AnyRef};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::address::NodeAddress;
use crate::failure_detector::PhiAccrualDetector;
use crate::frame;
use crate::protocol::{SystemEnvelope, SystemKind, kind};

/// Lane indexes.
pub(crate) const CONTROL: usize = 0;
pub(crate) const ORDINARY: usize = 1;
pub(crate) const LARGE: usize = 2;
pub(crate) const LANE_NAMES: [&str; 3] = ["control", "ordinary", "large"];

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError<E> {
    /// The lane's byte bound is reached.
    Full,
    /// The frame exceeds the lane's maximum frame size.
    Oversized(usize),
    /// The association is closed (quarantined or shut down).
    Closed,
    /// The encoder failed.
    Encode(E),
}

struct LaneBuf {
    data: Vec<u8>,
    /// Senders waiting for room (`ActorRef::send`).
    waiters: Vec<Waker>,
}

/// One outbound lane's queue.
pub(crate) struct Lane {
    buf: Mutex<LaneBuf>,
    pub(crate) notify: Notify,
    pub(crate) started: AtomicBool,
    capacity: usize,
    max_frame: usize,
}

impl Lane {
    fn new(capacity: usize, max_frame: usize) -> Self {
        Lane {
            buf: Mutex::new(LaneBuf {
                data: Vec::new(),
                waiters: Vec::new(),
            }),
            notify: Notify::new(),
            started: AtomicBool::new(false),
            capacity,
            max_frame,
        }
    }

    /// Appends one frame written by `encode` (which returns nothing; the
    /// frame is everything it appended). Atomic: on any error the queue is
    /// left as it was.
    pub(crate) fn push<E>(
        &self,
        closed: &AtomicBool,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), PushError<E>> {
        let mut b = lock(&self.buf);
        if closed.load(Ordering::Acquire) {
            return Err(PushError::Closed);
        }
        if b.data.len() >= self.capacity {
            return Err(PushError::Full);
        }
        let was_empty = b.data.is_empty();
        let start = b.data.len();
        if let Err(e) = encode(&mut b.data) {
            b.data.truncate(start);
            return Err(PushError::Encode(e));
        }
        let size = b.data.len() - start;
        if size > self.max_frame + 4 {
            b.data.truncate(start);
            return Err(PushError::Oversized(size));
        }
        drop(b);
        if was_empty {
            self.notify.notify_one();
        }
        Ok(())
    }

    /// Registers a sender waiting for room; false if there is room now.
    pub(crate) fn wait_for_room(&self, waker: &Waker) -> bool {
        let mut b = lock(&self.buf);
        if b.data.len() < self.capacity {
            return false;
        }
        b.waiters.push(waker.clone());
        true
    }

    /// Takes everything queued, leaving `spare` (cleared) in its place.
    pub(crate) fn take(&self, spare: &mut Vec<u8>) {
        spare.clear();
        let waiters = {
            let mut b = lock(&self.buf);
            std::mem::swap(&mut b.data, spare);
            std::mem::take(&mut b.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }

    /// Drops everything queued; returns how many bytes.
    pub(crate) fn clear(&self) -> usize {
        let (n, waiters) = {
            let mut b = lock(&self.buf);
            let n = b.data.len();
            b.data = Vec::new();
            (n, std::mem::take(&mut b.waiters))
        };
        for w in waiters {
            w.wake();
        }
        n
    }
}

/// Local actors that watch one remote actor.
pub(crate) struct Watched {
    /// The remote actor, as its `Terminated` names it.
    pub(crate) actor: AnyRef,
    pub(crate) watchers: HashMap<ActorUid, AnyRef>,
}

/// Mutable state of an association.
pub(crate) struct AssocState {
    /// The peer's incarnation, once a handshake told it.
    pub(crate) uid: Option<u64>,
    /// Next outbound system message sequence number (from 1).
    pub(crate) next_seq: u64,
    /// Sent and not yet acknowledged: `(seq, encoded frame)`.
    pub(crate) unacked: VecDeque<(u64, Vec<u8>)>,
    /// When the oldest unacked message was first sent, and when the last
    /// (re)send happened.
    pub(crate) oldest_sent: Option<Instant>,
    pub(crate) last_resend: Option<Instant>,
    /// The next system message expected from the peer, and the incarnation
    /// it is counted for.
    pub(crate) inbound_uid: u64,
    pub(crate) inbound_expected: u64,
    /// Remote actors (by id on the peer) that local actors watch.
    pub(crate) watching: HashMap<u64, Watched>,
    /// Local actors (by id) the peer watches, with the proxy watcher
    /// registered on them.
    pub(crate) watched_by_peer: HashMap<u64, AnyRef>,
    pub(crate) detector: PhiAccrualDetector,
}

/// This node's association with one peer address.
pub(crate) struct Association {
    pub(crate) remote: NodeAddress,
    pub(crate) lanes: [Lane; 3],
    pub(crate) state: Mutex<AssocState>,
    /// Set when the current incarnation is quarantined: pushes fail until
    /// [`Association::reset`] admits a new incarnation.
    pub(crate) closed: AtomicBool,
    /// Bumped on every reset; lane writers reconnect when it changes.
    pub(crate) generation: AtomicU64,
    /// The uid of the current incarnation, readable without the lock (0:
    /// not known yet).
    pub(crate) uid: AtomicU64,
    /// Bound of `unacked`.
    system_buffer: usize,
}

impl Association {
    pub(crate) fn new(
        remote: NodeAddress,
        lane_bytes: usize,
        max_frame: usize,
        max_large_frame: usize,
        system_buffer: usize,
        detector: PhiAccrualDetector,
    ) -> Self {
        Association {
            remote,
            lanes: [
                Lane::new(lane_bytes, max_frame),
                Lane::new(lane_bytes, max_frame),
                Lane::new(lane_bytes, max_large_frame),
            ],
            state: Mutex::new(AssocState {
                uid: None,
                next_seq: 1,
                unacked: VecDeque::new(),
                oldest_sent: None,
                last_resend: None,
                inbound_uid: 0,
                inbound_expected: 1,
                watching: HashMap::new(),
                watched_by_peer: HashMap::new(),
                detector,
            }),
            closed: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            uid: AtomicU64::new(0),
            system_buffer,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, AssocState> {
        lock(&self.state)
    }

    /// Queues a system message for reliable delivery; false if the buffer
    /// of unacknowledged messages is full (the caller quarantines).
    pub(crate) fn send_system(&self, to_uid: u64, kind_: SystemKind, now: Instant) -> bool {
        let mut st = self.state();
        if st.uid.is_some_and(|u| u != to_uid) {
            // For an incarnation that is gone: its watchers were told.
            return true;
        }
        if st.unacked.len() >= self.system_buffer {
            return false;
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        let mut bytes = Vec::new();
        frame::put_message(
            &mut bytes,
            kind::SYSTEM,
            &SystemEnvelope {
                seq,
                kind: Some(kind_),
                to_uid,
            },
        );
        if st.unacked.is_empty() {
            st.oldest_sent = Some(now);
        }
        st.unacked.push_back((seq, bytes.clone()));
        drop(st);
        // A full or closed control lane is fine: the message stays in
        // `unacked` and is sent again.
        let _ = self.lanes[CONTROL].push::<()>(&self.closed, |out| {
            out.extend_from_slice(&bytes);
            Ok(())
        });
        true
    }

    /// Drops acknowledged system messages.
    pub(crate) fn on_ack(&self, seq: u64, now: Instant) {
        let mut st = self.state();
        let before = st.unacked.len();
        while st.unacked.front().is_some_and(|(s, _)| *s <= seq) {
            st.unacked.pop_front();
        }
        if st.unacked.len() != before {
            st.oldest_sent = (!st.unacked.is_empty()).then_some(now);
            st.last_resend = None;
        }
    }

    /// Queues every unacknowledged system message again.
    pub(crate) fn resend_unacked(&self, now: Instant) {
        let frames: Vec<Vec<u8>> = {
            let mut st = self.state();
            st.last_resend = Some(now);
            st.unacked.iter().map(|(_, f)| f.clone()).collect()
        };
        for f in frames {
            if self.lanes[CONTROL]
                .push::<()>(&self.closed, |out| {
                    out.extend_from_slice(&f);
                    Ok(())
                })
                .is_err()
            {
                break;
            }
        }
    }
}
