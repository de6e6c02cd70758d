//! The conformance suite (TCK) every backend runs.
//!
//! Each contract has one async function that runs all its checks against
//! fresh stores from a factory and returns the first violation as a
//! [`TckFailure`]. A backend's test is a few lines:
//!
//! ```
//! use ferrocast_persistence::{tck, InMemoryDurableState, InMemoryJournal, InMemorySnapshotStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tck::TckFailure> {
//! tck::journal_suite(|| async { InMemoryJournal::default() }).await?;
//! tck::events_by_tag_suite(|| async { InMemoryJournal::default() }).await?;
//! tck::snapshot_store_suite(|| async { InMemorySnapshotStore::default() }).await?;
//! tck::durable_state_suite(|| async { InMemoryDurableState::default() }).await?;
//! tck::query_suite(|| async { InMemoryJournal::default() }).await?;
//! # Ok(()) }
//! ```
//!
//! [`event_sourced_suite`] runs many entities on a store and recovers them
//! after reopening it; [`scaffold`] holds what backends' own tests share
//! (an entity, a reporting supervisor, the halves of a crash test).

mod durable_state;
mod event_sourced;
mod events_by_tag;
mod fixtures;
mod journal;
mod queries;
pub mod scaffold;
mod snapshot_store;

pub use durable_state::durable_state_suite;
pub use event_sourced::event_sourced_suite;
pub use events_by_tag::events_by_tag_suite;
pub use journal::journal_suite;
pub use queries::query_suite;
pub use snapshot_store::snapshot_store_suite;

/// A backend broke a rule of its contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tck {check} failed: {message}")]
pub struct TckFailure {
    /// Which check (`"journal::conflicting_writers"`, ...).
    pub check: &'static str,
    /// What was expected and what happened.
    pub message: String,
}

/// `Ok` if `cond`, else a failure of `check` with `message`.
pub(crate) fn ensure(
    cond: bool,
    check: &'static str,
    message: impl FnOnce() -> String,
) -> Result<(), TckFailure> {
    if cond {
        Ok(())
    } else {
        Err(TckFailure {
            check,
            message: message(),
        })
    }
}

/// `Ok(value)` or a failure of `check` naming the unexpected error.
pub(crate) fn ok<T, E: std::fmt::Display>(
    result: Result<T, E>,
    check: &'static str,
    what: &str,
) -> Result<T, TckFailure> {
    result.map_err(|e| TckFailure {
        check,
        message: format!("{what} failed: {e}"),
    })
}

/// Polls both futures concurrently (no runtime needed, no extra
/// dependency): the point is that both writes are in flight together.
pub(crate) async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let mut ra = None;
    let mut rb = None;
    std::future::poll_fn(move |cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => std::task::Poll::Ready((x, y)),
            (x, y) => {
                ra = x;
                rb = y;
                std::task::Poll::Pending
            }
        }
    })
    .await
}
