//! The server backend of ferrocast-persistence: the journal, snapshots and
//! durable state in the tables of one PostgreSQL schema, written with
//! group commit.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use ferrocast_persistence_postgres::{PostgresConfig, PostgresStore};
//!
//! let config = PostgresConfig::from_url("postgres://app@db.internal:5432/app")?
//!     .with_schema("ferrocast");
//! let store = Arc::new(PostgresStore::open(config).await?);
//! // Pass `store` as the journal (and snapshot store) of an EventSourcedSetup.
//! # let _ = store; Ok(()) }
//! ```
//!
//! Guarantees (ordering, durability, single writer) are those of
//! `docs/persistence/semantics.md`; the store passes the conformance suite.
//!
//! # Layout
//! - `store`: [`PostgresStore`], the three contracts over one schema.
//! - `writer`: the writer (a thread of its own) and its group commit.
//! - `statements`: the writer's prepared statements and how plan steps run.
//! - `known`: the highest sequence numbers the writer need not read again.
//! - `stats`: [`OneRoundTrip`], groups committed in one round trip.
//! - `plan`: a group's writes decided in memory (conflicts, ranges) and
//!   merged into a few statements.
//! - `reads`: a fixed set of read connections with prepared statements.
//! - `schema`: tables (created on open), connections, the advisory lock.
//! - `codec`: column conversions.
//! - `config`: [`PostgresConfig`]; `error`: [`PostgresError`].
//!
//! # Dependencies
//! ferrocast-persistence (the contracts), tokio-postgres with only its
//! `runtime` feature (TCP/Unix connects and timeouts), tokio (the writer
//! task, channels), futures-util (`try_join`, to pipeline statements; already
//! a dependency of tokio-postgres), thiserror, tracing.
//!
//! Why tokio-postgres and not sqlx: this crate runs a fixed handful of
//! statements it prepares itself, so it needs the wire protocol and
//! nothing else. sqlx brings its own pool, macros, a runtime abstraction
//! and many more dependencies to build; tokio-postgres is the protocol on
//! tokio. Pooling is a fixed set of connections the store owns (one
//! writer, `readers` readers), which is all a store with one writer needs.
//! TLS is not built in (no `MakeTlsConnect` is plugged): use a local or
//! tunnelled connection.

mod codec;
mod config;
mod error;
mod known;
mod plan;
mod reads;
mod schema;
mod statements;
mod stats;
mod store;
mod writer;

pub use config::{InvalidConfig, PostgresConfig};
pub use error::PostgresError;
/// Requests per commit, see [`PostgresStore::commit_stats`].
pub use ferrocast_persistence::backend::CommitStats;
pub use stats::OneRoundTrip;
pub use store::PostgresStore;
/// The client library, for building a [`PostgresConfig::connection`] by
/// hand.
pub use tokio_postgres;
