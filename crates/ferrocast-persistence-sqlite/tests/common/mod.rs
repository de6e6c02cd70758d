//! A throwaway database directory per test, removed on drop.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use ferrocast_persistence_sqlite::{SqliteConfig, SqliteStore, Synchronous};

#[derive(Debug)]
pub struct TempDb {
    pub dir: PathBuf,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TempDb {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ferrocast-sqlite-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDb { dir }
    }

    pub fn config(&self, file: &str) -> SqliteConfig {
        let mut c = SqliteConfig::new(self.dir.join(file));
        // Tests check semantics, not power-loss durability.
        c.synchronous = Synchronous::Normal;
        c
    }

    pub async fn open(&self, file: &str) -> SqliteStore {
        SqliteStore::open(self.config(file)).await.unwrap()
    }

    /// A store whose writer moves its first index level every `rows`
    /// events, so that reads and deletions meet entries in both levels.
    pub async fn open_moving_index(&self, file: &str, rows: usize) -> SqliteStore {
        let mut c = self.config(file);
        c.recent_index_rows = std::num::NonZeroUsize::new(rows).unwrap();
        SqliteStore::open(c).await.unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
