//! [`SqliteError`]: what can go wrong below the contracts' own errors.

use std::sync::Arc;

use crate::config::InvalidConfig;

/// A failure of the database or of the threads around it. Inside the
/// contracts it travels as their `Storage` variant.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] InvalidConfig),
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// A stored row cannot be read back (a corrupt or foreign database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database file was written with another schema version
    /// (`PRAGMA user_version`): this store neither reads nor changes it.
    #[error("the database has schema version {found}; this store reads version {expected}")]
    SchemaVersion {
        /// The file's `user_version`.
        found: i64,
        /// The version this store writes.
        expected: i64,
    },
    /// A value does not fit SQLite's signed 64-bit integers.
    #[error("{0} is beyond SQLite's integer range")]
    OutOfRange(&'static str),
    /// The WAL could not be synced (or opened for syncing): whether the
    /// commits it covers are durable is unknown, and the store writes no
    /// more.
    #[error("sqlite: syncing the WAL failed, the store stops writing: {0}")]
    Sync(#[source] Arc<std::io::Error>),
    /// The writer thread is gone (the store was closed, or it panicked).
    #[error("the sqlite writer thread stopped")]
    WriterStopped,
    /// A background thread or blocking task failed.
    #[error("sqlite background task failed: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for SqliteError {
    fn from(e: rusqlite::Error) -> Self {
        SqliteError::Sqlite(Arc::new(e))
    }
}

impl From<ferrocast_persistence::backend::OutOfRange> for SqliteError {
    fn from(e: ferrocast_persistence::backend::OutOfRange) -> Self {
        SqliteError::OutOfRange(e.0)
    }
}

impl From<ferrocast_persistence::backend::Corrupt> for SqliteError {
    fn from(e: ferrocast_persistence::backend::Corrupt) -> Self {
        SqliteError::Corrupt(e.0)
    }
}
