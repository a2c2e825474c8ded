//! XML both ways: the request bodies of PROPFIND, PROPPATCH and LOCK (parsed with
//! `roxmltree`, namespaces resolved), and the pieces of the answers, written straight into
//! a `String` (no document tree: a listing of a thousand files is one pass of `push_str`).
//!
//! A dead property's value is kept as XML text in which every element declares its own
//! namespace (`<foo xmlns="http://bar"/>`), so it stays well-formed wherever it is
//! written back, whatever prefixes the client used.
//!
//! Every body is bounded before anything walks it: at most [`MAX_DEPTH`] levels of
//! elements, checked before the parser (which recurses per level) sees it, and at most
//! [`MAX_NODES`] nodes (a clear 400 past either). The writer of values recurses nowhere,
//! so no body can exhaust a worker's stack whatever its shape (docs/security.md).

use std::fmt::Write;

use roxmltree::{Document, Node};

/// The namespace of cells' own properties (`uuid`).
pub const CELLS_NS: &str = "urn:cells:dav";
pub const DAV_NS: &str = "DAV:";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// The deepest nesting of elements a body may have. A PROPFIND or a LOCK needs 4 levels,
/// a PROPPATCH 4 plus its value's; clients' values nest a few levels more at most.
pub const MAX_DEPTH: usize = 64;
/// The most nodes (elements, text, comments) a body may have: a 1 MiB body of empty
/// elements would otherwise be some 250,000 nodes.
pub const MAX_NODES: u32 = 20_000;
/// The most properties one PROPFIND may name: each is answered for every resource of the
/// answer, so this bounds the answer's size with the number of resources.
pub const MAX_PROPFIND_NAMES: usize = 256;

/// A property name: namespace (empty for none) and local name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PropName {
    pub namespace: String,
    pub name: String,
}

impl PropName {
    fn of(node: Node<'_, '_>) -> Self {
        let tag = node.tag_name();
        Self { namespace: tag.namespace().unwrap_or("").to_owned(), name: tag.name().to_owned() }
    }

    #[cfg(test)]
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace == namespace && self.name == name
    }
}

/// Why a request body was refused (400).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the XML body is not well-formed: {0}")]
    Malformed(String),
    #[error("the XML body is not valid here: {0}")]
    Invalid(&'static str),
    #[error("the XML body is refused: it {0}")]
    TooBig(String),
}

fn is_dav(node: Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(DAV_NS) && node.tag_name().name() == name
}

fn elements<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(Node::is_element)
}

fn parse(text: &str) -> Result<Document<'_>, BodyError> {
    // First, as the parser recurses per level (see `nesting`).
    if !super::nesting::within(text, MAX_DEPTH) {
        return Err(BodyError::TooBig(format!("nests elements more than {MAX_DEPTH} deep")));
    }
    let options = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES };
    let document = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::NodesLimitReached => BodyError::TooBig(format!("holds more than {MAX_NODES} nodes")),
        e => BodyError::Malformed(e.to_string()),
    })?;
    // `xmlns:p=""` is not allowed by Namespaces in XML 1.0 (only the default namespace
    // may be undeclared); a client sending it has a bug worth telling.
    for node in document.descendants().filter(Node::is_element) {
        if node.namespaces().any(|ns| ns.name().is_some() && ns.uri().is_empty()) {
            return Err(BodyError::Malformed("a namespace prefix is bound to an empty name".into()));
        }
    }
    Ok(document)
}

/// What a PROPFIND asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum PropFind {
    /// Every live property and every dead one (also an empty body).
    AllProp,
    /// The names only.
    PropName,
    /// These properties.
    Prop(Vec<PropName>),
}

