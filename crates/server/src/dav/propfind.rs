//! PROPFIND: the multistatus written straight into one `String`: one listing query, one
//! query of dead properties when the request needs them, one of locks when it asks for
//! `lockdiscovery`. `Depth: infinity` (also an absent `Depth`, which means infinity) is
//! refused with 403 and the `DAV:propfind-finite-depth` precondition (RFC 4918 section
//! 9.1): a whole tree in one answer is unbounded work for the server and unbounded
//! memory for the client; clients walk the tree with `Depth: 1` instead.
//!
//! One answer is bounded on every axis (docs/security.md): at most
//! [`MAX_PROPFIND_CHILDREN`] children, [`xml::MAX_PROPFIND_NAMES`] named properties, and
//! [`MAX_ANSWER_BYTES`] in all (dead properties are the client's own bytes, so names and
//! children alone do not bound it); past any of them a clear 507 or 400, not an answer
//! that grows with names × children.

use std::collections::HashMap;
use std::fmt::Write;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cells_core::{NodeId, NodeKind};
use cells_service::dav::{DeadProperty, LockRecord, covers};
use cells_service::{NodeRecord, Principal};

use super::headers::{self, Depth};
use super::xml::{self, CELLS_NS, DAV_NS, PropFind, PropName};
use super::{DavError, DavResult, Target, href, locks};
use crate::AppState;
use crate::range::system_time;

/// The most children one PROPFIND (or folder page) lists: the largest page of the REST
/// listing. A folder with more is a 507 that says so.
pub const MAX_PROPFIND_CHILDREN: i64 = 10_000;
/// The most bytes one PROPFIND answer may hold, built in memory: 10,000 children with
/// every live property and a few dead ones take about 10 MiB.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// The live properties, in the order `allprop` writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Live {
    ResourceType,
    DisplayName,
    ContentLength,
    ContentType,
    ETag,
    LastModified,
    SupportedLock,
    LockDiscovery,
    Uuid,
}

const ALL_LIVE: [Live; 9] = [
    Live::ResourceType,
    Live::DisplayName,
    Live::ContentLength,
    Live::ContentType,
    Live::ETag,
    Live::LastModified,
    Live::SupportedLock,
    Live::LockDiscovery,
    Live::Uuid,
];

impl Live {
    fn of(name: &PropName) -> Option<Self> {
        if name.namespace == CELLS_NS {
            return (name.name == "uuid").then_some(Self::Uuid);
        }
        if name.namespace != DAV_NS {
            return None;
        }
        ALL_LIVE.into_iter().find(|live| live.name() == name.name)
    }

    const fn name(self) -> &'static str {
        match self {
            Self::ResourceType => "resourcetype",
            Self::DisplayName => "displayname",
            Self::ContentLength => "getcontentlength",
            Self::ContentType => "getcontenttype",
            Self::ETag => "getetag",
            Self::LastModified => "getlastmodified",
            Self::SupportedLock => "supportedlock",
            Self::LockDiscovery => "lockdiscovery",
            Self::Uuid => "uuid",
        }
    }

    fn qualified(self) -> String {
        match self {
            Self::Uuid => format!("C:{}", self.name()),
            _ => format!("D:{}", self.name()),
        }
    }
}

/// One resource of a multistatus: the node (`None` for `/dav/` itself) and its href.
struct Entry<'a> {
    href: String,
    name: &'a str,
    node: Option<&'a NodeRecord>,
    slug: &'a str,
}

/// What every entry of one PROPFIND shares.
struct Context<'a> {
    ask: &'a PropFind,
    dead: HashMap<NodeId, Vec<DeadProperty>>,
    locks: Vec<LockRecord>,
}

