//! Cluster settings, with Akka's defaults.

use std::collections::BTreeSet;
use std::time::Duration;

use ferrocast_remote::{DetectorSettings, NodeAddress};

use crate::member::AppVersion;
use crate::sbr::SbrSettings;

/// Settings of a [`MembershipEngine`](crate::MembershipEngine).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSettings {
    /// Seed nodes; the first one forms the cluster when no other answers.
    pub seed_nodes: Vec<NodeAddress>,
    /// This node's roles.
    pub roles: BTreeSet<String>,
    /// This node's application version.
    pub app_version: AppVersion,
    /// How often a node gossips to one peer.
    pub gossip_interval: Duration,
    /// How often the leader checks for convergence and acts.
    pub leader_actions_interval: Duration,
    /// How often the failure detector's verdicts go into the reachability
    /// table.
    pub unreachable_nodes_reaper_interval: Duration,
    /// How often heartbeats are sent.
    pub heartbeat_interval: Duration,
    /// After this long without a first response, a monitored node starts
    /// to be suspected as if it had answered once.
    pub expected_response_after: Duration,
    /// How many nodes heartbeat each node.
    pub monitored_by_nr_of_members: usize,
    /// Phi-accrual settings of the cluster failure detector.
    pub failure_detector: DetectorSettings,
    /// Joining members become WeaklyUp after the leader could not reach
    /// convergence for this long; `None` disables WeaklyUp.
    pub weakly_up_after: Option<Duration>,
    /// How long a seed waits for answers to `InitJoin`.
    pub seed_node_timeout: Duration,
    /// A join without `Welcome` is retried after this long; `None` never.
    pub retry_unsuccessful_join_after: Option<Duration>,
    /// The split brain resolver; `None` leaves downing to an operator.
    pub downing: Option<SbrSettings>,
    /// A removed member's tombstone is dropped from the gossip this long
    /// after the node first saw it, so the gossip does not grow forever;
    /// long enough that no stale gossip that still lists the member is
    /// around any more.
    pub prune_gossip_tombstones_after: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            seed_nodes: Vec::new(),
            roles: BTreeSet::new(),
            app_version: AppVersion::new("0.0.0"),
            gossip_interval: Duration::from_secs(1),
            leader_actions_interval: Duration::from_secs(1),
            unreachable_nodes_reaper_interval: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(1),
            expected_response_after: Duration::from_secs(1),
            monitored_by_nr_of_members: 9,
            failure_detector: DetectorSettings {
                threshold: 8.0,
                max_sample_size: 1000,
                min_std_deviation: Duration::from_millis(100),
                acceptable_heartbeat_pause: Duration::from_secs(3),
                first_heartbeat_estimate: Duration::from_secs(1),
            },
            weakly_up_after: Some(Duration::from_secs(7)),
            seed_node_timeout: Duration::from_secs(5),
            retry_unsuccessful_join_after: Some(Duration::from_secs(10)),
            downing: Some(SbrSettings::default()),
            prune_gossip_tombstones_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// A setting that cannot work, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cluster setting `{field}`: {reason}")]
pub struct SettingsError {
    /// The field.
    pub field: &'static str,
    /// Why.
    pub reason: &'static str,
}

fn check(ok: bool, field: &'static str, reason: &'static str) -> Result<(), SettingsError> {
    if ok {
        Ok(())
    } else {
        Err(SettingsError { field, reason })
    }
}

impl ClusterSettings {
    /// Checks the settings; the error names the first bad field.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let positive = "must be greater than zero";
        check(!self.gossip_interval.is_zero(), "gossip_interval", positive)?;
        check(
            !self.leader_actions_interval.is_zero(),
            "leader_actions_interval",
            positive,
        )?;
        check(
            !self.unreachable_nodes_reaper_interval.is_zero(),
            "unreachable_nodes_reaper_interval",
            positive,
        )?;
        check(
            !self.heartbeat_interval.is_zero(),
            "heartbeat_interval",
            positive,
        )?;
        check(
            self.monitored_by_nr_of_members > 0,
            "monitored_by_nr_of_members",
            positive,
        )?;
        let fd = &self.failure_detector;
        check(
            fd.threshold > 0.0 && fd.threshold.is_finite(),
            "failure_detector.threshold",
            "must be a positive finite number",
        )?;
        check(
            fd.max_sample_size > 0,
            "failure_detector.max_sample_size",
            positive,
        )?;
        check(
            !fd.min_std_deviation.is_zero(),
            "failure_detector.min_std_deviation",
            positive,
        )?;
        check(
            !fd.first_heartbeat_estimate.is_zero(),
            "failure_detector.first_heartbeat_estimate",
            positive,
        )?;
        check(
            !self.seed_node_timeout.is_zero(),
            "seed_node_timeout",
            positive,
        )?;
        check(
            !self.prune_gossip_tombstones_after.is_zero(),
            "prune_gossip_tombstones_after",
            positive,
        )?;
        check(
            self.weakly_up_after.is_none_or(|d| !d.is_zero()),
            "weakly_up_after",
            "must be greater than zero (use None to disable)",
        )?;
        check(
            self.retry_unsuccessful_join_after
                .is_none_or(|d| d > self.seed_node_timeout),
            "retry_unsuccessful_join_after",
            "must be longer than seed_node_timeout",
        )?;
        let mut seeds = self.seed_nodes.clone();
        seeds.sort();
        seeds.dedup();
        check(
            seeds.len() == self.seed_nodes.len(),
            "seed_nodes",
            "lists a node twice",
        )?;
        if let Some(sbr) = &self.downing {
            sbr.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_akkas_and_valid() {
        let s = ClusterSettings::default();
        assert_eq!(s.gossip_interval, Duration::from_secs(1));
        assert_eq!(s.failure_detector.threshold, 8.0);
        assert_eq!(
            s.failure_detector.acceptable_heartbeat_pause,
            Duration::from_secs(3)
        );
        assert_eq!(s.monitored_by_nr_of_members, 9);
        assert_eq!(s.weakly_up_after, Some(Duration::from_secs(7)));
        assert_eq!(
            s.prune_gossip_tombstones_after,
            Duration::from_secs(24 * 3600)
        );
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn validate_names_the_bad_field() {
        let bad = ClusterSettings {
            heartbeat_interval: Duration::ZERO,
            ..ClusterSettings::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "heartbeat_interval");
        let bad = ClusterSettings {
            retry_unsuccessful_join_after: Some(Duration::from_secs(1)),
            ..ClusterSettings::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().field,
            "retry_unsuccessful_join_after"
        );
        let a = NodeAddress::new("s", "h", 1);
        let bad = ClusterSettings {
            seed_nodes: vec![a.clone(), a],
            ..ClusterSettings::default()
        };
        let e = bad.validate().unwrap_err();
        assert_eq!(e.field, "seed_nodes");
        assert!(e.to_string().contains("seed_nodes"));
    }
}
