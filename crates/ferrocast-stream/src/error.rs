//! Why a stream failed.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use ferrocast_actor::AskError;

/// The error a failed stream ends with; [`kind`](StreamError::kind) says
/// what happened.
///
/// A failure travels downstream as the last element of a stream: every stage
/// passes it on and stops, and the sink's materialized completion reports it.
/// It is one pointer wide, so `Result<T, StreamError>` (what flows between
/// stages) stays small, and cheap to clone, so that a kill switch, a
/// termination watcher and a sink can all hold the same failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct StreamError(Arc<StreamErrorKind>);

/// What went wrong in a stream.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StreamErrorKind {
    /// A stage's function, a plugged-in stream or sink, or a queue's owner
    /// failed with this error.
    #[error("stage failed: {0}")]
    Failed(Arc<dyn Error + Send + Sync + 'static>),
    /// A buffer with the `Fail` overflow strategy was full.
    #[error("buffer overflow: more than {capacity} elements")]
    BufferOverflow {
        /// The buffer's bound.
        capacity: usize,
    },
    /// No element passed an `idle_timeout` stage within this time.
    #[error("no element within {0:?}")]
    IdleTimeout(Duration),
    /// The stream did not complete within this time of starting.
    #[error("stream did not complete within {0:?}")]
    CompletionTimeout(Duration),
    /// A kill switch aborted the stream with this error.
    #[error("aborted: {0}")]
    Aborted(Arc<dyn Error + Send + Sync + 'static>),
    /// An actor stage's request got no answer.
    #[error("actor stage failed: {0}")]
    Ask(AskError),
    /// A `partition` function chose an output that does not exist.
    #[error("partition chose output {index} of {outputs}")]
    PartitionOutOfRange {
        /// The index the function returned.
        index: usize,
        /// How many outputs there are.
        outputs: usize,
    },
    /// A `group_by` met a new key while `max` substreams were open.
    #[error("group_by met a new key with {max} substreams open")]
    TooManySubstreams {
        /// The `max_substreams` of the `group_by`.
        max: usize,
    },
    /// A stream ref failed: the other end vanished, elements were lost, ...
    #[error("stream ref: {0}")]
    StreamRef(crate::stream_ref::StreamRefError),
    /// A blueprint built around a single stream or sink value (such as
    /// `Source::from_stream`) was materialized a second time.
    #[error("this blueprint wraps a single stream or sink and was already materialized")]
    AlreadyMaterialized,
    /// The stream's task ended without a result: it panicked, its runtime
    /// shut down, or `run` was called outside a tokio runtime.
    #[error("stream abandoned before it completed")]
    Abandoned,
}

impl StreamError {
    /// An error of this kind.
    pub fn new(kind: StreamErrorKind) -> Self {
        StreamError(Arc::new(kind))
    }

    /// What went wrong.
    pub fn kind(&self) -> &StreamErrorKind {
        &self.0
    }

    /// Wraps a user error as [`StreamErrorKind::Failed`].
    pub fn failed(error: impl Error + Send + Sync + 'static) -> Self {
        StreamError::new(StreamErrorKind::Failed(Arc::new(error)))
    }

    /// Wraps a message as [`StreamErrorKind::Failed`].
    pub fn msg(message: impl Into<String>) -> Self {
        StreamError::failed(Message(message.into()))
    }

    /// The user error inside [`StreamErrorKind::Failed`] or
    /// [`StreamErrorKind::Aborted`], if it has type `E`.
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        match self.kind() {
            StreamErrorKind::Failed(e) | StreamErrorKind::Aborted(e) => e.downcast_ref(),
            _ => None,
        }
    }
}

impl From<StreamErrorKind> for StreamError {
    fn from(kind: StreamErrorKind) -> Self {
        StreamError::new(kind)
    }
}

impl From<AskError> for StreamError {
    fn from(e: AskError) -> Self {
        StreamError::new(StreamErrorKind::Ask(e))
    }
}

/// A plain-text error, for [`StreamError::msg`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);
