//! Per-stage decisions on a failing user function.

use crate::error::StreamError;

/// What a supervised stage does when its function fails (returns `Err`).
///
/// Only the stage's own function is supervised: a failure coming from
/// upstream always passes on downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervision {
    /// Fail the stream with the error (what unsupervised stages do).
    Stop,
    /// Drop the element that failed and go on, keeping the stage's state.
    Resume,
    /// Drop the element that failed and go on from the stage's initial
    /// state (the same as `Resume` for stages without state).
    Restart,
}

/// Chooses the [`Supervision`] for an error.
pub(crate) type Decider = dyn Fn(&StreamError) -> Supervision + Send + Sync;
