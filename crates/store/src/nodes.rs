//! The tree: nodes (files and folders) with stable UUIDs.
//!
//! Each node row keeps its full path inside its workspace, so that resolving a path is
//! one index lookup. A move rewrites the paths of the moved subtree in one statement;
//! the UUIDs never change. A subtree of `a/b` is every path in the half-open range
//! `('a/b/', 'a/b0')`: `0` is the byte after `/`, so the range holds exactly the
//! descendants, and it uses the `(workspace, path)` index.

use cells_core::{BlobId, NodeId, NodeKind, UnixTime, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

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
#[derive(Clone, Copy)]
pub struct NewNode<'a> {
    pub workspace: WorkspaceId,
    pub parent: NodeId,
    pub path: &'a str,
    pub name: &'a str,
    pub kind: NodeKind,
    pub size: i64,
    pub blob: Option<BlobId>,
}

pub(crate) const COLUMNS: &str = "uuid, workspace, parent, path, name, kind, size, mtime, etag, blob";

/// A fresh entity tag: new content, new tag.
pub(crate) fn new_etag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(crate) fn from_row(row: &AnyRow) -> Result<NodeRecord> {
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
pub(crate) fn subtree_bounds(path: &str) -> (String, String) {
    (format!("{path}/"), format!("{path}0"))
}

/// The path of the folder holding `path` ('' for a child of the root).
pub(crate) fn parent_path(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// Reads a node inside a write transaction and checks it is still where the caller
/// checked it: same workspace, same path, same kind.
pub(crate) async fn still_at(tx: &mut Transaction<'_, Any>, expected: &NodeRecord) -> Result<NodeRecord> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM nodes WHERE uuid = $1"))
        .bind(expected.id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    let current = row.as_ref().map(from_row).transpose()?.ok_or(StoreError::Vanished)?;
    if current.workspace != expected.workspace || current.path != expected.path || current.kind != expected.kind {
        return Err(StoreError::Moved);
    }
    Ok(current)
}

/// Checks, inside a write transaction, that the parent of a new node is a folder at the
/// path the new node's path implies.
async fn check_parent(tx: &mut Transaction<'_, Any>, node: &NewNode<'_>) -> Result<()> {
    let row = sqlx::query("SELECT workspace, path, kind FROM nodes WHERE uuid = $1")
        .bind(node.parent.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Err(StoreError::Vanished) };
    let workspace: WorkspaceId = parse(&row, "workspace")?;
    let path: &str = row.try_get("path")?;
    let kind: &str = row.try_get("kind")?;
    if workspace != node.workspace || path != parent_path(node.path) || kind != NodeKind::Collection.as_str() {
        return Err(StoreError::Moved);
    }
    Ok(())
}

pub(crate) async fn insert(tx: &mut Transaction<'_, Any>, id: NodeId, node: &NewNode<'_>, now: UnixTime) -> Result<()> {
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

    /// Creates a node under an existing parent, which is checked inside the write
    /// transaction: it must still be a folder at the path `node.path` says.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name is taken; [`StoreError::Vanished`] when the
    /// parent was deleted meanwhile; [`StoreError::Moved`] when it moved.
    pub async fn create_node(&self, node: &NewNode<'_>, now: UnixTime) -> Result<NodeRecord> {
        let id = NodeId::random();
        let mut tx = self.begin_write().await?;
        check_parent(&mut tx, node).await?;
        insert(&mut tx, id, node, now).await?;
        crate::keys::bump_tree_counter(&mut tx).await?;
        tx.commit().await?;
        self.node_by_id(id).await?.ok_or(StoreError::Vanished)
    }
}
