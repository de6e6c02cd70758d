//! Ready-made settings beyond the defaults.

use std::time::Duration;

use crate::sbr::SbrSettings;
use crate::settings::ClusterSettings;

impl ClusterSettings {
    /// Settings for fast failover on a quiet network (one data centre,
    /// loopback, a Kubernetes cluster without long GC or CPU-throttling
    /// pauses): heartbeats every 200 ms, unreachable after about a second
    /// of silence, the resolver decides after 1 s of stability, and the
    /// leader acts every 200 ms. A crashed node is removed within about
    /// 3 s. The price: a pause longer than about 1 s (a stop-the-world
    /// pause, a saturated CPU) makes a node unreachable, and after
    /// `stable_after` the resolver downs it.
    pub fn fast_failover() -> Self {
        let mut s = ClusterSettings {
            gossip_interval: Duration::from_millis(200),
            leader_actions_interval: Duration::from_millis(200),
            unreachable_nodes_reaper_interval: Duration::from_millis(200),
            heartbeat_interval: Duration::from_millis(200),
            expected_response_after: Duration::from_millis(400),
            seed_node_timeout: Duration::from_secs(2),
            weakly_up_after: Some(Duration::from_secs(2)),
            retry_unsuccessful_join_after: Some(Duration::from_secs(3)),
            ..ClusterSettings::default()
        };
        s.failure_detector.acceptable_heartbeat_pause = Duration::from_millis(800);
        s.failure_detector.first_heartbeat_estimate = Duration::from_millis(200);
        s.failure_detector.min_std_deviation = Duration::from_millis(50);
        let stable_after = Duration::from_secs(1);
        s.downing = Some(SbrSettings {
            stable_after,
            down_all_when_unstable: Some(Duration::from_secs(4)),
            ..SbrSettings::default()
        });
        s
    }
}
