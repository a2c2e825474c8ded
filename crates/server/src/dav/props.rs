//! PROPPATCH: dead properties, set and removed in document order, all or nothing, in
//! the database (through the access service, which requires write).
//!
//! Live properties (the `DAV:` namespace, and cells' own `uuid`) are protected: a
//! PROPPATCH touching one changes nothing and answers 403 for it and 424 (failed
//! dependency) for the rest (RFC 4918 section 9.2).

use axum::http::HeaderMap;
use axum::response::Response;
use cells_core::{NodeKind, TreePath};
use cells_service::Principal;
use cells_service::dav::{PropertyChange, WriteReach};

use super::xml::{self, CELLS_NS, DAV_NS, Patch, PropName};
use super::{DavResult, href, locks, propfind};
use crate::AppState;

fn protected(name: &PropName) -> bool {
    name.namespace == DAV_NS || name.namespace == CELLS_NS
}

fn name_of(patch: &Patch) -> &PropName {
    match patch {
        Patch::Set(name, _) | Patch::Remove(name) => name,
    }
}

/// `PROPPATCH`.
pub async fn proppatch(
    state: &AppState,
    principal: &Principal,
    path: TreePath,
    headers: &HeaderMap,
    body: String,
) -> DavResult<Response> {
    let patches = xml::parse_proppatch(&body)?;
    let submitted = locks::precondition(state, principal, &path, headers).await?;
    let view = state.cells.stat(principal, &path).await?;
    locks::require_unlocked(state, principal, &path, WriteReach::Node, false, &submitted).await?;
    let refused = patches.iter().any(|p| protected(name_of(p)));
    if !refused {
        let changes: Vec<PropertyChange> = patches
            .iter()
            .map(|patch| match patch {
                Patch::Set(name, value) => PropertyChange::Set {
                    namespace: name.namespace.clone(),
                    name: name.name.clone(),
                    value: value.clone().into_bytes(),
                },
                Patch::Remove(name) => {
                    PropertyChange::Remove { namespace: name.namespace.clone(), name: name.name.clone() }
                }
            })
            .collect();
        state.cells.patch_dav_properties(principal, &path, &changes).await?;
    }
    let mut out = String::from(propfind::MULTISTATUS);
    out.push_str("<D:response><D:href>");
    xml::escape_into(&mut out, &href(&path, view.node.kind == NodeKind::Collection));
    out.push_str("</D:href>");
    // Applied: all 200. Refused: 403 for the protected ones, 424 for the others.
    let status_of = |name: &PropName| match (refused, protected(name)) {
        (false, _) => "200 OK",
        (true, true) => "403 Forbidden",
        (true, false) => "424 Failed Dependency",
    };
    for status in ["200 OK", "403 Forbidden", "424 Failed Dependency"] {
        let names: Vec<&PropName> = patches.iter().map(name_of).filter(|n| status_of(n) == status).collect();
        if names.is_empty() {
            continue;
        }
        out.push_str("<D:propstat><D:prop>");
        for name in names {
            xml::empty_property_into(&mut out, name);
        }
        out.push_str("</D:prop><D:status>HTTP/1.1 ");
        out.push_str(status);
        out.push_str("</D:status></D:propstat>");
    }
    out.push_str("</D:response></D:multistatus>");
    Ok(propfind::multistatus(out))
}
