//! WebDAV state that every process sharing the database must see: dead properties
//! (PROPPATCH) and write locks (LOCK/UNLOCK).
//!
//! A dead property belongs to a node (its UUID), so it follows the node through a move
//! and goes with it when it is deleted (`ON DELETE CASCADE`). A lock belongs to a path
//! (`workspace`, `path`): RFC 4918 locks a URL, not a resource, and a move does not take
//! its locks along. Expired locks are ignored by every query and pruned on insert.
//! Nothing here decides who may do what; the access service does.

use cells_core::{NodeId, UnixTime, UserId, WorkspaceId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::row::parse;
use crate::{Result, Store};

/// A dead property of a node: a name in a namespace, and its value as XML text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadProperty {
    pub node: NodeId,
    pub namespace: String,
    pub name: String,
    pub value: Vec<u8>,
}

/// One change of a PROPPATCH, applied in document order.
#[derive(Clone, Debug)]
pub enum PropertyChange {
    Set { namespace: String, name: String, value: Vec<u8> },
    Remove { namespace: String, name: String },
}

/// A write lock on a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRecord {
    /// The lock token, `urn:uuid:...`.
    pub token: String,
    pub workspace: WorkspaceId,
    /// The path inside the workspace ('' for its root).
    pub path: String,
    pub user: UserId,
    /// The `DAV:owner` the client sent, as XML text.
    pub owner_xml: Option<String>,
    /// Depth infinity (the whole subtree) rather than depth 0.
    pub deep: bool,
    pub exclusive: bool,
    pub expires_at: UnixTime,
}

fn property_from_row(row: &AnyRow) -> Result<DeadProperty> {
    Ok(DeadProperty {
        node: parse(row, "node")?,
        namespace: row.try_get("namespace")?,
        name: row.try_get("name")?,
        value: row.try_get("value")?,
    })
}

fn lock_from_row(row: &AnyRow) -> Result<LockRecord> {
    let depth: &str = row.try_get("depth")?;
    let exclusive: i64 = row.try_get("exclusive")?;
    Ok(LockRecord {
        token: row.try_get("token")?,
        workspace: parse(row, "workspace")?,
        path: row.try_get("path")?,
        user: parse(row, "user_uuid")?,
        owner_xml: row.try_get("owner_xml")?,
        deep: depth == "infinity",
        exclusive: exclusive != 0,
        expires_at: row.try_get("expires_at")?,
    })
}

const LOCK_COLUMNS: &str = "token, workspace, path, user_uuid, owner_xml, depth, exclusive, expires_at";

impl Store {
    /// The dead properties of one node.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn dav_properties(&self, node: NodeId) -> Result<Vec<DeadProperty>> {
        let rows = sqlx::query("SELECT node, namespace, name, value FROM dav_properties WHERE node = $1")
            .bind(node.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(property_from_row).collect()
    }

    /// The dead properties of a folder's children (one query for a whole listing).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn dav_properties_of_children(&self, parent: NodeId) -> Result<Vec<DeadProperty>> {
        let rows = sqlx::query(
            "SELECT p.node, p.namespace, p.name, p.value FROM dav_properties p \
             JOIN nodes n ON n.uuid = p.node WHERE n.parent = $1",
        )
        .bind(parent.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(property_from_row).collect()
    }

