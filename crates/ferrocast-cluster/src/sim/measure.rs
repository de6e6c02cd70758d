//! Convergence measurements on a fault-free simulated network, for
//! benchmarks: how long N nodes take to form a converged cluster, and how
//! long the survivors take to remove a crashed node.

use std::time::Duration;

use tokio::time::Instant;

use super::{SimConfig, SimFailure, Simulation, invariants};
use crate::settings::ClusterSettings;
use crate::singleton::SingletonSettings;

/// Simulated durations measured by [`measure_convergence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Convergence {
    /// From the start of all nodes until every node is Up in every view
    /// and the views have converged at one version.
    pub formed_after: Duration,
    /// From the crash of one node (the last one: neither the first seed
    /// nor the leader) until every survivor's view has removed it (it is
    /// Down, then gone, on all of them).
    pub removed_after: Duration,
}

/// How long a phase may take before the measurement gives up.
const BOUND: Duration = Duration::from_secs(600);

/// Starts `nodes` nodes (all seeds, node 0 first) with `settings` on a
/// lossless network with 1–40 ms delays, and measures in simulated time
/// how long they take to form a converged cluster, then how long the
/// survivors take to remove a crashed node. `seed` drives every random
/// choice, so a measurement replays exactly.
///
/// ```
/// use ferrocast_cluster::{ClusterSettings, sim::measure_convergence};
/// use std::time::Duration;
///
/// let c = measure_convergence(3, 1, ClusterSettings::default()).unwrap();
/// assert!(c.formed_after < Duration::from_secs(30));
/// // Detection, then `stable_after` (3 s) of the resolver, then removal.
/// assert!(c.removed_after > Duration::from_secs(3));
/// ```
pub fn measure_convergence(
    nodes: usize,
    seed: u64,
    settings: ClusterSettings,
) -> Result<Convergence, SimFailure> {
    assert!(nodes >= 2, "a crash needs a survivor");
    let strategy = settings
        .downing
        .as_ref()
        .map(|d| d.strategy.clone())
        .unwrap_or(crate::sbr::Strategy::DownAll);
    let config = SimConfig {
        fault_probability: 0.0,
        singleton: SingletonSettings::for_cluster(&settings),
        settings,
        ..SimConfig::new(nodes, strategy)
    };
    let mut sim = Simulation::new(config, seed, Instant::now());
    let start = sim.now;
    sim.run_until(BOUND, "all nodes Up and converged", |s| {
        invariants::converged_all_up(&s.nodes)
    })?;
    let formed_after = sim.now - start;
    let victim = nodes - 1;
    let uid = sim.nodes[victim]
        .running()
        .map(|e| e.self_node().uid)
        .expect("converged, so running");
    sim.nodes[victim].engine = None;
    sim.nodes[victim].stop_process();
    let crashed_at = sim.now;
    sim.run_until(BOUND, "the crashed node removed on all survivors", |s| {
        s.nodes
            .iter()
            .filter_map(|n| n.running())
            .all(|e| !e.gossip().members.keys().any(|m| m.uid == uid))
    })?;
    Ok(Convergence {
        formed_after,
        removed_after: sim.now - crashed_at,
    })
}

impl Simulation {
    /// Steps until `done` holds, at most `bound` of simulated time.
    pub(super) fn run_until(
        &mut self,
        bound: Duration,
        goal: &str,
        done: impl Fn(&Simulation) -> bool,
    ) -> Result<(), SimFailure> {
        let deadline = self.now + bound;
        while !done(self) {
            if self.now >= deadline {
                return Err(self.fail(format!("not reached within {bound:?}: {goal}")));
            }
            self.step()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convergence_is_measured_and_replays() {
        let a = measure_convergence(5, 3, ClusterSettings::default()).unwrap();
        assert_eq!(
            a,
            measure_convergence(5, 3, ClusterSettings::default()).unwrap()
        );
        assert!(a.formed_after > Duration::ZERO && a.formed_after < Duration::from_secs(30));
        let stable_after = Duration::from_secs(3);
        assert!(
            a.removed_after > stable_after && a.removed_after < stable_after * 4,
            "{a:?}"
        );
        let mut slow = ClusterSettings::default();
        if let Some(d) = slow.downing.as_mut() {
            d.stable_after = Duration::from_secs(20);
        }
        let b = measure_convergence(5, 3, slow).unwrap();
        assert!(b.removed_after > a.removed_after + stable_after, "{b:?}");
    }
}
