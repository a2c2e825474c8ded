//! How far a scoped token reaches into the tree: the pure rule behind "a scope covers a
//! node and its whole subtree, and the ancestors of a scoped node are read-only folders
//! that list only the way down to it".
//!
//! Scopes are given here already located: the workspace and the path (inside it) that
//! each scoped node has now. The access service locates them; this module only compares.

use crate::{Rights, WorkspaceId};

/// A scope's node, located: its workspace, its path inside it (`""` for the root) and the
/// rights the scope gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeAt {
    pub workspace: WorkspaceId,
    pub path: String,
    pub rights: Rights,
}

/// What a scoped token may do at one place of the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Inside one or more scoped subtrees: the union of their rights.
    Covered(Rights),
    /// An ancestor of a scoped node: visible read-only, listing only the way down.
    Passage,
    /// Nowhere near a scope: invisible.
    Hidden,
}

impl Reach {
    /// The rights this reach allows, before intersecting with the user's own.
    #[must_use]
    pub const fn rights(self) -> Rights {
        match self {
            Self::Covered(rights) => rights,
            Self::Passage => Rights::READ,
            Self::Hidden => Rights::NONE,
        }
    }
}

/// Whether `path` is `ancestor` or inside it (paths inside one workspace).
#[must_use]
pub fn is_within(path: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || path == ancestor
        || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

/// The reach of scopes at `path` in `workspace`.
#[must_use]
pub fn reach(workspace: WorkspaceId, path: &str, scopes: &[ScopeAt]) -> Reach {
    let mut covered = Rights::NONE;
    let mut passage = false;
    for scope in scopes.iter().filter(|s| s.workspace == workspace) {
        if is_within(path, &scope.path) {
            covered = covered.union(scope.rights);
        } else if is_within(&scope.path, path) {
            passage = true;
        }
    }
    if !covered.is_none() {
        Reach::Covered(covered)
    } else if passage {
        Reach::Passage
    } else {
        Reach::Hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(workspace: WorkspaceId, path: &str, rights: Rights) -> ScopeAt {
        ScopeAt { workspace, path: path.to_owned(), rights }
    }

    #[test]
    fn a_scope_covers_its_subtree_and_opens_the_way_down() {
        let ws = WorkspaceId::random();
        let scopes = [at(ws, "reports", Rights::READ)];
        assert_eq!(reach(ws, "reports", &scopes), Reach::Covered(Rights::READ));
        assert_eq!(reach(ws, "reports/2026/q1.pdf", &scopes), Reach::Covered(Rights::READ));
        assert_eq!(reach(ws, "", &scopes), Reach::Passage);
        assert_eq!(reach(ws, "reports-old", &scopes), Reach::Hidden, "a shared prefix is not a parent");
        assert_eq!(reach(ws, "other", &scopes), Reach::Hidden);
        assert_eq!(reach(WorkspaceId::random(), "reports", &scopes), Reach::Hidden);
    }

    #[test]
    fn scopes_add_up() {
        let ws = WorkspaceId::random();
        let scopes = [at(ws, "a", Rights::READ), at(ws, "a/b", Rights::WRITE), at(ws, "c/d", Rights::READ)];
        assert_eq!(reach(ws, "a/x", &scopes), Reach::Covered(Rights::READ));
        assert_eq!(reach(ws, "a/b/x", &scopes), Reach::Covered(Rights::READ_WRITE));
        assert_eq!(reach(ws, "c", &scopes), Reach::Passage);
        assert_eq!(reach(ws, "c/e", &scopes), Reach::Hidden);
    }

    #[test]
    fn a_scope_on_a_workspace_root_covers_it_all() {
        let ws = WorkspaceId::random();
        let scopes = [at(ws, "", Rights::READ_WRITE)];
        assert_eq!(reach(ws, "", &scopes), Reach::Covered(Rights::READ_WRITE));
        assert_eq!(reach(ws, "x/y", &scopes), Reach::Covered(Rights::READ_WRITE));
        assert_eq!(Reach::Passage.rights(), Rights::READ);
        assert_eq!(Reach::Hidden.rights(), Rights::NONE);
    }
}
