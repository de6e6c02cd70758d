//! The membership engine of one node: inputs in, outputs out, no I/O.
//!
//! ```text
//!            Tick / Receive(msg) / Leave / Down / LeaseResult
//!                              │
//!                              ▼
//!   ┌────────────────────── MembershipEngine ─────────────────────┐
//!   │ join process ─ gossip merge ─ heartbeats + phi ─ reaper      │
//!   │ leader actions at convergence ─ split brain resolver         │
//!   └──────────────────────────────────────────────────────────────┘
//!                              │
//!                              ▼
//!      Send{to, msg} / Event / AcquireLease / ReleaseLease / Shutdown
//! ```
//!
//! The caller owns the clock (it passes `now`), the network (it delivers
//! `Send`s and feeds `Receive`s) and the seed of the engine's random
//! choices. `Tick` runs whatever periodic work is due, so calling it often
//! (every 100 ms, or at [`MembershipEngine::next_deadline`]) is enough.

use std::collections::BTreeSet;

use ferrocast_remote::{NodeAddress, UniqueAddress};
use tokio::time::Instant;

use crate::events::{ClusterEvent, CurrentClusterState, diff};
use crate::gossip::Gossip;
use crate::heartbeat::{Heartbeats, receivers};
use crate::member::{Member, MemberStatus};
use crate::protocol::ClusterMessage;
use crate::rng::SplitMix64;
use crate::sbr::StabilityTracker;
use crate::settings::{ClusterSettings, SettingsError};
use crate::vclock::ClockOrdering;

/// Something that happened to the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Time passed: run the periodic work that is due.
    Tick,
    /// Join through the configured seed nodes.
    JoinSeedNodes,
    /// Join the cluster of this node (this node's own address forms a new
    /// cluster).
    JoinTo(NodeAddress),
    /// A message from another engine.
    Receive(ClusterMessage),
    /// Make the member at this address leave gracefully.
    Leave(NodeAddress),
    /// Declare the member at this address down.
    Down(NodeAddress),
    /// The answer to [`Output::AcquireLease`].
    LeaseResult {
        /// True if this node now holds the lease.
        granted: bool,
    },
}

/// Why the engine stopped for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    /// This node was downed.
    Downed,
    /// This node was removed (after leaving, or after being downed).
    Removed,
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Deliver a message (at most once, any order is fine).
    Send {
        /// The receiving node.
        to: NodeAddress,
        /// The message.
        msg: ClusterMessage,
    },
    /// Publish to subscribers.
    Event(ClusterEvent),
    /// Ask the lease for this node; answer with [`Input::LeaseResult`].
    AcquireLease,
    /// Give the lease back.
    ReleaseLease,
    /// Stop this node's actor system (the engine ignores all later inputs;
    /// a restart is a new engine with a new uid).
    Shutdown(ShutdownReason),
}

mod downing;
mod join;
mod tombstones;

#[derive(Debug, Clone, PartialEq)]
enum JoinState {
    Idle,
    /// Asking seeds; the first seed forms the cluster at `form_at` when no
    /// other seed answered.
    AskingSeeds {
        resend_at: Instant,
        form_at: Option<Instant>,
    },
    /// Sent `Join`; retried at `retry_at`.
    Joining {
        to: NodeAddress,
        retry_at: Option<Instant>,
    },
    Joined,
}

#[derive(Debug, Clone)]
struct PendingLease {
    ask_at: Instant,
    asked: bool,
    on_acquired: BTreeSet<UniqueAddress>,
    on_denied: BTreeSet<UniqueAddress>,
}

/// Timers of the periodic tasks.
#[derive(Debug, Clone)]
struct Timers {
    gossip: Instant,
    leader: Instant,
    heartbeat: Instant,
    reaper: Instant,
}

/// Cluster membership of one node, as a state machine.
#[derive(Debug)]
pub struct MembershipEngine {
    self_node: UniqueAddress,
    settings: ClusterSettings,
    rng: SplitMix64,
    gossip: Gossip,
    join: JoinState,
    heartbeats: Heartbeats,
    /// The ring members and unreachable set the receivers were computed
    /// from (the ring is only recomputed when they change).
    ring_inputs: Option<(BTreeSet<UniqueAddress>, BTreeSet<UniqueAddress>)>,
    stability: StabilityTracker,
    pending_lease: Option<PendingLease>,
    lease_held: bool,
    timers: Timers,
    /// Since when the leader could not converge (for WeaklyUp).
    not_converged_since: Option<Instant>,
    /// Ages of the tombstones, for pruning.
    tombstones: tombstones::Tombstones,
    stopped: Option<ShutdownReason>,
}

