//! Paths in the namespace: `/{workspace}/{path}`, the same on every surface.
//!
//! A [`TreePath`] is validated once, where it enters (a URL, a JSON body, an SFTP
//! request), and is then trusted everywhere: no `.` or `..`, no empty segment, no NUL or
//! control character, no bidirectional-text control (which can make `exe.txt` display as
//! `txt.exe`), names of at most 255 bytes and paths of at most 4096 bytes. Names are kept
//! in Unicode NFC: `é` sent decomposed (as macOS does) and composed is one name, so two
//! names that look the same cannot share a folder.

use std::fmt;

/// A file (`LEAF`) or a folder (`COLLECTION`), named as in the Cells API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Collection,
    Leaf,
}

impl NodeKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Collection => "COLLECTION",
            Self::Leaf => "LEAF",
        }
    }

    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "COLLECTION" => Some(Self::Collection),
            "LEAF" => Some(Self::Leaf),
            _ => None,
        }
    }
}

/// Why a path was refused. Every variant is a client mistake (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the path has an empty segment ('//')")]
    EmptySegment,
    #[error("the path has a '.' or '..' segment")]
    DotSegment,
    #[error("the path has a NUL, control or bidirectional-text control character")]
    ControlCharacter,
    #[error("a name in the path is longer than {max} bytes", max = TreePath::MAX_NAME)]
    NameTooLong,
    #[error("the path is longer than {max} bytes", max = TreePath::MAX_PATH)]
    PathTooLong,
    #[error("the path must be absolute: /{{workspace}}/{{path}}")]
    NotAbsolute,
    #[error("a name cannot hold '/'")]
    SlashInName,
}

/// A validated path: a workspace slug and a path inside it (empty for the workspace root).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TreePath {
    workspace: String,
    /// Segments joined by `/`, no leading or trailing slash; empty at the root.
    inner: String,
}

impl TreePath {
    pub const MAX_NAME: usize = 255;
    pub const MAX_PATH: usize = 4096;

    /// Parses `/{workspace}/{path}`: a leading `/` is required, one trailing `/` is allowed.
    ///
    /// # Errors
    /// When the text is not a valid absolute path (see [`PathError`]).
    pub fn parse_absolute(text: &str) -> Result<Self, PathError> {
        let rest = text.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
        Self::parse_relative(rest)
    }

    /// Parses a path given in a JSON body: `/{workspace}/{path}`, or without the leading
    /// slash (`personal-files/a.txt`, as scripts written for Pydio Cells send it).
    ///
    /// # Errors
    /// When the text is not a valid path (see [`PathError`]).
    pub fn parse_given(text: &str) -> Result<Self, PathError> {
        Self::parse_relative(text.strip_prefix('/').unwrap_or(text))
    }

    /// Parses `{workspace}/{path}` as found after a route prefix such as `/io/`.
    /// One trailing `/` is allowed; the text must name at least a workspace. The result
    /// is in NFC.
    ///
    /// # Errors
    /// When the text is not a valid path (see [`PathError`]).
    pub fn parse_relative(text: &str) -> Result<Self, PathError> {
        Self::parse_normalized(&nfc(text))
    }

    fn parse_normalized(text: &str) -> Result<Self, PathError> {
        // The one trailing slash allowed does not count towards the limit.
        let text = text.strip_suffix('/').unwrap_or(text);
        if text.len() > Self::MAX_PATH {
            return Err(PathError::PathTooLong);
        }
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        for segment in text.split('/') {
            check_name(segment)?;
        }
        let (workspace, inner) = text.split_once('/').unwrap_or((text, ""));
        Ok(Self { workspace: workspace.to_owned(), inner: inner.to_owned() })
    }

    /// The root of a workspace.
    ///
    /// # Errors
    /// When the slug is not a valid name.
    pub fn workspace_root(workspace: &str) -> Result<Self, PathError> {
        if workspace.contains('/') {
            return Err(PathError::SlashInName);
        }
        let workspace = nfc(workspace);
        check_name(&workspace)?;
        Ok(Self { workspace: workspace.into_owned(), inner: String::new() })
    }

    /// Builds a path from a workspace and an inner path already known to be valid
    /// (read back from the store).
    #[must_use]
    pub fn from_trusted(workspace: &str, inner: &str) -> Self {
        Self { workspace: workspace.to_owned(), inner: inner.to_owned() }
    }

    #[must_use]
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// The path inside the workspace, without a leading slash; empty at the root.
    #[must_use]
    pub fn inner(&self) -> &str {
        &self.inner
    }

    #[must_use]
    pub fn is_workspace_root(&self) -> bool {
        self.inner.is_empty()
    }

    /// The last segment (the workspace slug at a workspace root).
    #[must_use]
    pub fn name(&self) -> &str {
        if self.inner.is_empty() { &self.workspace } else { self.inner.rsplit('/').next().unwrap_or(&self.inner) }
    }

    /// The folder holding this path; `None` at a workspace root.
    #[must_use]
    pub fn parent(&self) -> Option<Self> {
        if self.inner.is_empty() {
            return None;
        }
        let inner = self.inner.rsplit_once('/').map_or("", |(parent, _)| parent);
        Some(Self { workspace: self.workspace.clone(), inner: inner.to_owned() })
    }

    /// This path with one more segment.
    ///
    /// # Errors
    /// When the name is not valid or the result is too long.
    pub fn join(&self, name: &str) -> Result<Self, PathError> {
        if name.contains('/') {
            return Err(PathError::SlashInName);
        }
        let name = nfc(name);
        check_name(&name)?;
        let inner = if self.inner.is_empty() { name.into_owned() } else { format!("{}/{name}", self.inner) };
        // Measured as `parse_relative` measures: `{workspace}/{path}`.
        if self.workspace.len() + 1 + inner.len() > Self::MAX_PATH {
            return Err(PathError::PathTooLong);
        }
        Ok(Self { workspace: self.workspace.clone(), inner })
    }

