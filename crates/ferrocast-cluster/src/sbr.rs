//! The split brain resolver: which members to down when some are
//! unreachable, as a pure decision over the membership seen by one side.
//!
//! Each side of a partition runs the same function on its own view. The
//! strategies are built so that two disjoint sides can never both keep
//! running: a side keeps itself only if it holds something that exactly
//! one side can hold (a strict majority, the quorum, the oldest member, the
//! lease). Because the two views may disagree on members in transition
//! (a joiner moved up, a leaver moved out on one side only), every
//! count-based decision is taken on three views — strict, with joiners
//! counted, without leavers — and if they disagree the side downs everyone
//! it sees (Akka's "membership change edge case": safety over
//! availability).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ferrocast_remote::UniqueAddress;
use tokio::time::Instant;

use crate::member::{Member, MemberStatus};
use crate::settings::SettingsError;

/// Which side survives a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// The side with more members survives; a tie keeps the side with the
    /// lowest address.
    KeepMajority {
        /// Only members with this role count.
        role: Option<String>,
    },
    /// A side survives if it has at least `quorum_size` members; if both
    /// sides do (the cluster grew past `2 * quorum_size - 1`), all go down.
    StaticQuorum {
        /// Members needed to survive.
        quorum_size: usize,
        /// Only members with this role count.
        role: Option<String>,
    },
    /// The side with the oldest member survives; with `down_if_alone`, an
    /// oldest member cut off alone is downed and the rest survive.
    KeepOldest {
        /// Down the oldest when it is alone on its side.
        down_if_alone: bool,
        /// Only members with this role count.
        role: Option<String>,
    },
    /// Every member is downed: safe always, available never.
    DownAll,
    /// Like keep-majority, but the surviving side must also acquire a lease;
    /// the minority waits before trying, so the majority usually wins.
    LeaseMajority {
        /// Only members with this role count.
        role: Option<String>,
        /// How long the minority side waits before trying the lease.
        acquire_lease_delay_for_minority: Duration,
    },
}

/// Settings of the split brain resolver (Akka's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbrSettings {
    /// The strategy.
    pub strategy: Strategy,
    /// Decide only once the unreachable set has not changed for this long.
    pub stable_after: Duration,
    /// Down all when the unreachable set keeps changing for
    /// `stable_after` plus this long; `None` disables it.
    pub down_all_when_unstable: Option<Duration>,
}

impl SbrSettings {
    /// Akka's `down-all-when-unstable = on`: 3/4 of `stable_after`, at
    /// least 4 s.
    pub fn down_all_when_unstable_for(stable_after: Duration) -> Duration {
        (stable_after * 3 / 4).max(Duration::from_secs(4))
    }

    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if self.stable_after.is_zero() {
            return Err(SettingsError {
                field: "downing.stable_after",
                reason: "must be greater than zero",
            });
        }
        if let Strategy::StaticQuorum { quorum_size: 0, .. } = self.strategy {
            return Err(SettingsError {
                field: "downing.strategy.quorum_size",
                reason: "must be greater than zero",
            });
        }
        Ok(())
    }
}

impl Default for SbrSettings {
    /// Keep-majority with `stable_after` 3 s (Akka: 20 s, sized for
    /// clusters of up to about a thousand nodes; see
    /// docs/cluster/algorithm.md for why 3 s suits the clusters Ferrocast
    /// targets) and down-all-when-unstable after 4 s more.
    fn default() -> Self {
        let stable_after = Duration::from_secs(3);
        SbrSettings {
            strategy: Strategy::KeepMajority { role: None },
            stable_after,
            down_all_when_unstable: Some(SbrSettings::down_all_when_unstable_for(stable_after)),
        }
    }
}

/// What the resolver decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Down these members now (may include self).
    Down(BTreeSet<UniqueAddress>),
    /// Try the lease after `delay`; down `on_acquired` if it is granted,
    /// `on_denied` otherwise.
    AcquireLease {
        /// How long to wait before asking.
        delay: Duration,
        /// Downed when the lease is granted (the other side).
        on_acquired: BTreeSet<UniqueAddress>,
        /// Downed when it is not (this side).
        on_denied: BTreeSet<UniqueAddress>,
    },
}

/// A lease: a lock held by at most one owner, outside the cluster (a
/// Kubernetes object, a database row). The engine never calls it: it emits
/// `Output::AcquireLease` and is told the answer, so the I/O layer (or the
/// simulator) owns the implementation.
pub trait Lease {
    /// Tries to take the lease for `owner` (granted again to its holder).
    fn acquire(&mut self, owner: &UniqueAddress, now: Instant) -> bool;
    /// Gives it back; false if `owner` did not hold it.
    fn release(&mut self, owner: &UniqueAddress) -> bool;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    ThisSide,
    OtherSide,
    Nobody,
}

