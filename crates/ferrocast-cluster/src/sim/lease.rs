//! The simulated lease (for lease-majority).

use ferrocast_remote::UniqueAddress;
use tokio::time::Instant;

use crate::sbr::Lease;

/// The simulated lease: one holder; a holder that stopped running lets it
/// expire [`LEASE_TTL`] later (it no longer renews it), as a Kubernetes or
/// database lease with a time-to-live does.
#[derive(Debug, Default)]
pub(super) struct SimLease {
    pub(super) holder: Option<UniqueAddress>,
    /// When the holder was first seen not running.
    pub(super) holder_gone_since: Option<Instant>,
}

/// How long a lease outlives a holder that stopped renewing it (Akka's
/// Kubernetes lease uses 120 s; shorter here to fit the fault phase, and
/// still longer than the latest a downed side can decide).
pub(super) const LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(20);

impl Lease for SimLease {
    fn acquire(&mut self, owner: &UniqueAddress, _now: Instant) -> bool {
        match &self.holder {
            Some(h) if h != owner => false,
            _ => {
                self.holder = Some(owner.clone());
                self.holder_gone_since = None;
                true
            }
        }
    }

    fn release(&mut self, owner: &UniqueAddress) -> bool {
        if self.holder.as_ref() == Some(owner) {
            self.holder = None;
            self.holder_gone_since = None;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_remote::NodeAddress;

    #[test]
    fn sim_lease_has_one_holder() {
        let t0 = Instant::now();
        let a = UniqueAddress {
            address: NodeAddress::new("s", "a", 1),
            uid: 1,
        };
        let b = UniqueAddress {
            address: NodeAddress::new("s", "b", 1),
            uid: 2,
        };
        let mut l = SimLease::default();
        assert!(l.acquire(&a, t0));
        assert!(l.acquire(&a, t0), "re-entrant");
        assert!(!l.acquire(&b, t0));
        assert!(!l.release(&b));
        assert!(l.release(&a));
        assert!(l.acquire(&b, t0));
    }
}
