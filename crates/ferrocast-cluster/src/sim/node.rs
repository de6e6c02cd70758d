//! A simulated node and the messages between nodes.

use ferrocast_remote::NodeAddress;
use tokio::time::Instant;

use crate::engine::MembershipEngine;
use crate::protocol::ClusterMessage;
use crate::singleton::{SingletonManager, SingletonMessage};

/// A message on the simulated network: to the engine or to the singleton
/// manager of the receiving node.
#[derive(Debug)]
pub(super) enum SimMessage {
    Cluster(ClusterMessage),
    Singleton(SingletonMessage),
}

#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) deliver_at: Instant,
    pub(super) seq: u64,
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) msg: SimMessage,
}

/// One simulated node.
#[derive(Debug)]
pub struct SimNode {
    pub(super) address: NodeAddress,
    /// The current incarnation; `None` while crashed.
    pub(super) engine: Option<MembershipEngine>,
    /// When a stopped node comes back (heal phase).
    pub(super) restart_at: Option<Instant>,
    /// The singleton manager of the current incarnation.
    pub(super) singleton: Option<SingletonManager>,
    /// The simulated singleton instance runs here (between
    /// `StartInstance` and `StopInstance`).
    pub(super) instance: bool,
}

impl SimNode {
    /// The running engine, if the node is up and its engine did not stop.
    pub fn running(&self) -> Option<&MembershipEngine> {
        self.engine.as_ref().filter(|e| e.stopped().is_none())
    }

    /// True if the node's process runs and so does a singleton instance
    /// on it (a crashed or shut down node's instance is gone with it).
    pub fn runs_singleton(&self) -> bool {
        self.instance && self.running().is_some()
    }

    /// The singleton manager of the running incarnation.
    pub fn singleton(&self) -> Option<&SingletonManager> {
        self.running().and(self.singleton.as_ref())
    }

    /// The process stopped (crash or shutdown): so did its instance.
    pub(super) fn stop_process(&mut self) {
        self.singleton = None;
        self.instance = false;
    }
}
