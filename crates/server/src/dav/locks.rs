//! LOCK, UNLOCK, and the `If` header (RFC 4918 sections 9.10, 9.11 and 10.4).
//!
//! Locks live in the database (through [`cells_service::dav`]), so every process sees
//! them. A write goes through two checks: the `If` header must hold (each list is a set
//! of lock tokens and entity tags that must all match their resource; one list holding
//! is enough), else 412; then every lock in the way must have its token submitted, by
//! the user who holds it, else 423. A LOCK on an unmapped path creates an empty file
//! (201); a LOCK without a body refreshes the locks named in `If`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cells_core::TreePath;
use cells_service::dav::{
    DEFAULT_LOCK_SECONDS, LockOutcome, LockRecord, LockRequest, MAX_LOCK_SECONDS, WriteReach, covers,
};
use cells_service::{Principal, ServiceError};

use super::headers::{self, Condition, Depth, IfList};
use super::{DavError, DavResult, Target, href, xml};
use crate::AppState;
use crate::range::quoted;

/// What an `If` list is checked against: the resource's entity tag (quoted) and the
/// tokens of the locks covering it.
#[derive(Default)]
struct Resource {
    etag: Option<String>,
    tokens: Vec<String>,
}

async fn resource(state: &AppState, principal: &Principal, path: Option<&TreePath>) -> DavResult<Resource> {
    let Some(path) = path else { return Ok(Resource::default()) };
    let etag = match state.cells.stat(principal, path).await {
        Ok(view) => Some(quoted(&view.node.etag)),
        Err(ServiceError::NotFound(_) | ServiceError::Forbidden(_)) => None,
        Err(err) => return Err(err.into()),
    };
    let tokens = match state.cells.dav_locks_at(principal, path).await {
        Ok(locks) => locks.into_iter().filter(|l| covers(l, l.workspace, path.inner())).map(|l| l.token).collect(),
        Err(ServiceError::NotFound(_)) => Vec::new(),
        Err(err) => return Err(err.into()),
    };
    Ok(Resource { etag, tokens })
}

fn holds(list: &IfList, resource: &Resource) -> bool {
    list.conditions.iter().all(|condition| match condition {
        Condition::Token { not, token } => *not != resource.tokens.iter().any(|t| t == token),
        Condition::ETag { not, etag } => {
            *not != resource.etag.as_deref().is_some_and(|current| headers::etag_matches(etag, current))
        }
    })
}

/// Evaluates the `If` header of a request to `path` (412 when no list holds) and returns
/// the lock tokens it submits.
pub async fn precondition(
    state: &AppState,
    principal: &Principal,
    path: &TreePath,
    request_headers: &HeaderMap,
) -> DavResult<HashSet<String>> {
    let Some(value) = request_headers.get("if") else { return Ok(HashSet::new()) };
    let text = value.to_str().map_err(|_| DavError::bad_request("the If header is not ASCII"))?;
    let lists = headers::parse_if(text).ok_or_else(|| DavError::bad_request("malformed If header"))?;
    let mut seen: HashMap<Option<String>, Resource> = HashMap::new();
    let mut any = false;
    for list in &lists {
        if !seen.contains_key(&list.resource) {
            let tagged = match &list.resource {
                None => Some(path.clone()),
                Some(url) => match headers::url_path(url).map(Target::parse) {
                    Some(Ok(Target::Path(tagged))) => Some(tagged),
                    _ => None,
                },
            };
            seen.insert(list.resource.clone(), resource(state, principal, tagged.as_ref()).await?);
        }
        if seen.get(&list.resource).is_some_and(|r| holds(list, r)) {
            any = true;
            break;
        }
    }
    if !any {
        return Err(ServiceError::PreconditionFailed.into());
    }
    Ok(headers::submitted(&lists).map(str::to_owned).collect())
}

/// 423 unless every lock in the way of this write had its token submitted.
pub async fn require_unlocked(
    state: &AppState,
    principal: &Principal,
    path: &TreePath,
    reach: WriteReach,
    membership: bool,
    submitted: &HashSet<String>,
) -> DavResult<()> {
    let submitted: HashSet<&str> = submitted.iter().map(String::as_str).collect();
    if state.cells.dav_write_allowed(principal, path, reach, membership, &submitted).await? {
        Ok(())
    } else {
        Err(DavError::Locked)
    }
}

