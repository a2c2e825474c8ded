//! WebDAV (class 1 and 2) at `/dav/{workspace}/{path}`: the same namespace, nodes and
//! access service as REST and `/io`, for file managers (Finder, Explorer, Nautilus),
//! sync tools (rclone) and office suites.
//!
//! One handler ([`serve`]) authenticates (Basic `login:token` or `login:password`, or
//! Bearer; 401 with `WWW-Authenticate: Basic realm="cells"`), resolves the path and
//! dispatches by method:
//!
//! - `read.rs`: OPTIONS, GET and HEAD (the `/io` streaming path itself);
//! - `propfind.rs`: PROPFIND (a direct XML writer, bounded; `Depth: infinity` is refused
//!   with `propfind-finite-depth`);
//! - `write.rs`: PUT, DELETE, MKCOL, COPY and MOVE (the service's `copy_node` and
//!   `move_node`, so every scope and transaction rule applies to both ends);
//! - `props.rs`: PROPPATCH (dead properties in the database);
//! - `locks.rs`: LOCK, UNLOCK and the `If` header (locks in the database);
//! - `headers.rs`, `xml.rs` and `nesting.rs`: parsing and writing, pure and bounded.
//!
//! Every rule about who may do what stays in [`cells_service`]; this module speaks the
//! protocol.
//!
//! Revocation of a stream in flight: GET and PUT here *are* the `/io` read and upload
//! paths (`routes::io::serve_file`, `routes::io::receive_file`), so the per-chunk
//! `Cells::check_current` that main adds to them applies to WebDAV with no change here.
//! Every other method is one short exchange, authenticated when it starts.

mod error;
mod headers;
mod locks;
mod nesting;
mod propfind;
mod props;
mod read;
mod write;
mod xml;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, AUTHORIZATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use cells_core::TreePath;
use cells_service::auth::Credential;
use cells_service::{Principal, ServiceError, Usage, Via};
use http_body_util::BodyExt;

use crate::AppState;
use crate::auth::Credentials;
pub(crate) use error::{DavError, DavResult};

/// Where WebDAV is mounted.
pub const PREFIX: &str = "/dav";
/// The most a PROPFIND, PROPPATCH or LOCK body may hold.
const MAX_XML_BODY: usize = 1024 * 1024;

/// A request target: the server's own root `/` (which WebDAV clients probe before the
/// URL they were given, and which lists `/dav/`), `/dav/` (the list of workspaces), or
/// a tree path.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Server,
    Root,
    Path(TreePath),
}

impl Target {
    /// Parses the path of a request URL (or of a `Destination`).
    fn parse(url_path: &str) -> DavResult<Self> {
        let rest = url_path.strip_prefix(PREFIX).ok_or(DavError::BadGateway)?;
        let rest = match rest {
            "" | "/" => return Ok(Self::Root),
            rest => rest.strip_prefix('/').ok_or(DavError::BadGateway)?,
        };
        let decoded =
            crate::wire::percent_decode(rest).map_err(|_| DavError::bad_request("invalid percent-encoding"))?;
        TreePath::parse_relative(&decoded)
            .map(Self::Path)
            .map_err(|e| DavError::bad_request(format!("invalid path: {e}")))
    }

    /// The tree path; the root is not a node and takes no writes (403).
    fn path(self) -> DavResult<TreePath> {
        match self {
            Self::Server | Self::Root => {
                Err(ServiceError::Forbidden("/dav/ lists the workspaces: it cannot be changed".into()).into())
            }
            Self::Path(path) => Ok(path),
        }
    }
}

/// The href of a path: `/dav/{workspace}/{path}`, percent-encoded, `/` after a folder.
pub(crate) fn href(path: &TreePath, folder: bool) -> String {
    let mut out = String::with_capacity(PREFIX.len() + path.workspace().len() + path.inner().len() + 8);
    out.push_str(PREFIX);
    out.push('/');
    xml::encode_segment_into(&mut out, path.workspace());
    for segment in path.inner().split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        xml::encode_segment_into(&mut out, segment);
    }
    if folder {
        out.push('/');
    }
    out
}

