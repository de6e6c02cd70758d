//! A deterministic simulator: N membership engines in one process over a
//! simulated network, with simulated time, all driven by one `u64` seed.
//!
//! The network delays each message, loses some, and drops those that cross
//! a partition. Nodes crash (their engine is dropped), restart with a new
//! uid, leave gracefully, and shut down when the engine says so. A lease
//! (for lease-majority) is held by at most one live node. Every node also
//! runs a [`SingletonManager`] fed from its engine; the simulated singleton
//! instance dies with its node's process.
//!
//! A run has two phases. In the *fault phase* faults happen at random and
//! the [`invariants`] are checked after every step: safety must hold
//! whatever the faults. In the *heal phase* the network is made whole, every
//! stopped node restarts, and the cluster must converge with every node Up
//! within a bounded simulated time, then run exactly one singleton instance,
//! on the oldest (liveness).
//!
//! [`measure_convergence`] uses the same machinery without faults to time
//! cluster formation and crash removal for benchmarks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ferrocast_remote::{NodeAddress, UniqueAddress};
use tokio::time::Instant;

use crate::engine::{Input, MembershipEngine, Output};
use crate::member::MemberStatus;
use crate::rng::SplitMix64;
use crate::sbr::{Lease, SbrSettings, Strategy};
use crate::settings::ClusterSettings;
use crate::singleton::{SingletonManager, SingletonSettings};

pub mod invariants;
mod lease;
mod measure;
mod node;
mod singleton;

use lease::SimLease;
pub use measure::{Convergence, measure_convergence};
pub use node::SimNode;
use node::{InFlight, SimMessage};
use singleton::SingletonFeed;

use invariants::History;

/// Shape of a simulation run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of nodes (every node is a seed; node 0 is the first seed).
    pub nodes: usize,
    /// The split brain strategy.
    pub strategy: Strategy,
    /// Simulated time per step.
    pub step: Duration,
    /// How long faults are injected.
    pub fault_phase: Duration,
    /// How long the healed cluster may take to converge.
    pub liveness_bound: Duration,
    /// Message delay range.
    pub min_delay: Duration,
    /// Message delay range.
    pub max_delay: Duration,
    /// Largest loss probability a fault may set.
    pub max_loss: f64,
    /// Probability per step that a fault happens.
    pub fault_probability: f64,
    /// Base settings of every node (seed nodes are filled in).
    pub settings: ClusterSettings,
    /// Settings of the singleton manager every node runs.
    pub singleton: SingletonSettings,
}

impl SimConfig {
    /// A run of `nodes` nodes with this strategy and a few faults per
    /// minute; `stable_after` is shortened to fit the fault phase.
    pub fn new(nodes: usize, strategy: Strategy) -> Self {
        let stable_after = Duration::from_secs(7);
        let settings = ClusterSettings {
            downing: Some(SbrSettings {
                strategy: strategy.clone(),
                stable_after,
                down_all_when_unstable: Some(SbrSettings::down_all_when_unstable_for(stable_after)),
            }),
            ..ClusterSettings::default()
        };
        SimConfig {
            nodes,
            strategy,
            step: Duration::from_millis(100),
            fault_phase: Duration::from_secs(45),
            liveness_bound: Duration::from_secs(120),
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(40),
            max_loss: 0.05,
            fault_probability: 0.02,
            singleton: SingletonSettings::for_cluster(&settings),
            settings,
        }
    }

    /// The strategy a seed runs with, so a seed range covers all of them.
    pub fn strategy_for_seed(seed: u64, nodes: usize) -> Strategy {
        match seed % 6 {
            0 => Strategy::KeepMajority { role: None },
            1 => Strategy::StaticQuorum {
                quorum_size: nodes / 2 + 1,
                role: None,
            },
            2 => Strategy::KeepOldest {
                down_if_alone: false,
                role: None,
            },
            3 => Strategy::KeepOldest {
                down_if_alone: true,
                role: None,
            },
            4 => Strategy::DownAll,
            _ => Strategy::LeaseMajority {
                role: None,
                acquire_lease_delay_for_minority: Duration::from_secs(2),
            },
        }
    }
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {at:?} of simulated time: {what}")]
pub struct SimFailure {
    /// Simulated time since the start.
    pub at: Duration,
    /// The violated property.
    pub what: String,
}

/// What a successful run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimReport {
    /// Steps simulated.
    pub steps: u64,
    /// Faults injected.
    pub faults: u64,
    /// Nodes downed or removed that shut themselves down.
    pub shutdowns: u64,
    /// Time from the heal to convergence.
    pub converged_after: Duration,
    /// Time from convergence to exactly one singleton instance, on the
    /// oldest member.
    pub singleton_after: Duration,
}

