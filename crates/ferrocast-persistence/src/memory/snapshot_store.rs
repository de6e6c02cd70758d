//! [`InMemorySnapshotStore`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::ids::{PersistenceId, SequenceNr};
use crate::snapshot_store::{Snapshot, SnapshotError, SnapshotStore};

/// Snapshots in a map per persistence id, ordered by sequence number.
#[derive(Default)]
pub struct InMemorySnapshotStore {
    snapshots: Mutex<HashMap<PersistenceId, BTreeMap<SequenceNr, Snapshot>>>,
}

impl InMemorySnapshotStore {
    /// The sequence numbers of the stored snapshots of `persistence_id`,
    /// oldest first (for tests of retention).
    pub fn sequence_nrs(&self, persistence_id: &PersistenceId) -> Vec<SequenceNr> {
        super::lock(&self.snapshots)
            .get(persistence_id)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for InMemorySnapshotStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemorySnapshotStore")
            .field("persistence_ids", &super::lock(&self.snapshots).len())
            .finish()
    }
}

impl SnapshotStore for InMemorySnapshotStore {
    async fn save(&self, snapshot: Snapshot) -> Result<(), SnapshotError> {
        super::lock(&self.snapshots)
            .entry(snapshot.metadata.persistence_id.clone())
            .or_default()
            .insert(snapshot.metadata.sequence_nr, snapshot);
        Ok(())
    }

    async fn load_latest(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> Result<Option<Snapshot>, SnapshotError> {
        Ok(super::lock(&self.snapshots)
            .get(persistence_id)
            .and_then(|m| m.range(..=max).next_back())
            .map(|(_, s)| s.clone()))
    }

    async fn delete_up_to(
        &self,
        persistence_id: &PersistenceId,
        max: SequenceNr,
    ) -> Result<(), SnapshotError> {
        if let Some(m) = super::lock(&self.snapshots).get_mut(persistence_id) {
            m.retain(|nr, _| *nr > max);
        }
        Ok(())
    }
}