/// Writes one live property; `false` when the resource has no such property.
fn write_live(out: &mut String, live: Live, entry: &Entry<'_>, context: &Context<'_>) -> bool {
    let folder = entry.node.is_none_or(|n| n.kind == NodeKind::Collection);
    match (live, entry.node) {
        (Live::ResourceType, _) if folder => out.push_str("<D:resourcetype><D:collection/></D:resourcetype>"),
        (Live::ResourceType, _) => out.push_str("<D:resourcetype/>"),
        (Live::DisplayName, _) => {
            out.push_str("<D:displayname>");
            xml::escape_into(out, entry.name);
            out.push_str("</D:displayname>");
        }
        (Live::SupportedLock, _) => out.push_str(
            "<D:supportedlock><D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
             <D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry></D:supportedlock>",
        ),
        (Live::ContentLength | Live::ContentType, _) if folder => return false,
        (_, None) => return false,
        (Live::ContentLength, Some(node)) => {
            let _ = write!(out, "<D:getcontentlength>{}</D:getcontentlength>", node.size);
        }
        (Live::ContentType, Some(_)) => out.push_str("<D:getcontenttype>application/octet-stream</D:getcontenttype>"),
        (Live::ETag, Some(node)) => {
            // The tag is a UUID's hex digits: nothing to escape but the quotes around it.
            out.push_str("<D:getetag>&quot;");
            xml::escape_into(out, &node.etag);
            out.push_str("&quot;</D:getetag>");
        }
        (Live::LastModified, Some(node)) => {
            let date = httpdate::HttpDate::from(system_time(node.mtime));
            let _ = write!(out, "<D:getlastmodified>{date}</D:getlastmodified>");
        }
        (Live::LockDiscovery, Some(node)) => {
            out.push_str("<D:lockdiscovery>");
            for lock in context.locks.iter().filter(|l| covers(l, node.workspace, &node.path)) {
                locks::activelock_into(out, lock, entry.slug);
            }
            out.push_str("</D:lockdiscovery>");
        }
        (Live::Uuid, Some(node)) => {
            let _ = write!(out, "<C:uuid>{}</C:uuid>", node.id);
        }
    }
    true
}