/// Parses a PROPFIND body; empty means `allprop`.
///
/// # Errors
/// When the body is not well-formed or not a `DAV:propfind`.
pub fn parse_propfind(body: &str) -> Result<PropFind, BodyError> {
    if body.trim().is_empty() {
        return Ok(PropFind::AllProp);
    }
    let document = parse(body)?;
    let root = document.root_element();
    if !is_dav(root, "propfind") {
        return Err(BodyError::Invalid("expected a DAV:propfind element"));
    }
    // Unknown elements beside the one that counts are ignored (RFC 4918 section 17).
    for child in elements(root) {
        if is_dav(child, "allprop") {
            return Ok(PropFind::AllProp);
        }
        if is_dav(child, "propname") {
            return Ok(PropFind::PropName);
        }
        if is_dav(child, "prop") {
            // A name asked twice is answered once.
            let mut names: Vec<PropName> = Vec::new();
            for name in elements(child).map(PropName::of) {
                if names.contains(&name) {
                    continue;
                }
                if names.len() == MAX_PROPFIND_NAMES {
                    return Err(BodyError::TooBig(format!("names more than {MAX_PROPFIND_NAMES} properties")));
                }
                names.push(name);
            }
            return Ok(PropFind::Prop(names));
        }
    }
    Err(BodyError::Invalid("a DAV:propfind holds DAV:allprop, DAV:propname or DAV:prop"))
}

/// One instruction of a PROPPATCH, in document order.
#[derive(Debug)]
pub enum Patch {
    Set(PropName, String),
    Remove(PropName),
}

/// Parses a PROPPATCH body.
///
/// # Errors
/// When the body is not well-formed or not a `DAV:propertyupdate`.
pub fn parse_proppatch(body: &str) -> Result<Vec<Patch>, BodyError> {
    let document = parse(body)?;
    let root = document.root_element();
    if !is_dav(root, "propertyupdate") {
        return Err(BodyError::Invalid("expected a DAV:propertyupdate element"));
    }
    let mut patches = Vec::new();
    for action in elements(root) {
        let set = is_dav(action, "set");
        if !set && !is_dav(action, "remove") {
            continue;
        }
        for prop in elements(action).filter(|n| is_dav(*n, "prop")) {
            for property in elements(prop) {
                let name = PropName::of(property);
                patches.push(if set { Patch::Set(name, inner_xml(property)) } else { Patch::Remove(name) });
            }
        }
    }
    if patches.is_empty() {
        return Err(BodyError::Invalid("a DAV:propertyupdate changes at least one property"));
    }
    Ok(patches)
}

/// What a LOCK body asks for.
#[derive(Debug)]
pub struct LockInfo {
    pub exclusive: bool,
    pub owner_xml: Option<String>,
}

/// Parses a LOCK body (`DAV:lockinfo`).
///
/// # Errors
/// When the body is not well-formed, or asks for something else than a write lock.
pub fn parse_lockinfo(body: &str) -> Result<LockInfo, BodyError> {
    let document = parse(body)?;
    let root = document.root_element();
    if !is_dav(root, "lockinfo") {
        return Err(BodyError::Invalid("expected a DAV:lockinfo element"));
    }
    let mut exclusive = None;
    let mut write = false;
    let mut owner_xml = None;
    for child in elements(root) {
        if is_dav(child, "lockscope") {
            exclusive = elements(child).find_map(|n| match () {
                () if is_dav(n, "exclusive") => Some(true),
                () if is_dav(n, "shared") => Some(false),
                () => None,
            });
        } else if is_dav(child, "locktype") {
            write = elements(child).any(|n| is_dav(n, "write"));
        } else if is_dav(child, "owner") {
            owner_xml = Some(inner_xml(child));
        }
    }
    let exclusive = exclusive.ok_or(BodyError::Invalid("a DAV:lockscope of DAV:exclusive or DAV:shared"))?;
    if !write {
        return Err(BodyError::Invalid("only DAV:write locks exist"));
    }
    Ok(LockInfo { exclusive, owner_xml })
}

/// The content of an element as self-contained XML text.
fn inner_xml(node: Node<'_, '_>) -> String {
    let mut out = String::new();
    for child in node.children() {
        write_node(&mut out, child);
    }
    out
}

