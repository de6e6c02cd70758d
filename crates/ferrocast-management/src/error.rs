//! Why a request failed, as a typed value that becomes an HTTP status and a
//! JSON `{"message": ...}` body. No handler panics on bad input.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::model::Message;

/// A request the management API refuses or cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The address in the path is not `[ferrocast://]system@host:port`
    /// nor `host:port`.
    #[error("{0}")]
    BadAddress(String),
    /// No member has that address (Akka's wording).
    #[error("Member [{0}] not found")]
    MemberNotFound(String),
    /// The form's `operation` is neither `Leave` nor `Down`.
    #[error("Operation not supported: {0:?} (expected Leave or Down)")]
    UnsupportedOperation(String),
    /// The request body is not a form with an `operation` field.
    #[error("bad form: {0}")]
    BadForm(String),
    /// The cluster daemon of this node has stopped: it left or was downed.
    #[error("the cluster daemon of this node has stopped")]
    ClusterStopped,
}

impl ApiError {
    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadAddress(_) | ApiError::UnsupportedOperation(_) | ApiError::BadForm(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::MemberNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::ClusterStopped => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Message {
            message: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}

/// Why [`Management::start`](crate::Management::start) failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound.
    #[error("cannot bind the management endpoint to {addr}: {source}")]
    Bind {
        /// What was asked for.
        addr: std::net::SocketAddr,
        /// Why the OS said no.
        source: std::io::Error,
    },
    /// The actor system is already shutting down: the server could never
    /// be stopped in `service-unbind`, so it is not started.
    #[error("the actor system is already shutting down")]
    ShuttingDown,
}
