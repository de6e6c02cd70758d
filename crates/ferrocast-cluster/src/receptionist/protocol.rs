//! The receptionist's wire messages, between the replicators of two nodes.
//!
//! Serde types sent with remoting's binary codec (postcard) to the
//! well-known service [`SERVICE`]. Paths inside buckets are plain strings
//! (exposed full paths with incarnation): the message type of each entry
//! is named by its key's manifest, so one message type carries every
//! service and topic, and the receiver builds typed references only when
//! someone asks for a listing.

use std::collections::{BTreeMap, BTreeSet};

use ferrocast_remote::{NodeAddress, Registry, RegistryError, RemotePath, UniqueAddress};
use serde::{Deserialize, Serialize};

use super::bucket::{Bucket, RegistryKey};

/// The well-known remoting service of every node's receptionist.
pub const SERVICE: &str = "ferrocast.receptionist";

/// The manifest of [`ReceptionistMessage`].
pub const MANIFEST: &str = "ferrocast.cluster.Receptionist";

/// Registers the receptionist's (and pub-sub's) wire messages; call it on
/// the registry before `Remoting::start`.
pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
    registry.register::<ReceptionistMessage>(MANIFEST)?;
    Ok(())
}

/// A node incarnation on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireNode {
    /// Actor system name.
    pub system: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Incarnation uid.
    pub uid: u64,
}

impl From<&UniqueAddress> for WireNode {
    fn from(u: &UniqueAddress) -> Self {
        WireNode {
            system: u.address.system.clone(),
            host: u.address.host.clone(),
            port: u.address.port,
            uid: u.uid,
        }
    }
}

impl From<WireNode> for UniqueAddress {
    fn from(w: WireNode) -> Self {
        UniqueAddress {
            address: NodeAddress::new(w.system, w.host, w.port),
            uid: w.uid,
        }
    }
}

/// One node's bucket on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireBucket {
    /// Whose registrations these are.
    pub owner: WireNode,
    /// The owner's version of them.
    pub version: u64,
    /// Key → full paths with incarnation.
    pub entries: Vec<(RegistryKey, Vec<String>)>,
}

/// What replicators say to each other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceptionistMessage {
    /// The sender's versions of every bucket it knows. The receiver
    /// answers with a [`ReceptionistMessage::Delta`] of what is newer
    /// there, and, if `reply` and it is behind, with its own status.
    Status {
        /// The sender (where answers go).
        from: WireNode,
        /// Owner → version.
        versions: Vec<(WireNode, u64)>,
        /// Ask for the receiver's status if it lacks something.
        reply: bool,
    },
    /// Buckets the receiver lacks (or a changed own bucket, pushed).
    Delta {
        /// The sender.
        from: WireNode,
        /// Whole buckets.
        buckets: Vec<WireBucket>,
    },
}

/// Encodes a bucket.
pub(crate) fn to_wire(owner: &UniqueAddress, bucket: &Bucket) -> WireBucket {
    WireBucket {
        owner: owner.into(),
        version: bucket.version,
        entries: bucket
            .entries
            .iter()
            .map(|(k, set)| (k.clone(), set.iter().cloned().collect()))
            .collect(),
    }
}

/// Decodes a bucket, dropping entries that are not full paths of an actor
/// on the owner's incarnation (returned as the count of bad entries).
pub(crate) fn from_wire(w: WireBucket) -> (UniqueAddress, Bucket, usize) {
    let owner: UniqueAddress = w.owner.into();
    let mut bad = 0;
    let mut entries: BTreeMap<RegistryKey, BTreeSet<String>> = BTreeMap::new();
    for (key, paths) in w.entries {
        for p in paths {
            let ok = p.parse::<RemotePath>().is_ok_and(|rp| {
                rp.address == owner.address
                    && rp.incarnation.is_some_and(|(_, node)| node == owner.uid)
            });
            if ok {
                entries.entry(key.clone()).or_default().insert(p);
            } else {
                bad += 1;
            }
        }
    }
    let bucket = Bucket {
        version: w.version,
        entries,
    };
    (owner, bucket, bad)
}

/// The incarnation `(actor id, node uid)` of a full path, if it has one.
pub(crate) fn incarnation(path: &str) -> Option<(u64, u64)> {
    path.parse::<RemotePath>().ok()?.incarnation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receptionist::bucket::KeyKind;

    #[test]
    fn buckets_round_trip_and_foreign_entries_are_dropped() {
        let owner = UniqueAddress {
            address: NodeAddress::new("app", "127.0.0.1", 7),
            uid: 99,
        };
        let key = RegistryKey {
            kind: KeyKind::Topic,
            id: "news".into(),
            manifest: "app.News".into(),
        };
        let good = "ferrocast://app@127.0.0.1:7/user/a#3:99".to_owned();
        let mut bucket = Bucket {
            version: 4,
            ..Bucket::default()
        };
        bucket
            .entries
            .entry(key.clone())
            .or_default()
            .insert(good.clone());
        let mut wire = to_wire(&owner, &bucket);
        let (o, b, bad) = from_wire(wire.clone());
        assert_eq!((o, b, bad), (owner.clone(), bucket.clone(), 0));
        wire.entries[0].1.extend([
            "garbage".to_owned(),
            // Another node's actor, another incarnation, no incarnation.
            "ferrocast://app@127.0.0.1:8/user/a#3:99".to_owned(),
            "ferrocast://app@127.0.0.1:7/user/a#3:98".to_owned(),
            "ferrocast://app@127.0.0.1:7/user/a".to_owned(),
        ]);
        let (_, b, bad) = from_wire(wire);
        assert_eq!((b, bad), (bucket, 4));
        assert_eq!(incarnation(&good), Some((3, 99)));
        assert_eq!(incarnation("x"), None);
    }
}
