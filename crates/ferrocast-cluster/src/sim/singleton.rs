//! Driving each node's singleton manager from the simulation.

use super::node::SimMessage;
use super::{Simulation, invariants};
use crate::singleton::{SingletonInput, SingletonMessage, SingletonOutput};

/// What the simulator feeds a singleton manager (the membership is read
/// from the node's engine at that moment).
#[derive(Debug)]
pub(super) enum SingletonFeed {
    Membership,
    Receive(SingletonMessage),
    InstanceStopped,
    Tick,
}

impl Simulation {
    /// Feeds node `i`'s singleton manager and carries out what it asks.
    pub(super) fn singleton(&mut self, i: usize, feed: SingletonFeed) {
        let mut next = Some(feed);
        while let Some(feed) = next.take() {
            let node = &mut self.nodes[i];
            let (Some(engine), Some(manager)) = (node.engine.as_ref(), node.singleton.as_mut())
            else {
                return;
            };
            if engine.stopped().is_some() {
                return;
            }
            let input = match feed {
                SingletonFeed::Membership => SingletonInput::Membership(engine.gossip()),
                SingletonFeed::Receive(msg) => SingletonInput::Receive(msg),
                SingletonFeed::InstanceStopped => SingletonInput::InstanceStopped,
                SingletonFeed::Tick => SingletonInput::Tick,
            };
            let outputs = manager.handle(input, self.now);
            if self.trace {
                let elapsed = self.now.saturating_duration_since(self.t0);
                for out in &outputs {
                    if !matches!(out, SingletonOutput::Send { .. }) {
                        let me = manager.self_node();
                        eprintln!("{elapsed:?} {me} singleton {out:?}");
                    }
                }
            }
            for out in outputs {
                match out {
                    SingletonOutput::StartInstance => {
                        self.nodes[i].instance = true;
                        // A second instance can only begin at a start, so
                        // checking here catches overlaps shorter than a step.
                        if let Err(v) = invariants::at_most_one_singleton(&self.nodes) {
                            self.history.violate(v);
                        }
                    }
                    SingletonOutput::StopInstance => {
                        // The simulated instance stops at once.
                        self.nodes[i].instance = false;
                        next = Some(SingletonFeed::InstanceStopped);
                    }
                    SingletonOutput::Send { to, msg } => {
                        self.send(i, &to, SimMessage::Singleton(msg));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::super::{SimConfig, Simulation, invariants};
    use crate::engine::Input;
    use crate::sbr::Strategy;

    /// A fault-free 4-node run, until the singleton runs on node 0.
    fn settled() -> Simulation {
        let mut config = SimConfig::new(4, Strategy::KeepMajority { role: None });
        config.fault_probability = 0.0;
        let mut sim = Simulation::new(config, 5, Instant::now());
        sim.run_until(Duration::from_secs(60), "converged, singleton on 0", |s| {
            invariants::converged_all_up(&s.nodes) && s.nodes[0].runs_singleton()
        })
        .unwrap();
        sim
    }

    /// The node with the second smallest up number.
    fn next_oldest(sim: &Simulation) -> usize {
        let mut ages: Vec<(u32, usize)> = (0..sim.nodes.len())
            .filter_map(|i| Some((sim.nodes[i].running()?.self_member()?.up_number, i)))
            .collect();
        ages.sort();
        ages[1].1
    }

    #[test]
    fn graceful_leave_of_the_oldest_hands_over_within_seconds() {
        let mut sim = settled();
        let oldest = sim.nodes[0].address.clone();
        let next = next_oldest(&sim);
        sim.input(0, Input::Leave(oldest));
        let left_at = sim.now;
        sim.run_until(
            Duration::from_secs(10),
            "singleton on the next oldest",
            |s| s.nodes[next].runs_singleton(),
        )
        .unwrap();
        assert!(
            sim.now - left_at < Duration::from_secs(5),
            "{:?}",
            sim.now - left_at
        );
        assert!(!sim.nodes[0].runs_singleton());
    }

    #[test]
    fn after_a_crash_of_the_oldest_the_next_waits_for_removal_and_margin() {
        let mut sim = settled();
        let margin = sim.config.singleton.removal_margin;
        let next = next_oldest(&sim);
        sim.nodes[0].engine = None;
        sim.nodes[0].stop_process();
        let crashed_at = sim.now;
        sim.run_until(
            Duration::from_secs(120),
            "singleton on the next oldest",
            |s| s.nodes[next].runs_singleton(),
        )
        .unwrap();
        let stable_after = Duration::from_secs(7);
        let took = sim.now - crashed_at;
        assert!(took >= stable_after + margin, "{took:?}");
        assert!(
            took < stable_after + margin + Duration::from_secs(10),
            "{took:?}"
        );
    }
}