/// Statuses that may accept joins and answer `InitJoin`.
fn accepts_joins(status: MemberStatus) -> bool {
    matches!(
        status,
        MemberStatus::Joining | MemberStatus::WeaklyUp | MemberStatus::Up
    )
}

impl MembershipEngine {
    /// An engine for `self_node`; `seed` drives its random choices.
    pub fn new(
        self_node: UniqueAddress,
        settings: ClusterSettings,
        seed: u64,
        now: Instant,
    ) -> Result<Self, SettingsError> {
        settings.validate()?;
        Ok(MembershipEngine {
            heartbeats: Heartbeats::new(
                settings.failure_detector.clone(),
                settings.expected_response_after,
            ),
            ring_inputs: None,
            self_node,
            rng: SplitMix64::new(seed),
            gossip: Gossip::default(),
            join: JoinState::Idle,
            stability: StabilityTracker::new(now),
            pending_lease: None,
            lease_held: false,
            timers: Timers {
                gossip: now,
                leader: now,
                heartbeat: now,
                reaper: now,
            },
            not_converged_since: None,
            tombstones: tombstones::Tombstones::default(),
            stopped: None,
            settings,
        })
    }

    /// This node.
    pub fn self_node(&self) -> &UniqueAddress {
        &self.self_node
    }

    /// The latest membership state.
    pub fn gossip(&self) -> &Gossip {
        &self.gossip
    }

    /// This node as a member, once it joined.
    pub fn self_member(&self) -> Option<&Member> {
        self.gossip.member(&self.self_node)
    }

    /// Why the engine stopped, if it did.
    pub fn stopped(&self) -> Option<ShutdownReason> {
        self.stopped
    }

    /// True if this node is the leader of its view.
    pub fn is_leader(&self) -> bool {
        self.self_member().is_some()
            && self.gossip.leader(&self.self_node).as_ref() == Some(&self.self_node)
    }

    /// The snapshot a new subscriber starts from.
    pub fn current_state(&self) -> CurrentClusterState {
        CurrentClusterState::of(&self.gossip, &self.self_node)
    }

    /// The earliest moment a `Tick` has work to do.
    pub fn next_deadline(&self) -> Instant {
        let t = &self.timers;
        let mut d = t.gossip.min(t.leader).min(t.heartbeat).min(t.reaper);
        match &self.join {
            JoinState::AskingSeeds { resend_at, form_at } => {
                d = d.min(*resend_at);
                if let Some(f) = form_at {
                    d = d.min(*f);
                }
            }
            JoinState::Joining {
                retry_at: Some(r), ..
            } => d = d.min(*r),
            _ => {}
        }
        if let Some(p) = &self.pending_lease {
            if !p.asked {
                d = d.min(p.ask_at);
            }
        }
        d
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.stopped.is_some() {
            return out;
        }
        // Inputs that never change the membership skip the snapshot and
        // diff below (the bulk of all inputs: heartbeats and idle ticks).
        match &input {
            Input::Tick if now < self.next_deadline() => return out,
            Input::Receive(
                msg @ (ClusterMessage::Heartbeat { .. }
                | ClusterMessage::HeartbeatResponse { .. }
                | ClusterMessage::InitJoin { .. }
                | ClusterMessage::InitJoinNack { .. }),
            ) => {
                self.receive(msg.clone(), now, &mut out);
                return out;
            }
            _ => {}
        }
        let before = self.gossip.clone();
        match input {
            Input::Tick => self.tick(now, &mut out),
            Input::JoinSeedNodes => self.start_seed_join(now, &mut out),
            Input::JoinTo(addr) => self.join_to(addr, now, &mut out),
            Input::Receive(msg) => self.receive(msg, now, &mut out),
            Input::Leave(addr) => self.mark(&addr, MemberStatus::Leaving),
            Input::Down(addr) => self.mark(&addr, MemberStatus::Down),
            Input::LeaseResult { granted } => self.lease_result(granted),
        }
        self.tombstones.track(&mut self.gossip, now);
        self.after_change(&before, &mut out);
        out
    }

    pub(super) fn send(out: &mut Vec<Output>, to: &NodeAddress, msg: ClusterMessage) {
        out.push(Output::Send {
            to: to.clone(),
            msg,
        });
    }

