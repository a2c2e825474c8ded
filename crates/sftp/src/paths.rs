//! SFTP paths to cells paths. A client sends absolute or relative paths (relative to
//! `/`, its home), with `.`, `..` and doubled slashes as a shell would type them; they
//! are resolved here, lexically (there are no symbolic links to follow), into either the
//! root that lists the workspaces or a [`TreePath`], validated by the rules every
//! surface shares.

use cells_core::{PathError, TreePath};

/// Where an SFTP path leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `/`: the workspaces the caller may enter, read-only.
    Root,
    /// A workspace root, or a folder or file inside one.
    Tree(TreePath),
}

impl Target {
    /// Resolves what a client sent.
    ///
    /// # Errors
    /// When a name is not valid (control characters, too long) or the path too long.
    pub fn resolve(text: &str) -> Result<Self, PathError> {
        if text.len() > TreePath::MAX_PATH {
            return Err(PathError::PathTooLong);
        }
        let mut segments: Vec<&str> = Vec::new();
        for segment in text.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    segments.pop();
                }
                name => segments.push(name),
            }
        }
        if segments.is_empty() {
            return Ok(Self::Root);
        }
        TreePath::parse_relative(&segments.join("/")).map(Self::Tree)
    }

    /// The canonical absolute form, as `realpath` answers it.
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Self::Root => "/".to_owned(),
            Self::Tree(path) => path.to_string(),
        }
    }

    /// The tree path, when this is not the root.
    #[must_use]
    pub fn tree(&self) -> Option<&TreePath> {
        match self {
            Self::Root => None,
            Self::Tree(path) => Some(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(text: &str) -> String {
        Target::resolve(text).map(|t| t.display()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn home_and_root_are_slash() {
        for text in ["", ".", "/", "//", "/.", "./", "..", "/..", "/../..", "a/.."] {
            assert_eq!(resolved(text), "/", "{text:?}");
        }
    }

    #[test]
    fn relative_paths_start_at_the_root() {
        assert_eq!(resolved("personal-files"), "/personal-files");
        assert_eq!(resolved("personal-files/a b/c.txt"), "/personal-files/a b/c.txt");
        assert_eq!(resolved("./personal-files//x/"), "/personal-files/x");
    }

    #[test]
    fn dot_dot_climbs_but_never_above_the_root() {
        assert_eq!(resolved("/personal-files/a/../b"), "/personal-files/b");
        assert_eq!(resolved("/personal-files/../common-files"), "/common-files");
        assert_eq!(resolved("/../../personal-files/./x"), "/personal-files/x");
        assert_eq!(resolved("/personal-files/a/../.."), "/");
    }

    #[test]
    fn awkward_names_survive() {
        assert_eq!(resolved("/common-files/100% #1 é…"), "/common-files/100% #1 é…");
        assert_eq!(resolved("/common-files/..."), "/common-files/...");
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(Target::resolve("/common-files/a\u{0}b").is_err());
        assert!(Target::resolve("/common-files/tab\there").is_err());
        assert!(Target::resolve(&format!("/common-files/{}", "x".repeat(256))).is_err());
        assert!(Target::resolve(&"/a".repeat(3000)).is_err());
    }

    #[test]
    fn tree_is_none_only_at_the_root() {
        assert_eq!(Target::resolve("/").ok().and_then(|t| t.tree().cloned()), None);
        let tree = Target::resolve("/personal-files/x").ok().and_then(|t| t.tree().cloned());
        assert_eq!(tree.map(|p| p.inner().to_owned()), Some("x".to_owned()));
    }
}
