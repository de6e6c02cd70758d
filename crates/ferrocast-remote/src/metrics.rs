//! Counters of a node's remoting.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) dropped_overflow: AtomicU64,
    pub(crate) dropped_oversized: AtomicU64,
    pub(crate) serialization_failures: AtomicU64,
    pub(crate) dropped_unknown_recipient: AtomicU64,
    pub(crate) dropped_unknown_manifest: AtomicU64,
    pub(crate) dropped_undecodable: AtomicU64,
    pub(crate) dropped_quarantined_bytes: AtomicU64,
    pub(crate) malformed_frames: AtomicU64,
    pub(crate) handshakes_rejected: AtomicU64,
    pub(crate) quarantines: AtomicU64,
    pub(crate) connects: AtomicU64,
}

/// A snapshot of the counters (monotonic since start).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteMetrics {
    /// User messages (and answers) queued for sending.
    pub sent: u64,
    /// User messages (and answers) received.
    pub received: u64,
    /// Dropped because an outbound lane was full.
    pub dropped_overflow: u64,
    /// Dropped because larger than the lane's maximum frame.
    pub dropped_oversized: u64,
    /// Dropped because they did not serialize.
    pub serialization_failures: u64,
    /// Inbound, for an actor not (or no longer) exported here.
    pub dropped_unknown_recipient: u64,
    /// Inbound, with a serializer id or manifest the recipient does not read.
    pub dropped_unknown_manifest: u64,
    /// Inbound, whose bytes did not decode.
    pub dropped_undecodable: u64,
    /// Queued bytes dropped when their peer was quarantined.
    pub dropped_quarantined_bytes: u64,
    /// Frames that did not parse (the connection is closed).
    pub malformed_frames: u64,
    /// Inbound handshakes refused (wrong system, secret, quarantined...).
    pub handshakes_rejected: u64,
    /// Peer incarnations quarantined.
    pub quarantines: u64,
    /// Outbound lane connections established.
    pub connects: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RemoteMetrics {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RemoteMetrics {
            sent: g(&self.sent),
            received: g(&self.received),
            dropped_overflow: g(&self.dropped_overflow),
            dropped_oversized: g(&self.dropped_oversized),
            serialization_failures: g(&self.serialization_failures),
            dropped_unknown_recipient: g(&self.dropped_unknown_recipient),
            dropped_unknown_manifest: g(&self.dropped_unknown_manifest),
            dropped_undecodable: g(&self.dropped_undecodable),
            dropped_quarantined_bytes: g(&self.dropped_quarantined_bytes),
            malformed_frames: g(&self.malformed_frames),
            handshakes_rejected: g(&self.handshakes_rejected),
            quarantines: g(&self.quarantines),
            connects: g(&self.connects),
        }
    }
}
