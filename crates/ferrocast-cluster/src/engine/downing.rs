//! Downing: the split brain resolver on the leader, and the lease.

use std::collections::BTreeSet;

use ferrocast_remote::UniqueAddress;
use tokio::time::Instant;

use super::{MembershipEngine, Output, PendingLease};
use crate::member::{Member, MemberStatus};
use crate::sbr::{self, Decision, Verdict};

impl MembershipEngine {
    pub(super) fn resolve_split_brain(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Some(settings) = self.settings.downing.clone() else {
            return;
        };
        let reach = self.gossip.reachability_excluding_downed_observers();
        let alive = |m: &&Member| m.status != MemberStatus::Down;
        let unreachable: BTreeSet<UniqueAddress> = reach
            .all_unreachable_or_terminated()
            .into_iter()
            .filter(|n| self.gossip.member(n).is_some_and(|m| alive(&m)))
            .collect();
        let members: BTreeSet<UniqueAddress> = self
            .gossip
            .members
            .values()
            .filter(|m| alive(m) && m.status != MemberStatus::Joining)
            .map(|m| m.unique_address.clone())
            .collect();
        self.stability.observe(&unreachable, &members, now);
        if unreachable.is_empty() {
            self.pending_lease = None;
        }
        // A granted lease is kept while this node runs: releasing it after
        // the decision would let a late minority acquire it and down us.
        if !self.is_leader() || self.pending_lease.is_some() {
            return;
        }
        let verdict = self.stability.verdict(&settings, now);
        // Decide only once every member this side believes reachable has
        // seen the current state (so has seen the same unreachable set): a
        // member that was silently cut off, but not yet detected, then
        // holds the decision back instead of being counted on two sides.
        let side_has_seen = self
            .gossip
            .members
            .values()
            .filter(|m| alive(m) && !unreachable.contains(&m.unique_address))
            .all(|m| self.gossip.seen_by(&m.unique_address));
        let decision = match verdict {
            Verdict::Wait => return,
            Verdict::Decide if !side_has_seen => return,
            Verdict::DownAll => Decision::Down(
                self.gossip
                    .members
                    .values()
                    .filter(alive)
                    .map(|m| m.unique_address.clone())
                    .collect(),
            ),
            Verdict::Decide => {
                let indirect =
                    sbr::indirectly_connected(&unreachable, &reach.observers_of(&unreachable));
                sbr::decide(
                    &settings.strategy,
                    &self.gossip.members,
                    &unreachable,
                    &indirect,
                )
            }
        };
        self.stability.decided(now);
        match decision {
            Decision::Down(nodes) => self.down_all(&nodes),
            Decision::AcquireLease {
                delay,
                on_acquired,
                on_denied,
            } => {
                self.pending_lease = Some(PendingLease {
                    ask_at: now + delay,
                    asked: false,
                    on_acquired,
                    on_denied,
                });
                self.lease_timer(now, out);
            }
        }
    }

    pub(super) fn lease_timer(&mut self, now: Instant, out: &mut Vec<Output>) {
        if let Some(p) = &mut self.pending_lease {
            if !p.asked && now >= p.ask_at {
                p.asked = true;
                out.push(Output::AcquireLease);
            }
        }
    }

    pub(super) fn lease_result(&mut self, granted: bool) {
        let Some(p) = self.pending_lease.take() else {
            return;
        };
        self.lease_held |= granted;
        let nodes = if granted { p.on_acquired } else { p.on_denied };
        self.down_all(&nodes);
    }

    pub(super) fn down_all(&mut self, nodes: &BTreeSet<UniqueAddress>) {
        let mut changed = false;
        for n in nodes {
            changed |= self.gossip.set_status(n, MemberStatus::Down);
        }
        if changed {
            self.gossip.changed_by(&self.self_node);
        }
    }
}
