//! Versioned buckets: each node's registrations, and their merge.
//!
//! Only the owner of a bucket changes it, and every change bumps its
//! version; everyone else keeps the highest version they have seen. So a
//! merge is "keep the higher version per owner": commutative, associative
//! and idempotent, whatever order the gossip delivers buckets in. Removed
//! entries need no tombstones because a bucket always travels whole.

use std::collections::{BTreeMap, BTreeSet};

use ferrocast_remote::UniqueAddress;
use serde::{Deserialize, Serialize};

/// What a registration is for; keeps topic and service namespaces apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KeyKind {
    /// A receptionist service key.
    Service,
    /// A pub-sub topic (the entries are the nodes' topic mediators).
    Topic,
}

/// A key of the replicated registry. The manifest of the message type is
/// part of it, as the type is part of a local `ServiceKey<M>`: the same id
/// with two message types is two services.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RegistryKey {
    /// Service or topic.
    pub kind: KeyKind,
    /// The service id or topic name.
    pub id: String,
    /// The manifest the message type is registered under in remoting.
    pub manifest: String,
}

/// The registrations of one node: key → full paths (with incarnation) of
/// the registered actors, which all live on that node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Bumped by the owner on every change; 0 is the empty start.
    pub version: u64,
    /// Registrations; a key without entries is absent.
    pub entries: BTreeMap<RegistryKey, BTreeSet<String>>,
}

impl Bucket {
    /// The keys whose entries differ between `self` and `other`.
    pub fn changed_keys(&self, other: &Bucket) -> BTreeSet<RegistryKey> {
        let keys: BTreeSet<&RegistryKey> =
            self.entries.keys().chain(other.entries.keys()).collect();
        keys.into_iter()
            .filter(|k| self.entries.get(*k) != other.entries.get(*k))
            .cloned()
            .collect()
    }

    /// The number of entries, to bound the size of a delta.
    pub fn len(&self) -> usize {
        self.entries.values().map(BTreeSet::len).sum()
    }

    /// True without entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Every bucket this node knows, its own included.
#[derive(Clone, Debug)]
pub struct Buckets {
    self_node: UniqueAddress,
    buckets: BTreeMap<UniqueAddress, Bucket>,
}

impl Buckets {
    /// Only the (empty) bucket of `self_node`.
    pub fn new(self_node: UniqueAddress) -> Self {
        let mut buckets = BTreeMap::new();
        buckets.insert(self_node.clone(), Bucket::default());
        Buckets { self_node, buckets }
    }

    /// The owner of the local bucket.
    pub fn self_node(&self) -> &UniqueAddress {
        &self.self_node
    }

    /// The local bucket.
    pub fn own(&self) -> &Bucket {
        // Inserted by `new` and never removed (`remove_node` skips it).
        self.buckets.get(&self.self_node).unwrap_or(&EMPTY)
    }

    fn own_mut(&mut self) -> &mut Bucket {
        self.buckets.entry(self.self_node.clone()).or_default()
    }

    /// The bucket of `owner`, if known.
    pub fn get(&self, owner: &UniqueAddress) -> Option<&Bucket> {
        self.buckets.get(owner)
    }

    /// Every known bucket.
    pub fn iter(&self) -> impl Iterator<Item = (&UniqueAddress, &Bucket)> {
        self.buckets.iter()
    }

    /// Adds a local registration; true (and a new version) if it is new.
    pub fn add_local(&mut self, key: RegistryKey, path: String) -> bool {
        let own = self.own_mut();
        let added = own.entries.entry(key).or_default().insert(path);
        if added {
            own.version += 1;
        }
        added
    }

    /// Removes a local registration; true (and a new version) if it was
    /// there.
    pub fn remove_local(&mut self, key: &RegistryKey, path: &str) -> bool {
        let own = self.own_mut();
        let Some(set) = own.entries.get_mut(key) else {
            return false;
        };
        let removed = set.remove(path);
        if set.is_empty() {
            own.entries.remove(key);
        }
        if removed {
            own.version += 1;
        }
        removed
    }

    /// Removes every local registration whose path `matches` (a stopped
    /// actor, under all its keys); the keys that changed.
    pub fn remove_local_where(&mut self, matches: impl Fn(&str) -> bool) -> BTreeSet<RegistryKey> {
        let own = self.own_mut();
        let mut changed = BTreeSet::new();
        own.entries.retain(|key, set| {
            let before = set.len();
            set.retain(|p| !matches(p));
            if set.len() != before {
                changed.insert(key.clone());
            }
            !set.is_empty()
        });
        if !changed.is_empty() {
            own.version += 1;
        }
        changed
    }

    /// Owner → version of every known bucket.
    pub fn digest(&self) -> BTreeMap<UniqueAddress, u64> {
        self.buckets
            .iter()
            .map(|(o, b)| (o.clone(), b.version))
            .collect()
    }

    /// The buckets newer here than in `digest` (a peer's versions), for
    /// owners that `share` allows, oldest owner first, until `max_entries`
    /// entries (at least one bucket if any).
    pub fn newer_than(
        &self,
        digest: &BTreeMap<UniqueAddress, u64>,
        share: impl Fn(&UniqueAddress) -> bool,
        max_entries: usize,
    ) -> Vec<(UniqueAddress, Bucket)> {
        let mut out = Vec::new();
        let mut entries = 0;
        for (owner, bucket) in &self.buckets {
            let theirs = digest.get(owner).copied().unwrap_or(0);
            if bucket.version <= theirs || !share(owner) {
                continue;
            }
            if !out.is_empty() && entries + bucket.len() > max_entries {
                break;
            }
            entries += bucket.len();
            out.push((owner.clone(), bucket.clone()));
        }
        out
    }

    /// True if `digest` names a newer bucket than this node has for an
    /// owner that `accept` allows (the peer should send it).
    pub fn behind(
        &self,
        digest: &BTreeMap<UniqueAddress, u64>,
        accept: impl Fn(&UniqueAddress) -> bool,
    ) -> bool {
        digest.iter().any(|(owner, v)| {
            *owner != self.self_node
                && accept(owner)
                && *v > self.buckets.get(owner).map_or(0, |b| b.version)
        })
    }

    /// Takes `bucket` of `owner` if it is newer than the one known (never
    /// the own bucket: only this node writes that); the keys that changed.
    pub fn merge(&mut self, owner: &UniqueAddress, bucket: Bucket) -> BTreeSet<RegistryKey> {
        if *owner == self.self_node {
            return BTreeSet::new();
        }
        match self.buckets.get_mut(owner) {
            Some(known) if known.version >= bucket.version => BTreeSet::new(),
            Some(known) => {
                let changed = known.changed_keys(&bucket);
                *known = bucket;
                changed
            }
            None => {
                let changed = Bucket::default().changed_keys(&bucket);
                self.buckets.insert(owner.clone(), bucket);
                changed
            }
        }
    }

    /// Forgets the bucket of a removed node; the keys it had.
    pub fn remove_node(&mut self, owner: &UniqueAddress) -> BTreeSet<RegistryKey> {
        if *owner == self.self_node {
            return BTreeSet::new();
        }
        self.buckets
            .remove(owner)
            .map(|b| b.entries.into_keys().collect())
            .unwrap_or_default()
    }
}

static EMPTY: Bucket = Bucket {
    version: 0,
    entries: BTreeMap::new(),
};

#[cfg(test)]
#[path = "bucket_test.rs"]
mod tests;
