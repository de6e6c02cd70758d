//! The cluster singleton manager: one per node, together they keep at most
//! one instance of an actor running in the cluster, on the oldest Up member
//! (optionally among the members with a role). Sans-IO, like the engine.
//!
//! ```text
//!   Membership(&Gossip) / Receive(msg) / InstanceStopped / Tick
//!                              │
//!                              ▼
//!   ┌──────────────────── SingletonManager ───────────────────────┐
//!   │ Younger ──► BecomingOldest ──► Oldest ──► HandingOver ──►   │
//!   │   ▲              │ (hand-over done, or the older member     │
//!   │   └──────────────┘  removed for `removal_margin`)   Retired │
//!   └─────────────────────────────────────────────────────────────┘
//!                              │
//!                              ▼
//!         StartInstance / StopInstance / Send{to, msg}
//! ```
//!
//! The rule that makes it safe: a node starts the instance only when it is
//! the oldest Up member in its view **and** every *blocker* — each member
//! older than itself that it knew and that is no longer Up, each removed
//! member it never knew, each member it confirmed a hand-over to — has
//! either confirmed that its instance stopped (`HandOverDone`), or has been
//! removed for `removal_margin`. A confirmation is a promise: the
//! confirming node starts nothing until the asker confirms back or is
//! removed for the margin. A running oldest ignores requests (the asker's
//! view is behind); a member that sees itself Leaving, Exiting, Down or
//! removed stops at once and never starts again. See
//! `docs/cluster/algorithm.md` for the argument and the timing.

use std::collections::{BTreeMap, BTreeSet};

use ferrocast_remote::UniqueAddress;
use tokio::time::Instant;

use crate::gossip::Gossip;
use crate::member::{Member, MemberStatus};
use crate::settings::SettingsError;

#[path = "singleton_protocol.rs"]
mod protocol;

pub use protocol::{SingletonInput, SingletonMessage, SingletonOutput, SingletonSettings};

/// Where a manager is, for observers and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingletonState {
    /// Not the oldest (or not Up yet).
    Younger,
    /// The oldest, waiting for older members to confirm or be removed.
    BecomingOldest,
    /// Runs the instance.
    Oldest,
    /// Stopping the instance.
    HandingOver,
    /// Leaving, Exiting, Down or removed in its own view: never runs it
    /// again.
    Retired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Instance {
    Stopped,
    Running,
    Stopping,
}

/// The singleton manager of one node incarnation.
#[derive(Debug)]
pub struct SingletonManager {
    self_node: UniqueAddress,
    settings: SingletonSettings,
    /// Age of every member with the role that ever had an up number: any
    /// of them older than this node may have run the instance.
    ages: BTreeMap<UniqueAddress, u32>,
    /// Members with the role that are Up now: the candidates.
    up: BTreeSet<UniqueAddress>,
    /// When each removed member (known or only a tombstone) was first seen
    /// removed: the start of its removal margin.
    removed_at: BTreeMap<UniqueAddress, Instant>,
    /// Members that confirmed their instance stopped and stays stopped
    /// until this node confirms back (or is removed for the margin).
    confirmed: BTreeSet<UniqueAddress>,
    /// Members that said they leave (`TakeOverFromMe`): no candidates.
    yielded: BTreeSet<UniqueAddress>,
    /// Members this node told `HandOverDone` while it could still run the
    /// instance later: they block it like older members do.
    handed_to: BTreeSet<UniqueAddress>,
    /// This node was a member once (so its absence means removed).
    joined: bool,
    /// This incarnation will never start the instance again.
    retired: bool,
    instance: Instance,
    /// Whom to tell `HandOverDone` once the instance stopped.
    hand_over_to: BTreeSet<UniqueAddress>,
    /// Whom a leaving oldest asks to take over, and how often still.
    take_over: Option<(UniqueAddress, u32)>,
    /// When `HandOverToMe` / `TakeOverFromMe` are resent.
    retry_at: Option<Instant>,
}

