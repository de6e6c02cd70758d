//! [`RowCache`]: the identifiers of consecutive rows, built once.

use crate::backend::Corrupt;
use crate::ids::{PersistenceId, WriterId};
use crate::payload::Manifest;

/// Reuses the manifest, writer id and persistence id of the previous row
/// when the next row has the same text, as consecutive rows of one log
/// almost always do: a page of replay then builds each of them once (one
/// allocation and one validation) instead of once per event.
#[derive(Debug, Default)]
pub struct RowCache {
    manifest: Option<Manifest>,
    writer: Option<WriterId>,
    persistence_id: Option<PersistenceId>,
}

impl RowCache {
    /// A manifest (any text).
    pub fn manifest(&mut self, text: &str) -> Manifest {
        match &self.manifest {
            Some(m) if m.as_str() == text => m.clone(),
            _ => self.manifest.insert(Manifest::new(text)).clone(),
        }
    }

    /// A stored writer id; an invalid one means a corrupt row.
    pub fn writer(&mut self, text: &str) -> Result<WriterId, Corrupt> {
        match &self.writer {
            Some(w) if w.as_str() == text => Ok(w.clone()),
            _ => {
                let w = WriterId::new(text).map_err(|e| Corrupt(e.to_string()))?;
                Ok(self.writer.insert(w).clone())
            }
        }
    }

    /// A stored persistence id; an invalid one means a corrupt row.
    pub fn persistence_id(&mut self, text: &str) -> Result<PersistenceId, Corrupt> {
        match &self.persistence_id {
            Some(p) if p.as_str() == text => Ok(p.clone()),
            _ => {
                let p = PersistenceId::new(text).map_err(|e| Corrupt(e.to_string()))?;
                Ok(self.persistence_id.insert(p).clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_one_value_and_invalid_ids_are_corrupt() {
        let mut cache = RowCache::default();
        let a = cache.writer("w").unwrap();
        let b = cache.writer("w").unwrap();
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(cache.writer("v").unwrap().as_str(), "v");
        assert!(cache.writer("").is_err());
        assert!(cache.persistence_id("").is_err());
        assert_eq!(cache.persistence_id("p").unwrap().as_str(), "p");
        let m = cache.manifest("m.v1");
        assert!(std::ptr::eq(m.as_str(), cache.manifest("m.v1").as_str()));
        assert_eq!(cache.manifest("").as_str(), "");
    }
}
