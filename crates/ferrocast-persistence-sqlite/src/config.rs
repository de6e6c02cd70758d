//! [`SqliteConfig`].

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

/// How hard SQLite works to make a commit durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync on every commit: an acknowledged write survives a power loss.
    /// The fsync runs on a thread of its own, overlapping the next group
    /// (see the crate's `sync` module and `docs/persistence/semantics.md`).
    #[default]
    Full,
    /// fsync at checkpoints only (WAL): an acknowledged write survives a
    /// crash of the process (`kill -9`) but maybe not of the machine.
    Normal,
}

/// Where the database lives and how it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteConfig {
    /// The database file (created if missing). Its `-wal` and `-shm`
    /// siblings belong to it.
    pub path: PathBuf,
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// Most write requests (from any number of entities) committed in one
    /// transaction by the writer thread. Requests are never held back to
    /// fill a batch: a batch is whatever queued while the previous commit
    /// ran, so the added latency is at most one commit.
    pub max_batch: NonZeroUsize,
    /// How long a connection waits for a lock held by another process.
    pub busy_timeout: Duration,
    /// Write requests waiting for the writer thread at most; past that,
    /// writers wait (asynchronously) for room.
    pub write_queue: NonZeroUsize,
    /// Reads running at once (each on a blocking thread with a pooled
    /// connection); more wait for a turn.
    pub max_readers: NonZeroUsize,
    /// Page cache of the writer's connection, in bytes (SQLite's default
    /// is 2 MiB). Moving the first index level touches a leaf page of the
    /// second per entity; pages kept in memory need not be read back
    /// before they are changed.
    pub writer_cache_bytes: usize,
    /// WAL size, in bytes, past which a commit copies the WAL back into
    /// the database (SQLite's `wal_autocheckpoint`; its default is about
    /// 4 MiB). A checkpoint writes each changed page once however many
    /// commits changed it, so a larger WAL saves writes when many
    /// entities touch many pages; readers then search a longer WAL.
    pub checkpoint_bytes: usize,
    /// Entries of the first level of the index by persistence id (see the
    /// crate's docs) past which the writer moves them into the second, in
    /// the group transaction that fills it. Larger: fewer, larger moves
    /// and fewer pages written per event with many entities; but a group
    /// commit rewrites more of the first level's pages, and the group that
    /// moves it takes longer.
    pub recent_index_rows: NonZeroUsize,
}

/// A configuration value is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sqlite config {field}: {reason}")]
pub struct InvalidConfig {
    /// Which field.
    pub field: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

impl SqliteConfig {
    /// Defaults for the database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteConfig {
            path: path.into(),
            synchronous: Synchronous::default(),
            max_batch: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            busy_timeout: Duration::from_secs(5),
            write_queue: NonZeroUsize::new(8192).unwrap_or(NonZeroUsize::MIN),
            max_readers: NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN),
            writer_cache_bytes: 64 << 20,
            checkpoint_bytes: 64 << 20,
            recent_index_rows: NonZeroUsize::new(16_384).unwrap_or(NonZeroUsize::MIN),
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let path = self.path.as_os_str();
        if path.is_empty() || path == ":memory:" {
            return Err(InvalidConfig {
                field: "path",
                reason: "must name a file: readers and the writer share it",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_required() {
        assert!(SqliteConfig::new("/tmp/x.db").validate().is_ok());
        assert_eq!(
            SqliteConfig::new(":memory:").validate().unwrap_err().field,
            "path"
        );
        assert!(SqliteConfig::new("").validate().is_err());
    }
}