    pub(super) fn gossip_msg(&self, to: &UniqueAddress) -> ClusterMessage {
        ClusterMessage::Gossip {
            from: self.self_node.clone(),
            to: to.clone(),
            gossip: self.gossip.clone(),
        }
    }

    fn status_msg(&self) -> ClusterMessage {
        ClusterMessage::GossipStatus {
            from: self.self_node.clone(),
            version: self.gossip.version.clone(),
            seen: self.gossip.overview.seen.clone(),
        }
    }

    pub(super) fn self_status(&self) -> Option<MemberStatus> {
        self.self_member().map(|m| m.status)
    }

    // ---- messages --------------------------------------------------------

    fn receive(&mut self, msg: ClusterMessage, now: Instant, out: &mut Vec<Output>) {
        match msg {
            ClusterMessage::InitJoin { from } => {
                let reply = if self.self_status().is_some_and(accepts_joins) {
                    ClusterMessage::InitJoinAck {
                        from: self.self_node.clone(),
                    }
                } else {
                    ClusterMessage::InitJoinNack {
                        from: self.self_node.address.clone(),
                    }
                };
                Self::send(out, &from.address, reply);
            }
            ClusterMessage::InitJoinAck { from } => {
                if matches!(self.join, JoinState::AskingSeeds { .. }) {
                    self.join_to(from.address, now, out);
                }
            }
            ClusterMessage::InitJoinNack { .. } => {}
            msg @ ClusterMessage::Join { .. } => self.on_join(msg, out),
            ClusterMessage::Welcome { from, gossip } => {
                if self.self_member().is_none()
                    && matches!(self.join, JoinState::Joining { .. })
                    && gossip.member(&self.self_node).is_some()
                {
                    self.gossip = gossip;
                    self.gossip.mark_seen(&self.self_node);
                    self.join = JoinState::Joined;
                    Self::send(out, &from.address, self.gossip_msg(&from));
                }
            }
            ClusterMessage::Gossip { from, to, gossip } => {
                if to == self.self_node {
                    self.receive_gossip(from, gossip, out);
                }
            }
            ClusterMessage::GossipStatus {
                from,
                version,
                seen,
            } => {
                if self.self_member().is_none() {
                    return;
                }
                if self.gossip.member(&from).is_none() {
                    // Removed (it learns from our tombstone) or a fork (it
                    // merges and sends its state back).
                    Self::send(out, &from.address, self.gossip_msg(&from));
                    return;
                }
                match version.compare(&self.gossip.version) {
                    ClockOrdering::Same => {
                        for n in &seen {
                            self.gossip.mark_seen(n);
                        }
                        // We know of more seen marks: share them.
                        if self.gossip.overview.seen != seen {
                            Self::send(out, &from.address, self.gossip_msg(&from));
                        }
                    }
                    ClockOrdering::After => {
                        let status = self.status_msg();
                        Self::send(out, &from.address, status);
                    }
                    ClockOrdering::Before | ClockOrdering::Concurrent => {
                        Self::send(out, &from.address, self.gossip_msg(&from));
                    }
                }
            }
            ClusterMessage::Heartbeat { from, sequence } => {
                let rsp = ClusterMessage::HeartbeatResponse {
                    from: self.self_node.clone(),
                    sequence,
                };
                Self::send(out, &from.address, rsp);
            }
            ClusterMessage::HeartbeatResponse { from, .. } => {
                self.heartbeats.response(&from, now);
            }
        }
    }

    fn receive_gossip(&mut self, from: UniqueAddress, remote: Gossip, out: &mut Vec<Output>) {
        if self.self_member().is_none() {
            // Never joined in our own view, yet already removed: the
            // cluster let this incarnation in and removed it while its
            // Welcome was lost. It cannot join again with this uid.
            if remote.tombstones.contains(&self.self_node) && self.stopped.is_none() {
                self.stop(ShutdownReason::Removed, out);
            }
            return;
        }
        if self.gossip.tombstones.contains(&from) {
            // A removed node still talks: tell it, so it shuts down.
            Self::send(out, &from.address, self.gossip_msg(&from));
            return;
        }
        if remote.member(&self.self_node).is_none() {
            if remote.tombstones.contains(&self.self_node) {
                self.gossip = self.gossip.merge(&remote);
            } else if self.gossip.member(&from).is_some() {
                // The sender does not know us: we hold a fork it must merge.
                Self::send(out, &from.address, self.gossip_msg(&from));
            }
            return;
        }
        // A sender we do not know but that knows us holds a fork of the
        // membership (it joined through a node that was removed meanwhile):
        // merging is what brings both back together; tombstones keep the
        // removed out.
        let remote_seen = remote.overview.seen.clone();
        let remote_version = remote.version.clone();
        match remote.compare(&self.gossip) {
            ClockOrdering::Same => {
                for n in &remote_seen {
                    self.gossip.mark_seen(n);
                }
            }
            ClockOrdering::Before => {}
            ClockOrdering::After => {
                self.gossip = remote;
            }
            ClockOrdering::Concurrent => {
                self.gossip = self.gossip.merge(&remote);
            }
        }
        self.gossip.mark_seen(&self.self_node);
        // Talk back when the sender does not know what we know now.
        if self.gossip.version != remote_version || self.gossip.overview.seen != remote_seen {
            Self::send(out, &from.address, self.gossip_msg(&from));
        }
    }