/// One way of counting: which statuses count as members.
fn counted(m: &Member, role: &Option<String>, joiners: bool, leavers: bool) -> bool {
    use MemberStatus::*;
    let status_ok = match m.status {
        Up => true,
        Joining | WeaklyUp => joiners,
        Leaving | Exiting => leavers,
        Down | Removed => false,
    };
    status_ok && role.as_ref().is_none_or(|r| m.has_role(r))
}

struct Sides {
    this: BTreeSet<UniqueAddress>,
    other: BTreeSet<UniqueAddress>,
    oldest: Option<(UniqueAddress, bool)>,
}

fn sides(
    members: &BTreeMap<UniqueAddress, Member>,
    other_side: &BTreeSet<UniqueAddress>,
    role: &Option<String>,
    joiners: bool,
    leavers: bool,
) -> Sides {
    let mut s = Sides {
        this: BTreeSet::new(),
        other: BTreeSet::new(),
        oldest: None,
    };
    let mut oldest: Option<&Member> = None;
    for m in members
        .values()
        .filter(|m| counted(m, role, joiners, leavers))
    {
        let node = m.unique_address.clone();
        if other_side.contains(&node) {
            s.other.insert(node);
        } else {
            s.this.insert(node);
        }
        if m.up_number != u32::MAX && oldest.is_none_or(|o| m.is_older_than(o)) {
            oldest = Some(m);
        }
    }
    s.oldest = oldest.map(|o| {
        let here = !other_side.contains(&o.unique_address);
        (o.unique_address.clone(), here)
    });
    s
}

fn majority(s: &Sides) -> Keep {
    use std::cmp::Ordering::*;
    match s.this.len().cmp(&s.other.len()) {
        Greater => Keep::ThisSide,
        Less => Keep::OtherSide,
        Equal => match (s.this.first(), s.other.first()) {
            (Some(a), Some(b)) if a < b => Keep::ThisSide,
            (Some(_), Some(_)) => Keep::OtherSide,
            // Nobody counted on either side: nothing to protect.
            _ => Keep::ThisSide,
        },
    }
}

fn keep_for(strategy: &Strategy, s: &Sides) -> Keep {
    match strategy {
        Strategy::KeepMajority { .. } | Strategy::LeaseMajority { .. } => majority(s),
        Strategy::StaticQuorum { quorum_size, .. } => {
            match (s.this.len() >= *quorum_size, s.other.len() >= *quorum_size) {
                (true, false) => Keep::ThisSide,
                (false, true) => Keep::OtherSide,
                _ => Keep::Nobody,
            }
        }
        Strategy::KeepOldest { down_if_alone, .. } => match &s.oldest {
            None => majority(s),
            Some((_, true)) => {
                if *down_if_alone && s.this.len() == 1 && !s.other.is_empty() {
                    Keep::OtherSide
                } else {
                    Keep::ThisSide
                }
            }
            Some((_, false)) => {
                if *down_if_alone && s.other.len() == 1 && !s.this.is_empty() {
                    Keep::ThisSide
                } else {
                    Keep::OtherSide
                }
            }
        },
        Strategy::DownAll => Keep::Nobody,
    }
}

fn role_of(strategy: &Strategy) -> Option<String> {
    match strategy {
        Strategy::KeepMajority { role }
        | Strategy::StaticQuorum { role, .. }
        | Strategy::KeepOldest { role, .. }
        | Strategy::LeaseMajority { role, .. } => role.clone(),
        Strategy::DownAll => None,
    }
}

/// Members that some observer reports unreachable while themselves
/// reporting others unreachable: the symptom of a flaky, non-transitive
/// network, not of a clean partition. They are always downed.
pub fn indirectly_connected(
    unreachable: &BTreeSet<UniqueAddress>,
    observers_of_unreachable: &BTreeSet<UniqueAddress>,
) -> BTreeSet<UniqueAddress> {
    unreachable
        .intersection(observers_of_unreachable)
        .cloned()
        .collect()
}

