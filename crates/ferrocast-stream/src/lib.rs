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
//!   (`flat_map_*`, `group_by`), `also_to`, recovery, timeouts,
//!   `keep_alive`.
//! - `fuse`: operator fusion. Adjacent synchronous operators (`map`,
//!   `filter`, `scan`, `take`, ...) on a [`Source`] or [`Flow`] build one
//!   [`Chain`] in the blueprint's type and run as one stage; [`Identity`]
//!   is the empty chain.
//! - `sub_flow`: [`SubFlow`], the keyed substreams of
//!   [`StreamOps::group_by`], and `merge_substreams`.
//! - `queue`: the bounded queue and [`OverflowStrategy`] behind buffers,
//!   `queue_source` ([`Source::queue`], [`SourceQueue`]) and actor sources.
//! - `attached`: sinks driven inline by another stage; `fan_out`:
//!   `Sink::broadcast`, `Sink::balance`, `Sink::partition` on top of it.
//! - `graph`: [`GraphBuilder`], graphs beyond straight pipelines
//!   (`broadcast`/`balance` junctions fanning out to branches, `merge`,
//!   `zip`, `concat` fanning in, several sinks), with [`Outlet`],
//!   [`Mat`]/[`Materialized`] for materialized values and [`GraphError`].
//! - `waiters`: one waker that wakes many, for junctions whose outputs
//!   share an upstream (`group_by`, graph fan-out).
//! - `supervision`: [`Supervision`], the per-stage decision (stop, resume,
//!   restart) of the `*_supervised` and `try_stateful_filter_map` stages.
//! - `restart`: [`RestartSettings`] and the wrappers that re-materialize a
//!   stage with backoff: [`Source::restart_on_failures`],
//!   [`Flow::restart_on_failures`], [`Sink::restart_with_backoff`].
//! - `kill_switch`: [`UniqueKillSwitch`], [`SharedKillSwitch`];
//!   `watch`: `Flow::watch_termination` and [`Termination`].
//! - `stream_ref`: [`SourceRef`], [`SinkRef`]: one end of a stream handed to
//!   another node in a message, with demand-based flow control.
//! - `actor`: the ask stage ([`StreamOps::ask`]), [`ActorSink`] and
//!   [`ActorSource`].
//!
//! Custom stages: [`StreamOps::stateful_filter_map`] for per-element state,
//! or any `futures::Stream` over the upstream [`Elements`] attached with
//! [`StreamOps::via_fn`] / [`Flow::from_fn`] (or [`Flow::from_materializer`]
//! when the stage hands out a materialized value); [`Flow::from_fn`] shows
//! a model-serving stage written that way, and the rules are in the
//! semantics page ("Writing a custom stage").
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
mod fuse;
mod graph;
mod keep;
mod kill_switch;
mod ops;
mod queue;
mod queue_source;
mod restart;
mod runnable;
mod sink;
mod source;
mod stream_ref;
mod sub_flow;
mod supervision;
mod waiters;
mod watch;

pub use actor::{ActorSink, ActorSource};
pub use completion::Completion;
pub use elements::Elements;
pub use error::{StreamError, StreamErrorKind};
pub use flow::Flow;
#[doc(hidden)]
pub use fuse::Step;
pub use fuse::{Chain, Identity};
pub use graph::{GraphBuilder, GraphError, Mat, Materialized, Outlet};
pub use keep::Keep;
pub use kill_switch::{SharedKillSwitch, UniqueKillSwitch};
pub use ops::{InvalidThrottle, StreamOps, Throttle};
pub use queue::{OverflowStrategy, QueueOfferResult};
pub use queue_source::SourceQueue;
pub use restart::{InvalidRestartSettings, RestartSettings};
pub use runnable::{RunnableGraph, StreamTask};
pub use sink::Sink;
pub use source::Source;
pub use stream_ref::{SinkRef, SourceRef, StreamRefError, StreamRefMsg, StreamRefSettings};
pub use sub_flow::{GroupBy, SubFlow, Substream};
pub use supervision::Supervision;
pub use watch::Termination;

#[cfg(test)]
mod lifecycle_test;
#[cfg(test)]
mod test_support;