/// A simulation run.
#[derive(Debug)]
pub struct Simulation {
    config: SimConfig,
    rng: SplitMix64,
    /// Loss and delay of singleton messages: a stream of its own, so the
    /// membership part of a run is the same with or without managers.
    singleton_rng: SplitMix64,
    t0: Instant,
    now: Instant,
    nodes: Vec<SimNode>,
    in_flight: Vec<InFlight>,
    seq: u64,
    next_uid: u64,
    /// Partition group of each node; `None` when the network is whole.
    partition: Option<Vec<u8>>,
    loss: f64,
    lease: SimLease,
    history: History,
    report: SimReport,
    /// Some membership changed since the last split brain check.
    dirty: bool,
    /// `FERROCAST_SIM_TRACE` set: print every non-send output.
    trace: bool,
}

impl Simulation {
    /// A run of `config` driven by `seed`; `t0` is any instant (time only
    /// advances by the simulated steps from there).
    pub fn new(config: SimConfig, seed: u64, t0: Instant) -> Self {
        let mut sim = Simulation {
            rng: SplitMix64::new(seed),
            singleton_rng: SplitMix64::new(seed ^ 0x5167_1e70_5167_1e70),
            t0,
            now: t0,
            nodes: (0..config.nodes)
                .map(|i| SimNode {
                    address: NodeAddress::new("sim", format!("n{i}"), 2550 + i as u16),
                    engine: None,
                    restart_at: None,
                    singleton: None,
                    instance: false,
                })
                .collect(),
            in_flight: Vec::new(),
            seq: 0,
            next_uid: 1,
            partition: None,
            loss: 0.0,
            lease: SimLease::default(),
            history: History::default(),
            report: SimReport::default(),
            dirty: true,
            trace: std::env::var_os("FERROCAST_SIM_TRACE").is_some(),
            config,
        };
        for i in 0..sim.nodes.len() {
            sim.start(i);
        }
        sim
    }

