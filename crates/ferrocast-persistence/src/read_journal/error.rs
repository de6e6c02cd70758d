//! [`QueryError`]: why a query stream failed.

use crate::journal::JournalError;

/// Why a query stream failed. It is the stream's last element: nothing is
/// skipped and nothing follows it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The journal failed to answer, or could not read a row (a corrupt
    /// row is a [`JournalError::Storage`] naming the backend's error).
    #[error("query failed: {0}")]
    Journal(#[from] JournalError),
    /// The journal answered a position that does not come after the last
    /// one the stream handed out: a backend breaking its contract. The
    /// stream stops rather than repeat or reorder events.
    #[error("journal returned position {got} after {after}: positions must increase")]
    OutOfOrder {
        /// The last position handed out (offset or sequence number).
        after: u64,
        /// The position the journal returned.
        got: u64,
    },
}
