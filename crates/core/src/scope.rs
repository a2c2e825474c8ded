//! Token scopes, written `node:<NODE_UUID>:<PERMISSION>` with PERMISSION `r`, `w` or `rw`
//! (`wr` is read as `rw`). A scope covers a node and its whole subtree; a token's scopes
//! add up, and only ever narrow what its user may do.
//!
//! Use [`Scope`]'s `FromStr` for one scope in its exact form, and [`parse_scope_list`] for
//! what a person types (`-s a,b -s c`: repeated, comma-separated, spaces around items
//! ignored). `Display` and serde both use the canonical text `node:<uuid>:rw`, so a
//! `Vec<Scope>` is stored as a JSON array of strings. Whether the node exists and whether
//! the user may reach it is checked by the access service, not here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::{NodeId, Rights};

/// The only kind of scope there is, the first part of its text.
const KIND: &str = "node";

/// One scope: rights on a node and its subtree.
///
/// `rights` should not be [`Rights::NONE`]: no text parses to it, and such a scope adds
/// nothing to the union of a token's scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Scope {
    pub node: NodeId,
    pub rights: Rights,
}

/// Why a text is not a scope. Each message repeats the scope, which is not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScopeError {
    #[error("empty scope: write node:<NODE_UUID>:<r|w|rw>, several separated by commas")]
    Empty,
    #[error("scope {scope:?}: unknown kind {kind:?}, a scope is written node:<NODE_UUID>:<r|w|rw>")]
    WrongKind { scope: String, kind: String },
    #[error("scope {scope:?}: incomplete, a scope is written node:<NODE_UUID>:<r|w|rw>")]
    MissingParts { scope: String },
    #[error("scope {scope:?}: {node:?} is not a node UUID")]
    BadNode { scope: String, node: String },
    #[error("scope {scope:?}: permission {permission:?} is not one of r, w or rw")]
    BadPermission { scope: String, permission: String },
    #[error("a token has at most {max} scopes", max = MAX_SCOPES)]
    TooMany,
}

/// The most scopes one token may have: enough for any real use, and a bound on what a
/// request may ask the server to check (on every request the token makes).
pub const MAX_SCOPES: usize = 64;

impl FromStr for Scope {
    type Err = ScopeError;

    /// Reads exactly `node:<NODE_UUID>:<PERMISSION>`, with no spaces around it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(ScopeError::Empty);
        }
        let mut parts = text.splitn(3, ':');
        let kind = parts.next().unwrap_or_default();
        if kind != KIND {
            return Err(ScopeError::WrongKind { scope: text.to_owned(), kind: kind.to_owned() });
        }
        let (Some(node), Some(permission)) = (parts.next(), parts.next()) else {
            return Err(ScopeError::MissingParts { scope: text.to_owned() });
        };
        if node.is_empty() || permission.is_empty() {
            return Err(ScopeError::MissingParts { scope: text.to_owned() });
        }
        let node = node
            .parse::<NodeId>()
            .map_err(|_| ScopeError::BadNode { scope: text.to_owned(), node: node.to_owned() })?;
        let rights = Rights::parse(permission)
            .ok_or_else(|| ScopeError::BadPermission { scope: text.to_owned(), permission: permission.to_owned() })?;
        Ok(Self { node, rights })
    }
}