/// Writes a node and everything in it, with a stack of its own rather than recursion.
fn write_node(out: &mut String, node: Node<'_, '_>) {
    // (node, whether its start tag is written: the end tag is next).
    let mut stack = vec![(node, false)];
    while let Some((node, opened)) = stack.pop() {
        if opened {
            let _ = write!(out, "</{}>", node.tag_name().name());
            continue;
        }
        if node.is_text() {
            escape_into(out, node.text().unwrap_or(""));
            continue;
        }
        if !node.is_element() {
            continue;
        }
        write_start_tag(out, node);
        if node.has_children() {
            out.push('>');
            stack.push((node, true));
            // Reversed, so that the first child is popped first.
            let mark = stack.len();
            stack.extend(node.children().map(|child| (child, false)));
            stack[mark..].reverse();
        } else {
            out.push_str("/>");
        }
    }
}

/// `<name xmlns="ns" attributes...`, without the closing `>`.
fn write_start_tag(out: &mut String, node: Node<'_, '_>) {
    let tag = node.tag_name();
    let _ = write!(out, "<{} xmlns=\"", tag.name());
    escape_into(out, tag.namespace().unwrap_or(""));
    out.push('"');
    for (i, attribute) in node.attributes().enumerate() {
        match attribute.namespace() {
            None => {
                let _ = write!(out, " {}=\"", attribute.name());
            }
            Some(XML_NS) => {
                let _ = write!(out, " xml:{}=\"", attribute.name());
            }
            Some(namespace) => {
                let _ = write!(out, " xmlns:a{i}=\"");
                escape_into(out, namespace);
                let _ = write!(out, "\" a{i}:{}=\"", attribute.name());
            }
        }
        escape_into(out, attribute.value());
        out.push('"');
    }
}

