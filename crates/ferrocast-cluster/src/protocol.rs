//! Messages between membership engines.
//!
//! Plain data (owned values, no references or closures) so the I/O layer
//! can map each variant to a prost message one to one.

use std::collections::BTreeSet;

use ferrocast_remote::{NodeAddress, UniqueAddress};

use crate::gossip::Gossip;
use crate::member::AppVersion;
use crate::vclock::VectorClock;

/// A message from one engine to another.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterMessage {
    /// "Are you in a cluster?" — sent to seed nodes.
    InitJoin {
        /// The asking node.
        from: UniqueAddress,
    },
    /// "Yes, join through me."
    InitJoinAck {
        /// The answering member.
        from: UniqueAddress,
    },
    /// "No, I am not in a cluster yet."
    InitJoinNack {
        /// The answering node.
        from: NodeAddress,
    },
    /// A request to join the cluster of the receiver.
    Join {
        /// The joining incarnation.
        node: UniqueAddress,
        /// Its roles.
        roles: BTreeSet<String>,
        /// Its application version.
        app_version: AppVersion,
    },
    /// The join was accepted: here is the membership state.
    Welcome {
        /// The accepting member.
        from: UniqueAddress,
        /// The state, which contains the joiner.
        gossip: Gossip,
    },
    /// The full membership state.
    Gossip {
        /// The sender.
        from: UniqueAddress,
        /// The intended receiver (a restarted node with a new uid ignores it).
        to: UniqueAddress,
        /// The state.
        gossip: Gossip,
    },
    /// Just the version, sent when the receiver has seen it already: the
    /// receiver answers with its full state only if it knows better.
    GossipStatus {
        /// The sender.
        from: UniqueAddress,
        /// The sender's version.
        version: VectorClock,
        /// Who the sender knows has seen that version (the seen digest):
        /// equal versions with different seen-sets still need a gossip.
        seen: BTreeSet<UniqueAddress>,
    },
    /// A liveness probe from a monitoring node.
    Heartbeat {
        /// The monitoring node.
        from: UniqueAddress,
        /// Echoed in the response.
        sequence: u64,
    },
    /// The answer to a heartbeat.
    HeartbeatResponse {
        /// The monitored node.
        from: UniqueAddress,
        /// The heartbeat's sequence number.
        sequence: u64,
    },
}
