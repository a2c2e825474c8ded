//! Paths: what parses round-trips, what is refused is refused for the right reason, and
//! `parent`, `join` and `is_within` agree with the segments a path is made of.

use cells_core::reach;
use cells_core::{PathError, TreePath};
use proptest::prelude::*;

/// A valid name: no `/`, no control character, not `.` or `..`, 1 to 8 characters
/// (ASCII, awkward punctuation, or anything Unicode outside the control characters).
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ._~#%+@-]{1,8}",
        "[^/\\p{Cc}]{1,8}",
        Just("...".to_owned()),
        Just(".a".to_owned()),
        Just("a..".to_owned()),
    ]
    .prop_filter("a dot segment is not a name", |n| n != "." && n != "..")
    .prop_filter("names are kept in NFC, without bidi controls", |n| {
        cells_core::path::nfc(n) == n.as_str() && !n.chars().any(cells_core::path::is_bidi_control)
    })
}

/// What a name may not hold: a control character or a bidirectional-text control.
fn refused_char(c: char) -> bool {
    c.is_control() || cells_core::path::is_bidi_control(c)
}

/// A workspace and the segments of a path inside it.
fn parts() -> impl Strategy<Value = (String, Vec<String>)> {
    (name(), prop::collection::vec(name(), 0..6))
}

fn absolute(workspace: &str, segments: &[String]) -> String {
    let mut text = format!("/{workspace}");
    for segment in segments {
        text.push('/');
        text.push_str(segment);
    }
    text
}

