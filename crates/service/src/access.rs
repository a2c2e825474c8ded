//! The access rules, in one place: which workspaces a principal may enter, and with
//! which rights on each node. Every operation in [`crate::tree`] and [`crate::content`]
//! resolves its paths here first.
//!
//! - `personal-files` is the caller's own workspace: read and write.
//! - `common-files`: every user reads and writes.
//! - a custom workspace: the rights of the caller's grant (`r` or `rw`); none, and the
//!   workspace does not exist for them. Admins get no implicit access: they grant
//!   themselves like anyone else, so an admin account is not a skeleton key to content.
//! - a token with scopes narrows all of that (see [`cells_core::reach`]): the effective
//!   rights are the user's rights ∩ the union of the scopes covering the node; ancestors
//!   of a scoped node are read-only and list only the way down.
//!
//! Not visible is 404, visible but not allowed is 403: a caller learns nothing about
//! what they cannot see.

use cells_core::reach::{Reach, ScopeAt, reach};
use cells_core::{NodeKind, Rights, TreePath, UserId, WorkspaceId};
use cells_store::{NodeRecord, WorkspaceKind, WorkspaceRecord};

use crate::{Cells, Principal, Result, ServiceError};

pub const PERSONAL: &str = "personal-files";
pub const COMMON: &str = "common-files";

/// A workspace as one principal sees it, with the user's own rights on it.
#[derive(Clone, Debug)]
pub struct Entered {
    pub workspace: WorkspaceRecord,
    pub rights: Rights,
}

impl Entered {
    /// The slug under which the caller sees this workspace.
    #[must_use]
    pub fn slug(&self) -> &str {
        match self.workspace.kind {
            WorkspaceKind::Personal => PERSONAL,
            WorkspaceKind::Common | WorkspaceKind::Custom => &self.workspace.slug,
        }
    }
}

/// A path resolved for a principal: the workspace, the node if one exists there, and
/// the effective rights at that path.
#[derive(Clone, Debug)]
pub struct Located {
    pub entered: Entered,
    pub path: TreePath,
    pub node: Option<NodeRecord>,
    pub rights: Rights,
    /// Whether only the way down to scoped nodes may be listed here.
    pub passage: bool,
}

impl Located {
    /// # Errors
    /// [`ServiceError::Forbidden`] when the caller may not read here.
    pub fn require_read(&self) -> Result<()> {
        if self.rights.read {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!("{} is not readable for you", self.path)))
        }
    }

    /// Content may be read here: readable, and not a passage (a passage shows only the
    /// way down to a token's scopes; its content, as a whole, is not the caller's to
    /// read: not by a copy, a move, a document token or anything else that takes it
    /// whole).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] when the caller may not read here, or only pass.
    pub fn require_content(&self) -> Result<()> {
        self.require_read()?;
        if self.passage {
            return Err(ServiceError::Forbidden(format!(
                "{} is only a way down to what your token may reach: its content cannot be taken as a whole",
                self.path
            )));
        }
        Ok(())
    }

    /// # Errors
    /// [`ServiceError::Forbidden`] when the caller may not write here.
    pub fn require_write(&self) -> Result<()> {
        if self.rights.write {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!("{} is read-only for you", self.path)))
        }
    }

    /// The node, or 404 naming the path.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when nothing is at the path.
    pub fn existing(&self) -> Result<&NodeRecord> {
        self.node.as_ref().ok_or_else(|| not_found(&self.path))
    }
}

pub(crate) fn not_found(path: &TreePath) -> ServiceError {
    ServiceError::NotFound(format!("{path} does not exist"))
}

impl Cells {
    /// The rights of a user on a workspace record (none: invisible).
    pub(crate) async fn rights_on(&self, user: UserId, workspace: &WorkspaceRecord) -> Result<Rights> {
        Ok(match workspace.kind {
            WorkspaceKind::Personal if workspace.owner == Some(user) => Rights::READ_WRITE,
            WorkspaceKind::Personal => Rights::NONE,
            WorkspaceKind::Common => Rights::READ_WRITE,
            WorkspaceKind::Custom => {
                let load = async { Ok::<_, ServiceError>(self.store().grant_of(workspace.id, user).await?) };
                self.caches().grants.get_or_load((workspace.id, user), load).await?.unwrap_or(Rights::NONE)
            }
        })
    }

