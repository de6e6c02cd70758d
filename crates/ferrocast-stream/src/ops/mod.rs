//! [`StreamOps`]: the operators shared by [`Source`](crate::Source) and
//! [`Flow`](crate::Flow).
//!
//! Each operator appends one stage and keeps the materialized value. (On
//! `Source` and `Flow` themselves, inherent methods of the same names fuse
//! the synchronous operators instead: see `fuse`.)
//! `stream_ops` holds the trait (the contracts); the stages live in one
//! module per family, each with the factories the trait calls:
//! - `basic`: element-wise (`map`, `filter`, `take`, ..., stateful and
//!   supervised variants); `map_async`; `fold` (`scan`, `fold`, `reduce`).
//! - `grouped` (`grouped`, `grouped_within`, `sliding`), `batch`
//!   (`batch`, `conflate`), `group_by` (keyed substreams).
//! - Time: `throttle`, `delay`, `timeout`, `keep_alive`.
//! - `buffer`; fan-in `combine` (`merge`, `zip`, `concat`, `interleave`,
//!   `merge_sorted`); `flat_map`; `also_to`; `recover`.

mod also_to;
pub(crate) mod basic;
mod batch;
mod buffer;
pub(crate) mod combine;
mod delay;
mod flat_map;
mod fold;
mod group_by;
mod grouped;
mod keep_alive;
mod map_async;
mod recover;
mod stream_ops;
mod throttle;
mod timeout;

#[cfg(test)]
mod more_ops_test;
#[cfg(test)]
mod ops_test;

pub use stream_ops::StreamOps;
pub use throttle::{InvalidThrottle, Throttle};
