//! The replicator: the receptionist's sans-IO protocol core.
//!
//! ```text
//!  local register / deregister / actor stopped ─┐
//!  cluster snapshot and events ─────────────────┤
//!  gossip tick ─────────────────────────────────┼──► Replicator ──► Outputs
//!  Status / Delta from a peer ──────────────────┘     (buckets)     ├ sends (to a node's service)
//!                                                                   └ changed keys (notify)
//! ```
//!
//! Nothing here reads a clock or touches the network: the runtime in
//! [`super`] feeds inputs and carries out the outputs, and the unit tests
//! below assert on the outputs directly.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;
use std::time::Duration;

use ferrocast_actor::ActorUid;
use ferrocast_remote::{NodeAddress, UniqueAddress};

use super::bucket::{Buckets, RegistryKey};
use super::protocol::{self, ReceptionistMessage, WireNode};
use crate::events::{ClusterEvent, CurrentClusterState};
use crate::member::MemberStatus;
use crate::rng::SplitMix64;

/// How the receptionist replicates; Akka's defaults where it has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceptionistSettings {
    /// How often a node sends its versions to one random peer (Akka's
    /// `gossip-interval` of distributed pub-sub: 1 s).
    pub gossip_interval: Duration,
    /// Push a changed own bucket to every reachable member at once, rather
    /// than waiting for the gossip to carry it. Fast convergence in small
    /// and medium clusters; turn off when registrations churn in a large
    /// one (the periodic gossip then does all the work).
    pub push_on_change: bool,
    /// The most entries one delta carries (Akka's `max-delta-elements`):
    /// keeps a delta within remoting's frame size; the rest follows in
    /// the next rounds.
    pub max_delta_entries: NonZeroUsize,
}

impl Default for ReceptionistSettings {
    fn default() -> Self {
        ReceptionistSettings {
            gossip_interval: Duration::from_secs(1),
            push_on_change: true,
            max_delta_entries: NonZeroUsize::new(3000).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid receptionist setting {name}: {reason}")]
pub struct InvalidSetting {
    /// The setting.
    pub name: &'static str,
    /// Why.
    pub reason: &'static str,
}

impl ReceptionistSettings {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.gossip_interval < Duration::from_millis(1) {
            return Err(InvalidSetting {
                name: "gossip_interval",
                reason: "must be at least 1 ms",
            });
        }
        Ok(())
    }
}

/// What the runtime must do after an input.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Outputs {
    /// Messages to the receptionist service of these nodes.
    pub(crate) sends: Vec<(NodeAddress, ReceptionistMessage)>,
    /// Keys whose visible listing may have changed.
    pub(crate) changed: BTreeSet<RegistryKey>,
}

/// One node's view of every node's registrations.
#[derive(Debug)]
pub(crate) struct Replicator {
    buckets: Buckets,
    /// Members that are not removed, with their status.
    members: BTreeMap<UniqueAddress, MemberStatus>,
    unreachable: BTreeSet<UniqueAddress>,
    rng: SplitMix64,
    settings: ReceptionistSettings,
    /// Entries dropped from received buckets as malformed or foreign.
    pub(crate) bad_entries: u64,
    /// Messages ignored because their sender is not a member.
    pub(crate) ignored: u64,
}

impl Replicator {
    pub(crate) fn new(self_node: UniqueAddress, settings: ReceptionistSettings, seed: u64) -> Self {
        Replicator {
            buckets: Buckets::new(self_node),
            members: BTreeMap::new(),
            unreachable: BTreeSet::new(),
            rng: SplitMix64::new(seed),
            settings,
            bad_entries: 0,
            ignored: 0,
        }
    }

    fn self_node(&self) -> &UniqueAddress {
        self.buckets.self_node()
    }

    /// Whether buckets of `owner` are taken: a member that is not down.
    fn accepts(&self, owner: &UniqueAddress) -> bool {
        *owner != *self.self_node()
            && self
                .members
                .get(owner)
                .is_some_and(|s| *s != MemberStatus::Down)
    }