    fn mark(&mut self, addr: &NodeAddress, status: MemberStatus) {
        let target = self
            .gossip
            .members
            .values()
            .filter(|m| &m.unique_address.address == addr)
            .map(|m| m.unique_address.clone())
            .next_back();
        if let Some(node) = target {
            if self.self_member().is_some() && self.gossip.set_status(&node, status) {
                self.gossip.changed_by(&self.self_node);
            }
        }
    }

    // ---- periodic work ---------------------------------------------------

    fn tick(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.join_timers(now, out);
        if self.self_member().is_none() {
            return;
        }
        if now >= self.timers.heartbeat {
            self.timers.heartbeat = now + self.settings.heartbeat_interval;
            self.send_heartbeats(now, out);
        }
        if now >= self.timers.reaper {
            self.timers.reaper = now + self.settings.unreachable_nodes_reaper_interval;
            self.reap(now);
        }
        if now >= self.timers.leader {
            self.timers.leader = now + self.settings.leader_actions_interval;
            self.leader_actions(now, out);
            self.resolve_split_brain(now, out);
            self.tombstones.prune(
                &mut self.gossip,
                self.settings.prune_gossip_tombstones_after,
                now,
            );
        }
        self.lease_timer(now, out);
        if now >= self.timers.gossip {
            self.timers.gossip = now + self.settings.gossip_interval;
            self.gossip_tick(out);
        }
    }

    fn send_heartbeats(&mut self, now: Instant, out: &mut Vec<Output>) {
        let ring: BTreeSet<UniqueAddress> = self
            .gossip
            .members
            .values()
            .filter(|m| m.status != MemberStatus::Joining)
            .map(|m| m.unique_address.clone())
            .filter(|n| *n != self.self_node)
            .collect();
        let unreachable = self
            .gossip
            .overview
            .reachability
            .all_unreachable_or_terminated();
        let key = (ring, unreachable);
        if self.ring_inputs.as_ref() != Some(&key) {
            let chosen = receivers(
                &self.self_node,
                &key.0,
                &key.1,
                self.settings.monitored_by_nr_of_members,
            );
            self.heartbeats.set_receivers(chosen, now);
            self.ring_inputs = Some(key);
        }
        let sequence = self.heartbeats.tick(now);
        for r in self.heartbeats.receivers() {
            let hb = ClusterMessage::Heartbeat {
                from: self.self_node.clone(),
                sequence,
            };
            Self::send(out, &r.address, hb);
        }
    }

    /// Writes the failure detector's verdicts into this node's row.
    fn reap(&mut self, now: Instant) {
        let me = self.self_node.clone();
        let others: Vec<UniqueAddress> = self
            .gossip
            .members
            .keys()
            .filter(|n| **n != me)
            .cloned()
            .collect();
        let mut changed = false;
        for n in others {
            let reach = &mut self.gossip.overview.reachability;
            changed |= if self.heartbeats.is_available(&n, now) {
                reach.status_by(&me, &n) == crate::ReachabilityStatus::Unreachable
                    && reach.reachable(&me, &n)
            } else {
                reach.unreachable(&me, &n)
            };
        }
        if changed {
            self.gossip.changed_by(&me);
        }
    }

    fn gossip_tick(&mut self, out: &mut Vec<Output>) {
        let reach = self.gossip.reachability_excluding_downed_observers();
        let valid: Vec<UniqueAddress> = self
            .gossip
            .members
            .keys()
            .filter(|n| **n != self.self_node && reach.is_reachable(n))
            .cloned()
            .collect();
        if valid.is_empty() {
            return;
        }
        let unseen: Vec<&UniqueAddress> =
            valid.iter().filter(|n| !self.gossip.seen_by(n)).collect();
        let target = if !unseen.is_empty() && self.rng.chance(0.8) {
            unseen[self.rng.below(unseen.len() as u64) as usize].clone()
        } else {
            valid[self.rng.below(valid.len() as u64) as usize].clone()
        };
        let msg = if self.gossip.seen_by(&target) {
            self.status_msg()
        } else {
            self.gossip_msg(&target)
        };
        Self::send(out, &target.address, msg);
    }