impl SingletonManager {
    /// A manager for `self_node`.
    pub fn new(
        self_node: UniqueAddress,
        settings: SingletonSettings,
    ) -> Result<Self, SettingsError> {
        settings.validate()?;
        Ok(SingletonManager {
            self_node,
            settings,
            ages: BTreeMap::new(),
            up: BTreeSet::new(),
            removed_at: BTreeMap::new(),
            confirmed: BTreeSet::new(),
            yielded: BTreeSet::new(),
            handed_to: BTreeSet::new(),
            joined: false,
            retired: false,
            instance: Instance::Stopped,
            hand_over_to: BTreeSet::new(),
            take_over: None,
            retry_at: None,
        })
    }

    /// This node.
    pub fn self_node(&self) -> &UniqueAddress {
        &self.self_node
    }

    /// True from `StartInstance` until the instance reported it stopped.
    pub fn instance_running(&self) -> bool {
        self.instance != Instance::Stopped
    }

    /// Where the manager is.
    pub fn state(&self) -> SingletonState {
        match self.instance {
            Instance::Running => SingletonState::Oldest,
            Instance::Stopping => SingletonState::HandingOver,
            Instance::Stopped if self.retired => SingletonState::Retired,
            Instance::Stopped if self.oldest().as_ref() == Some(&self.self_node) => {
                SingletonState::BecomingOldest
            }
            Instance::Stopped => SingletonState::Younger,
        }
    }

    /// The oldest candidate in this node's view.
    pub fn oldest(&self) -> Option<UniqueAddress> {
        self.up
            .iter()
            .filter(|n| !self.yielded.contains(*n))
            .filter(|n| **n != self.self_node || !self.retired)
            .min_by_key(|n| (self.ages[*n], *n))
            .cloned()
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, input: SingletonInput<'_>, now: Instant) -> Vec<SingletonOutput> {
        let mut out = Vec::new();
        match input {
            SingletonInput::Membership(gossip) => self.membership(gossip, now, &mut out),
            SingletonInput::Receive(msg) => self.receive(msg, now, &mut out),
            SingletonInput::InstanceStopped => self.instance_stopped(now, &mut out),
            SingletonInput::Tick => {
                // Idle ticks (the bulk) return at once: `retry_at` is the
                // next resend or the next end of a blocker's margin.
                if self.retry_at.is_none_or(|r| now < r) {
                    return out;
                }
            }
        }
        self.evaluate(now, &mut out);
        out
    }

    fn matches_role(role: &Option<String>, m: &Member) -> bool {
        role.as_ref().is_none_or(|r| m.has_role(r))
    }

    fn membership(&mut self, gossip: &Gossip, now: Instant, out: &mut Vec<SingletonOutput>) {
        // Called after every membership change: clone only what is new.
        let role = &self.settings.role;
        let aged = || {
            gossip
                .members
                .values()
                .filter(|m| Self::matches_role(role, m) && m.up_number != u32::MAX)
        };
        for m in aged() {
            if self.ages.get(&m.unique_address) != Some(&m.up_number) {
                self.ages.insert(m.unique_address.clone(), m.up_number);
            }
        }
        let up = aged().filter(|m| m.status == MemberStatus::Up);
        if !up.clone().map(|m| &m.unique_address).eq(self.up.iter()) {
            self.up = up.map(|m| m.unique_address.clone()).collect();
        }
        // A known member missing from the gossip was removed (its tombstone
        // may have been pruned, or never reached us).
        let missing = self
            .ages
            .keys()
            .filter(|n| !gossip.members.contains_key(*n));
        let new_removed: Vec<UniqueAddress> = gossip
            .tombstones
            .iter()
            .chain(missing)
            .filter(|n| !self.removed_at.contains_key(*n))
            .cloned()
            .collect();
        for n in new_removed {
            self.removed_at.insert(n, now);
        }
        self.forget_long_gone(gossip, now);
        match gossip.member(&self.self_node).map(|m| m.status) {
            None if self.joined => self.retire(now, out),
            None => {}
            Some(MemberStatus::Joining | MemberStatus::WeaklyUp | MemberStatus::Up) => {
                self.joined = true;
            }
            Some(_) => {
                self.joined = true;
                self.retire(now, out);
            }
        }
    }

