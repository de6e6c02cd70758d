//! [`PostgresError`]: what can go wrong below the contracts' own errors.

use std::sync::Arc;

use crate::config::InvalidConfig;

/// A failure of the server, the connection or the tasks around them. Inside
/// the contracts it travels as their `Storage` variant.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] InvalidConfig),
    /// The server or the connection failed. Shared: one failed group commit
    /// fails every request in it.
    #[error("postgres: {0}")]
    Postgres(#[source] Arc<tokio_postgres::Error>),
    /// A stored row cannot be read back (a corrupt or foreign table).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A value does not fit PostgreSQL's signed 64-bit `bigint`.
    #[error("{0} is beyond PostgreSQL's bigint range")]
    OutOfRange(&'static str),
    /// A value PostgreSQL cannot store (text containing NUL). Nothing of
    /// the request was written.
    #[error("{0} cannot be stored in PostgreSQL")]
    Unstorable(&'static str),
    /// The writer's thread or its runtime could not be started.
    #[error("cannot start the postgres writer: {0}")]
    WriterStart(#[source] Arc<std::io::Error>),
    /// A guarded insert reported a number of events written that is
    /// neither all of them nor none. Its group's `COMMIT` went with it, so
    /// what it wrote is unknown.
    #[error("a group insert of {expected} events reported {written}")]
    UnexpectedCount {
        /// The events of the insert.
        expected: u64,
        /// What the server reported.
        written: u64,
    },
    /// The writer task is gone (the store was dropped, or its thread
    /// stopped).
    #[error("the postgres writer task stopped")]
    WriterStopped,
}

impl From<tokio_postgres::Error> for PostgresError {
    fn from(e: tokio_postgres::Error) -> Self {
        PostgresError::Postgres(Arc::new(e))
    }
}

impl From<ferrocast_persistence::backend::OutOfRange> for PostgresError {
    fn from(e: ferrocast_persistence::backend::OutOfRange) -> Self {
        PostgresError::OutOfRange(e.0)
    }
}

impl From<ferrocast_persistence::backend::Corrupt> for PostgresError {
    fn from(e: ferrocast_persistence::backend::Corrupt) -> Self {
        PostgresError::Corrupt(e.0)
    }
}
