//! Writes to whole subtrees: move (and rename), copy, delete. Each runs in one write
//! transaction that first re-reads the nodes it was checked against (`still_at`): a
//! move, copy or delete decided on a path that changed meanwhile does nothing and says
//! so ([`StoreError::Moved`]), so two crossing moves can never make a cycle and nothing
//! is written at a path that no longer exists. None of them loads the subtree into
//! memory: each is a few set-based statements over the `(workspace, path)` range.

use cells_core::{NodeId, NodeKind, UnixTime};

use crate::nodes::{parent_path, still_at, subtree_bounds};
use crate::{NodeRecord, Result, Store, StoreError};

/// The destination of a move or copy: a folder, checked again inside the transaction,
/// the new path of the moved or copied node inside its workspace, and the node found at
/// that path which the write replaces, if any.
pub struct Destination<'a> {
    pub parent: &'a NodeRecord,
    pub path: &'a str,
    pub replacing: Option<&'a NodeRecord>,
}

impl<'a> Destination<'a> {
    /// A new path under `parent`, free.
    #[must_use]
    pub fn new(parent: &'a NodeRecord, path: &'a str) -> Self {
        Self { parent, path, replacing: None }
    }

    /// The same, replacing the node now at that path: it is deleted with its subtree in
    /// the same transaction, so that the path is never empty meanwhile and a write that
    /// fails leaves it as it was.
    #[must_use]
    pub fn replacing(self, node: &'a NodeRecord) -> Self {
        Self { replacing: Some(node), ..self }
    }
}

/// Checks the destination inside the write transaction, and deletes what it replaces.
async fn check_destination(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    node: &NodeRecord,
    to: &Destination<'_>,
    now: UnixTime,
) -> Result<()> {
    let parent = still_at(tx, to.parent).await?;
    if parent.kind != NodeKind::Collection || parent_path(to.path) != parent.path {
        return Err(StoreError::Moved);
    }
    // Checked on state read inside this transaction: no concurrent move can have put
    // the destination inside the source since.
    if parent.workspace == node.workspace && cells_core::reach::is_within(&parent.path, &node.path) {
        return Err(StoreError::Cycle);
    }
    if let Some(replaced) = to.replacing {
        let replaced = still_at(tx, replaced).await?;
        if replaced.workspace != parent.workspace || replaced.path != to.path {
            return Err(StoreError::Moved);
        }
        // The source is not inside what goes (the parent is not inside the source, so
        // the other way round cannot be).
        if replaced.workspace == node.workspace && cells_core::reach::is_within(&node.path, &replaced.path) {
            return Err(StoreError::Cycle);
        }
        delete_within(tx, &replaced, now).await?;
    }
    Ok(())
}