/// Decides which members to down.
///
/// `members` is this side's view of the membership, `unreachable` the
/// members this side cannot reach, `indirect` those of them that are
/// [`indirectly_connected`]. The result downs the indirectly connected,
/// and either the other side, this side, or both.
pub fn decide(
    strategy: &Strategy,
    members: &BTreeMap<UniqueAddress, Member>,
    unreachable: &BTreeSet<UniqueAddress>,
    indirect: &BTreeSet<UniqueAddress>,
) -> Decision {
    let alive = |pred: &dyn Fn(&UniqueAddress) -> bool| -> BTreeSet<UniqueAddress> {
        members
            .values()
            .filter(|m| m.status != MemberStatus::Down && m.status != MemberStatus::Removed)
            .map(|m| m.unique_address.clone())
            .filter(|n| pred(n))
            .collect()
    };
    let other_side: BTreeSet<_> = unreachable.union(indirect).cloned().collect();
    let this_nodes = alive(&|n| !other_side.contains(n));
    let other_nodes = alive(&|n| unreachable.contains(n) && !indirect.contains(n));
    let indirect_nodes = alive(&|n| indirect.contains(n));
    // No shortcut for "only indirectly connected nodes are unreachable":
    // they may be a whole side whose view differs from ours, so the
    // strategy decides as for any other side.
    let role = role_of(strategy);
    let views = [(false, true), (true, true), (false, false)];
    let verdicts: Vec<Keep> = views
        .iter()
        .map(|(joiners, leavers)| {
            keep_for(
                strategy,
                &sides(members, &other_side, &role, *joiners, *leavers),
            )
        })
        .collect();
    let keep = if verdicts.iter().all(|v| *v == verdicts[0]) {
        verdicts[0]
    } else {
        Keep::Nobody
    };
    let union = |a: &BTreeSet<UniqueAddress>, b: &BTreeSet<UniqueAddress>| -> BTreeSet<_> {
        a.union(b).cloned().collect()
    };
    let down_other = union(&other_nodes, &indirect_nodes);
    let down_this = union(&this_nodes, &indirect_nodes);
    if let Strategy::LeaseMajority {
        acquire_lease_delay_for_minority,
        ..
    } = strategy
    {
        // A side where every member is on its way out has nobody to keep
        // serving: it downs itself rather than take the lease from the
        // side that stays (which removed the leavers, and may not hold it).
        let leaving = |n: &UniqueAddress| {
            members
                .get(n)
                .is_some_and(|m| matches!(m.status, MemberStatus::Leaving | MemberStatus::Exiting))
        };
        if !this_nodes.is_empty() && this_nodes.iter().all(leaving) {
            return Decision::Down(down_this);
        }
        // The lease, not the count, makes the decision safe: the count only
        // gives the likely winner a head start.
        let delay = if keep == Keep::ThisSide {
            Duration::ZERO
        } else {
            *acquire_lease_delay_for_minority
        };
        return Decision::AcquireLease {
            delay,
            on_acquired: down_other,
            on_denied: down_this,
        };
    }
    match keep {
        Keep::ThisSide => Decision::Down(down_other),
        Keep::OtherSide => Decision::Down(down_this),
        Keep::Nobody => Decision::Down(union(&down_this, &down_other)),
    }
}

/// Tracks how long the unreachable set has been stable, to decide when the
/// resolver may act (`stable_after`) or must give up (`down_all_when_unstable`).
#[derive(Debug, Clone)]
pub struct StabilityTracker {
    unreachable: BTreeSet<UniqueAddress>,
    members: BTreeSet<UniqueAddress>,
    stable_since: Instant,
    unstable_since: Option<Instant>,
}

/// What the tracker allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to decide (all reachable) or not stable long enough.
    Wait,
    /// Stable for `stable_after`: run the strategy.
    Decide,
    /// Unstable for too long: down all.
    DownAll,
}

impl StabilityTracker {
    /// A tracker that saw nothing yet.
    pub fn new(now: Instant) -> Self {
        StabilityTracker {
            unreachable: BTreeSet::new(),
            members: BTreeSet::new(),
            stable_since: now,
            unstable_since: None,
        }
    }

    /// Records the current unreachable set and members; any change restarts
    /// the stability clock.
    pub fn observe(
        &mut self,
        unreachable: &BTreeSet<UniqueAddress>,
        members: &BTreeSet<UniqueAddress>,
        now: Instant,
    ) {
        if *unreachable != self.unreachable || *members != self.members {
            self.stable_since = now;
            if unreachable.is_empty() {
                self.unstable_since = None;
            } else if self.unstable_since.is_none() {
                self.unstable_since = Some(now);
            }
            self.unreachable = unreachable.clone();
            self.members = members.clone();
        }
    }

    /// Whether the resolver may act at `now`.
    pub fn verdict(&self, settings: &SbrSettings, now: Instant) -> Verdict {
        if self.unreachable.is_empty() {
            return Verdict::Wait;
        }
        if now.saturating_duration_since(self.stable_since) >= settings.stable_after {
            return Verdict::Decide;
        }
        if let (Some(extra), Some(since)) = (settings.down_all_when_unstable, self.unstable_since) {
            if now.saturating_duration_since(since) >= settings.stable_after + extra {
                return Verdict::DownAll;
            }
        }
        Verdict::Wait
    }

    /// Starts over after a decision was acted on.
    pub fn decided(&mut self, now: Instant) {
        self.stable_since = now;
        self.unstable_since = None;
    }
}

#[cfg(test)]
#[path = "sbr_test.rs"]
mod tests;
