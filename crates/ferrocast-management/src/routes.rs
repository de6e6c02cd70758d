//! The routes: health probes and Akka Management's `/cluster/members`.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /alive` | 200 while the process serves |
//! | `GET /ready` | 200 while this member is Up or WeaklyUp, else 503 |
//! | `GET /cluster/members` | [`ClusterMembers`] |
//! | `POST /cluster/members` (form `address`) | joins the cluster of `address` |
//! | `GET /cluster/members/{address}` | one [`ClusterMember`], or 404 |
//! | `PUT /cluster/members/{address}` (form `operation` = `Leave` or `Down`) | a [`Message`] |
//! | `DELETE /cluster/members/{address}` | like `operation=Leave` |
//!
//! `{address}` is `ferrocast://system@host:port`, `system@host:port` or
//! `host:port`, percent-encoded or not.

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ferrocast_cluster::{Cluster, ClusterView, Member};
use ferrocast_remote::NodeAddress;
use serde::Deserialize;

use crate::error::ApiError;
use crate::model::{ClusterMember, ClusterMembers, Message};

/// The management routes over one node's cluster, ready to serve (or to
/// drive with `tower::ServiceExt::oneshot` in tests).
pub fn router(cluster: Cluster) -> Router {
    Router::new()
        .route("/alive", get(alive))
        .route("/ready", get(ready))
        .route("/cluster/members", get(members).post(join))
        .route("/cluster/members/", get(members).post(join))
        .route(
            "/cluster/members/{*address}",
            get(member).put(operate).delete(leave),
        )
        .with_state(cluster)
}

async fn alive() -> &'static str {
    "OK"
}

async fn ready(State(cluster): State<Cluster>) -> Response {
    let view = cluster.view();
    if view.is_ready() {
        return (StatusCode::OK, "OK").into_response();
    }
    let why = match (view.stopped, view.self_member()) {
        (Some(reason), _) => format!("Not Healthy: this node left the cluster ({reason:?})"),
        (None, Some(m)) => format!("Not Healthy: this member is {}", m.status),
        (None, None) => "Not Healthy: this node has not joined yet".to_owned(),
    };
    (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
}

async fn members(State(cluster): State<Cluster>) -> Json<ClusterMembers> {
    Json(ClusterMembers::from(&*cluster.view()))
}

async fn member(
    State(cluster): State<Cluster>,
    address: Result<Path<String>, PathRejection>,
) -> Result<Json<ClusterMember>, ApiError> {
    let view = cluster.view();
    let m = find(&view, &path_text(address)?)?;
    Ok(Json(ClusterMember::from(m)))
}

#[derive(Debug, Deserialize)]
struct OperationForm {
    operation: String,
}

async fn operate(
    State(cluster): State<Cluster>,
    address: Result<Path<String>, PathRejection>,
    form: Result<Form<OperationForm>, FormRejection>,
) -> Result<Json<Message>, ApiError> {
    let view = cluster.view();
    let target = find(&view, &path_text(address)?)?
        .unique_address
        .address
        .clone();
    let Form(form) = form.map_err(|e| ApiError::BadForm(e.body_text()))?;
    let op = form.operation.trim().to_ascii_lowercase();
    let message = match op.as_str() {
        "leave" => {
            cluster
                .leave(target.clone())
                .map_err(|_| ApiError::ClusterStopped)?;
            format!("Leaving {target}")
        }
        "down" => {
            cluster
                .down(target.clone())
                .map_err(|_| ApiError::ClusterStopped)?;
            format!("Downing {target}")
        }
        _ => return Err(ApiError::UnsupportedOperation(form.operation)),
    };
    tracing::info!(member = %target, operation = %op, "management request");
    Ok(Json(Message { message }))
}

async fn leave(
    State(cluster): State<Cluster>,
    address: Result<Path<String>, PathRejection>,
) -> Result<Json<Message>, ApiError> {
    let view = cluster.view();
    let target = find(&view, &path_text(address)?)?
        .unique_address
        .address
        .clone();
    cluster
        .leave(target.clone())
        .map_err(|_| ApiError::ClusterStopped)?;
    tracing::info!(member = %target, operation = "leave", "management request");
    Ok(Json(Message {
        message: format!("Leaving {target}"),
    }))
}

#[derive(Debug, Deserialize)]
struct JoinForm {
    address: String,
}

async fn join(
    State(cluster): State<Cluster>,
    form: Result<Form<JoinForm>, FormRejection>,
) -> Result<Json<Message>, ApiError> {
    let Form(form) = form.map_err(|e| ApiError::BadForm(e.body_text()))?;
    let address: NodeAddress = form
        .address
        .trim()
        .parse()
        .map_err(|e: ferrocast_remote::AddressError| ApiError::BadAddress(e.to_string()))?;
    cluster
        .join(address.clone())
        .map_err(|_| ApiError::ClusterStopped)?;
    Ok(Json(Message {
        message: format!("Joining {address}"),
    }))
}

/// The decoded `{address}` of the path.
fn path_text(address: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    address
        .map(|Path(a)| a)
        .map_err(|e| ApiError::BadAddress(e.body_text()))
}

/// The member that `text` names: by full address (scheme optional), or by
/// `host:port` alone when that names exactly one member.
fn find<'v>(view: &'v ClusterView, text: &str) -> Result<&'v Member, ApiError> {
    let text = text.trim().trim_end_matches('/');
    let mut members = view.gossip.members.values();
    if text.contains('@') {
        let address: NodeAddress = text
            .parse()
            .map_err(|e: ferrocast_remote::AddressError| ApiError::BadAddress(e.to_string()))?;
        return members
            .find(|m| m.unique_address.address == address)
            .ok_or_else(|| ApiError::MemberNotFound(address.to_string()));
    }
    if text.is_empty() || text.contains('/') || !text.contains(':') {
        return Err(ApiError::BadAddress(format!(
            "invalid member address {text:?}: expected ferrocast://system@host:port, system@host:port or host:port"
        )));
    }
    let mut matching = members.filter(|m| m.unique_address.address.host_port() == text);
    match (matching.next(), matching.next()) {
        (Some(m), None) => Ok(m),
        (None, _) => Err(ApiError::MemberNotFound(text.to_owned())),
        (Some(_), Some(_)) => Err(ApiError::BadAddress(format!(
            "{text:?} names members of several systems: give system@host:port"
        ))),
    }
}