    /// Whether `owner`'s registrations show in listings.
    fn visible(&self, owner: &UniqueAddress) -> bool {
        *owner == *self.self_node() || (self.accepts(owner) && !self.unreachable.contains(owner))
    }

    /// The members gossip goes to.
    fn peers(&self) -> Vec<UniqueAddress> {
        self.members
            .keys()
            .filter(|m| self.visible(m) && *m != self.self_node())
            .cloned()
            .collect()
    }

    /// The visible entries of `key`: (owner, full path), own first, then
    /// by owner address and path.
    pub(crate) fn listing(&self, key: &RegistryKey) -> Vec<(UniqueAddress, String)> {
        let own = self.self_node().clone();
        let mut out: Vec<(UniqueAddress, String)> = Vec::new();
        for (owner, bucket) in self.buckets.iter() {
            if !self.visible(owner) {
                continue;
            }
            if let Some(set) = bucket.entries.get(key) {
                out.extend(set.iter().map(|p| (owner.clone(), p.clone())));
            }
        }
        out.sort_by_key(|(o, _)| *o != own);
        out
    }

    /// The own version (for tests and metrics).
    pub(crate) fn own_version(&self) -> u64 {
        self.buckets.own().version
    }

    fn status(&self, reply: bool) -> ReceptionistMessage {
        ReceptionistMessage::Status {
            from: self.self_node().into(),
            versions: self
                .buckets
                .digest()
                .iter()
                .filter(|(o, _)| **o == *self.self_node() || self.accepts(o))
                .map(|(o, v)| (WireNode::from(o), *v))
                .collect(),
            reply,
        }
    }

    /// After a local change: push the own bucket to every peer.
    fn local_change(&mut self, changed: BTreeSet<RegistryKey>) -> Outputs {
        let mut out = Outputs {
            changed,
            ..Outputs::default()
        };
        if out.changed.is_empty() || !self.settings.push_on_change {
            return out;
        }
        let msg = ReceptionistMessage::Delta {
            from: self.self_node().into(),
            buckets: vec![protocol::to_wire(self.self_node(), self.buckets.own())],
        };
        for peer in self.peers() {
            out.sends.push((peer.address, msg.clone()));
        }
        out
    }

    pub(crate) fn register(&mut self, key: RegistryKey, path: String) -> Outputs {
        let changed = if self.buckets.add_local(key.clone(), path) {
            BTreeSet::from([key])
        } else {
            BTreeSet::new()
        };
        self.local_change(changed)
    }

    pub(crate) fn deregister(&mut self, key: &RegistryKey, path: &str) -> Outputs {
        let changed = if self.buckets.remove_local(key, path) {
            BTreeSet::from([key.clone()])
        } else {
            BTreeSet::new()
        };
        self.local_change(changed)
    }

    /// A registered local actor stopped: it leaves every key.
    pub(crate) fn actor_stopped(&mut self, uid: ActorUid) -> Outputs {
        let changed = self
            .buckets
            .remove_local_where(|p| protocol::incarnation(p) == Some((uid.actor, uid.system)));
        self.local_change(changed)
    }

    /// Periodic gossip: our versions to one random peer.
    pub(crate) fn tick(&mut self) -> Outputs {
        let peers = self.peers();
        let mut out = Outputs::default();
        if !peers.is_empty() {
            let i = self.rng.below(peers.len() as u64) as usize;
            out.sends
                .push((peers[i].address.clone(), self.status(true)));
        }
        out
    }

