//! The tree: nodes (files and folders) with stable UUIDs.
//!
//! Each node row keeps its full path inside its workspace, so that resolving a path is
//! one index lookup. A move rewrites the paths of the moved subtree in one statement;
//! the UUIDs never change. A subtree of `a/b` is every path in the half-open range
//! `('a/b/', 'a/b0')`: `0` is the byte after `/`, so the range holds exactly the
//! descendants, and it uses the `(workspace, path)` index.

use cells_core::{BlobId, NodeId, NodeKind, UnixTime, WorkspaceId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use crate::row::{parse, parse_opt};
use crate::{Result, Store, StoreError};

/// A node as stored. `path` is the path inside the workspace ('' for its root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    pub id: NodeId,
    pub workspace: WorkspaceId,
    pub parent: Option<NodeId>,
    pub path: String,
    pub name: String,
    pub kind: NodeKind,
    pub size: i64,
    pub mtime: UnixTime,
    pub etag: String,
    pub blob: Option<BlobId>,
}

/// A node to insert under an existing parent.
pub struct NewNode<'a> {
    pub workspace: WorkspaceId,
    pub parent: NodeId,
    pub path: &'a str,
    pub name: &'a str,
    pub kind: NodeKind,
    pub size: i64,
    pub blob: Option<BlobId>,
}

const COLUMNS: &str = "uuid, workspace, parent, path, name, kind, size, mtime, etag, blob";

/// A fresh entity tag: new content, new tag.
pub(crate) fn new_etag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn from_row(row: &SqliteRow) -> Result<NodeRecord> {
    let kind: &str = row.try_get("kind")?;
    Ok(NodeRecord {
        id: parse(row, "uuid")?,
        workspace: parse(row, "workspace")?,
        parent: parse_opt(row, "parent")?,
        path: row.try_get("path")?,
        name: row.try_get("name")?,
        kind: NodeKind::parse(kind).ok_or(StoreError::Corrupt("kind"))?,
        size: row.try_get("size")?,
        mtime: row.try_get("mtime")?,
        etag: row.try_get("etag")?,
        blob: parse_opt(row, "blob")?,
    })
}

/// The bounds of the subtree below `path` (exclusive of `path` itself).
fn subtree_bounds(path: &str) -> (String, String) {
    (format!("{path}/"), format!("{path}0"))
}