    /// Applies the changes of one PROPPATCH in order, all or nothing.
    ///
    /// # Errors
    /// On a database failure (nothing is applied), or [`crate::StoreError::Vanished`]
    /// when the node was deleted meanwhile.
    pub async fn patch_dav_properties(&self, node: NodeId, changes: &[PropertyChange]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for change in changes {
            match change {
                PropertyChange::Set { namespace, name, value } => {
                    sqlx::query(
                        "INSERT INTO dav_properties (node, namespace, name, value) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (node, namespace, name) DO UPDATE SET value = excluded.value",
                    )
                    .bind(node.to_string())
                    .bind(namespace)
                    .bind(name)
                    .bind(value)
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::StoreError::from_write)?;
                }
                PropertyChange::Remove { namespace, name } => {
                    sqlx::query("DELETE FROM dav_properties WHERE node = $1 AND namespace = $2 AND name = $3")
                        .bind(node.to_string())
                        .bind(namespace)
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Copies the dead properties of a subtree onto its copy: each node at `to_path` +
    /// suffix gets the properties of the node at `from_path` + the same suffix.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn copy_dav_properties(&self, from: (WorkspaceId, &str), to: (WorkspaceId, &str)) -> Result<()> {
        let (low, high) = (format!("{}/", from.1), format!("{}0", from.1));
        sqlx::query(
            "INSERT INTO dav_properties (node, namespace, name, value) \
             SELECT dst.uuid, p.namespace, p.name, p.value FROM dav_properties p \
             JOIN nodes src ON src.uuid = p.node \
             JOIN nodes dst ON dst.workspace = $3 AND dst.path = $4 || substr(src.path, CAST($5 AS INTEGER)) \
             WHERE src.workspace = $1 AND (src.path = $2 OR (src.path > $6 AND src.path < $7)) \
             ON CONFLICT (node, namespace, name) DO UPDATE SET value = excluded.value",
        )
        .bind(from.0.to_string())
        .bind(from.1)
        .bind(to.0.to_string())
        .bind(to.1)
        // substr counts characters from 1.
        .bind(i64::try_from(from.1.chars().count()).unwrap_or(i64::MAX) + 1)
        .bind(low)
        .bind(high)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The locks of a workspace that have not expired. A workspace holds few locks at a
    /// time: callers filter by path in memory.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn dav_locks(&self, workspace: WorkspaceId, now: UnixTime) -> Result<Vec<LockRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {LOCK_COLUMNS} FROM dav_locks WHERE workspace = $1 AND expires_at > $2 ORDER BY path"
        ))
        .bind(workspace.to_string())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lock_from_row).collect()
    }

    /// Inserts `lock` unless `conflicts` finds a clash among the workspace's live locks,
    /// both in one write transaction, so that two processes cannot both win. Returns
    /// whether the lock was taken.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn insert_dav_lock(
        &self,
        lock: &LockRecord,
        now: UnixTime,
        conflicts: impl FnOnce(&[LockRecord]) -> bool + Send,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM dav_locks WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
        let rows = sqlx::query(&format!("SELECT {LOCK_COLUMNS} FROM dav_locks WHERE workspace = $1"))
            .bind(lock.workspace.to_string())
            .fetch_all(&mut *tx)
            .await?;
        let live = rows.iter().map(lock_from_row).collect::<Result<Vec<_>>>()?;
        if conflicts(&live) {
            return Ok(false);
        }
        sqlx::query(&format!("INSERT INTO dav_locks ({LOCK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&lock.token)
            .bind(lock.workspace.to_string())
            .bind(&lock.path)
            .bind(lock.user.to_string())
            .bind(&lock.owner_xml)
            .bind(if lock.deep { "infinity" } else { "0" })
            .bind(i64::from(lock.exclusive))
            .bind(lock.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(crate::StoreError::from_write)?;
        tx.commit().await?;
        Ok(true)
    }

    /// Pushes back the expiry of a live lock; `None` when there is no such live lock.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn refresh_dav_lock(
        &self,
        token: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<Option<LockRecord>> {
        let row = sqlx::query(&format!(
            "UPDATE dav_locks SET expires_at = $1 WHERE token = $2 AND expires_at > $3 RETURNING {LOCK_COLUMNS}"
        ))
        .bind(expires_at)
        .bind(token)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(lock_from_row).transpose()
    }

    /// Removes a lock; whether there was one.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn delete_dav_lock(&self, token: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM dav_locks WHERE token = $1").bind(token).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes the locks on a path and everything below it (after a delete or a move).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn delete_dav_locks_within(&self, workspace: WorkspaceId, path: &str) -> Result<()> {
        let (low, high) = (format!("{path}/"), format!("{path}0"));
        sqlx::query(
            "DELETE FROM dav_locks WHERE workspace = $1 AND ($2 = '' OR path = $2 OR (path > $3 AND path < $4))",
        )
        .bind(workspace.to_string())
        .bind(path)
        .bind(low)
        .bind(high)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
