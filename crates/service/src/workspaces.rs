//! Administration of workspaces and grants, behind the [`Admin`] capability.

use cells_core::Rights;
use cells_store::{Grant, WorkspaceRecord};

use crate::access::{COMMON, PERSONAL};
use crate::users::no_user;
use crate::{Admin, Cells, Result, ServiceError};

/// Slugs that would clash with a route or a built-in workspace.
const RESERVED: &[&str] = &[PERSONAL, COMMON, "create", "move", "copy"];

fn check_slug(slug: &str) -> Result<()> {
    let valid = !slug.is_empty()
        && slug.len() <= 64
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if !valid {
        return Err(ServiceError::BadRequest(format!(
            "invalid workspace slug {slug:?}: 1 to 64 lowercase letters, digits and '-', not starting with '-'"
        )));
    }
    if RESERVED.contains(&slug) {
        return Err(ServiceError::Conflict(format!("the slug {slug:?} is reserved")));
    }
    Ok(())
}

impl Cells {
    /// Creates a custom workspace; users see it once granted.
    ///
    /// # Errors
    /// 400 for a bad slug, 409 when it is taken or reserved.
    pub async fn create_workspace(&self, _: Admin, slug: &str, label: Option<&str>) -> Result<WorkspaceRecord> {
        check_slug(slug)?;
        let label = label.unwrap_or(slug);
        if label.chars().count() > 128 || label.chars().any(char::is_control) {
            return Err(ServiceError::BadRequest(
                "a label has at most 128 characters and no control characters".into(),
            ));
        }
        let created = self.store().create_workspace(slug, label, cells_core::now()).await?;
        self.changed().await;
        Ok(created)
    }

    /// The shared and custom workspaces with their grants.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn list_workspaces_admin(&self, _: Admin) -> Result<Vec<(WorkspaceRecord, Vec<Grant>)>> {
        let mut all = Vec::new();
        for workspace in self.store().list_shared_workspaces().await? {
            let grants = self.store().grants_on(workspace.id).await?;
            all.push((workspace, grants));
        }
        Ok(all)
    }

    /// A custom or shared workspace with its grants.
    ///
    /// # Errors
    /// 404 when there is none.
    pub async fn get_workspace(&self, _: Admin, slug: &str) -> Result<(WorkspaceRecord, Vec<Grant>)> {
        let workspace = self.custom_workspace(slug, false).await?;
        let grants = self.store().grants_on(workspace.id).await?;
        Ok((workspace, grants))
    }

    /// Deletes a custom workspace and everything in it.
    ///
    /// # Errors
    /// 404 when there is no such custom workspace.
    pub async fn delete_workspace(&self, _: Admin, slug: &str) -> Result<()> {
        let workspace = self.custom_workspace(slug, true).await?;
        let deleted = self.store().delete_workspace(workspace.id, cells_core::now()).await?;
        self.changed().await;
        if deleted { Ok(()) } else { Err(no_workspace(slug)) }
    }

    /// Gives a user `r` or `rw` on a custom workspace (replacing an earlier grant).
    ///
    /// # Errors
    /// 404 for an unknown workspace or user, 400 for rights other than `r` or `rw`.
    pub async fn grant(&self, _: Admin, slug: &str, login: &str, rights: &str) -> Result<()> {
        let rights = match Rights::parse(rights) {
            Some(r) if r.read => r,
            _ => return Err(ServiceError::BadRequest(format!("invalid rights {rights:?}: expected r or rw"))),
        };
        let workspace = self.custom_workspace(slug, true).await?;
        let user = self.store().user_by_login(login).await?.ok_or_else(|| no_user(login))?;
        self.store().set_grant(workspace.id, user.id, rights).await?;
        self.changed().await;
        Ok(())
    }

    /// Removes a user's grant on a custom workspace.
    ///
    /// # Errors
    /// 404 for an unknown workspace, user or grant.
    pub async fn revoke_grant(&self, _: Admin, slug: &str, login: &str) -> Result<()> {
        let workspace = self.custom_workspace(slug, true).await?;
        let user = self.store().user_by_login(login).await?.ok_or_else(|| no_user(login))?;
        let removed = self.store().remove_grant(workspace.id, user.id).await?;
        self.changed().await;
        if removed { Ok(()) } else { Err(ServiceError::NotFound(format!("{login} has no grant on {slug}"))) }
    }

    async fn custom_workspace(&self, slug: &str, custom_only: bool) -> Result<WorkspaceRecord> {
        match self.store().workspace_by_slug(slug).await? {
            Some(w) if !custom_only || w.kind == cells_store::WorkspaceKind::Custom => Ok(w),
            Some(_) => {
                Err(ServiceError::Forbidden(format!("{slug} is built in: it has no grants and cannot be deleted")))
            }
            None => Err(no_workspace(slug)),
        }
    }
}

fn no_workspace(slug: &str) -> ServiceError {
    ServiceError::NotFound(format!("no workspace {slug:?}"))
}
