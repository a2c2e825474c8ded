//! `/io/{workspace}/{path}`: file content. GET and HEAD with ranges and conditional
//! requests; PUT streamed to the blob store (never buffered whole); DELETE.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use cells_core::TreePath;
use cells_service::BlobReader;
use cells_service::{NodeView, Principal, ReadRange, ServiceError};
use futures_util::StreamExt;

use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::range::{Conditions, Precondition, RangeAsk, evaluate, if_range_holds, parse_range, quoted, system_time};
use crate::wire::{NodeJson, path_after};

const PREFIX: &str = "/io/";

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn conditions(headers: &HeaderMap) -> Conditions<'_> {
    Conditions {
        if_match: header_str(headers, header::IF_MATCH),
        if_none_match: header_str(headers, header::IF_NONE_MATCH),
        if_modified_since: header_str(headers, header::IF_MODIFIED_SINCE),
        if_unmodified_since: header_str(headers, header::IF_UNMODIFIED_SINCE),
    }
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `GET` and `HEAD /io/{workspace}/{path}`.
pub async fn get_file(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let path = path_after(&uri, PREFIX)?;
    serve_file(&state, &principal, &path, &method, &headers).await
}

/// GET or HEAD of a file: the one streaming read path, shared by `/io` and WebDAV.
pub(crate) async fn serve_file(
    state: &AppState,
    principal: &Principal,
    path: &TreePath,
    method: &Method,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let view = state.cells.open_file(principal, path).await?;
    let node = &view.node;
    let etag = quoted(&node.etag);
    let size = u64::try_from(node.size).unwrap_or(0);
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::ETAG, value(&etag));
    response_headers.insert(header::LAST_MODIFIED, value(&httpdate::fmt_http_date(system_time(node.mtime))));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    match evaluate(&conditions(headers), Some(&node.etag), Some(node.mtime), true) {
        Precondition::Proceed => {}
        Precondition::NotModified => return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response()),
        Precondition::Failed => return Err(ServiceError::PreconditionFailed.into()),
    }

    let range_header = header_str(headers, header::RANGE)
        .filter(|_| if_range_holds(header_str(headers, header::IF_RANGE), &node.etag, node.mtime));
    let (status, range) = match parse_range(range_header, size) {
        RangeAsk::Full => (StatusCode::OK, ReadRange { offset: 0, len: size }),
        RangeAsk::Partial(range) => {
            let last = range.offset + range.len - 1;
            response_headers.insert(header::CONTENT_RANGE, value(&format!("bytes {}-{last}/{size}", range.offset)));
            (StatusCode::PARTIAL_CONTENT, range)
        }
        RangeAsk::Unsatisfiable => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RangeNotSatisfiable",
                format!("the file has {size} bytes"),
            )
            .with_header(header::CONTENT_RANGE, value(&format!("bytes */{size}"))));
        }
    };
    // Content is whatever users uploaded: never let a browser sniff it into a page that
    // runs on this origin.
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    response_headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response_headers.insert(header::CONTENT_LENGTH, value(&range.len.to_string()));
    if *method == Method::HEAD {
        return Ok((status, response_headers).into_response());
    }
    let body = match state.cells.read_file(principal, node, range).await? {
        BlobReader::Whole(bytes) => Body::from(bytes),
        BlobReader::Stream(stream) => Body::from_stream(stream),
    };
    Ok((status, response_headers, body).into_response())
}

/// `PUT /io/{workspace}/{path}`: creates the file (201) or replaces its content (200),
/// keeping its UUID. The body is streamed to a new blob; it becomes visible only once
/// complete.
pub async fn put_file(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let path = path_after(&uri, PREFIX)?;
    let (view, created) = receive_file(&state, &principal, &path, &headers, body).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut response = (status, Json(NodeJson::from(&view))).into_response();
    response.headers_mut().insert(header::ETAG, value(&quoted(&view.node.etag)));
    Ok(response)
}

/// PUT of a file: conditions, then the body streamed to a new blob, then the commit. The
/// one upload path, shared by `/io` and WebDAV. Returns the node and whether it was
/// created.
pub(crate) async fn receive_file(
    state: &AppState,
    principal: &Principal,
    path: &TreePath,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(NodeView, bool)> {
    let conditions = conditions(headers);
    let expected = expected_length(headers)?;
    if conditions.if_match.is_some() || conditions.if_none_match.is_some() || conditions.if_unmodified_since.is_some() {
        let current = match state.cells.stat(principal, path).await {
            Ok(view) => Some(view.node),
            Err(ServiceError::NotFound(_)) => None,
            Err(err) => return Err(err.into()),
        };
        let (etag, mtime) = (current.as_ref().map(|n| n.etag.as_str()), current.as_ref().map(|n| n.mtime));
        if evaluate(&conditions, etag, mtime, false) != Precondition::Proceed {
            return Err(ServiceError::PreconditionFailed.into());
        }
    }
    let mut upload = state.cells.begin_upload(principal, path).await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            tracing::info!(error = %err, received = upload.written(), "upload body interrupted");
            ApiError::bad_request("the request body was interrupted")
        })?;
        if let Err(err) = upload.write(&chunk).await {
            drop(upload);
            // A refusal the client can act on gets its answer read (the disk is full);
            // credentials that ended get none of the server's time.
            if !matches!(err, ServiceError::Unauthenticated) {
                drain(&mut stream).await;
            }
            return Err(err.into());
        }
    }
    // Finder sends its bodies chunked, with the size it means to send in
    // `X-Expected-Entity-Length`: a body that ended short of it (or ran past it) is not
    // the file, and is not stored.
    if let Some(expected) = expected
        && upload.written() != expected
    {
        let received = upload.written();
        drop(upload);
        return Err(ApiError::bad_request(format!(
            "the body held {received} bytes, not the {expected} that X-Expected-Entity-Length announced: nothing was stored"
        )));
    }
    // The conditions again, on the file as it is when the upload commits, inside the
    // commit's transaction: of two racing `If-None-Match: *` uploads, one gets 412.
    let kept = conditions.owned();
    let holds = move |current: Option<&cells_service::NodeRecord>| {
        let conditions = kept.borrowed();
        let (etag, mtime) = (current.map(|n| n.etag.as_str()), current.map(|n| n.mtime));
        evaluate(&conditions, etag, mtime, false) == Precondition::Proceed
    };
    Ok(state.cells.commit_upload_if(upload, holds).await?)
}

/// The length a client announced in `X-Expected-Entity-Length` (macOS Finder, with a
/// chunked body), if any.
fn expected_length(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    let Some(value) = headers.get("x-expected-entity-length") else { return Ok(None) };
    let text = value.to_str().unwrap_or("").trim();
    text.parse::<u64>()
        .map(Some)
        .map_err(|_| ApiError::bad_request("X-Expected-Entity-Length is not a number of bytes"))
}

/// Reads and discards what is left of a refused upload (up to [`DRAIN_LIMIT`]), so the
/// client is still reading when the error comes instead of finding the connection reset
/// under its feet.
async fn drain(stream: &mut axum::body::BodyDataStream) {
    let mut drained = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        drained += chunk.len();
        if drained > DRAIN_LIMIT {
            break;
        }
    }
}

/// The most of a refused upload read and discarded before answering.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// `DELETE /io/{workspace}/{path}`.
pub async fn delete_file(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    uri: Uri,
) -> ApiResult<StatusCode> {
    let path = path_after(&uri, PREFIX)?;
    state.cells.delete(&principal, &path).await?;
    Ok(StatusCode::NO_CONTENT)
}