    /// Whether `self` is `other` or inside it.
    #[must_use]
    pub fn is_within(&self, other: &Self) -> bool {
        self.workspace == other.workspace && crate::reach::is_within(&self.inner, &other.inner)
    }
}

/// `text` in Unicode NFC; borrowed when it already is (the usual case, checked fast).
#[must_use]
pub fn nfc(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => std::borrow::Cow::Borrowed(text),
        _ => std::borrow::Cow::Owned(text.nfc().collect()),
    }
}

fn check_name(name: &str) -> Result<(), PathError> {
    if name.is_empty() {
        return Err(PathError::EmptySegment);
    }
    if name == "." || name == ".." {
        return Err(PathError::DotSegment);
    }
    if name.len() > TreePath::MAX_NAME {
        return Err(PathError::NameTooLong);
    }
    if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(PathError::ControlCharacter);
    }
    Ok(())
}

/// The characters that reorder displayed text (embeddings, overrides, isolates and
/// marks): refused in names and labels, where they can disguise what a file is.
#[must_use]
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl fmt::Display for TreePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inner.is_empty() {
            write!(f, "/{}", self.workspace)
        } else {
            write!(f, "/{}/{}", self.workspace, self.inner)
        }
    }
}

impl fmt::Debug for TreePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TreePath({self})")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_kept_in_nfc_so_lookalikes_are_one_name() {
        let composed = TreePath::parse_absolute("/common-files/caf\u{e9}").unwrap_or_else(|e| panic!("{e}"));
        let decomposed = TreePath::parse_absolute("/common-files/cafe\u{301}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(composed, decomposed);
        assert_eq!(decomposed.inner(), "caf\u{e9}");
        let root = TreePath::workspace_root("common-files").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(root.join("cafe\u{301}").unwrap_or_else(|e| panic!("{e}")), composed);
    }

    #[test]
    fn bidi_controls_are_refused_in_names() {
        for bad in ["a\u{202E}txt.exe", "\u{2066}x", "x\u{200F}", "\u{061C}"] {
            assert_eq!(
                TreePath::parse_absolute(&format!("/common-files/{bad}")),
                Err(PathError::ControlCharacter),
                "{bad:?}"
            );
        }
        assert!(
            TreePath::parse_absolute("/common-files/\u{5d0}\u{5d1} hebrew").is_ok(),
            "right-to-left text itself is fine"
        );
    }

    #[test]
    fn json_paths_may_leave_out_the_leading_slash() {
        let with = TreePath::parse_given("/personal-files/a.txt").unwrap_or_else(|e| panic!("{e}"));
        let without = TreePath::parse_given("personal-files/a.txt").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(with, without);
        assert_eq!(without.to_string(), "/personal-files/a.txt");
        assert_eq!(TreePath::parse_given(""), Err(PathError::Empty));
        assert_eq!(TreePath::parse_given("//x"), Err(PathError::EmptySegment));
    }

    use super::*;

    #[test]
    fn parses_awkward_but_valid_names() {
        let path = TreePath::parse_absolute("/personal-files/a b/ç#%/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(path.workspace(), "personal-files");
        assert_eq!(path.inner(), "a b/ç#%");
        assert_eq!(path.name(), "ç#%");
        assert_eq!(path.to_string(), "/personal-files/a b/ç#%");
        let parent = path.parent().unwrap_or_else(|| panic!("has a parent"));
        assert_eq!(parent.to_string(), "/personal-files/a b");
        assert_eq!(parent.parent().map(|p| p.is_workspace_root()), Some(true));
    }

    #[test]
    fn refuses_bad_paths() {
        let cases = [
            ("", PathError::NotAbsolute),
            ("/", PathError::Empty),
            ("/ws//a", PathError::EmptySegment),
            ("/ws/a//", PathError::EmptySegment),
            ("/ws/../x", PathError::DotSegment),
            ("/ws/./x", PathError::DotSegment),
            ("/../etc", PathError::DotSegment),
            ("/ws/a\0b", PathError::ControlCharacter),
            ("/ws/a\nb", PathError::ControlCharacter),
            ("/ws/a\u{7f}", PathError::ControlCharacter),
        ];
        for (text, want) in cases {
            assert_eq!(TreePath::parse_absolute(text), Err(want), "{text:?}");
        }
        let long_name = format!("/ws/{}", "n".repeat(256));
        assert_eq!(TreePath::parse_absolute(&long_name), Err(PathError::NameTooLong));
        let ok_name = format!("/ws/{}", "n".repeat(255));
        assert!(TreePath::parse_absolute(&ok_name).is_ok());
        let long_path = format!("/ws{}", "/abcdefgh".repeat(460));
        assert_eq!(TreePath::parse_absolute(&long_path), Err(PathError::PathTooLong));
    }

    #[test]
    fn join_and_within() {
        let root = TreePath::workspace_root("common-files").unwrap_or_else(|e| panic!("{e}"));
        let a = root.join("a").unwrap_or_else(|e| panic!("{e}"));
        let ab = a.join("b").unwrap_or_else(|e| panic!("{e}"));
        let ab2 = root.join("ab").unwrap_or_else(|e| panic!("{e}"));
        assert!(ab.is_within(&a));
        assert!(ab.is_within(&root));
        assert!(a.is_within(&a));
        assert!(!ab2.is_within(&a), "a sibling sharing a prefix is not inside");
        assert!(!a.is_within(&ab));
        assert_eq!(root.join(".."), Err(PathError::DotSegment));
        assert_eq!(root.join("x/y"), Err(PathError::SlashInName));
    }
}
