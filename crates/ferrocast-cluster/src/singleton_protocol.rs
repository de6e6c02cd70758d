//! The singleton manager's settings, messages, inputs and outputs: plain
//! data, so the I/O layer can map the messages to prost one to one.

use std::time::Duration;

use ferrocast_remote::{NodeAddress, UniqueAddress};

use crate::gossip::Gossip;
use crate::sbr::Strategy;
use crate::settings::{ClusterSettings, SettingsError};

/// Settings of a [`SingletonManager`](super::SingletonManager).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingletonSettings {
    /// Run the instance only on members with this role.
    pub role: Option<String>,
    /// How often `HandOverToMe` and `TakeOverFromMe` are resent.
    pub hand_over_retry_interval: Duration,
    /// How many times a leaving oldest resends `TakeOverFromMe`.
    pub max_take_over_retries: u32,
    /// How long after an older member was removed a younger one may take
    /// over without its confirmation: long enough for a member downed on
    /// the other side of a partition to have shut itself down.
    pub removal_margin: Duration,
}

impl SingletonSettings {
    /// Akka's defaults, with the removal margin derived from the cluster's
    /// split brain resolver (see [`SingletonSettings::removal_margin_for`]).
    pub fn for_cluster(cluster: &ClusterSettings) -> Self {
        SingletonSettings {
            removal_margin: Self::removal_margin_for(cluster),
            ..SingletonSettings::default()
        }
    }

    /// The longest a side of a partition that must down itself may still
    /// run after the other side could first have removed it, given the
    /// resolver's own assumption (both sides notice the partition within
    /// `stable_after` of each other): `stable_after` for the detection
    /// skew, plus `down_all_when_unstable` (the latest a side that keeps
    /// changing decides; another `stable_after` when that is off), plus
    /// the minority's lease delay under lease-majority. 7 s with the
    /// defaults. Without a resolver, 20 s: removal then follows an
    /// operator's `Down`, who is expected to have stopped the node.
    pub fn removal_margin_for(cluster: &ClusterSettings) -> Duration {
        let Some(sbr) = &cluster.downing else {
            return Duration::from_secs(20);
        };
        let lease_delay = match &sbr.strategy {
            Strategy::LeaseMajority {
                acquire_lease_delay_for_minority,
                ..
            } => *acquire_lease_delay_for_minority,
            _ => Duration::ZERO,
        };
        sbr.stable_after + sbr.down_all_when_unstable.unwrap_or(sbr.stable_after) + lease_delay
    }

    /// Checks the settings; the error names the first bad field.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.hand_over_retry_interval.is_zero() {
            return Err(SettingsError {
                field: "singleton.hand_over_retry_interval",
                reason: "must be greater than zero",
            });
        }
        Ok(())
    }
}

impl Default for SingletonSettings {
    fn default() -> Self {
        SingletonSettings {
            role: None,
            hand_over_retry_interval: Duration::from_secs(1),
            max_take_over_retries: 15,
            removal_margin: Self::removal_margin_for(&ClusterSettings::default()),
        }
    }
}

/// A message between singleton managers (plain data, for a prost mapping
/// one to one). `to` names the incarnation: a restarted node answers for
/// its dead predecessor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SingletonMessage {
    /// From a member that is the oldest in its view to an older one that
    /// is on its way out: stop your instance and confirm.
    HandOverToMe {
        /// The new oldest.
        from: UniqueAddress,
        /// The previous oldest.
        to: UniqueAddress,
    },
    /// The instance is stopping; `HandOverDone` follows.
    HandOverInProgress {
        /// The previous oldest.
        from: UniqueAddress,
        /// The new oldest.
        to: UniqueAddress,
    },
    /// The sender's instance has stopped and it will never start it again.
    HandOverDone {
        /// The previous oldest (or the incarnation it answers for).
        from: UniqueAddress,
        /// The new oldest.
        to: UniqueAddress,
    },
    /// From a leaving oldest to the member it expects to take over: ask me
    /// to hand over (speeds the hand-over up; retried).
    TakeOverFromMe {
        /// The leaving oldest.
        from: UniqueAddress,
        /// The expected new oldest.
        to: UniqueAddress,
    },
}

impl SingletonMessage {
    /// The sender.
    pub fn from(&self) -> &UniqueAddress {
        match self {
            SingletonMessage::HandOverToMe { from, .. }
            | SingletonMessage::HandOverInProgress { from, .. }
            | SingletonMessage::HandOverDone { from, .. }
            | SingletonMessage::TakeOverFromMe { from, .. } => from,
        }
    }

    /// The receiving incarnation.
    pub fn to(&self) -> &UniqueAddress {
        match self {
            SingletonMessage::HandOverToMe { to, .. }
            | SingletonMessage::HandOverInProgress { to, .. }
            | SingletonMessage::HandOverDone { to, .. }
            | SingletonMessage::TakeOverFromMe { to, .. } => to,
        }
    }
}

/// Something that happened to the manager.
#[derive(Debug, Clone, PartialEq)]
pub enum SingletonInput<'a> {
    /// This node's current membership state (after every change; feeding
    /// an unchanged state again is harmless).
    Membership(&'a Gossip),
    /// A message from the manager on another node.
    Receive(SingletonMessage),
    /// The instance asked for by [`SingletonOutput::StopInstance`] has
    /// terminated.
    InstanceStopped,
    /// Time passed: resend and check margins.
    Tick,
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SingletonOutput {
    /// Start the singleton instance on this node.
    StartInstance,
    /// Stop it, and answer [`SingletonInput::InstanceStopped`] once it has
    /// terminated.
    StopInstance,
    /// Deliver a message to the manager at `to` (at most once).
    Send {
        /// The receiving node.
        to: NodeAddress,
        /// The message.
        msg: SingletonMessage,
    },
}
