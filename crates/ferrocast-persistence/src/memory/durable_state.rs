//! [`InMemoryDurableState`].

use std::collections::HashMap;
use std::sync::Mutex;

use crate::durable_state::{DurableStateError, DurableStateRecord, DurableStateStore};
use crate::ids::{PersistenceId, Revision};

/// Durable state in a map; the revision check runs under the lock.
#[derive(Default)]
pub struct InMemoryDurableState {
    records: Mutex<HashMap<PersistenceId, DurableStateRecord>>,
}

impl std::fmt::Debug for InMemoryDurableState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryDurableState")
            .field("persistence_ids", &super::lock(&self.records).len())
            .finish()
    }
}

impl DurableStateStore for InMemoryDurableState {
    async fn get(
        &self,
        persistence_id: &PersistenceId,
    ) -> Result<Option<DurableStateRecord>, DurableStateError> {
        Ok(super::lock(&self.records).get(persistence_id).cloned())
    }

    async fn upsert(&self, record: DurableStateRecord) -> Result<(), DurableStateError> {
        let mut records = super::lock(&self.records);
        let current = records
            .get(&record.persistence_id)
            .map_or(Revision::ZERO, |r| r.revision);
        let expected = current.next();
        if record.revision != expected || current == Revision::new(u64::MAX) {
            return Err(DurableStateError::RevisionConflict {
                persistence_id: record.persistence_id,
                attempted: record.revision,
                expected,
            });
        }
        records.insert(record.persistence_id.clone(), record);
        Ok(())
    }

    async fn delete(
        &self,
        persistence_id: &PersistenceId,
        revision: Revision,
    ) -> Result<(), DurableStateError> {
        let mut records = super::lock(&self.records);
        let current = records
            .get(persistence_id)
            .map_or(Revision::ZERO, |r| r.revision);
        if current != revision {
            return Err(DurableStateError::RevisionConflict {
                persistence_id: persistence_id.clone(),
                attempted: revision,
                expected: current,
            });
        }
        records.remove(persistence_id);
        Ok(())
    }
}
