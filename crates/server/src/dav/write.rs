//! The writing methods: PUT, DELETE, MKCOL, COPY and MOVE. Each first evaluates the
//! `If` header and the locks in the way (`locks.rs`), then calls the access service,
//! which decides the rights: COPY and MOVE are the service's `copy_node` and
//! `move_node`, so both ends are checked against the caller's grants and scopes exactly
//! as on REST.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cells_core::{NodeKind, TreePath};
use cells_service::dav::WriteReach;
use cells_service::{Existing, Principal, ServiceError};

use super::headers::{self, Depth};
use super::{DavError, DavResult, Target, locks};
use crate::AppState;
use crate::range::quoted;

/// `PUT`: creates (201) or replaces (204) a file, streamed through the `/io` upload path.
/// A partial PUT (`Content-Range`) is refused: a client must send the whole content.
pub async fn put(
    state: &AppState,
    principal: &Principal,
    path: TreePath,
    headers: &HeaderMap,
    body: Body,
) -> DavResult<Response> {
    if headers.contains_key(header::CONTENT_RANGE) {
        return Err(DavError::bad_request(
            "a PUT with Content-Range (a partial upload) is not supported: send the whole file",
        ));
    }
    let submitted = locks::precondition(state, principal, &path, headers).await?;
    // A new file changes the membership of its folder (a depth-0 lock there counts).
    let new = matches!(state.cells.stat(principal, &path).await, Err(ServiceError::NotFound(_)));
    locks::require_unlocked(state, principal, &path, WriteReach::Node, new, &submitted).await?;
    let (view, created) = crate::routes::io::receive_file(state, principal, &path, headers, body).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::NO_CONTENT };
    let mut response = status.into_response();
    if let Ok(etag) = HeaderValue::from_str(&quoted(&view.node.etag)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// `DELETE` of a file or a folder with everything in it.
pub async fn delete(
    state: &AppState,
    principal: &Principal,
    path: TreePath,
    headers: &HeaderMap,
) -> DavResult<Response> {
    let submitted = locks::precondition(state, principal, &path, headers).await?;
    state.cells.stat(principal, &path).await?;
    locks::require_unlocked(state, principal, &path, WriteReach::Subtree, true, &submitted).await?;
    state.cells.delete(principal, &path).await?;
    state.cells.dav_forget_locks(principal, &path).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `MKCOL`: a new folder (201); 405 when something is there, 409 without a parent, 415
/// with a body.
pub async fn mkcol(
    state: &AppState,
    principal: &Principal,
    path: TreePath,
    headers: &HeaderMap,
    body: Body,
) -> DavResult<Response> {
    let has_body = headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body {
        drop(body);
        return Err(DavError::UnsupportedMediaType);
    }
    let submitted = locks::precondition(state, principal, &path, headers).await?;
    match state.cells.stat(principal, &path).await {
        Ok(_) => return Err(DavError::MethodNotAllowed),
        Err(ServiceError::NotFound(_)) => {}
        Err(err) => return Err(err.into()),
    }
    locks::require_unlocked(state, principal, &path, WriteReach::Node, true, &submitted).await?;
    match state.cells.create(principal, &path, NodeKind::Collection).await {
        Ok(_) => Ok(StatusCode::CREATED.into_response()),
        // Taken meanwhile (or a file there the caller may not see listed).
        Err(ServiceError::Conflict(detail)) if detail.contains("already exists") => Err(DavError::MethodNotAllowed),
        Err(err) => Err(err.into()),
    }
}

/// The `Destination` of a COPY or MOVE, as a tree path on this server: on the host the
/// request was sent to (`host`), under `/dav`; anything else is another server's (502).
fn destination(headers: &HeaderMap, host: Option<&str>) -> DavResult<TreePath> {
    let text = headers
        .get("destination")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| DavError::bad_request("COPY and MOVE need a Destination header"))?;
    if !headers::on_host(text, host) {
        return Err(DavError::BadGateway);
    }
    let path = headers::url_path(text).ok_or(DavError::BadGateway)?;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    Target::parse(path)?.path()
}

/// `COPY` and `MOVE`. With `Overwrite: T` (the default) an existing destination is
/// replaced in the same transaction as the write (204): never missing meanwhile, and
/// kept if the write fails. With `F` it is a 412. A COPY of a folder at `Depth: 0`
/// copies the folder without its content (over an existing destination: deleted first,
/// then created, two steps).
pub async fn copy_or_move(
    state: &AppState,
    principal: &Principal,
    from: TreePath,
    headers: &HeaderMap,
    host: Option<&str>,
    is_move: bool,
) -> DavResult<Response> {
    let to = destination(headers, host)?;
    let depth = match headers::depth(headers, Depth::Infinity) {
        Some(Depth::One) | None => return Err(DavError::bad_request("Depth must be 0 or infinity")),
        Some(depth) => depth,
    };
    if is_move && depth != Depth::Infinity {
        return Err(DavError::bad_request("a MOVE is always Depth: infinity"));
    }
    if from == to {
        return Err(ServiceError::Forbidden("the source and the destination are the same".into()).into());
    }
    let submitted = locks::precondition(state, principal, &from, headers).await?;
    let source = state.cells.stat(principal, &from).await?;
    let existed = match state.cells.stat(principal, &to).await {
        Ok(_) => true,
        Err(ServiceError::NotFound(_)) => false,
        Err(err) => return Err(err.into()),
    };
    if existed && !headers::overwrite(headers) {
        return Err(DavError::Condition(StatusCode::PRECONDITION_FAILED, "cannot-overwrite"));
    }
    if is_move {
        locks::require_unlocked(state, principal, &from, WriteReach::Subtree, true, &submitted).await?;
    }
    locks::require_unlocked(state, principal, &to, WriteReach::Subtree, true, &submitted).await?;
    let existing = if existed { Existing::Replace } else { Existing::Refuse };
    if is_move {
        state.cells.move_node(principal, &from, &to, existing).await?;
        state.cells.dav_forget_locks(principal, &from).await?;
    } else if depth == Depth::Zero && source.node.kind == NodeKind::Collection {
        if existed {
            state.cells.delete(principal, &to).await?;
        }
        state.cells.create(principal, &to, NodeKind::Collection).await?;
    } else {
        state.cells.copy_node(principal, &from, &to, existing).await?;
        state.cells.copy_dav_properties(principal, &from, &to).await?;
    }
    if existed {
        state.cells.dav_forget_locks(principal, &to).await?;
    }
    Ok(if existed { StatusCode::NO_CONTENT } else { StatusCode::CREATED }.into_response())
}
