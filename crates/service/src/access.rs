//! The access rules, in one place: which workspaces a principal may enter, and with
//! which rights. Every operation in [`crate::tree`] and [`crate::content`] resolves its
//! paths here first.
//!
//! - `personal-files` is the caller's own workspace: read and write.
//! - `common-files`: every user reads and writes.
//! - a custom workspace: the rights of the caller's grant (`r` or `rw`); none, and the
//!   workspace does not exist for them (404). Admins get no implicit access: they grant
//!   themselves like anyone else, so an admin account is not a skeleton key to content.
//!
//! Not visible is 404, visible but not allowed is 403: a caller learns nothing about
//! what they cannot see.

use cells_core::{NodeKind, Rights, TreePath, UserId};
use cells_store::{NodeRecord, WorkspaceKind, WorkspaceRecord};

use crate::{Cells, Principal, Result, ServiceError};

pub const PERSONAL: &str = "personal-files";
pub const COMMON: &str = "common-files";

/// A workspace as one principal sees it.
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

    /// # Errors
    /// [`ServiceError::Forbidden`] when the caller may only read here.
    pub fn require_write(&self) -> Result<()> {
        if self.rights.write {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!("/{} is read-only for you", self.slug())))
        }
    }
}

/// A path resolved for a principal: the workspace and, if it exists, the node.
#[derive(Clone, Debug)]
pub struct Located {
    pub entered: Entered,
    pub path: TreePath,
    pub node: Option<NodeRecord>,
}

impl Located {
    /// The node, or 404 naming the path.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when nothing is at the path.
    pub fn existing(self) -> Result<(Entered, TreePath, NodeRecord)> {
        match self.node {
            Some(node) => Ok((self.entered, self.path, node)),
            None => Err(not_found(&self.path)),
        }
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
                let key = (workspace.id, user);
                if let Some(cached) = self.caches().grants.get(&key) {
                    cached.unwrap_or(Rights::NONE)
                } else {
                    let grant = self.store().grant_of(workspace.id, user).await?;
                    self.caches().grants.insert(key, grant);
                    grant.unwrap_or(Rights::NONE)
                }
            }
        })
    }

    /// Enters a workspace by the slug the caller uses; 404 if it is not visible to them.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no such workspace for this principal.
    pub async fn enter(&self, principal: &Principal, slug: &str) -> Result<Entered> {
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
        if let Some(found) = self.caches().personal.get(&user) {
            return Ok(Some(found));
        }
        let found = self.store().personal_workspace(user).await?;
        if let Some(found) = &found {
            self.caches().personal.insert(user, found.clone());
        }
        Ok(found)
    }

    pub(crate) async fn shared_workspace(&self, slug: &str) -> Result<Option<WorkspaceRecord>> {
        if let Some(found) = self.caches().shared.get(&slug.to_owned()) {
            return Ok(found);
        }
        let found = self.store().workspace_by_slug(slug).await?;
        self.caches().shared.insert(slug.to_owned(), found.clone());
        Ok(found)
    }

    /// Resolves a path for a principal. The node is `None` when nothing is there yet.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the workspace is not visible.
    pub async fn locate(&self, principal: &Principal, path: &TreePath) -> Result<Located> {
        let entered = self.enter(principal, path.workspace()).await?;
        let node = self.store().node_by_path(entered.workspace.id, path.inner()).await?;
        Ok(Located { entered, path: path.clone(), node })
    }

    /// Resolves the folder that will hold a new node at `path`, checking the caller may
    /// write there. A missing parent is a conflict (409), as is a parent that is a file.
    ///
    /// # Errors
    /// 404 when the workspace is not visible, 403 when it is read-only, 409 when the
    /// parent is missing or not a folder, 400 when `path` is a workspace root.
    pub async fn writable_parent(&self, principal: &Principal, path: &TreePath) -> Result<(Entered, NodeRecord)> {
        let Some(parent_path) = path.parent() else {
            return Err(ServiceError::Forbidden(format!(
                "{path} is a workspace: it cannot be created, replaced or removed"
            )));
        };
        let located = self.locate(principal, &parent_path).await?;
        located.entered.require_write()?;
        match located.node {
            Some(parent) if parent.kind == NodeKind::Collection => Ok((located.entered, parent)),
            Some(_) => Err(ServiceError::Conflict(format!("{parent_path} is a file, not a folder"))),
            None => Err(ServiceError::Conflict(format!("the parent folder {parent_path} does not exist"))),
        }
    }

    /// The workspaces a principal may enter, as they see them.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn entered_workspaces(&self, principal: &Principal) -> Result<Vec<Entered>> {
        let mut entered = Vec::new();
        if let Some(personal) = self.personal_workspace_of(principal.user).await? {
            entered.push(Entered { workspace: personal, rights: Rights::READ_WRITE });
        }
        for workspace in self.store().list_shared_workspaces().await? {
            let rights = self.rights_on(principal.user, &workspace).await?;
            if !rights.is_none() {
                entered.push(Entered { workspace, rights });
            }
        }
        Ok(entered)
    }
}