    /// Forgets members removed for longer than the margin whose tombstone
    /// was pruned too (so they cannot show up as unknown ones again): this
    /// bounds the memory by the tombstones' lifetime.
    fn forget_long_gone(&mut self, gossip: &Gossip, now: Instant) {
        let margin = self.settings.removal_margin;
        let gone: Vec<UniqueAddress> = self
            .removed_at
            .iter()
            .filter(|(n, at)| now >= **at + margin && !gossip.tombstones.contains(*n))
            .filter(|(n, _)| !gossip.members.contains_key(*n))
            .map(|(n, _)| n.clone())
            .collect();
        for n in gone {
            self.removed_at.remove(&n);
            self.ages.remove(&n);
            self.confirmed.remove(&n);
            self.yielded.remove(&n);
            self.handed_to.remove(&n);
        }
    }

    /// This incarnation leaves the race for good: stop the instance, and if
    /// it was the oldest, ask the next one to take over.
    fn retire(&mut self, now: Instant, out: &mut Vec<SingletonOutput>) {
        if self.retired {
            return;
        }
        // Running means it was the oldest (the membership may already say
        // otherwise: it no longer lists this node as Up).
        let was_oldest = self.instance != Instance::Stopped;
        self.retired = true;
        self.stop_instance(out);
        if was_oldest {
            if let Some(next) = self.oldest() {
                self.take_over = Some((next, self.settings.max_take_over_retries));
                self.retry_at = Some(now);
            }
        }
    }

    fn stop_instance(&mut self, out: &mut Vec<SingletonOutput>) {
        if self.instance == Instance::Running {
            self.instance = Instance::Stopping;
            out.push(SingletonOutput::StopInstance);
        }
    }

    fn send(out: &mut Vec<SingletonOutput>, msg: SingletonMessage) {
        out.push(SingletonOutput::Send {
            to: msg.to().address.clone(),
            msg,
        });
    }

    fn receive(&mut self, msg: SingletonMessage, now: Instant, out: &mut Vec<SingletonOutput>) {
        if msg.to().address != self.self_node.address {
            return;
        }
        if msg.to() != &self.self_node {
            // For an earlier incarnation of this address: that process is
            // gone, so its instance is too.
            if let SingletonMessage::HandOverToMe { from, to } = msg {
                Self::send(out, SingletonMessage::HandOverDone { from: to, to: from });
            }
            return;
        }
        match msg {
            SingletonMessage::HandOverToMe { from, .. } => {
                if self.take_over.as_ref().is_some_and(|(t, _)| *t == from) {
                    self.take_over = None;
                }
                if self.instance == Instance::Running {
                    // Running means this node is the oldest Up member in
                    // its own view and not leaving: the sender's view is
                    // behind, or it sits on a side that was downed. No
                    // answer; it asks again, and either its view catches
                    // up or this node retires (then it answers).
                    return;
                }
                if !self.retired {
                    // Promise: no instance here until the sender confirms
                    // its own stopped, or is removed for the margin.
                    self.confirmed.remove(&from);
                    self.handed_to.insert(from.clone());
                }
                let reply = if self.instance == Instance::Stopped {
                    SingletonMessage::HandOverDone {
                        from: self.self_node.clone(),
                        to: from,
                    }
                } else {
                    self.hand_over_to.insert(from.clone());
                    SingletonMessage::HandOverInProgress {
                        from: self.self_node.clone(),
                        to: from,
                    }
                };
                Self::send(out, reply);
            }
            SingletonMessage::HandOverInProgress { .. } => {}
            SingletonMessage::HandOverDone { from, .. } => {
                self.handed_to.remove(&from);
                self.confirmed.insert(from);
            }
            SingletonMessage::TakeOverFromMe { from, .. } => {
                if from != self.self_node {
                    self.yielded.insert(from);
                }
                // Answer at once (evaluate sends `HandOverToMe`).
                self.retry_at = Some(now);
            }
        }
    }