async fn authenticate(state: &AppState, headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> DavResult<Principal> {
    let Some(header) = headers.get(AUTHORIZATION) else { return Err(ServiceError::Unauthenticated.into()) };
    let Some(credentials) = Credentials::from_header(header.as_bytes()) else {
        tracing::info!(reason = "malformed Authorization header", "credentials refused");
        return Err(ServiceError::Unauthenticated.into());
    };
    let credential = match credentials {
        Credentials::Bearer(token) => Credential::Bearer(token),
        Credentials::Basic { login, password } => Credential::Basic { login, password },
    };
    let principal = state.cells.authenticate(credential, Usage { via: Via::Webdav, ip }).await?;
    tracing::Span::current().record("user", principal.login.as_str());
    crate::observe::note_token_expiry(&principal);
    Ok(principal)
}

/// Reads a small XML body whole (PROPFIND, PROPPATCH, LOCK).
async fn xml_body(body: Body) -> DavResult<String> {
    let limited = http_body_util::Limited::new(body, MAX_XML_BODY);
    let bytes = limited.collect().await.map_err(|_| DavError::TooLarge)?.to_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| DavError::bad_request("the XML body is not UTF-8"))
}

/// Every method, for `Allow` and OPTIONS.
const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";

/// The one handler of `/dav`. OPTIONS needs no credentials: it says only what the
/// server speaks, and Windows' mini-redirector asks it before it sends any.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    if request.method() == Method::OPTIONS {
        return read::options();
    }
    let (parts, body) = request.into_parts();
    let ip = crate::client::client_ip(&parts, &state.trusted_proxies);
    let principal = match authenticate(&state, &parts.headers, ip).await {
        Ok(principal) => principal,
        Err(err) => return err.into_response(),
    };
    match dispatch(&state, &principal, parts, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

/// WebDAV at the server's root `/`, beside the console's GET: OPTIONS, and a PROPFIND
/// that shows `/dav/` as the one folder there, for clients that probe the root before
/// the URL they were given (Windows' mini-redirector). Any other method is a 405.
pub async fn serve_root(State(state): State<AppState>, request: Request) -> Response {
    match request.method().as_str() {
        "OPTIONS" => read::options(),
        "PROPFIND" => {
            let (parts, body) = request.into_parts();
            let ip = crate::client::client_ip(&parts, &state.trusted_proxies);
            let answer = async {
                let principal = authenticate(&state, &parts.headers, ip).await?;
                propfind::propfind(&state, &principal, Target::Server, &parts.headers, xml_body(body).await?).await
            };
            answer.await.unwrap_or_else(IntoResponse::into_response)
        }
        // Not WebDAV: the REST API's answer to a method a route does not take.
        _ => {
            let refusal = crate::error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "this route does not take that method",
            );
            let mut response = refusal.into_response();
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS, PROPFIND"));
            response
        }
    }
}

async fn dispatch(state: &AppState, principal: &Principal, parts: Parts, body: Body) -> DavResult<Response> {
    let target = Target::parse(parts.uri.path())?;
    let headers = &parts.headers;
    match parts.method.as_str() {
        "OPTIONS" => Ok(read::options()),
        "GET" | "HEAD" => read::get(state, principal, target, &parts.method, headers).await,
        "PROPFIND" => propfind::propfind(state, principal, target, headers, xml_body(body).await?).await,
        "PUT" => write::put(state, principal, target.path()?, headers, body).await,
        "DELETE" => write::delete(state, principal, target.path()?, headers).await,
        "MKCOL" => write::mkcol(state, principal, target.path()?, headers, body).await,
        "COPY" | "MOVE" => {
            let is_move = parts.method.as_str() == "MOVE";
            let host = crate::client::request_host(&parts, &state.trusted_proxies);
            write::copy_or_move(state, principal, target.path()?, headers, host.as_deref(), is_move).await
        }
        "PROPPATCH" => props::proppatch(state, principal, target.path()?, headers, xml_body(body).await?).await,
        "LOCK" => locks::lock(state, principal, target.path()?, headers, xml_body(body).await?).await,
        "UNLOCK" => locks::unlock(state, principal, target.path()?, headers).await,
        _ => Err(DavError::MethodNotAllowed),
    }
}
