//! The WebDAV request bodies (PROPFIND, PROPPATCH, LOCK) never panic nor exhaust the
//! stack, whatever their shape; the depth scan that guards the parser agrees with the
//! parser on every document it accepts; and every value kept from a body (a dead
//! property, a lock owner) is self-contained XML that parses again on its own.
//!
//! The modules are the server's own files, compiled here by path: they depend on
//! `roxmltree` and `thiserror` only, so this target needs neither the server's
//! dependency tree nor a change of its module layout.

#![no_main]

#[path = "../../crates/server/src/dav/nesting.rs"]
#[allow(dead_code)]
mod nesting;
#[path = "../../crates/server/src/dav/xml.rs"]
#[allow(dead_code)]
mod xml;

use libfuzzer_sys::fuzz_target;

fn max_element_depth(document: &roxmltree::Document<'_>) -> usize {
    document
        .descendants()
        .filter(roxmltree::Node::is_element)
        .map(|n| n.ancestors().filter(roxmltree::Node::is_element).count())
        .max()
        .unwrap_or(0)
}

fn reparses(value: &str) {
    let wrapped = format!("<w>{value}</w>");
    assert!(
        roxmltree::Document::parse(&wrapped).is_ok(),
        "a kept value is not XML on its own: {value:?}"
    );
}

fuzz_target!(|text: &str| {
    let shallow = nesting::within(text, xml::MAX_DEPTH);
    let propfind = xml::parse_propfind(text);
    let proppatch = xml::parse_proppatch(text);
    let lockinfo = xml::parse_lockinfo(text);
    if !shallow {
        // (An empty PROPFIND body is allprop; a deep body is never empty.)
        assert!(matches!(propfind, Err(xml::BodyError::TooBig(_))));
        assert!(matches!(proppatch, Err(xml::BodyError::TooBig(_))));
        assert!(matches!(lockinfo, Err(xml::BodyError::TooBig(_))));
    }
    if let Ok(xml::PropFind::Prop(names)) = &propfind {
        assert!(names.len() <= xml::MAX_PROPFIND_NAMES);
    }
    if let Ok(patches) = &proppatch {
        for patch in patches {
            if let xml::Patch::Set(_, value) = patch {
                reparses(value);
            }
        }
    }
    if let Ok(xml::LockInfo { owner_xml: Some(owner), .. }) = &lockinfo {
        reparses(owner);
    }
    // The scan and the parser agree on what the parser accepts (parsed only when the
    // scan allows some depth, so that this check itself cannot overflow).
    if nesting::within(text, 256) {
        if let Ok(document) = roxmltree::Document::parse(text) {
            assert_eq!(shallow, max_element_depth(&document) <= xml::MAX_DEPTH, "{text:?}");
        }
    }
});