    fn instance_stopped(&mut self, now: Instant, out: &mut Vec<SingletonOutput>) {
        if self.instance != Instance::Stopping {
            return;
        }
        self.instance = Instance::Stopped;
        for to in std::mem::take(&mut self.hand_over_to) {
            Self::send(
                out,
                SingletonMessage::HandOverDone {
                    from: self.self_node.clone(),
                    to,
                },
            );
        }
        if self.take_over.is_some() {
            self.retry_at = Some(now);
        }
    }

    /// Members that may still run an instance and keep this node from
    /// starting one: older than this node (or removed and unknown), not
    /// confirmed, and not removed for `removal_margin` yet.
    fn blockers(&self, now: Instant) -> Vec<UniqueAddress> {
        let me = (self.ages.get(&self.self_node).copied(), &self.self_node);
        let older = |n: &UniqueAddress| match self.ages.get(n) {
            Some(age) => (Some(*age), n) < me,
            // A removed member this node never saw Up: assume the worst,
            // unless it is an earlier incarnation of this very node.
            None => n.address != self.self_node.address,
        };
        let candidates = self.ages.keys().chain(self.removed_at.keys());
        let mut blockers: Vec<UniqueAddress> = candidates
            .filter(|n| **n != self.self_node && older(n))
            .chain(self.handed_to.iter())
            .filter(|n| !self.confirmed.contains(*n))
            .filter(|n| {
                self.removed_at
                    .get(*n)
                    .is_none_or(|at| now < *at + self.settings.removal_margin)
            })
            .cloned()
            .collect();
        blockers.sort();
        blockers.dedup();
        blockers
    }

    fn evaluate(&mut self, now: Instant, out: &mut Vec<SingletonOutput>) {
        let due = self.retry_at.is_some_and(|r| now >= r);
        if self.retired {
            if due && self.instance == Instance::Stopped {
                self.resend_take_over(now, out);
            }
            return;
        }
        if self.oldest().as_ref() != Some(&self.self_node) {
            // An older member became a candidate (two views merged): make
            // way; it waits for nobody younger, so stop at once.
            self.stop_instance(out);
            self.retry_at = None;
            return;
        }
        if self.instance != Instance::Stopped {
            return;
        }
        let blockers = self.blockers(now);
        if blockers.is_empty() {
            self.instance = Instance::Running;
            self.retry_at = None;
            out.push(SingletonOutput::StartInstance);
            return;
        }
        if self.retry_at.is_none() || due {
            let margin = self.settings.removal_margin;
            let first_expiry = blockers
                .iter()
                .filter_map(|b| self.removed_at.get(b))
                .map(|at| *at + margin)
                .min();
            for to in blockers {
                Self::send(
                    out,
                    SingletonMessage::HandOverToMe {
                        from: self.self_node.clone(),
                        to,
                    },
                );
            }
            let resend = now + self.settings.hand_over_retry_interval;
            self.retry_at = Some(first_expiry.map_or(resend, |e| e.min(resend)));
        }
    }

    fn resend_take_over(&mut self, now: Instant, out: &mut Vec<SingletonOutput>) {
        self.retry_at = None;
        let Some((to, left)) = self.take_over.take() else {
            return;
        };
        if left == 0 {
            return;
        }
        Self::send(
            out,
            SingletonMessage::TakeOverFromMe {
                from: self.self_node.clone(),
                to: to.clone(),
            },
        );
        self.take_over = Some((to, left - 1));
        self.retry_at = Some(now + self.settings.hand_over_retry_interval);
    }
}

#[cfg(test)]
#[path = "singleton_test.rs"]
mod tests;
