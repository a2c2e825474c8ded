//! The namespace: stat, list, create, move, copy and delete, each checked by
//! [`crate::access`]. Paths are [`TreePath`]s, validated where they entered.

use cells_core::{NodeId, NodeKind, TreePath};
use cells_store::{Destination, NewNode, NodeRecord};

use crate::access::Entered;
use crate::{Cells, Principal, Result, ServiceError};

/// A node as the caller sees it: the record and the path they know it by.
#[derive(Clone, Debug)]
pub struct NodeView {
    pub node: NodeRecord,
    pub path: TreePath,
}

fn view(entered: &Entered, node: NodeRecord) -> NodeView {
    let path = TreePath::from_trusted(entered.slug(), &node.path);
    NodeView { node, path }
}

/// Refuses a move or copy of `node` to `to` that would give a descendant a path longer
/// than [`TreePath::MAX_PATH`]: no request could name it. `longest` is the longest path
/// in the subtree.
fn check_new_paths(longest: usize, node: &NodeRecord, to: &TreePath) -> Result<()> {
    // Measured as `TreePath` measures: `{workspace}/{path}`.
    let new_len = to.workspace().len() + 1 + to.inner().len() + longest.saturating_sub(node.path.len());
    if new_len > TreePath::MAX_PATH {
        return Err(ServiceError::BadRequest(format!(
            "{to} would give a file or folder inside it a path longer than {} bytes",
            TreePath::MAX_PATH
        )));
    }
    Ok(())
}

/// What a move or copy does when its destination exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Refuse (409): REST, SFTP's plain rename.
    Refuse,
    /// Replace it, with its subtree, in the write's own transaction: the path is never
    /// empty meanwhile, and a write that fails leaves it as it was (WebDAV's
    /// `Overwrite: T`). Replacing needs the right to delete it.
    Replace,
    /// Replace it as [`Existing::Replace`] does if it and the source are both files, else
    /// refuse (409): SFTP's POSIX rename.
    ReplaceFile,
}

/// The most children one listing page holds.
pub const MAX_PAGE: i64 = 10_000;

impl Cells {
    /// Stats a path.
    ///
    /// # Errors
    /// 404 when it does not exist or is not visible.
    pub async fn stat(&self, principal: &Principal, path: &TreePath) -> Result<NodeView> {
        let located = self.locate(principal, path).await?;
        let node = located.existing()?.clone();
        located.require_read()?;
        Ok(view(&located.entered, node))
    }

    /// Stats a node by UUID, whatever its path now.
    ///
    /// # Errors
    /// 404 when there is no such node or it is not visible to the caller.
    pub async fn stat_by_id(&self, principal: &Principal, id: NodeId) -> Result<NodeView> {
        let missing = || ServiceError::NotFound(format!("no node {id}"));
        let node = self.store().node_by_id(id).await?.ok_or_else(missing)?;
        let workspace = self.store().workspace_by_id(node.workspace).await?.ok_or_else(missing)?;
        let own = self.rights_on(principal.user, &workspace).await?;
        let scopes = self.scopes_at(principal).await?;
        let (rights, _) = Self::effective(own, scopes.as_deref(), workspace.id, &node.path);
        if rights.is_none() {
            return Err(missing());
        }
        if !rights.read {
            return Err(ServiceError::Forbidden(format!("node {id} is not readable for you")));
        }
        Ok(view(&Entered { workspace, rights: own }, node))
    }