    fn leader_actions(&mut self, now: Instant, out: &mut Vec<Output>) {
        if !self.is_leader() {
            self.not_converged_since = None;
            return;
        }
        let me = self.self_node.clone();
        if !self.gossip.convergence(&me) {
            let since = *self.not_converged_since.get_or_insert(now);
            let Some(after) = self.settings.weakly_up_after else {
                return;
            };
            if now.saturating_duration_since(since) < after {
                return;
            }
            let reach = self.gossip.reachability_excluding_downed_observers();
            let joining: Vec<UniqueAddress> = self
                .gossip
                .members
                .values()
                .filter(|m| {
                    m.status == MemberStatus::Joining && reach.is_reachable(&m.unique_address)
                })
                .map(|m| m.unique_address.clone())
                .collect();
            let mut changed = false;
            for n in joining {
                changed |= self.gossip.set_status(&n, MemberStatus::WeaklyUp);
            }
            if changed {
                self.gossip.changed_by(&me);
            }
            return;
        }
        self.not_converged_since = None;
        let mut up_number = self.gossip.max_up_number();
        let mut changed = false;
        let mut removed = Vec::new();
        let nodes: Vec<(UniqueAddress, MemberStatus)> = self
            .gossip
            .members
            .values()
            .map(|m| (m.unique_address.clone(), m.status))
            .collect();
        for (n, status) in nodes {
            match status {
                MemberStatus::Joining | MemberStatus::WeaklyUp => {
                    up_number += 1;
                    self.gossip.set_status(&n, MemberStatus::Up);
                    if let Some(m) = self.gossip.members.get_mut(&n) {
                        m.up_number = up_number;
                    }
                    changed = true;
                }
                MemberStatus::Leaving => {
                    changed |= self.gossip.set_status(&n, MemberStatus::Exiting);
                }
                MemberStatus::Exiting | MemberStatus::Down => {
                    // The leader leaves removal of itself to the next
                    // leader, unless nobody else is left: a lone member
                    // that leaves removes itself (and shuts down).
                    if n != me || self.gossip.members.len() == 1 {
                        removed.push(n);
                    }
                }
                MemberStatus::Up | MemberStatus::Removed => {}
            }
        }
        for n in &removed {
            self.gossip.remove(n);
            changed = true;
        }
        if changed {
            self.gossip.changed_by(&me);
        }
        // A removed node learns it from one last gossip.
        for n in &removed {
            Self::send(out, &n.address, self.gossip_msg(n));
        }
    }

    // ---- after every input -----------------------------------------------

    fn after_change(&mut self, before: &Gossip, out: &mut Vec<Output>) {
        if *before == self.gossip {
            return;
        }
        for e in diff(before, &self.gossip, &self.self_node) {
            out.push(Output::Event(e));
        }
        match self.self_status() {
            Some(MemberStatus::Down) => {
                // Tell the others we accept our fate before going.
                let reach = self.gossip.reachability_excluding_downed_observers();
                let others: Vec<UniqueAddress> = self
                    .gossip
                    .members
                    .keys()
                    .filter(|n| **n != self.self_node && reach.is_reachable(n))
                    .cloned()
                    .collect();
                for n in others {
                    Self::send(out, &n.address, self.gossip_msg(&n));
                }
                self.stop(ShutdownReason::Downed, out);
            }
            None if before.member(&self.self_node).is_some() => {
                self.stop(ShutdownReason::Removed, out);
            }
            _ => {}
        }
    }

    fn stop(&mut self, reason: ShutdownReason, out: &mut Vec<Output>) {
        // A downed node gives the lease back at once: its side lost. A node
        // that leaves keeps it until it expires (its time-to-live): its side
        // may have downed the other side with it, and that side, deciding
        // late, must not find the lease free.
        if self.lease_held && reason == ShutdownReason::Downed {
            self.lease_held = false;
            out.push(Output::ReleaseLease);
        }
        self.stopped = Some(reason);
        out.push(Output::Shutdown(reason));
    }
}

#[cfg(test)]
#[path = "engine_test.rs"]
mod tests;