async fn insert(tx: &mut Transaction<'_, Sqlite>, id: NodeId, node: &NewNode<'_>, now: UnixTime) -> Result<()> {
    sqlx::query(&format!("INSERT INTO nodes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(id.to_string())
        .bind(node.workspace.to_string())
        .bind(node.parent.to_string())
        .bind(node.path)
        .bind(node.name)
        .bind(node.kind.as_str())
        .bind(node.size)
        .bind(now)
        .bind(new_etag())
        .bind(node.blob.map(|b| b.to_string()))
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_write)?;
    Ok(())
}

impl Store {
    /// # Errors
    /// On a database failure.
    pub async fn node_by_path(&self, workspace: WorkspaceId, path: &str) -> Result<Option<NodeRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM nodes WHERE workspace = $1 AND path = $2"))
            .bind(workspace.to_string())
            .bind(path)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// # Errors
    /// On a database failure.
    pub async fn node_by_id(&self, id: NodeId) -> Result<Option<NodeRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM nodes WHERE uuid = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A page of a folder's children, by name, and the total count.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn list_children(&self, parent: NodeId, offset: i64, limit: i64) -> Result<(Vec<NodeRecord>, i64)> {
        let rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM nodes WHERE parent = $1 ORDER BY name LIMIT $2 OFFSET $3"))
                .bind(parent.to_string())
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes WHERE parent = $1")
            .bind(parent.to_string())
            .fetch_one(&self.pool)
            .await?;
        Ok((rows.iter().map(from_row).collect::<Result<_>>()?, total))
    }

    /// A node and its whole subtree, parents before children.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn subtree(&self, node: &NodeRecord) -> Result<Vec<NodeRecord>> {
        // A root's children are `name`, not `/name`: no path range holds them, so the
        // subtree of a root is its whole workspace.
        let (low, high) = subtree_bounds(&node.path);
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM nodes WHERE workspace = $1 AND (path = $2 OR $5 OR (path > $3 AND path < $4)) ORDER BY path"
        ))
        .bind(node.workspace.to_string())
        .bind(&node.path)
        .bind(low)
        .bind(high)
        .bind(node.path.is_empty())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Creates a node under an existing parent.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name is taken; [`StoreError::Vanished`] when the
    /// parent was deleted meanwhile.
    pub async fn create_node(&self, node: &NewNode<'_>, now: UnixTime) -> Result<NodeRecord> {
        let id = NodeId::random();
        let mut tx = self.pool.begin().await?;
        insert(&mut tx, id, node, now).await?;
        crate::keys::bump_tree_counter(&mut tx).await?;
        tx.commit().await?;
        self.node_by_id(id).await?.ok_or(StoreError::Vanished)
    }

    /// Points the file at `node.path` to a new, complete blob: updates the existing file
    /// (keeping its UUID) or creates it. Returns the node, whether it was created, and
    /// the blob it replaced, which the caller removes after this commit.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when a folder has that path; [`StoreError::Vanished`] when
    /// the parent was deleted meanwhile.
    pub async fn put_file(&self, node: &NewNode<'_>, now: UnixTime) -> Result<(NodeRecord, bool, Option<BlobId>)> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(&format!("SELECT {COLUMNS} FROM nodes WHERE workspace = $1 AND path = $2"))
            .bind(node.workspace.to_string())
            .bind(node.path)
            .fetch_optional(&mut *tx)
            .await?;
        let (id, created, replaced) = match existing.as_ref().map(from_row).transpose()? {
            Some(old) if old.kind == NodeKind::Collection => {
                return Err(StoreError::Conflict("a folder with this name"));
            }
            Some(old) => {
                sqlx::query("UPDATE nodes SET size = $1, mtime = $2, etag = $3, blob = $4 WHERE uuid = $5")
                    .bind(node.size)
                    .bind(now)
                    .bind(new_etag())
                    .bind(node.blob.map(|b| b.to_string()))
                    .bind(old.id.to_string())
                    .execute(&mut *tx)
                    .await?;
                (old.id, false, old.blob)
            }
            None => {
                let id = NodeId::random();
                insert(&mut tx, id, node, now).await?;
                (id, true, None)
            }
        };
        crate::keys::bump_tree_counter(&mut tx).await?;
        tx.commit().await?;
        let record = self.node_by_id(id).await?.ok_or(StoreError::Vanished)?;
        Ok((record, created, replaced))
    }

    /// Moves (and renames) a node with its subtree under `new_parent` at `new_path`,
    /// possibly into another workspace. UUIDs are kept.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the destination name is taken.
    pub async fn move_node(
        &self,
        node: &NodeRecord,
        new_workspace: WorkspaceId,
        new_parent: NodeId,
        new_path: &str,
        now: UnixTime,
    ) -> Result<NodeRecord> {
        let name = new_path.rsplit('/').next().unwrap_or(new_path);
        let (low, high) = subtree_bounds(&node.path);
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE nodes SET workspace = $1, parent = $2, path = $3, name = $4, mtime = $5 WHERE uuid = $6")
            .bind(new_workspace.to_string())
            .bind(new_parent.to_string())
            .bind(new_path)
            .bind(name)
            .bind(now)
            .bind(node.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        sqlx::query(
            "UPDATE nodes SET workspace = $1, path = $2 || substr(path, $3) \
             WHERE workspace = $4 AND path > $5 AND path < $6",
        )
        .bind(new_workspace.to_string())
        .bind(new_path)
        // substr counts characters, not bytes, in SQLite and PostgreSQL alike.
        .bind(i64::try_from(node.path.chars().count()).unwrap_or(i64::MAX) + 1)
        .bind(node.workspace.to_string())
        .bind(low)
        .bind(high)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        crate::keys::bump_tree_counter(&mut tx).await?;
        tx.commit().await?;
        self.node_by_id(node.id).await?.ok_or(StoreError::Vanished)
    }

    /// Inserts a copied subtree (parents before children) in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the destination name is taken.
    pub async fn insert_subtree(&self, nodes: &[(NodeId, NewNode<'_>)], now: UnixTime) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, node) in nodes {
            insert(&mut tx, *id, node, now).await?;
        }
        crate::keys::bump_tree_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a node and its subtree; returns the blobs they pointed to, for the caller
    /// to remove after this commit.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn delete_subtree(&self, node: &NodeRecord) -> Result<Vec<BlobId>> {
        let (low, high) = subtree_bounds(&node.path);
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT blob FROM nodes WHERE workspace = $1 AND (path = $2 OR (path > $3 AND path < $4)) AND blob IS NOT NULL",
        )
        .bind(node.workspace.to_string())
        .bind(&node.path)
        .bind(&low)
        .bind(&high)
        .fetch_all(&mut *tx)
        .await?;
        let blobs = rows.iter().map(|r| parse(r, "blob")).collect::<Result<Vec<_>>>()?;
        sqlx::query("DELETE FROM nodes WHERE workspace = $1 AND (path = $2 OR (path > $3 AND path < $4))")
            .bind(node.workspace.to_string())
            .bind(&node.path)
            .bind(&low)
            .bind(&high)
            .execute(&mut *tx)
            .await?;
        crate::keys::bump_tree_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(blobs)
    }

    /// Whether any node points to this blob (used to sweep orphans at start).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn blob_in_use(&self, blob: BlobId) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM nodes WHERE blob = $1 LIMIT 1")
            .bind(blob.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}
