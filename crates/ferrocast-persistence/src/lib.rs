//! Event sourcing for Ferrocast.
//!
//! An entity keeps its state in memory and stores every change as an event
//! in a durable log, its journal. On start, restart, or when it moves to
//! another node, the state is rebuilt from the latest snapshot and the
//! events after it. Implement [`EventSourced`] (commands in, [`Effect`]s
//! out, events folded into state) and run it with [`EventSourcedActor`].
//!
//! Storage is behind three small contracts a backend implements —
//! [`Journal`], [`SnapshotStore`], [`DurableStateStore`] — and proves with
//! the conformance suite in [`tck`]. The in-memory backend here is the
//! reference; `ferrocast-persistence-sqlite` is the embedded default.
//! Guarantees are in `docs/persistence/semantics.md`.
//!
//! # Layout
//! - `ids`: [`PersistenceId`], [`SequenceNr`], [`Revision`], [`Tag`],
//!   [`WriterId`].
//! - `payload`: [`Payload`] = bytes + [`SerializerId`] + [`Manifest`].
//! - `repr`: [`PersistentRepr`], one stored event.
//! - `journal`: the [`Journal`] contract, [`JournalError`].
//! - `query`: the [`EventsByTag`] page contract, [`Offset`].
//! - `read_journal`: [`ReadJournal`], queries as streams (current and
//!   live, by persistence id and by tag) on every backend,
//!   [`QuerySettings`], [`QueryError`], [`NotifyingJournal`].
//! - `snapshot_store`: [`SnapshotStore`], [`Snapshot`], [`NoSnapshots`].
//! - `durable_state`: [`DurableStateStore`], [`DurableStateRecord`].
//! - `serializer`: the [`Serializer`] contract and the [`Json`] codec.
//! - `serialization`: [`Serialization`], the explicit registry of one
//!   type's writer, readers and [`Upcaster`]s.
//! - `behavior`: the [`EventSourced`] trait; `effect`: [`Effect`].
//! - `config`: [`EventSourcedConfig`], [`SnapshotPolicy`]; `setup`:
//!   [`EventSourcedSetup`] (stores + serialization + config).
//! - `recovery`: snapshot + replay, [`RecoveryError`].
//! - `event_sourced_actor`: [`EventSourcedActor`], the adapter that runs a
//!   behavior as a ferrocast-actor `Actor`.
//! - [`memory`]: the in-memory backend. [`tck`]: the conformance suite.
//! - [`backend`]: for backend authors, the group-commit front and column
//!   conversions the SQL backends share.
//!
//! # Dependencies
//! ferrocast-actor (behaviors run as actors), ferrocast-stream (queries
//! are `Source`s), futures-util (queries as plain streams), tokio
//! (timeouts and refresh intervals on its pausable clock, `watch` for
//! write signals), thiserror (typed errors), tracing (snapshot failures
//! are logged, not fatal), serde + serde_json (the [`Json`] codec).

pub mod backend;
mod behavior;
mod config;
mod durable_state;
mod effect;
mod event_sourced_actor;
mod ids;
mod journal;
pub mod memory;
mod payload;
mod query;
mod read_journal;
mod recovery;
mod repr;
mod serialization;
mod serializer;
mod setup;
mod snapshot_store;
pub mod tck;

pub use behavior::{CommandRejected, EventSourced};
pub use config::{EventSourcedConfig, InvalidConfig, SnapshotPolicy};
pub use durable_state::{DurableStateError, DurableStateRecord, DurableStateStore};
pub use effect::{Effect, EventRejected};
pub use event_sourced_actor::{EventSourcedActor, PersistFailed};
pub use ids::{InvalidId, MAX_ID_LEN, PersistenceId, Revision, SequenceNr, Tag, WriterId};
pub use journal::{Journal, JournalError, validate_batch};
pub use memory::{InMemoryDurableState, InMemoryJournal, InMemorySnapshotStore};
pub use payload::{Manifest, Payload, SerializerId};
pub use query::{EventsByTag, Offset, TaggedEvent};
pub use read_journal::{
    NotifyingJournal, QueryError, QuerySettings, QueryStream, ReadJournal, WriteNotifier,
};
pub use recovery::RecoveryError;
pub use repr::PersistentRepr;
pub use serialization::{DecodeError, Serialization, SerializeError, Upcaster, json_upcaster};
pub use serializer::{CodecError, Json, Serializer};
pub use setup::{Clock, EventSourcedSetup};
pub use snapshot_store::{NoSnapshots, Snapshot, SnapshotError, SnapshotMetadata, SnapshotStore};