/// The canonical form, `node:<hyphenated lowercase uuid>:<r|w|rw>`.
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{KIND}:{}:{}", self.node, self.rights)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Reads scopes as a person gives them: several values, each a comma-separated list
/// (`-s a,b -s c`), spaces around each item ignored. Exact repeats are kept once; the
/// order is otherwise kept. No values gives no scopes (the user's full rights).
///
/// # Errors
///
/// The first item that is not a scope, an empty item (`a,,b`, a trailing comma, `-s ""`)
/// included; [`ScopeError::TooMany`] past [`MAX_SCOPES`] distinct scopes (checked as
/// they come, so a huge list costs no more than its first `MAX_SCOPES + 1` items).
pub fn parse_scope_list<S: AsRef<str>>(values: &[S]) -> Result<Vec<Scope>, ScopeError> {
    let mut scopes: Vec<Scope> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item in values.iter().flat_map(|value| value.as_ref().split(',')) {
        let scope = item.trim().parse::<Scope>()?;
        if seen.insert(scope) {
            if scopes.len() == MAX_SCOPES {
                return Err(ScopeError::TooMany);
            }
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_list_holds_at_most_max_scopes_distinct_scopes() {
        let many: Vec<String> =
            (0..=MAX_SCOPES).map(|n| format!("node:{}:r", uuid::Uuid::from_u128(n as u128 + 1))).collect();
        assert_eq!(parse_scope_list(&many[..MAX_SCOPES]).map(|s| s.len()), Ok(MAX_SCOPES));
        assert_eq!(parse_scope_list(&many), Err(ScopeError::TooMany));
        // Repeats do not count.
        let repeated = vec![many[0].clone(); 10 * MAX_SCOPES];
        assert_eq!(parse_scope_list(&repeated).map(|s| s.len()), Ok(1));
    }

    use super::*;

    const A: &str = "6f1c6a55-2f5e-4d2a-9a8e-0c9b8f7e6d5c";
    const B: &str = "0b7e3c1a-9d4f-4e2b-8c6a-5f4e3d2c1b0a";

    fn node(text: &str) -> NodeId {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn scope(text: &str) -> Scope {
        text.parse().unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    fn error(text: &str) -> ScopeError {
        match text.parse::<Scope>() {
            Ok(value) => panic!("{text:?} should be refused, got {value:?}"),
            Err(e) => e,
        }
    }

    fn list(values: &[&str]) -> Vec<Scope> {
        parse_scope_list(values).unwrap_or_else(|e| panic!("{values:?} should parse: {e}"))
    }

    #[test]
    fn the_four_permissions() {
        for (permission, rights) in
            [("r", Rights::READ), ("w", Rights::WRITE), ("rw", Rights::READ_WRITE), ("wr", Rights::READ_WRITE)]
        {
            let parsed = scope(&format!("node:{A}:{permission}"));
            assert_eq!(parsed, Scope { node: node(A), rights });
        }
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        assert_eq!(scope(&format!("node:{A}:wr")).to_string(), format!("node:{A}:rw"));
        assert_eq!(scope(&format!("node:{A}:r")).to_string(), format!("node:{A}:r"));
        assert_eq!(scope(&format!("node:{}:w", A.to_uppercase())).to_string(), format!("node:{A}:w"));
        let random = Scope { node: NodeId::random(), rights: Rights::READ_WRITE };
        assert_eq!(scope(&random.to_string()), random);
    }

    #[test]
    fn bad_scopes_have_clear_errors() {
        assert_eq!(error(""), ScopeError::Empty);
        assert_eq!(
            error(&format!("file:{A}:rw")),
            ScopeError::WrongKind { scope: format!("file:{A}:rw"), kind: "file".into() }
        );
        assert_eq!(
            error(&format!("Node:{A}:rw")),
            ScopeError::WrongKind { scope: format!("Node:{A}:rw"), kind: "Node".into() }
        );
        assert_eq!(error("abc"), ScopeError::WrongKind { scope: "abc".into(), kind: "abc".into() });
        assert_eq!(error("node:nope:rw"), ScopeError::BadNode { scope: "node:nope:rw".into(), node: "nope".into() });
        assert_eq!(
            error(&format!("node:{A}:x")),
            ScopeError::BadPermission { scope: format!("node:{A}:x"), permission: "x".into() }
        );
        assert_eq!(
            error(&format!("node:{A}:rwx")),
            ScopeError::BadPermission { scope: format!("node:{A}:rwx"), permission: "rwx".into() }
        );
        assert_eq!(
            error(&format!("node:{A}:R")),
            ScopeError::BadPermission { scope: format!("node:{A}:R"), permission: "R".into() }
        );
        assert_eq!(
            error(&format!("node:{A}:rw:extra")),
            ScopeError::BadPermission { scope: format!("node:{A}:rw:extra"), permission: "rw:extra".into() }
        );
        for missing in ["node", "node:", &format!("node:{A}"), &format!("node:{A}:"), "node::rw"] {
            assert_eq!(error(missing), ScopeError::MissingParts { scope: missing.into() });
        }
        // One scope is read exactly; only the list reader forgives spaces.
        assert!(matches!(error(&format!(" node:{A}:r")), ScopeError::WrongKind { .. }));
        assert!(matches!(error(&format!("node:{A}:r ")), ScopeError::BadPermission { .. }));
        assert!(matches!(error(&format!("node: {A}:r")), ScopeError::BadNode { .. }));
    }

    #[test]
    fn messages_show_the_expected_form() {
        assert!(error("file:x:rw").to_string().contains("node:<NODE_UUID>:<r|w|rw>"));
        assert!(error("node:nope:rw").to_string().contains("\"nope\" is not a node UUID"));
        assert!(error(&format!("node:{A}:x")).to_string().contains("r, w or rw"));
    }

    #[test]
    fn lists_are_repeated_and_comma_separated() {
        let a = Scope { node: node(A), rights: Rights::READ };
        let b = Scope { node: node(B), rights: Rights::READ_WRITE };
        let b_write = Scope { node: node(B), rights: Rights::WRITE };
        assert_eq!(list(&[]), Vec::<Scope>::new());
        assert_eq!(list(&[&format!("node:{A}:r")]), vec![a]);
        assert_eq!(list(&[&format!("node:{A}:r,node:{B}:rw")]), vec![a, b]);
        assert_eq!(list(&[&format!("node:{A}:r"), &format!("node:{B}:wr")]), vec![a, b]);
        assert_eq!(list(&[&format!(" node:{A}:r , node:{B}:rw\t")]), vec![a, b]);
        assert_eq!(list(&[&format!("node:{B}:w,node:{A}:r"), &format!("node:{B}:rw")]), vec![b_write, a, b]);
        // Exact repeats, however spelled, are kept once.
        assert_eq!(list(&[&format!("node:{A}:r,node:{A}:r"), &format!("node:{A}:r")]), vec![a]);
        assert_eq!(list(&[&format!("node:{B}:rw,node:{B}:wr")]), vec![b]);
    }

    #[test]
    fn lists_refuse_empty_items_and_report_the_bad_one() {
        let good = format!("node:{A}:r");
        for values in [
            vec![String::new()],
            vec!["  ".to_owned()],
            vec![format!("{good},")],
            vec![format!(",{good}")],
            vec![format!("{good},,{good}")],
            vec![good.clone(), String::new()],
        ] {
            assert_eq!(parse_scope_list(&values), Err(ScopeError::Empty), "{values:?}");
        }
        assert_eq!(
            parse_scope_list(&[good, "node:nope:r".to_owned()]),
            Err(ScopeError::BadNode { scope: "node:nope:r".into(), node: "nope".into() })
        );
    }

    #[test]
    fn a_list_is_stored_as_a_json_array_of_strings() {
        let scopes = list(&[&format!("node:{A}:r,node:{B}:wr")]);
        let json = serde_json::to_string(&scopes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json, format!(r#"["node:{A}:r","node:{B}:rw"]"#));
        let back: Vec<Scope> = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, scopes);
        let empty: Vec<Scope> = serde_json::from_str("[]").unwrap_or_else(|e| panic!("{e}"));
        assert!(empty.is_empty());
        let bad = serde_json::from_str::<Vec<Scope>>(r#"["node:nope:r"]"#);
        let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("not a node UUID"), "{message}");
        // Escaped JSON strings are not borrowed; they must still parse.
        let escaped = format!(r#"["node:{A}:\u0072"]"#);
        let back: Vec<Scope> = serde_json::from_str(&escaped).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, vec![Scope { node: node(A), rights: Rights::READ }]);
    }
}