fn write_entry(out: &mut String, found: &mut String, entry: &Entry<'_>, context: &Context<'_>) {
    found.clear();
    let mut missing: Vec<&PropName> = Vec::new();
    let dead = entry.node.and_then(|n| context.dead.get(&n.id)).map_or(&[][..], Vec::as_slice);
    match context.ask {
        PropFind::AllProp => {
            for live in ALL_LIVE {
                write_live(found, live, entry, context);
            }
            for property in dead {
                xml::property_into(
                    found,
                    &property.namespace,
                    &property.name,
                    &String::from_utf8_lossy(&property.value),
                );
            }
        }
        PropFind::PropName => {
            let mut scratch = String::new();
            for live in ALL_LIVE {
                scratch.clear();
                if write_live(&mut scratch, live, entry, context) {
                    let _ = write!(found, "<{}/>", live.qualified());
                }
            }
            for property in dead {
                xml::empty_property_into(
                    found,
                    &PropName { namespace: property.namespace.clone(), name: property.name.clone() },
                );
            }
        }
        PropFind::Prop(names) => {
            for name in names {
                let written = match Live::of(name) {
                    Some(live) => write_live(found, live, entry, context),
                    None => match dead.iter().find(|p| p.namespace == name.namespace && p.name == name.name) {
                        Some(property) => {
                            xml::property_into(
                                found,
                                &property.namespace,
                                &property.name,
                                &String::from_utf8_lossy(&property.value),
                            );
                            true
                        }
                        None => false,
                    },
                };
                if !written {
                    missing.push(name);
                }
            }
        }
    }
    out.push_str("<D:response><D:href>");
    xml::escape_into(out, &entry.href);
    out.push_str("</D:href>");
    if !found.is_empty() || missing.is_empty() {
        let _ = write!(out, "<D:propstat><D:prop>{found}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
    }
    if !missing.is_empty() {
        out.push_str("<D:propstat><D:prop>");
        for name in missing {
            xml::empty_property_into(out, name);
        }
        out.push_str("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>");
    }
    out.push_str("</D:response>");
}

/// The start of every multistatus answer.
pub const MULTISTATUS: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\" xmlns:C=\"urn:cells:dav\">";

pub fn multistatus(body: String) -> Response {
    (StatusCode::MULTI_STATUS, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response()
}

/// `PROPFIND /dav/`: the list of workspaces, as folders.
async fn root(
    state: &AppState,
    principal: &Principal,
    ask: &PropFind,
    depth: Depth,
    mut out: String,
) -> DavResult<Response> {
    let mut found = String::new();
    let context = Context { ask, dead: HashMap::new(), locks: Vec::new() };
    write_entry(&mut out, &mut found, &Entry { href: "/dav/".into(), name: "", node: None, slug: "" }, &context);
    if depth == Depth::One {
        for root in state.cells.list_workspaces(principal).await? {
            let entry = Entry {
                href: href(&root.path, true),
                name: root.path.workspace(),
                node: Some(&root.node),
                slug: root.path.workspace(),
            };
            write_entry(&mut out, &mut found, &entry, &context);
        }
    }
    out.push_str("</D:multistatus>");
    Ok(multistatus(out))
}

/// 507 once an answer passes [`MAX_ANSWER_BYTES`].
fn within_budget(answer: &str) -> DavResult<()> {
    if answer.len() > MAX_ANSWER_BYTES {
        return Err(DavError::AnswerTooLarge(format!(
            "the answer would pass {} MiB: ask for fewer properties, or use Depth: 0",
            MAX_ANSWER_BYTES >> 20
        )));
    }
    Ok(())
}

/// `PROPFIND` at depth 0 or 1.
pub async fn propfind(
    state: &AppState,
    principal: &Principal,
    target: Target,
    request_headers: &HeaderMap,
    body: String,
) -> DavResult<Response> {
    let depth = match headers::depth(request_headers, Depth::Infinity) {
        Some(Depth::Infinity) => return Err(DavError::Condition(StatusCode::FORBIDDEN, "propfind-finite-depth")),
        Some(depth) => depth,
        None => return Err(DavError::bad_request("Depth must be 0, 1 or infinity")),
    };
    let ask = xml::parse_propfind(&body)?;
    let wants_dead = match &ask {
        PropFind::AllProp | PropFind::PropName => true,
        PropFind::Prop(names) => names.iter().any(|n| Live::of(n).is_none()),
    };
    let wants_locks = match &ask {
        PropFind::AllProp => true,
        PropFind::PropName => false,
        PropFind::Prop(names) => names.iter().any(|n| Live::of(n) == Some(Live::LockDiscovery)),
    };
    let mut out = String::with_capacity(4096);
    out.push_str(MULTISTATUS);
    let mut found = String::new();
    let path = match target {
        Target::Path(path) => path,
        Target::Server => {
            let context = Context { ask: &ask, dead: HashMap::new(), locks: Vec::new() };
            write_entry(&mut out, &mut found, &Entry { href: "/".into(), name: "", node: None, slug: "" }, &context);
            if depth == Depth::One {
                let dav = Entry { href: "/dav/".into(), name: "dav", node: None, slug: "" };
                write_entry(&mut out, &mut found, &dav, &context);
            }
            out.push_str("</D:multistatus>");
            return Ok(multistatus(out));
        }
        Target::Root => return root(state, principal, &ask, depth, out).await,
    };
    let view = state.cells.stat(principal, &path).await?;
    let folder = view.node.kind == NodeKind::Collection;
    let children = if folder && depth == Depth::One {
        state.cells.dav_children(principal, &path, MAX_PROPFIND_CHILDREN + 1).await?
    } else {
        Vec::new()
    };
    if i64::try_from(children.len()).unwrap_or(i64::MAX) > MAX_PROPFIND_CHILDREN {
        return Err(DavError::AnswerTooLarge(format!(
            "{path} holds more than {MAX_PROPFIND_CHILDREN} entries, the most one PROPFIND lists: \
             list it page by page over REST (GET /a/tree/{{workspace}}/{{path}}?children=true&offset=N)"
        )));
    }
    let mut dead: HashMap<NodeId, Vec<DeadProperty>> = HashMap::new();
    if wants_dead {
        let mut all = state.cells.dav_properties(principal, &path).await?;
        if !children.is_empty() {
            all.extend(state.cells.dav_properties_of_children(principal, &path, &children).await?);
        }
        for property in all {
            dead.entry(property.node).or_default().push(property);
        }
    }
    let locks = if wants_locks { state.cells.dav_locks_at(principal, &path).await? } else { Vec::new() };
    let context = Context { ask: &ask, dead, locks };
    out.reserve(children.len() * 700);
    let slug = path.workspace();
    let entry = Entry { href: href(&path, folder), name: view.path.name(), node: Some(&view.node), slug };
    write_entry(&mut out, &mut found, &entry, &context);
    within_budget(&out)?;
    let base = href(&path, true);
    for child in &children {
        let mut child_href = String::with_capacity(base.len() + child.node.name.len() + 8);
        child_href.push_str(&base);
        xml::encode_segment_into(&mut child_href, &child.node.name);
        if child.node.kind == NodeKind::Collection {
            child_href.push('/');
        }
        let entry = Entry { href: child_href, name: &child.node.name, node: Some(&child.node), slug };
        write_entry(&mut out, &mut found, &entry, &context);
        within_budget(&out)?;
    }
    out.push_str("</D:multistatus>");
    Ok(multistatus(out))
}
