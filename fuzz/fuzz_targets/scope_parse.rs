//! `Scope::from_str` and `parse_scope_list` never panic; an accepted scope prints in a
//! canonical form that parses back to it, and a list reads each accepted item the same
//! way as one scope.

#![no_main]

use cells_core::scope::{Scope, parse_scope_list};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(scope) = text.parse::<Scope>() {
        let canonical = scope.to_string();
        assert_eq!(
            canonical.parse::<Scope>(),
            Ok(scope),
            "{text:?} -> {canonical:?}"
        );
        assert_eq!(
            canonical.parse::<Scope>().map(|s| s.to_string()),
            Ok(canonical.clone())
        );
        assert!(!scope.rights.is_none());
    }
    // The input as several -s values, split on newlines.
    let values: Vec<&str> = text.split('\n').collect();
    if let Ok(scopes) = parse_scope_list(&values) {
        for scope in &scopes {
            assert_eq!(scope.to_string().parse::<Scope>().as_ref(), Ok(scope));
        }
        let items = values.iter().flat_map(|v| v.split(','));
        for item in items {
            let one = item.trim().parse::<Scope>();
            assert!(one.is_ok_and(|s| scopes.contains(&s)), "{item:?}");
        }
        let joined = scopes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let again = if joined.is_empty() {
            Ok(Vec::new())
        } else {
            parse_scope_list(&[joined])
        };
        assert_eq!(again, Ok(scopes));
    }
});