/// Deletes a node and its subtree inside a write transaction; the blobs they pointed to
/// go to the collector. Returns how many nodes were removed.
async fn delete_within(tx: &mut sqlx::Transaction<'_, sqlx::Any>, node: &NodeRecord, now: UnixTime) -> Result<u64> {
    let (low, high) = subtree_bounds(&node.path);
    sqlx::query(&format!(
        "{} SELECT DISTINCT blob, $5 FROM nodes \
         WHERE workspace = $1 AND (path = $2 OR (path > $3 AND path < $4)) AND blob IS NOT NULL {}",
        crate::garbage::INSERT,
        crate::garbage::ON_CONFLICT
    ))
    .bind(node.workspace.to_string())
    .bind(&node.path)
    .bind(&low)
    .bind(&high)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let done = sqlx::query("DELETE FROM nodes WHERE workspace = $1 AND (path = $2 OR (path > $3 AND path < $4))")
        .bind(node.workspace.to_string())
        .bind(&node.path)
        .bind(&low)
        .bind(&high)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Store {
    /// The longest path (in bytes) in the subtree of `node`, itself included.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn longest_path_below(&self, node: &NodeRecord) -> Result<usize> {
        let (low, high) = subtree_bounds(&node.path);
        let longest: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT MAX({}) FROM nodes WHERE workspace = $1 AND (path = $2 OR (path > $3 AND path < $4))",
            self.dialect.byte_length("path")
        ))
        .bind(node.workspace.to_string())
        .bind(&node.path)
        .bind(low)
        .bind(high)
        .fetch_one(&self.pool)
        .await?;
        Ok(longest.and_then(|n| usize::try_from(n).ok()).unwrap_or(node.path.len()))
    }

    /// Moves (and renames) a node with its subtree under `to.parent` at `to.path`,
    /// possibly into another workspace, replacing `to.replacing` if given. UUIDs are
    /// kept.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the destination name is taken; [`StoreError::Moved`]
    /// or [`StoreError::Vanished`] when the node or the destination folder changed since
    /// they were read; [`StoreError::Cycle`] for a folder into itself.
    pub async fn move_node(&self, node: &NodeRecord, to: &Destination<'_>, now: UnixTime) -> Result<NodeRecord> {
        let (low, high) = subtree_bounds(&node.path);
        let mut tx = self.begin_write().await?;
        still_at(&mut tx, node).await?;
        check_destination(&mut tx, node, to, now).await?;
        let workspace = to.parent.workspace;
        sqlx::query("UPDATE nodes SET workspace = $1, parent = $2, path = $3, name = $4, mtime = $5 WHERE uuid = $6")
            .bind(workspace.to_string())
            .bind(to.parent.id.to_string())
            .bind(to.path)
            .bind(name_of(to.path))
            .bind(now)
            .bind(node.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        sqlx::query(
            "UPDATE nodes SET workspace = $1, path = $2 || substr(path, CAST($3 AS INTEGER)) \
             WHERE workspace = $4 AND path > $5 AND path < $6",
        )
        .bind(workspace.to_string())
        .bind(to.path)
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

    /// Copies a node with its subtree under `to.parent` at `to.path` (replacing
    /// `to.replacing` if given): new UUIDs, the same
    /// blobs (blobs are immutable, so a copy shares them; the collector removes a blob
    /// only once no node refers to it). All or nothing, in one transaction: a copy
    /// cancelled midway leaves nothing.
    ///
    /// # Errors
    /// As [`Store::move_node`].
    pub async fn copy_subtree(&self, node: &NodeRecord, to: &Destination<'_>, now: UnixTime) -> Result<NodeRecord> {
        let (low, high) = subtree_bounds(&node.path);
        let mut tx = self.begin_write().await?;
        still_at(&mut tx, node).await?;
        check_destination(&mut tx, node, to, now).await?;
        sqlx::query("CREATE TEMP TABLE IF NOT EXISTS copy_ids (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM copy_ids").execute(&mut *tx).await?;
        sqlx::query(&format!(
            "INSERT INTO copy_ids (old, new) SELECT uuid, {} FROM nodes \
             WHERE workspace = $1 AND (path = $2 OR (path > $3 AND path < $4))",
            self.dialect.random_uuid()
        ))
        .bind(node.workspace.to_string())
        .bind(&node.path)
        .bind(&low)
        .bind(&high)
        .execute(&mut *tx)
        .await?;
        let root: String = sqlx::query_scalar("SELECT new FROM copy_ids WHERE old = $1")
            .bind(node.id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        // Parents before children does not matter inside one statement; the root gets
        // the destination folder as parent and its new name, every other node the copy
        // of its parent.
        sqlx::query(&format!(
            "INSERT INTO nodes (uuid, workspace, parent, path, name, kind, size, mtime, etag, blob) \
             SELECT ids.new, $1, CASE WHEN n.uuid = $2 THEN $3 ELSE parents.new END, \
                    $4 || substr(n.path, CAST($5 AS INTEGER)), CASE WHEN n.uuid = $2 THEN $6 ELSE n.name END, \
                    n.kind, n.size, $7, {}, n.blob \
             FROM nodes n JOIN copy_ids ids ON ids.old = n.uuid \
             LEFT JOIN copy_ids parents ON parents.old = n.parent",
            self.dialect.random_hex()
        ))
        .bind(to.parent.workspace.to_string())
        .bind(node.id.to_string())
        .bind(to.parent.id.to_string())
        .bind(to.path)
        .bind(i64::try_from(node.path.chars().count()).unwrap_or(i64::MAX) + 1)
        .bind(name_of(to.path))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        sqlx::query("DELETE FROM copy_ids").execute(&mut *tx).await?;
        crate::keys::bump_tree_counter(&mut tx).await?;
        tx.commit().await?;
        let root: NodeId = root.parse().map_err(|_| StoreError::Corrupt("uuid"))?;
        self.node_by_id(root).await?.ok_or(StoreError::Vanished)
    }

    /// Deletes a node and its subtree; the blobs they pointed to go to the collector.
    /// Returns how many nodes were removed.
    ///
    /// # Errors
    /// [`StoreError::Moved`] or [`StoreError::Vanished`] when the node changed since it
    /// was read.
    pub async fn delete_subtree(&self, node: &NodeRecord, now: UnixTime) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        still_at(&mut tx, node).await?;
        let done = delete_within(&mut tx, node, now).await?;
        crate::keys::bump_tree_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Whether any node, or a part of a multipart upload in progress, points to this blob.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn blob_in_use(&self, blob: cells_core::BlobId) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM nodes WHERE blob = $1 UNION ALL SELECT 1 FROM multipart_parts WHERE blob = $1 LIMIT 1",
        )
        .bind(blob.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}
