//! For backend authors: what the SQL backends (SQLite, PostgreSQL) share,
//! so that a new backend writes only its storage.
//!
//! Not needed to *use* persistence; a backend implements the contracts
//! ([`Journal`](crate::Journal), [`SnapshotStore`](crate::SnapshotStore),
//! [`DurableStateStore`](crate::DurableStateStore),
//! [`EventsByTag`](crate::EventsByTag)) and may build them from these
//! parts:
//!
//! - `write`: the group-commit front. Every write becomes a [`WriteOp`]
//!   queued to the backend's single writer ([`WriteQueue`]), which answers
//!   a [`WriteOutcome`] per request ([`take_queued`] forms a group,
//!   [`Answerer`] answers it from a task on the callers' runtime, or on the
//!   writer's thread where there is none) and counts [`CommitStats`];
//!   [`check_events`] is the shape and range check before a batch is
//!   queued.
//! - `columns`: conversions between the contracts' types and SQL columns
//!   (signed 64-bit integers, milliseconds since the epoch, serializer
//!   ids), with typed errors for values out of range and corrupt rows.
//! - `rows`: [`RowCache`], the identifiers of consecutive rows built once.

mod columns;
mod rows;
mod write;

pub use columns::{
    Corrupt, OutOfRange, clamp_to_i64, from_i64, millis, serializer_id, time_from_millis, to_i64,
};
pub use rows::RowCache;
pub use write::{
    Answerer, CommitCounters, CommitStats, WriteOp, WriteOutcome, WriteQueue, WriteRequest,
    check_events, take_more, take_queued,
};
