//! Helpers shared by the crate's tests.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::{StreamError, StreamErrorKind};

pub(crate) fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The kind of a failed result, for matching.
pub(crate) fn kind<T>(result: Result<T, StreamError>) -> Option<StreamErrorKind> {
    result.err().map(|e| e.kind().clone())
}

/// A test error.
#[derive(Debug, thiserror::Error)]
#[error("boom {0}")]
pub(crate) struct Boom(pub(crate) u32);