    /// The nodes.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(self.t0)
    }

    fn fail(&self, what: String) -> SimFailure {
        SimFailure {
            at: self.elapsed(),
            what,
        }
    }

    fn start(&mut self, i: usize) {
        let uid = self.next_uid * 1000 + i as u64;
        self.next_uid += 1;
        let node = UniqueAddress {
            address: self.nodes[i].address.clone(),
            uid,
        };
        let settings = ClusterSettings {
            seed_nodes: self.nodes.iter().map(|n| n.address.clone()).collect(),
            ..self.config.settings.clone()
        };
        let seed = self.rng.next_u64();
        let singleton = SingletonManager::new(node.clone(), self.config.singleton.clone())
            .unwrap_or_else(|e| panic!("simulator singleton settings are invalid: {e}"));
        let engine = MembershipEngine::new(node, settings, seed, self.now)
            .unwrap_or_else(|e| panic!("simulator settings are invalid: {e}"));
        self.nodes[i].engine = Some(engine);
        self.nodes[i].singleton = Some(singleton);
        self.nodes[i].instance = false;
        self.nodes[i].restart_at = None;
        self.history.restarted(i);
        self.input(i, Input::JoinSeedNodes);
    }

    fn index_of(&self, addr: &NodeAddress) -> Option<usize> {
        self.nodes.iter().position(|n| &n.address == addr)
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.partition.as_ref().is_none_or(|p| p[a] == p[b])
    }

    /// Feeds one input to node `i` and carries out what it asks.
    fn input(&mut self, i: usize, input: Input) {
        let mut queue = vec![input];
        while let Some(input) = queue.pop() {
            let Some(engine) = self.nodes[i].engine.as_mut() else {
                return;
            };
            if engine.stopped().is_some() {
                return;
            }
            let tombstones_before = engine.gossip().tombstones.len();
            let outputs = engine.handle(input, self.now);
            if engine.gossip().tombstones.len() != tombstones_before {
                self.dirty = true;
            }
            let self_node = engine.self_node().clone();
            if self.trace {
                for o in &outputs {
                    if !matches!(o, Output::Send { .. }) {
                        eprintln!(
                            "{:?} {self_node} {o:?}",
                            self.now.saturating_duration_since(self.t0)
                        );
                    }
                }
            }
            if outputs
                .iter()
                .any(|o| matches!(o, Output::Event(_) | Output::Shutdown(_)))
            {
                self.history.observe(i, engine);
                self.dirty = true;
                // The manager sees the new membership before any of the
                // engine's messages leave (a real node feeds it from the
                // same event before sending).
                self.singleton(i, SingletonFeed::Membership);
            }
            for out in outputs {
                match out {
                    Output::Send { to, msg } => self.send(i, &to, SimMessage::Cluster(msg)),
                    Output::Event(_) => {}
                    Output::AcquireLease => {
                        self.expire_lease();
                        let granted = self.lease.acquire(&self_node, self.now);
                        if self.trace {
                            eprintln!("{:?} {self_node} lease granted={granted}", self.elapsed());
                        }
                        queue.push(Input::LeaseResult { granted });
                    }
                    Output::ReleaseLease => {
                        self.lease.release(&self_node);
                    }
                    Output::Shutdown(_) => {
                        self.report.shutdowns += 1;
                        self.nodes[i].stop_process();
                    }
                }
            }
        }
    }

    fn expire_lease(&mut self) {
        let holder_alive = self.lease.holder.as_ref().is_some_and(|h| {
            self.nodes
                .iter()
                .any(|n| n.running().is_some_and(|e| e.self_node() == h))
        });
        if holder_alive {
            self.lease.holder_gone_since = None;
        } else if self.lease.holder.is_some() {
            let since = *self.lease.holder_gone_since.get_or_insert(self.now);
            if self.now.saturating_duration_since(since) >= lease::LEASE_TTL {
                self.lease.holder = None;
                self.lease.holder_gone_since = None;
            }
        }
    }

    fn send(&mut self, from: usize, to: &NodeAddress, msg: SimMessage) {
        let Some(to) = self.index_of(to) else {
            return;
        };
        let rng = match msg {
            SimMessage::Cluster(_) => &mut self.rng,
            SimMessage::Singleton(_) => &mut self.singleton_rng,
        };
        if rng.chance(self.loss) {
            return;
        }
        let span = self
            .config
            .max_delay
            .saturating_sub(self.config.min_delay)
            .as_micros() as u64;
        let delay = self.config.min_delay + Duration::from_micros(rng.below(span + 1));
        self.seq += 1;
        self.in_flight.push(InFlight {
            deliver_at: self.now + delay,
            seq: self.seq,
            from,
            to,
            msg,
        });
    }

    fn deliver_due(&mut self) {
        let now = self.now;
        let (mut due, rest): (Vec<_>, Vec<_>) =
            self.in_flight.drain(..).partition(|m| m.deliver_at <= now);
        self.in_flight = rest;
        due.sort_by_key(|m| (m.deliver_at, m.seq));
        for m in due {
            if self.connected(m.from, m.to) {
                match m.msg {
                    SimMessage::Cluster(msg) => self.input(m.to, Input::Receive(msg)),
                    SimMessage::Singleton(msg) => {
                        self.singleton(m.to, SingletonFeed::Receive(msg));
                    }
                }
            }
        }
    }

    fn inject_fault(&mut self) {
        self.report.faults += 1;
        let n = self.nodes.len();
        match self.rng.below(6) {
            0 | 1 => {
                if self.partition.is_some() {
                    self.partition = None;
                } else {
                    let mut groups: Vec<u8> = (0..n).map(|_| self.rng.below(2) as u8).collect();
                    if groups.iter().all(|g| *g == groups[0]) {
                        groups[0] ^= 1;
                    }
                    self.partition = Some(groups);
                }
            }
            2 => {
                let i = self.rng.below(n as u64) as usize;
                self.nodes[i].engine = None;
                self.nodes[i].stop_process();
            }
            3 => {
                // Restart a stopped node, but never the first seed while
                // faults last: it would form a second cluster if no other
                // seed answered (Akka's rule: seed node 0 must not be
                // restarted alone into a partition).
                let stopped: Vec<usize> = (1..n)
                    .filter(|i| self.nodes[*i].running().is_none())
                    .collect();
                if !stopped.is_empty() {
                    let i = stopped[self.rng.below(stopped.len() as u64) as usize];
                    self.start(i);
                }
            }
            4 => {
                let i = self.rng.below(n as u64) as usize;
                let j = self.rng.below(n as u64) as usize;
                let target = self.nodes[j].address.clone();
                self.input(i, Input::Leave(target));
            }
            _ => {
                self.loss = self.config.max_loss * self.rng.below(101) as f64 / 100.0;
            }
        }
    }

    fn step(&mut self) -> Result<(), SimFailure> {
        self.now += self.config.step;
        self.report.steps += 1;
        self.deliver_due();
        for i in 0..self.nodes.len() {
            self.input(i, Input::Tick);
            self.singleton(i, SingletonFeed::Tick);
        }
        if let Some(v) = self.history.take_violation() {
            return Err(self.fail(v));
        }
        // Views only change with events, shutdowns or new tombstones (a
        // crash or restart removes or adds a node with no view, which
        // cannot create a pair).
        if std::mem::take(&mut self.dirty) {
            invariants::no_split_brain(&self.nodes).map_err(|v| self.fail(v))?;
        }
        invariants::at_most_one_singleton(&self.nodes).map_err(|v| self.fail(v))?;
        Ok(())
    }

    /// Runs both phases; the first violated property ends the run.
    pub fn run(mut self) -> Result<SimReport, SimFailure> {
        let fault_end = self.now + self.config.fault_phase;
        while self.now < fault_end {
            if self.rng.chance(self.config.fault_probability) {
                self.inject_fault();
            }
            self.step()?;
        }
        // Heal: whole network, no loss, every stopped node restarts.
        self.partition = None;
        self.loss = 0.0;
        let healed_at = self.now;
        // Once converged, the oldest may have to wait out a removal margin
        // (and a few retries) before it starts the instance.
        let singleton_bound = self.config.singleton.removal_margin
            + self.config.singleton.hand_over_retry_interval * 5;
        let deadline = self.now + self.config.liveness_bound + singleton_bound;
        let mut converged = None;
        while self.now < deadline {
            for i in 0..self.nodes.len() {
                if self.nodes[i].running().is_none() {
                    match self.nodes[i].restart_at {
                        None => self.nodes[i].restart_at = Some(self.now + Duration::from_secs(1)),
                        Some(at) if at <= self.now => self.start(i),
                        Some(_) => {}
                    }
                }
            }
            self.step()?;
            if converged.is_none() && invariants::converged_all_up(&self.nodes) {
                self.report.converged_after = self.now.saturating_duration_since(healed_at);
                converged = Some(self.now);
            }
            if let Some(at) = converged {
                if invariants::one_singleton_on_the_oldest(&self.nodes).is_ok() {
                    self.report.singleton_after = self.now.saturating_duration_since(at);
                    return Ok(self.report);
                }
                if self.now >= at + singleton_bound {
                    let why = invariants::one_singleton_on_the_oldest(&self.nodes)
                        .err()
                        .unwrap_or_default();
                    return Err(self.fail(format!(
                        "liveness: {why} {singleton_bound:?} after convergence"
                    )));
                }
            }
        }
        let views: Vec<String> = self
            .nodes
            .iter()
            .map(|n| match n.running() {
                None => format!("{}: stopped", n.address),
                Some(e) => format!(
                    "{}: conv={} seen={:?} version={:?} reach={:?} {:?}",
                    e.self_node(),
                    e.gossip().convergence(e.self_node()),
                    e.gossip()
                        .overview
                        .seen
                        .iter()
                        .map(|n| n.uid)
                        .collect::<Vec<_>>(),
                    e.gossip()
                        .version
                        .entries()
                        .map(|(n, v)| (n.uid, v))
                        .collect::<Vec<_>>(),
                    e.gossip().overview.reachability,
                    e.gossip()
                        .members
                        .values()
                        .map(|m| (m.unique_address.uid, m.status))
                        .collect::<Vec<_>>()
                ),
            })
            .collect();
        Err(self.fail(format!(
            "liveness: not converged with all nodes Up {:?} after the heal; views: {views:#?}",
            self.config.liveness_bound
        )))
    }
}