    /// Lists a folder: the folder, a page of its children by name, and their total.
    ///
    /// # Errors
    /// 404 when the folder is not visible, 400 when it is a file.
    pub async fn list(
        &self,
        principal: &Principal,
        path: &TreePath,
        offset: i64,
        limit: i64,
    ) -> Result<(NodeView, Vec<NodeView>, i64)> {
        let located = self.locate(principal, path).await?;
        let node = located.existing()?.clone();
        located.require_read()?;
        if node.kind != NodeKind::Collection {
            return Err(ServiceError::BadRequest(format!("{path} is a file, not a folder")));
        }
        let (offset, limit) = (offset.max(0), limit.clamp(1, MAX_PAGE));
        let entered = &located.entered;
        if !located.passage {
            let (children, total) = self.store().list_children(node.id, offset, limit).await?;
            let children = children.into_iter().map(|child| view(entered, child)).collect();
            return Ok((view(entered, node), children, total));
        }
        // A passage to scoped nodes lists only the way down: few children, filtered here.
        let scopes = self.scopes_at(principal).await?;
        let (children, _) = self.store().list_children(node.id, 0, MAX_PAGE).await?;
        let visible: Vec<NodeRecord> = children
            .into_iter()
            .filter(|child| {
                !Self::effective(entered.rights, scopes.as_deref(), entered.workspace.id, &child.path).0.is_none()
            })
            .collect();
        let total = i64::try_from(visible.len()).unwrap_or(i64::MAX);
        let page = visible
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(0));
        Ok((view(entered, node), page.map(|child| view(entered, child)).collect(), total))
    }

    /// The roots of the workspaces the caller may enter.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn list_workspaces(&self, principal: &Principal) -> Result<Vec<NodeView>> {
        let mut roots = Vec::new();
        for entered in self.entered_workspaces(principal).await? {
            if let Some(root) = self.store().node_by_id(entered.workspace.root).await? {
                roots.push(view(&entered, root));
            }
        }
        Ok(roots)
    }

    /// Creates an empty file or a folder.
    ///
    /// # Errors
    /// 409 when the name is taken or the parent is missing, 403 when read-only.
    pub async fn create(&self, principal: &Principal, path: &TreePath, kind: NodeKind) -> Result<NodeView> {
        let (entered, parent) = self.writable_parent(principal, path).await?;
        let new = NewNode {
            workspace: entered.workspace.id,
            parent: parent.id,
            path: path.inner(),
            name: path.name(),
            kind,
            size: 0,
            blob: None,
        };
        let node = self.store().create_node(&new, cells_core::now()).await;
        self.tree_changed();
        Ok(view(&entered, node?))
    }

    /// Moves or renames a node with its subtree; its UUID (and its descendants') stays.
    /// The checks are made on paths, and the store re-reads both ends inside its write
    /// transaction: if either moved meanwhile, nothing happens (409).
    ///
    /// # Errors
    /// 404 when the source is not visible, 403 when either end is read-only, 409 when the
    /// destination is taken (and not to be replaced) or its parent missing (or either
    /// moved meanwhile), 400 when moving a folder into itself, 403 when replacing a node
    /// that holds the source or is inside it.
    pub async fn move_node(
        &self,
        principal: &Principal,
        from: &TreePath,
        to: &TreePath,
        existing: Existing,
    ) -> Result<NodeView> {
        let (source, node) = self.movable(principal, from).await?;
        let (entered, parent) = self.writable_parent(principal, to).await?;
        let replaced = self.check_destination(principal, &source, &node, from, &entered, to, existing).await?;
        let destination = Destination { replacing: replaced.as_ref(), ..Destination::new(&parent, to.inner()) };
        let moved = self.store().move_node(&node, &destination, cells_core::now()).await;
        self.tree_changed();
        Ok(view(&entered, moved?))
    }

    /// Copies a node with its subtree; the copies get new UUIDs and share the blobs
    /// (content is immutable). The source must be content the caller may read: a
    /// passage (a folder above a token's scopes, which the token sees only as a way
    /// down) is not, since a copy would expose what the passage hides.
    ///
    /// # Errors
    /// As [`Cells::move_node`], except the source need only be readable; 403 for a
    /// passage or a workspace root.
    pub async fn copy_node(
        &self,
        principal: &Principal,
        from: &TreePath,
        to: &TreePath,
        existing: Existing,
    ) -> Result<NodeView> {
        let located = self.locate(principal, from).await?;
        let node = located.existing()?.clone();
        located.require_content()?;
        let source = located.entered;
        if node.parent.is_none() {
            return Err(ServiceError::Forbidden(format!("{from} is a workspace: copy its content instead")));
        }
        let (entered, parent) = self.writable_parent(principal, to).await?;
        let replaced = self.check_destination(principal, &source, &node, from, &entered, to, existing).await?;
        let destination = Destination { replacing: replaced.as_ref(), ..Destination::new(&parent, to.inner()) };
        let copied = self.store().copy_subtree(&node, &destination, cells_core::now()).await;
        self.tree_changed();
        Ok(view(&entered, copied?))
    }

    /// What a move and a copy both check of their destination before writing. Returns
    /// the node to replace, when there is one and `existing` says so: the caller may
    /// delete it, and neither end holds the other.
    #[allow(clippy::too_many_arguments)]
    async fn check_destination(
        &self,
        principal: &Principal,
        source: &Entered,
        node: &NodeRecord,
        from: &TreePath,
        entered: &Entered,
        to: &TreePath,
        existing: Existing,
    ) -> Result<Option<NodeRecord>> {
        let same_workspace = entered.workspace.id == source.workspace.id;
        if same_workspace && to.is_within(from) {
            return Err(ServiceError::BadRequest(format!("cannot move or copy {from} into itself")));
        }
        let replaced = match self.store().node_by_path(entered.workspace.id, to.inner()).await? {
            None => None,
            Some(found)
                if existing == Existing::Refuse
                    || (existing == Existing::ReplaceFile
                        && (found.kind != NodeKind::Leaf || node.kind != NodeKind::Leaf)) =>
            {
                return Err(ServiceError::Conflict(format!("{to} already exists")));
            }
            Some(_) => {
                if same_workspace && from.is_within(to) {
                    return Err(ServiceError::Forbidden(format!("{to} holds {from}: it cannot be replaced by it")));
                }
                Some(self.movable(principal, to).await?.1)
            }
        };
        check_new_paths(self.store().longest_path_below(node).await?, node, to)?;
        Ok(replaced)
    }

    /// Deletes a node with its subtree; its content goes to the blob collector.
    ///
    /// # Errors
    /// 404 when not visible, 403 when read-only or a workspace root.
    pub async fn delete(&self, principal: &Principal, path: &TreePath) -> Result<()> {
        let (_, node) = self.movable(principal, path).await?;
        let deleted = self.store().delete_subtree(&node, cells_core::now()).await;
        self.tree_changed();
        deleted?;
        Ok(())
    }

    /// A node the caller may move away or delete: it exists, is not a workspace root,
    /// and its workspace is writable.
    /// Taking a node out of its folder writes that folder too: a scope on a node lets
    /// its holder change what is inside, not remove the node itself from a folder
    /// outside the scope (as a rename is refused, so is a delete).
    async fn movable(&self, principal: &Principal, path: &TreePath) -> Result<(Entered, NodeRecord)> {
        let located = self.locate(principal, path).await?;
        let node = located.existing()?.clone();
        located.require_write()?;
        let Some(parent) = path.parent() else {
            return Err(ServiceError::Forbidden(format!("{path} is a workspace: it cannot be moved or removed")));
        };
        if principal.scopes.is_some() {
            self.locate(principal, &parent).await?.require_write()?;
        }
        Ok((located.entered, node))
    }
}
