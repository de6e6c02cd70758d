//! The embedded default backend of ferrocast-persistence: the journal,
//! snapshots and durable state in one SQLite file, in WAL mode.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrocast_persistence_sqlite::SqliteError> {
//! use std::sync::Arc;
//! use ferrocast_persistence_sqlite::{SqliteConfig, SqliteStore};
//!
//! let store = Arc::new(SqliteStore::open(SqliteConfig::new("data/journal.db")).await?);
//! // Pass `store` as the journal (and snapshot store) of an EventSourcedSetup.
//! # let _ = store; Ok(()) }
//! ```
//!
//! # Layout
//! - `store`: [`SqliteStore`], the three contracts over one file.
//! - `writer`: the writer thread and its group commit; `sync`: the thread
//!   that syncs the WAL and answers, and the readers' wait for it.
//! - `ops`: the write operations; `known`: the highest sequence numbers the
//!   writer remembers.
//! - `reads`: pooled read connections on `spawn_blocking`.
//! - `schema`: tables and connection pragmas; `codec`: column conversions.
//! - `config`: [`SqliteConfig`], [`Synchronous`]; `error`: [`SqliteError`].
//!
//! # Dependencies
//! ferrocast-persistence (the contracts), rusqlite with `bundled` (SQLite
//! compiled in), tokio (`spawn_blocking`, `oneshot`), thiserror, tracing.

mod codec;
mod config;
mod error;
mod known;
mod ops;
mod reads;
mod schema;
mod store;
mod sync;
mod writer;

pub use config::{InvalidConfig, SqliteConfig, Synchronous};
pub use error::SqliteError;
/// Requests per commit, see [`SqliteStore::commit_stats`].
pub use ferrocast_persistence::backend::CommitStats;
pub use store::SqliteStore;
