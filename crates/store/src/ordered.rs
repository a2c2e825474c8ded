//! Listings in S3's order: keys compared byte by byte (paths and names are `COLLATE "C"`
//! on PostgreSQL, as SQLite's BINARY), so a client that merges a listing with its own
//! sorted files (`aws s3 sync`) sees the order it expects. Each query reads at most one
//! page from the `(workspace, path)` index or a folder's children; the caller stops at
//! the first row past its prefix.

use cells_core::{NodeId, NodeKind, WorkspaceId};

use crate::nodes::{COLUMNS, from_row};
use crate::{NodeRecord, Result, Store};

impl Store {
    /// Up to `limit` children of `parent` by key: a file's key is its name, a folder's its
    /// name and `/`. Only keys after `after` and not before `from` (the start of a
    /// prefix); the caller drops the rows past its prefix.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn children_by_key(
        &self,
        parent: NodeId,
        from: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<NodeRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM (SELECT {COLUMNS}, name || CASE WHEN kind = $4 THEN '/' ELSE '' END AS sort_key \
             FROM nodes WHERE parent = $1) AS children WHERE sort_key > $2 AND sort_key >= $3 ORDER BY sort_key LIMIT $5"
        ))
        .bind(parent.to_string())
        .bind(after)
        .bind(from)
        .bind(NodeKind::Collection.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Up to `limit` files of a workspace by path, after `after` and not before `from`
    /// (the start of a prefix); the caller drops the rows past its prefix.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn files_by_path(
        &self,
        workspace: WorkspaceId,
        from: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<NodeRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM nodes WHERE workspace = $1 AND path > $2 AND path >= $3 AND kind = $4 \
             ORDER BY path LIMIT $5"
        ))
        .bind(workspace.to_string())
        .bind(after)
        .bind(from)
        .bind(NodeKind::Leaf.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