    pub(crate) fn receive(&mut self, msg: ReceptionistMessage) -> Outputs {
        let mut out = Outputs::default();
        match msg {
            ReceptionistMessage::Status {
                from,
                versions,
                reply,
            } => {
                let from = UniqueAddress::from(from);
                if !self.accepts(&from) {
                    self.ignored += 1;
                    return out;
                }
                let digest: BTreeMap<UniqueAddress, u64> = versions
                    .into_iter()
                    .map(|(n, v)| (UniqueAddress::from(n), v))
                    .collect();
                let delta = self.buckets.newer_than(
                    &digest,
                    |o| *o == *self.self_node() || self.accepts(o),
                    self.settings.max_delta_entries.get(),
                );
                if !delta.is_empty() {
                    let buckets = delta.iter().map(|(o, b)| protocol::to_wire(o, b)).collect();
                    let msg = ReceptionistMessage::Delta {
                        from: self.self_node().into(),
                        buckets,
                    };
                    out.sends.push((from.address.clone(), msg));
                }
                if reply && self.buckets.behind(&digest, |o| self.accepts(o)) {
                    out.sends.push((from.address, self.status(false)));
                }
            }
            ReceptionistMessage::Delta { from, buckets } => {
                if !self.accepts(&UniqueAddress::from(from)) {
                    self.ignored += 1;
                    return out;
                }
                for wire in buckets {
                    let (owner, bucket, bad) = protocol::from_wire(wire);
                    self.bad_entries += bad as u64;
                    if !self.accepts(&owner) {
                        continue;
                    }
                    let changed = self.buckets.merge(&owner, bucket);
                    if self.visible(&owner) {
                        out.changed.extend(changed);
                    }
                }
            }
        }
        out
    }

    /// Runs `f` on the membership and reports the keys of every owner
    /// whose visibility changed, or whose bucket was dropped.
    fn membership_change(&mut self, f: impl FnOnce(&mut Self)) -> Outputs {
        let owners: Vec<UniqueAddress> = self.buckets.iter().map(|(o, _)| o.clone()).collect();
        let before: Vec<bool> = owners.iter().map(|o| self.visible(o)).collect();
        let peers_before: BTreeSet<UniqueAddress> = self.peers().into_iter().collect();
        f(self);
        let mut out = Outputs::default();
        for (owner, was) in owners.iter().zip(before) {
            if self.members.contains_key(owner) || *owner == *self.self_node() {
                if self.visible(owner) != was {
                    if let Some(b) = self.buckets.get(owner) {
                        out.changed.extend(b.entries.keys().cloned());
                    }
                }
            } else {
                // Removed (or never a member): forget its registrations.
                let keys = self.buckets.remove_node(owner);
                if was {
                    out.changed.extend(keys);
                }
            }
        }
        // A new peer hears our versions at once rather than at a tick.
        let status = self.status(true);
        for peer in self.peers() {
            if !peers_before.contains(&peer) {
                out.sends.push((peer.address, status.clone()));
            }
        }
        out
    }

    /// The membership as of a subscription's snapshot.
    pub(crate) fn snapshot(&mut self, state: &CurrentClusterState) -> Outputs {
        self.membership_change(|r| {
            r.members = state
                .members
                .iter()
                .filter(|m| m.status != MemberStatus::Removed)
                .map(|m| (m.unique_address.clone(), m.status))
                .collect();
            r.unreachable = state.unreachable.clone();
        })
    }

    pub(crate) fn on_event(&mut self, event: &ClusterEvent) -> Outputs {
        self.membership_change(|r| match event {
            ClusterEvent::MemberJoined(m)
            | ClusterEvent::MemberWeaklyUp(m)
            | ClusterEvent::MemberUp(m)
            | ClusterEvent::MemberLeft(m)
            | ClusterEvent::MemberExited(m)
            | ClusterEvent::MemberDowned(m) => {
                r.members.insert(m.unique_address.clone(), m.status);
            }
            ClusterEvent::MemberRemoved { member, .. } => {
                r.members.remove(&member.unique_address);
                r.unreachable.remove(&member.unique_address);
            }
            ClusterEvent::UnreachableMember(m) => {
                r.unreachable.insert(m.unique_address.clone());
            }
            ClusterEvent::ReachableMember(m) => {
                r.unreachable.remove(&m.unique_address);
            }
            _ => {}
        })
    }
}

#[cfg(test)]
#[path = "replicator_test.rs"]
mod tests;