fn must_parse(text: &str) -> TreePath {
    TreePath::parse_absolute(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

/// A control character (`char::is_control`: C0, DEL and C1).
fn control() -> impl Strategy<Value = char> {
    prop_oneof![0u32..0x20, Just(0x7f_u32), 0x80u32..0xa0].prop_map(|c| char::from_u32(c).unwrap_or('\0'))
}

/// Paths over a tiny alphabet, so that equal segments and shared prefixes (`a` and `ab`,
/// `b` and `b c`) are common.
fn small_path() -> impl Strategy<Value = (usize, Vec<&'static str>)> {
    (0..2usize, prop::collection::vec(prop::sample::select(vec!["a", "b", "ab", "b c", "a.b"]), 0..4))
}

fn small(workspace: usize, segments: &[&str]) -> TreePath {
    let workspaces = ["w", "ww"];
    let mut text = format!("/{}", workspaces[workspace]);
    for segment in segments {
        text.push('/');
        text.push_str(segment);
    }
    must_parse(&text)
}

proptest! {
    #[test]
    fn valid_paths_round_trip((workspace, segments) in parts(), trailing_slash: bool) {
        let text = absolute(&workspace, &segments);
        let sent = if trailing_slash { format!("{text}/") } else { text.clone() };
        let path = must_parse(&sent);
        prop_assert_eq!(path.workspace(), workspace.as_str());
        prop_assert_eq!(path.inner(), segments.join("/"));
        prop_assert_eq!(path.is_workspace_root(), segments.is_empty());
        prop_assert_eq!(path.name(), segments.last().unwrap_or(&workspace).as_str());
        prop_assert_eq!(path.to_string(), text.clone());
        prop_assert_eq!(must_parse(&path.to_string()), path.clone());
        prop_assert_eq!(TreePath::parse_relative(&sent[1..]), Ok(path.clone()));
        prop_assert_eq!(TreePath::parse_relative(&path.to_string()[1..]), Ok(path));
    }

    #[test]
    fn joining_names_builds_the_parsed_path((workspace, segments) in parts()) {
        let mut built = TreePath::workspace_root(&workspace).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for segment in &segments {
            built = built.join(segment).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        prop_assert_eq!(built, must_parse(&absolute(&workspace, &segments)));
    }

    #[test]
    fn parent_undoes_join_down_to_the_workspace_root((workspace, segments) in parts()) {
        let path = must_parse(&absolute(&workspace, &segments));
        let mut current = path.clone();
        let mut depth = segments.len();
        while let Some(parent) = current.parent() {
            prop_assert!(depth > 0, "{current:?} has a parent beyond the workspace root");
            depth -= 1;
            prop_assert_eq!(parent.to_string(), absolute(&workspace, &segments[..depth]));
            prop_assert_eq!(parent.join(current.name()), Ok(current.clone()));
            prop_assert!(current.is_within(&parent) && path.is_within(&parent));
            prop_assert!(!parent.is_within(&current), "{parent:?} is within its child {current:?}");
            current = parent;
        }
        prop_assert_eq!(depth, 0);
        prop_assert!(current.is_workspace_root());
        prop_assert_eq!(current, TreePath::workspace_root(&workspace).map_err(|e| TestCaseError::fail(e.to_string()))?);
    }

    /// `is_within` is exactly "same workspace, and the other path's segments are a prefix
    /// of this one's": reflexive, transitive, antisymmetric, and blind to prefixes that
    /// stop inside a name.
    #[test]
    fn is_within_is_a_segment_prefix((wa, a) in small_path(), (wb, b) in small_path(), (wc, c) in small_path()) {
        let (pa, pb, pc) = (small(wa, &a), small(wb, &b), small(wc, &c));
        let model = |w1: usize, s1: &[&str], w2: usize, s2: &[&str]| w1 == w2 && s1.starts_with(s2);
        prop_assert_eq!(pa.is_within(&pb), model(wa, &a, wb, &b), "{:?} within {:?}", pa, pb);
        prop_assert_eq!(reach::is_within(pa.inner(), pb.inner()), a.starts_with(&b));
        prop_assert!(pa.is_within(&pa));
        if pa.is_within(&pb) && pb.is_within(&pa) {
            prop_assert_eq!(&pa, &pb);
        }
        if pa.is_within(&pb) && pb.is_within(&pc) {
            prop_assert!(pa.is_within(&pc));
        }
    }

    #[test]
    fn a_sibling_sharing_a_prefix_is_never_within((workspace, segments) in parts(), last in name(), suffix in name()) {
        let path = must_parse(&absolute(&workspace, &[segments.clone(), vec![last.clone()]].concat()));
        let sibling = path.parent().and_then(|p| p.join(&format!("{last}{suffix}")).ok());
        let sibling = sibling.ok_or_else(|| TestCaseError::fail("the sibling is a valid path"))?;
        prop_assert!(!sibling.is_within(&path), "{sibling:?} within {path:?}");
        prop_assert!(!path.is_within(&sibling), "{path:?} within {sibling:?}");
        let nephew = sibling.join(&suffix).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(!nephew.is_within(&path), "{nephew:?} within {path:?}");
    }

    #[test]
    fn empty_and_dot_segments_are_refused(
        (workspace, segments) in parts(),
        bad in prop::sample::select(vec!["", ".", ".."]),
        at in any::<prop::sample::Index>(),
    ) {
        // The bad segment goes anywhere, the workspace's place included.
        let mut all = vec![workspace];
        all.extend(segments);
        let at = at.index(all.len() + 1);
        all.insert(at, bad.to_owned());
        let mut text = format!("/{}", all.join("/"));
        if bad.is_empty() && at == all.len() - 1 {
            // Otherwise the empty last segment would be the one trailing slash allowed.
            text.push('/');
        }
        let want = if bad.is_empty() { PathError::EmptySegment } else { PathError::DotSegment };
        prop_assert_eq!(TreePath::parse_absolute(&text), Err(want.clone()), "{:?}", text);
        prop_assert_eq!(TreePath::parse_relative(&text[1..]), Err(want), "{:?}", &text[1..]);
    }

    #[test]
    fn a_control_character_anywhere_is_refused((workspace, segments) in parts(), c in control(), at in any::<prop::sample::Index>()) {
        let text = absolute(&workspace, &segments);
        let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).skip(1).chain([text.len()]).collect();
        let at = boundaries[at.index(boundaries.len())];
        let bad = format!("{}{c}{}", &text[..at], &text[at..]);
        prop_assert_eq!(TreePath::parse_absolute(&bad), Err(PathError::ControlCharacter), "{:?}", bad);
        let parent = must_parse(&text);
        prop_assert_eq!(parent.join(&format!("x{c}")), Err(PathError::ControlCharacter));
        prop_assert_eq!(TreePath::workspace_root(&format!("{c}{workspace}")), Err(PathError::ControlCharacter));
    }

    /// Names are limited in bytes, not characters: 255 `n`, or 127 `é` and one `n`, pass.
    #[test]
    fn names_are_at_most_255_bytes(count in 1usize..400, wide: bool) {
        let name = if wide { "é".repeat(count / 2) + &"n".repeat(count % 2) } else { "n".repeat(count) };
        prop_assert_eq!(name.len(), count);
        let want = if count <= TreePath::MAX_NAME { Ok(()) } else { Err(PathError::NameTooLong) };
        prop_assert_eq!(TreePath::parse_absolute(&format!("/ws/{name}")).map(|_| ()), want.clone());
        prop_assert_eq!(TreePath::parse_absolute(&format!("/{name}/x")).map(|_| ()), want.clone());
        prop_assert_eq!(TreePath::workspace_root(&name).map(|_| ()), want.clone());
        let root = TreePath::workspace_root("ws").map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(root.join(&name).map(|_| ()), want);
    }

    /// A path is at most `MAX_PATH` bytes written as `{workspace}/{path}` (what follows
    /// `/io/`, and what the access service measures before a move), whether it was parsed,
    /// parsed without its leading slash, or built by `join`: the three agree.
    #[test]
    fn paths_are_at_most_4096_bytes_however_they_are_made(
        name_len in prop_oneof![1usize..=255, Just(1), Just(255)],
        target in prop_oneof![3900usize..4200, TreePath::MAX_PATH - 2..=TreePath::MAX_PATH + 2],
    ) {
        let root = TreePath::workspace_root("ws").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let measured = |p: &TreePath| p.workspace().len() + 1 + p.inner().len();
        // Grow a path with names of `name_len` bytes, then one name that brings it to
        // `target` bytes.
        let mut path = root;
        while measured(&path) + 1 + name_len < target.min(TreePath::MAX_PATH + 1) {
            let next = path.join(&"n".repeat(name_len));
            prop_assert!(next.is_ok(), "{} bytes refused", measured(&path) + 1 + name_len);
            path = next.map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        // Beyond the limit, a target a name cannot reach is brought within one name.
        let last_len = target.saturating_sub(measured(&path) + 1).clamp(1, TreePath::MAX_NAME);
        let relative = format!("{}/{}", &path.to_string()[1..], "m".repeat(last_len));
        let target = relative.len();
        let joined = path.join(&"m".repeat(last_len));
        let parsed = TreePath::parse_absolute(&format!("/{relative}"));
        let parsed_slash = TreePath::parse_absolute(&format!("/{relative}/"));
        let parsed_relative = TreePath::parse_relative(&relative);
        // Compared by length, so that a failure does not print 4 KiB of path.
        let want = if target <= TreePath::MAX_PATH { Ok(target) } else { Err(PathError::PathTooLong) };
        let len = |p: TreePath| measured(&p);
        prop_assert_eq!(joined.map(len), want.clone(), "join");
        prop_assert_eq!(parsed.map(len), want.clone(), "parse_absolute");
        prop_assert_eq!(parsed_slash.map(len), want.clone(), "parse_absolute with a trailing slash");
        prop_assert_eq!(parsed_relative.map(len), want, "parse_relative");
    }

    /// Whatever text is accepted is a path with every promised property; whatever is
    /// refused is refused for a reason that holds.
    #[test]
    fn any_text_is_refused_or_a_valid_path(text in prop_oneof!["[/a.é \\x00\\n\\x7f]{0,12}", "/?\\PC{0,16}", "\\PC{0,16}"]) {
        match TreePath::parse_absolute(&text) {
            Ok(path) => {
                let written = path.to_string();
                let normal = cells_core::path::nfc(text.strip_suffix('/').unwrap_or(&text)).into_owned();
                prop_assert_eq!(written.as_str(), normal.as_str());
                prop_assert!(written.len() <= TreePath::MAX_PATH + 1);
                for segment in written[1..].split('/') {
                    prop_assert!(!segment.is_empty() && segment != "." && segment != "..", "{segment:?}");
                    prop_assert!(segment.len() <= TreePath::MAX_NAME);
                    prop_assert!(!segment.chars().any(refused_char), "{segment:?}");
                }
                prop_assert_eq!(must_parse(&written), path);
            }
            Err(PathError::NotAbsolute) => prop_assert!(!text.starts_with('/')),
            Err(PathError::Empty) => prop_assert!(text == "/" || text == "//", "{:?}", text),
            Err(PathError::EmptySegment) => prop_assert!(text.contains("//")),
            Err(PathError::DotSegment) => prop_assert!(text.split('/').any(|s| s == "." || s == "..")),
            Err(PathError::ControlCharacter) => prop_assert!(text.chars().any(refused_char)),
            Err(error) => prop_assert!(false, "{text:?}: {error}"),
        }
    }

    /// A workspace root is a path like any other: written out and parsed back, it is the
    /// same root (so a slug with a `/` is refused, as `join` refuses such a name).
    #[test]
    fn a_workspace_root_round_trips(slug in prop_oneof![name(), "[a/]{1,4}", "\\PC{1,6}"]) {
        match TreePath::workspace_root(&slug) {
            Ok(root) => {
                prop_assert!(root.is_workspace_root());
                let normal = cells_core::path::nfc(&slug).into_owned();
                prop_assert_eq!(root.workspace(), normal.as_str());
                prop_assert_eq!(must_parse(&root.to_string()), root);
            }
            Err(_) => {
                let parsed = TreePath::parse_absolute(&format!("/{slug}"));
                let same_root = parsed.is_ok_and(|p| p.is_workspace_root() && p.workspace() == cells_core::path::nfc(&slug));
                prop_assert!(!same_root, "{:?} refused as a root but parsed as one", slug);
            }
        }
    }
}