/// Appends a `DAV:activelock` element.
pub fn activelock_into(out: &mut String, lock: &LockRecord, slug: &str) {
    let scope = if lock.exclusive { "exclusive" } else { "shared" };
    let depth = if lock.deep { "infinity" } else { "0" };
    let _ = write!(
        out,
        "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:{scope}/></D:lockscope><D:depth>{depth}</D:depth>"
    );
    if let Some(owner) = &lock.owner_xml {
        let _ = write!(out, "<D:owner>{owner}</D:owner>");
    }
    let left = (lock.expires_at - cells_core::now()).max(0);
    let _ = write!(out, "<D:timeout>Second-{left}</D:timeout><D:locktoken><D:href>");
    xml::escape_into(out, &lock.token);
    out.push_str("</D:href></D:locktoken><D:lockroot><D:href>");
    xml::escape_into(out, &href(&TreePath::from_trusted(slug, &lock.path), false));
    out.push_str("</D:href></D:lockroot></D:activelock>");
}

fn lock_answer(status: StatusCode, locks: &[LockRecord], slug: &str) -> Response {
    let mut body =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>");
    for lock in locks {
        activelock_into(&mut body, lock, slug);
    }
    body.push_str("</D:lockdiscovery></D:prop>");
    let mut response = (status, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response();
    if let [lock] = locks
        && let Ok(value) = HeaderValue::from_str(&format!("<{}>", lock.token))
    {
        response.headers_mut().insert("lock-token", value);
    }
    response
}

/// `LOCK`: a new lock (200, or 201 when it created the file), or a refresh (no body).
pub async fn lock(
    state: &AppState,
    principal: &Principal,
    path: TreePath,
    request_headers: &HeaderMap,
    body: String,
) -> DavResult<Response> {
    let timeout = headers::timeout(request_headers, DEFAULT_LOCK_SECONDS, MAX_LOCK_SECONDS);
    if body.trim().is_empty() {
        if !request_headers.contains_key("if") {
            return Err(DavError::bad_request("a LOCK without a body refreshes: it needs an If header with the token"));
        }
        let tokens = precondition(state, principal, &path, request_headers).await?;
        let tokens: HashSet<&str> = tokens.iter().map(String::as_str).collect();
        let refreshed = state.cells.dav_refresh_locks(principal, &path, &tokens, timeout).await?;
        if refreshed.is_empty() {
            return Err(DavError::Condition(StatusCode::PRECONDITION_FAILED, "lock-token-matches-request-uri"));
        }
        return Ok(lock_answer(StatusCode::OK, &refreshed, path.workspace()));
    }
    let info = xml::parse_lockinfo(&body)?;
    let deep = match headers::depth(request_headers, Depth::Infinity) {
        Some(Depth::Zero) => false,
        Some(Depth::Infinity) => true,
        Some(Depth::One) | None => return Err(DavError::bad_request("the Depth of a LOCK is 0 or infinity")),
    };
    let submitted = precondition(state, principal, &path, request_headers).await?;
    match state.cells.stat(principal, &path).await {
        Ok(_) => {}
        Err(ServiceError::NotFound(_)) => {
            require_unlocked(state, principal, &path, WriteReach::Node, true, &submitted).await?;
        }
        Err(err) => return Err(err.into()),
    }
    let request = LockRequest { exclusive: info.exclusive, deep, owner_xml: info.owner_xml, timeout };
    match state.cells.dav_lock(principal, &path, request).await? {
        LockOutcome::Granted { lock, created } => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(lock_answer(status, &[lock], path.workspace()))
        }
        LockOutcome::Conflict => Err(DavError::Condition(StatusCode::LOCKED, "no-conflicting-lock")),
    }
}

/// `UNLOCK`: removes the caller's lock named in `Lock-Token` (204); 409 when that token
/// names no lock of theirs covering this path.
pub async fn unlock(
    state: &AppState,
    principal: &Principal,
    path: TreePath,
    request_headers: &HeaderMap,
) -> DavResult<Response> {
    let token = headers::lock_token(request_headers)
        .ok_or_else(|| DavError::bad_request("UNLOCK needs a Lock-Token header"))?;
    if state.cells.dav_unlock(principal, &path, &token).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(DavError::Condition(StatusCode::CONFLICT, "lock-token-matches-request-uri"))
    }
}