    /// Where a principal's scopes are now; `None` for an unrestricted principal. A scope
    /// whose node is gone locates nowhere (it reaches nothing).
    pub(crate) async fn scopes_at(&self, principal: &Principal) -> Result<Option<Vec<ScopeAt>>> {
        let Some(scopes) = &principal.scopes else { return Ok(None) };
        let mut located = Vec::with_capacity(scopes.len());
        for scope in scopes.iter() {
            let load = async {
                Ok::<_, ServiceError>(self.store().node_by_id(scope.node).await?.map(|n| (n.workspace, n.path)))
            };
            let place = self.caches().scope_nodes.get_or_load(scope.node, load).await?;
            if let Some((workspace, path)) = place {
                located.push(ScopeAt { workspace, path, rights: scope.rights });
            }
        }
        Ok(Some(located))
    }

    /// The effective rights at a place, and whether it is only a passage.
    pub(crate) fn effective(
        rights: Rights,
        scopes: Option<&[ScopeAt]>,
        workspace: WorkspaceId,
        path: &str,
    ) -> (Rights, bool) {
        match scopes.map(|scopes| reach(workspace, path, scopes)) {
            None => (rights, false),
            Some(Reach::Passage) => (rights.intersect(Rights::READ), true),
            Some(other) => (rights.intersect(other.rights()), false),
        }
    }

    /// Enters a workspace by the slug the caller uses; 404 if it is not visible to them.
    async fn enter(&self, principal: &Principal, slug: &str) -> Result<Entered> {
        let workspace = if slug == PERSONAL {
            self.personal_workspace_of(principal.user).await?
        } else {
            self.shared_workspace(slug).await?
        };
        let missing = || ServiceError::NotFound(format!("/{slug} does not exist"));
        let workspace = workspace.ok_or_else(missing)?;
        let rights = self.rights_on(principal.user, &workspace).await?;
        if rights.is_none() {
            return Err(missing());
        }
        Ok(Entered { workspace, rights })
    }

    pub(crate) async fn personal_workspace_of(&self, user: UserId) -> Result<Option<WorkspaceRecord>> {
        let load = async { Ok::<_, ServiceError>(self.store().personal_workspace(user).await?) };
        self.caches().personal.get_or_load(user, load).await
    }

    pub(crate) async fn shared_workspace(&self, slug: &str) -> Result<Option<WorkspaceRecord>> {
        let load = async { Ok::<_, ServiceError>(self.store().workspace_by_slug(slug).await?) };
        self.caches().shared.get_or_load(slug.to_owned(), load).await
    }

    /// Resolves a path for a principal. The node is `None` when nothing is there yet.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the place is not visible to the caller.
    pub async fn locate(&self, principal: &Principal, path: &TreePath) -> Result<Located> {
        let entered = self.enter(principal, path.workspace()).await?;
        let scopes = self.scopes_at(principal).await?;
        let (rights, passage) = Self::effective(entered.rights, scopes.as_deref(), entered.workspace.id, path.inner());
        if rights.is_none() {
            return Err(not_found(path));
        }
        let node = self.node_at(entered.workspace.id, path.inner()).await?;
        if passage && node.is_none() {
            return Err(not_found(path));
        }
        Ok(Located { entered, path: path.clone(), node, rights, passage })
    }

    /// Resolves the folder that will hold a new node at `path`, checking the caller may
    /// write there. A missing parent is a conflict (409), as is a parent that is a file.
    ///
    /// # Errors
    /// 404 when the place is not visible, 403 when it is read-only or a workspace root,
    /// 409 when the parent is missing or not a folder.
    pub async fn writable_parent(&self, principal: &Principal, path: &TreePath) -> Result<(Entered, NodeRecord)> {
        let Some(parent_path) = path.parent() else {
            return Err(ServiceError::Forbidden(format!(
                "{path} is a workspace: it cannot be created, replaced or removed"
            )));
        };
        let located = self.locate(principal, &parent_path).await?;
        located.require_write()?;
        match located.node {
            Some(parent) if parent.kind == NodeKind::Collection => Ok((located.entered, parent)),
            Some(_) => Err(ServiceError::Conflict(format!("{parent_path} is a file, not a folder"))),
            None => Err(ServiceError::Conflict(format!("the parent folder {parent_path} does not exist"))),
        }
    }

    /// The workspaces a principal may enter (through its scopes, if any), as they see
    /// them.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn entered_workspaces(&self, principal: &Principal) -> Result<Vec<Entered>> {
        let scopes = self.scopes_at(principal).await?;
        let mut candidates = Vec::new();
        if let Some(personal) = self.personal_workspace_of(principal.user).await? {
            candidates.push(personal);
        }
        candidates.extend(self.store().list_shared_workspaces().await?);
        let mut entered = Vec::new();
        for workspace in candidates {
            let rights = self.rights_on(principal.user, &workspace).await?;
            let (effective, _) = Self::effective(rights, scopes.as_deref(), workspace.id, "");
            if !effective.is_none() {
                entered.push(Entered { workspace, rights });
            }
        }
        Ok(entered)
    }
}
