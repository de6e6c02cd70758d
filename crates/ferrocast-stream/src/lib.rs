//! Back-pressured streams for Ferrocast, built on `futures::Stream`.
//!
//! A stream is described by reusable *blueprints*: a [`Source`] emits
//! elements, a [`Flow`] transforms them, a [`Sink`] consumes them. They
//! compose with `via` and `to` (or `via_mat`/`to_mat`, where [`Keep`]
//! chooses which *materialized value* to keep), and running a closed
//! [`RunnableGraph`] on tokio gives back its materialized value: a
//! [`Completion`] future, a [`UniqueKillSwitch`], a [`SourceQueue`], an
//! actor reference. A blueprint can run any number of times.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use ferrocast_stream::{Flow, Keep, Sink, Source, StreamOps};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ferrocast_stream::StreamError> {
//! let parallelism = NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN);
//! let scored = Flow::<u32>::new()
//!     .map_async(parallelism, |n| async move { n * 2 })
//!     .scan(0, |total, n| total + n);
//! let (switch, totals) = Source::iter(1..=4)
//!     .via_mat(Flow::kill_switch(), Keep::right)
//!     .via(scored)
//!     .to_mat(Sink::collect(), Keep::both)
//!     .run();
//! assert_eq!(totals.await?, vec![0, 2, 6, 12, 20]);
//! switch.shutdown(); // already complete: nothing happens
//! # Ok(()) }
//! ```
//!
//! Any `futures::Stream` plugs in ([`Source::from_stream`]) and any
//! materialized source plugs out as a stream ([`Source::materialize`]);
//! any `futures::Sink` plugs in as a sink ([`Sink::from_sink`]).
//!
//! # Layout
//! - `source`, `flow`, `sink`, `runnable`: the blueprints, composition and
//!   running ([`StreamTask`] is the future that drives one run).
//! - `elements`: [`Elements`], the erased stream between stages, and its
//!   failure convention. `error`: [`StreamError`], [`StreamErrorKind`].
//!   `keep`: [`Keep`]. `completion`: [`Completion`].
//! - `ops`: [`StreamOps`], the operators of sources and flows, one module
//!   per family: element-wise, `map_async`, folds, grouping and windows,
//!   [`Throttle`], `delay`, `buffer`, `batch`/`conflate`, fan-in (`merge`,
//!   `zip`, `concat`, `interleave`, `merge_sorted`), substreams
//!   (`flat_map_*`), `also_to`, recovery, timeouts, `keep_alive`.
//! - `queue`: the bounded queue and [`OverflowStrategy`] behind buffers,
//!   `queue_source` ([`Source::queue`], [`SourceQueue`]) and actor sources.
//! - `attached`: sinks driven inline by another stage; `fan_out`:
//!   `Sink::broadcast`, `Sink::balance`, `Sink::partition` on top of it.
//! - `supervision`: [`Supervision`], the per-stage decision (stop, resume,
//!   restart) of the `*_supervised` and `try_stateful_filter_map` stages.
//! - `restart`: [`Source::restart_on_failures`] and [`RestartSettings`].
//! - `kill_switch`: [`UniqueKillSwitch`], [`SharedKillSwitch`];
//!   `watch`: `Flow::watch_termination` and [`Termination`].
//! - `actor`: the ask stage ([`StreamOps::ask`]), [`ActorSink`] and
//!   [`ActorSource`].
//!
//! Custom stages: [`StreamOps::stateful_filter_map`] for per-element state,
//! or any `futures::Stream` over the upstream [`Elements`] attached with
//! [`StreamOps::via_fn`] / [`Flow::from_fn`] (or [`Flow::from_materializer`]
//! when the stage hands out a materialized value).
//!
//! Semantics (back-pressure, materialization, errors, ordering) are in
//! `docs/stream/semantics.md`.
//!
//! # Dependencies
//! `ferrocast-actor` for the actor stages; `tokio` as the runtime and clock
//! (paused in tests); `futures-util` for the `Stream`/`Sink` traits and the
//! future sets of `map_async`; `thiserror` for typed errors.

mod actor;
mod attached;
mod completion;
mod elements;
mod error;
mod fan_out;
mod flow;
mod keep;
mod kill_switch;
mod ops;
mod queue;
mod queue_source;
mod restart;
mod runnable;
mod sink;
mod source;
mod supervision;
mod watch;

pub use actor::{ActorSink, ActorSource};
pub use completion::Completion;
pub use elements::Elements;
pub use error::{StreamError, StreamErrorKind};
pub use flow::Flow;
pub use keep::Keep;
pub use kill_switch::{SharedKillSwitch, UniqueKillSwitch};
pub use ops::{InvalidThrottle, StreamOps, Throttle};
pub use queue::{OverflowStrategy, QueueOfferResult};
pub use queue_source::SourceQueue;
pub use restart::{InvalidRestartSettings, RestartSettings};
pub use runnable::{RunnableGraph, StreamTask};
pub use sink::Sink;
pub use source::Source;
pub use supervision::Supervision;
pub use watch::Termination;

#[cfg(test)]
mod lifecycle_test;
#[cfg(test)]
mod test_support;