/// Statuses a node may hold while it still runs.
pub(crate) fn alive_status(s: MemberStatus) -> bool {
    !matches!(s, MemberStatus::Down | MemberStatus::Removed)
}

/// Members of a running node's view, by uid.
pub(crate) fn view(e: &MembershipEngine) -> BTreeMap<u64, MemberStatus> {
    e.gossip()
        .members
        .values()
        .map(|m| (m.unique_address.uid, m.status))
        .collect()
}

/// Uids a running node knows were removed.
pub(crate) fn tombstones(e: &MembershipEngine) -> BTreeSet<u64> {
    e.gossip().tombstones.iter().map(|t| t.uid).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_cluster_forms_and_converges() {
        let mut config = SimConfig::new(5, Strategy::KeepMajority { role: None });
        config.fault_probability = 0.0;
        config.fault_phase = Duration::from_secs(1);
        let report = Simulation::new(config, 1, Instant::now()).run().unwrap();
        assert_eq!(report.faults, 0);
        assert!(
            report.converged_after < Duration::from_secs(30),
            "{report:?}"
        );
    }

    #[test]
    fn the_same_seed_replays_the_same_run() {
        let config = SimConfig::new(5, Strategy::KeepMajority { role: None });
        let t0 = Instant::now();
        let a = Simulation::new(config.clone(), 77, t0).run();
        let b = Simulation::new(config, 77, t0).run();
        assert_eq!(a, b);
    }
}
