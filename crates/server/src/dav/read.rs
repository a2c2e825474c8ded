//! The reading methods other than PROPFIND: OPTIONS, GET and HEAD.
//!
//! GET and HEAD of a file are the `/io` path itself (ranges, conditional requests, the
//! same streaming and buffers); of a folder, a small HTML index for browsers.

use std::fmt::Write;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cells_core::{NodeKind, TreePath};
use cells_service::{NodeView, Principal};

use super::propfind::MAX_PROPFIND_CHILDREN;
use super::{DavResult, Target, href, xml};
use crate::AppState;

/// `OPTIONS`: the compliance classes and the methods, with the header Microsoft clients
/// look for before they agree to write.
pub fn options() -> Response {
    let headers = [
        ("dav", "1, 2"),
        ("ms-author-via", "DAV"),
        ("allow", super::ALLOW),
        ("accept-ranges", "bytes"),
        ("content-length", "0"),
    ];
    let mut response = StatusCode::OK.into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `GET` and `HEAD`.
pub async fn get(
    state: &AppState,
    principal: &Principal,
    target: Target,
    method: &Method,
    headers: &HeaderMap,
) -> DavResult<Response> {
    let path = match target {
        // (GET / is the console's; this is for completeness.)
        Target::Server | Target::Root => {
            return Ok(index(None, state.cells.list_workspaces(principal).await?, method));
        }
        Target::Path(path) => path,
    };
    match crate::routes::io::serve_file(state, principal, &path, method, headers).await {
        // A folder: list it.
        Err(err) if err.status == StatusCode::CONFLICT => {
            // (A browser's page of a folder shows its first entries, as many as a PROPFIND.)
            let children = state.cells.dav_children(principal, &path, MAX_PROPFIND_CHILDREN).await?;
            Ok(index(Some(&path), children, method))
        }
        other => Ok(other?),
    }
}

/// A folder as a plain HTML page of links.
fn index(folder: Option<&TreePath>, children: Vec<NodeView>, method: &Method) -> Response {
    let mut page = String::from("<!DOCTYPE html>\n<meta charset=\"utf-8\">\n<title>");
    let title = folder.map_or_else(|| "/".to_owned(), ToString::to_string);
    xml::escape_into(&mut page, &title);
    page.push_str("</title>\n<h1>");
    xml::escape_into(&mut page, &title);
    page.push_str("</h1>\n<ul>\n");
    for child in &children {
        let folder = child.node.kind == NodeKind::Collection;
        let _ = write!(page, "<li><a href=\"{}\">", href(&child.path, folder));
        xml::escape_into(&mut page, child.path.name());
        page.push_str(if folder { "/</a>\n" } else { "</a>\n" });
    }
    page.push_str("</ul>\n");
    let length = page.len().to_string();
    let body = if *method == Method::HEAD { String::new() } else { page };
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    if let Ok(value) = HeaderValue::from_str(&length) {
        response.headers_mut().insert(header::CONTENT_LENGTH, value);
    }
    response
}
