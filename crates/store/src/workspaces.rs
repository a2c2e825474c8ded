//! Workspaces and grants. `personal-files` is one workspace per user (owner set);
//! `common-files` is shared by all; `custom` workspaces carry per-user grants.

use std::fmt;
use std::str::FromStr;

use cells_core::{Login, NodeId, Rights, UnixTime, UserId, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::row::{parse, parse_opt};
use crate::{Result, Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkspaceKind {
    Personal,
    Common,
    Custom,
}

impl WorkspaceKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::Common => "common",
            Self::Custom => "custom",
        }
    }
}

impl FromStr for WorkspaceKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "personal" => Ok(Self::Personal),
            "common" => Ok(Self::Common),
            "custom" => Ok(Self::Custom),
            _ => Err(()),
        }
    }
}

impl fmt::Display for WorkspaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workspace with the id of its root folder.
#[derive(Clone, Debug)]
pub struct WorkspaceRecord {
    pub id: WorkspaceId,
    pub slug: String,
    pub kind: WorkspaceKind,
    pub owner: Option<UserId>,
    pub label: String,
    pub root: NodeId,
    pub created_at: UnixTime,
}

/// One user's rights on a custom workspace.
#[derive(Clone, Debug)]
pub struct Grant {
    pub user: UserId,
    pub login: Login,
    pub rights: Rights,
}

const SELECT: &str = "SELECT w.uuid, w.slug, w.kind, w.owner, w.label, w.created_at, n.uuid AS root \
                      FROM workspaces w JOIN nodes n ON n.workspace = w.uuid AND n.path = ''";

fn from_row(row: &AnyRow) -> Result<WorkspaceRecord> {
    Ok(WorkspaceRecord {
        id: parse(row, "uuid")?,
        slug: row.try_get("slug")?,
        kind: parse(row, "kind")?,
        owner: parse_opt(row, "owner")?,
        label: row.try_get("label")?,
        root: parse(row, "root")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Inserts a workspace and its root folder.
pub(crate) async fn insert_workspace(
    tx: &mut Transaction<'_, Any>,
    kind: WorkspaceKind,
    slug: &str,
    label: &str,
    owner: Option<UserId>,
    now: UnixTime,
) -> Result<WorkspaceId> {
    let id = WorkspaceId::random();
    sqlx::query("INSERT INTO workspaces (uuid, slug, kind, owner, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id.to_string())
        .bind(slug)
        .bind(kind.as_str())
        .bind(owner.map(|o| o.to_string()))
        .bind(label)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_write)?;
    let root = NodeId::random();
    sqlx::query(
        "INSERT INTO nodes (uuid, workspace, parent, path, name, kind, size, mtime, etag, blob) \
         VALUES ($1, $2, NULL, '', $3, 'COLLECTION', 0, $4, $5, NULL)",
    )
    .bind(root.to_string())
    .bind(id.to_string())
    .bind(slug)
    .bind(now)
    .bind(crate::nodes::new_etag())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

impl Store {
    /// Creates the shared `common-files` workspace if it does not exist yet.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn ensure_common_workspace(&self, now: UnixTime) -> Result<()> {
        if self.workspace_by_slug("common-files").await?.is_some() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        match insert_workspace(&mut tx, WorkspaceKind::Common, "common-files", "Common files", None, now).await {
            // Another process created it meanwhile.
            Err(StoreError::Conflict(_)) => return Ok(()),
            other => other?,
        };
        tx.commit().await?;
        Ok(())
    }

    /// Creates a custom workspace.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the slug is taken.
    pub async fn create_workspace(&self, slug: &str, label: &str, now: UnixTime) -> Result<WorkspaceRecord> {
        let mut tx = self.pool.begin().await?;
        insert_workspace(&mut tx, WorkspaceKind::Custom, slug, label, None, now).await?;
        tx.commit().await?;
        self.workspace_by_slug(slug).await?.ok_or(StoreError::Vanished)
    }

    /// A shared or custom workspace by slug (never a personal one).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn workspace_by_slug(&self, slug: &str) -> Result<Option<WorkspaceRecord>> {
        let row = sqlx::query(&format!("{SELECT} WHERE w.slug = $1 AND w.kind <> 'personal'"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A user's personal workspace.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn personal_workspace(&self, user: UserId) -> Result<Option<WorkspaceRecord>> {
        let row = sqlx::query(&format!("{SELECT} WHERE w.kind = 'personal' AND w.owner = $1"))
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// # Errors
    /// On a database failure.
    pub async fn workspace_by_id(&self, id: WorkspaceId) -> Result<Option<WorkspaceRecord>> {
        let row =
            sqlx::query(&format!("{SELECT} WHERE w.uuid = $1")).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The shared and custom workspaces, by slug.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn list_shared_workspaces(&self) -> Result<Vec<WorkspaceRecord>> {
        let rows =
            sqlx::query(&format!("{SELECT} WHERE w.kind <> 'personal' ORDER BY w.slug")).fetch_all(&self.pool).await?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes a custom workspace and its whole tree (its blobs go to the collector);
    /// `false` if there is no such custom workspace.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn delete_workspace(&self, id: WorkspaceId, now: UnixTime) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "{} SELECT DISTINCT blob, $2 FROM nodes WHERE workspace = $1 AND blob IS NOT NULL {}",
            crate::garbage::INSERT,
            crate::garbage::ON_CONFLICT
        ))
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM nodes WHERE workspace = $1").bind(id.to_string()).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM workspaces WHERE uuid = $1 AND kind = 'custom'")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        crate::keys::bump_change_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sets a user's rights on a workspace (replacing any earlier grant).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn set_grant(&self, workspace: WorkspaceId, user: UserId, rights: Rights) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO grants (workspace, user_uuid, rights) VALUES ($1, $2, $3) \
             ON CONFLICT (workspace, user_uuid) DO UPDATE SET rights = excluded.rights",
        )
        .bind(workspace.to_string())
        .bind(user.to_string())
        .bind(rights.as_str())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        crate::keys::bump_change_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a grant; `false` when there was none.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn remove_grant(&self, workspace: WorkspaceId, user: UserId) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM grants WHERE workspace = $1 AND user_uuid = $2")
            .bind(workspace.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        crate::keys::bump_change_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// A user's rights on a workspace through a grant, if any.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn grant_of(&self, workspace: WorkspaceId, user: UserId) -> Result<Option<Rights>> {
        let rights: Option<String> =
            sqlx::query_scalar("SELECT rights FROM grants WHERE workspace = $1 AND user_uuid = $2")
                .bind(workspace.to_string())
                .bind(user.to_string())
                .fetch_optional(&self.pool)
                .await?;
        rights.map(|r| Rights::parse(&r).ok_or(StoreError::Corrupt("rights"))).transpose()
    }

    /// Every grant on a workspace, by login.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn grants_on(&self, workspace: WorkspaceId) -> Result<Vec<Grant>> {
        let rows = sqlx::query(
            "SELECT g.user_uuid, u.login, g.rights FROM grants g JOIN users u ON u.uuid = g.user_uuid \
             WHERE g.workspace = $1 ORDER BY u.login",
        )
        .bind(workspace.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let login: &str = row.try_get("login")?;
                let rights: &str = row.try_get("rights")?;
                Ok(Grant {
                    user: parse(row, "user_uuid")?,
                    login: Login::parse(login).map_err(|_| StoreError::Corrupt("login"))?,
                    rights: Rights::parse(rights).ok_or(StoreError::Corrupt("rights"))?,
                })
            })
            .collect()
    }
}
