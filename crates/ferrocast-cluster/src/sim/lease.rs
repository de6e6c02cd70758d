//! The simulated lease (for lease-majority).

use ferrocast_remote::UniqueAddress;
use tokio::time::Instant;

use crate::sbr::Lease;

/// The simulated lease: one holder; a holder that is not running has let
/// its lease expire.
#[derive(Debug, Default)]
pub(super) struct SimLease {
    pub(super) holder: Option<UniqueAddress>,
}

impl Lease for SimLease {
    fn acquire(&mut self, owner: &UniqueAddress, _now: Instant) -> bool {
        match &self.holder {
            Some(h) if h != owner => false,
            _ => {
                self.holder = Some(owner.clone());
                true
            }
        }
    }

    fn release(&mut self, owner: &UniqueAddress) -> bool {
        if self.holder.as_ref() == Some(owner) {
            self.holder = None;
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