/// Appends `text` escaped for XML content and attribute values.
pub fn escape_into(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(['<', '>', '&', '"', '\'']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'"' => "&quot;",
            _ => "&apos;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Appends a path segment percent-encoded for an href: every byte but unreserved ones.
pub fn encode_segment_into(out: &mut String, segment: &str) {
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// Appends a property element with no value: `<name xmlns="ns"/>`.
pub fn empty_property_into(out: &mut String, name: &PropName) {
    let _ = write!(out, "<{} xmlns=\"", name.name);
    escape_into(out, &name.namespace);
    out.push_str("\"/>");
}

/// Appends a property element around a stored value (already XML).
pub fn property_into(out: &mut String, namespace: &str, name: &str, value_xml: &str) {
    let _ = write!(out, "<{name} xmlns=\"");
    escape_into(out, namespace);
    let _ = write!(out, "\">{value_xml}</{name}>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propfind_bodies() {
        assert_eq!(parse_propfind("").ok(), Some(PropFind::AllProp));
        let named = parse_propfind(
            "<D:propfind xmlns:D='DAV:'><D:prop><D:getetag/><x:u xmlns:x='urn:x'/></D:prop></D:propfind>",
        );
        let Ok(PropFind::Prop(names)) = named else { panic!("{named:?}") };
        assert!(names[0].is(DAV_NS, "getetag") && names[1].is("urn:x", "u"));
        assert!(parse_propfind("<foo>").is_err(), "not well-formed");
        assert!(
            parse_propfind("<D:propfind xmlns:D=\"DAV:\"><D:prop><bar:foo xmlns:bar=\"\"/></D:prop></D:propfind>")
                .is_err()
        );
        let extended = parse_propfind("<propfind xmlns=\"DAV:\"><foobar/><allprop/></propfind>");
        assert_eq!(extended.ok(), Some(PropFind::AllProp));
    }

    #[test]
    fn values_keep_their_namespaces() {
        let body = "<propertyupdate xmlns='DAV:'><set><prop><t:v xmlns:t='urn:t'><foo xmlns='http://bar' a='1&amp;'/>x &lt; y</t:v></prop></set>\
                    <remove><prop><z xmlns=''/></prop></remove></propertyupdate>";
        let patches = parse_proppatch(body).unwrap_or_else(|e| panic!("{e}"));
        let Patch::Set(name, value) = &patches[0] else { panic!("{patches:?}") };
        assert!(name.is("urn:t", "v"));
        assert_eq!(value, "<foo xmlns=\"http://bar\" a=\"1&amp;\"/>x &lt; y");
        assert!(matches!(&patches[1], Patch::Remove(n) if n.is("", "z")));
    }

    fn nested(depth: usize) -> String {
        format!("{}x{}", "<a>".repeat(depth), "</a>".repeat(depth))
    }

    fn proppatch_with(value: &str) -> String {
        format!(
            "<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><t:v xmlns:t='urn:t'>{value}</t:v></D:prop></D:set></D:propertyupdate>"
        )
    }

    #[test]
    fn deep_bodies_are_refused_before_anything_walks_them() {
        // The review's bodies: 10,000 levels in a PROPPATCH value, 5,000 in a LOCK owner.
        let deep = parse_proppatch(&proppatch_with(&nested(10_000)));
        assert!(matches!(&deep, Err(BodyError::TooBig(why)) if why.contains("deep")), "{deep:?}");
        let owner = format!(
            "<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>{}</D:owner></D:lockinfo>",
            nested(5_000)
        );
        assert!(matches!(parse_lockinfo(&owner), Err(BodyError::TooBig(_))));
        // Up to the bound, the value is kept whole, written without recursion.
        let deepest = MAX_DEPTH - 4; // propertyupdate, set, prop, v
        let patches = parse_proppatch(&proppatch_with(&nested(deepest))).unwrap_or_else(|e| panic!("{e}"));
        let Patch::Set(_, value) = &patches[0] else { panic!("{patches:?}") };
        let expected = format!("{}x{}", "<a xmlns=\"\">".repeat(deepest), "</a>".repeat(deepest));
        assert_eq!(value, &expected);
        assert!(parse_proppatch(&proppatch_with(&nested(deepest + 1))).is_err(), "one level more");
    }

    #[test]
    fn the_writer_keeps_document_order_and_mixed_content() {
        let value = "<p:a xmlns:p='urn:p' k='1'>one<b/>two<c><d>three</d></c></p:a>tail";
        let patches = parse_proppatch(&proppatch_with(value)).unwrap_or_else(|e| panic!("{e}"));
        let Patch::Set(_, written) = &patches[0] else { panic!("{patches:?}") };
        assert_eq!(
            written,
            "<a xmlns=\"urn:p\" k=\"1\">one<b xmlns=\"\"/>two<c xmlns=\"\"><d xmlns=\"\">three</d></c></a>tail"
        );
    }

    #[test]
    fn bodies_of_too_many_nodes_or_names_are_refused() {
        let many = format!(
            "<D:propfind xmlns:D='DAV:'><D:prop>{}</D:prop></D:propfind>",
            "<x:p xmlns:x='urn:x'/>".repeat(30_000)
        );
        assert!(matches!(parse_propfind(&many), Err(BodyError::TooBig(why)) if why.contains("nodes")));
        let names = |n: usize| {
            let props: String = (0..n).map(|i| format!("<x:p{i} xmlns:x='urn:x'/>")).collect();
            format!("<D:propfind xmlns:D='DAV:'><D:prop>{props}</D:prop></D:propfind>")
        };
        let Ok(PropFind::Prop(asked)) = parse_propfind(&names(MAX_PROPFIND_NAMES)) else { panic!("at the bound") };
        assert_eq!(asked.len(), MAX_PROPFIND_NAMES);
        assert!(matches!(parse_propfind(&names(MAX_PROPFIND_NAMES + 1)), Err(BodyError::TooBig(_))));
        // Repeated names count once.
        let repeated = format!(
            "<D:propfind xmlns:D='DAV:'><D:prop>{}</D:prop></D:propfind>",
            "<D:getetag/>".repeat(MAX_PROPFIND_NAMES * 2)
        );
        assert!(matches!(parse_propfind(&repeated), Ok(PropFind::Prop(asked)) if asked.len() == 1));
    }

    #[test]
    fn escapes_and_encodes() {
        let mut out = String::new();
        escape_into(&mut out, "a<b>&\"'");
        assert_eq!(out, "a&lt;b&gt;&amp;&quot;&apos;");
        let mut href = String::new();
        encode_segment_into(&mut href, "a b#%?é");
        assert_eq!(href, "a%20b%23%25%3F%C3%A9");
    }
}
