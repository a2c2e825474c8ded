//! Listings of a folder, in one round trip: the database aggregates the page of
//! children into one JSON array, so a folder of a thousand files crosses from the
//! database thread once instead of a thousand times (which was most of the time of a
//! listing). REST's `?children=true`, SFTP's `readdir` and WebDAV's PROPFIND all list
//! through here.

use cells_core::{NodeId, UnixTime};

use crate::{NodeRecord, Result, Store, StoreError};

/// A node as `json_object` writes it.
#[derive(serde::Deserialize)]
struct JsonNode {
    uuid: String,
    workspace: String,
    parent: Option<String>,
    path: String,
    name: String,
    kind: String,
    size: i64,
    mtime: UnixTime,
    etag: String,
    blob: Option<String>,
}

impl JsonNode {
    fn into_record(self) -> Result<NodeRecord> {
        let corrupt = |column| move |_| StoreError::Corrupt(column);
        Ok(NodeRecord {
            id: self.uuid.parse().map_err(corrupt("uuid"))?,
            workspace: self.workspace.parse().map_err(corrupt("workspace"))?,
            parent: self.parent.map(|p| p.parse()).transpose().map_err(corrupt("parent"))?,
            path: self.path,
            name: self.name,
            kind: cells_core::NodeKind::parse(&self.kind).ok_or(StoreError::Corrupt("kind"))?,
            size: self.size,
            mtime: self.mtime,
            etag: self.etag,
            blob: self.blob.map(|b| b.parse()).transpose().map_err(corrupt("blob"))?,
        })
    }
}

impl Store {
    /// A page of a folder's children, by name: `limit` from `offset`, in one row.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn children_page(&self, parent: NodeId, offset: i64, limit: i64) -> Result<Vec<NodeRecord>> {
        let query = match self.dialect {
            crate::Dialect::Sqlite => {
                "SELECT json_group_array(json_object('uuid', uuid, 'workspace', workspace, 'parent', parent, \
                 'path', path, 'name', name, 'kind', kind, 'size', size, 'mtime', mtime, 'etag', etag, 'blob', blob)) \
                 FROM (SELECT * FROM nodes WHERE parent = $1 ORDER BY name LIMIT $2 OFFSET $3)"
            }
            crate::Dialect::Postgres => {
                "SELECT CAST(json_agg(json_build_object('uuid', uuid, 'workspace', workspace, 'parent', parent, \
                 'path', path, 'name', name, 'kind', kind, 'size', size, 'mtime', mtime, 'etag', etag, 'blob', blob) \
                 ORDER BY name) AS TEXT) FROM (SELECT * FROM nodes WHERE parent = $1 ORDER BY name LIMIT $2 OFFSET $3) \
                 AS listed"
            }
        };
        let json: Option<String> =
            sqlx::query_scalar(query).bind(parent.to_string()).bind(limit).bind(offset).fetch_one(&self.pool).await?;
        let nodes: Vec<JsonNode> =
            serde_json::from_str(json.as_deref().unwrap_or("[]")).map_err(|_| StoreError::Corrupt("nodes"))?;
        nodes.into_iter().map(JsonNode::into_record).collect()
    }

    /// The first `limit` children of a folder, by name (a PROPFIND at depth 1).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn children_of(&self, parent: NodeId, limit: i64) -> Result<Vec<NodeRecord>> {
        self.children_page(parent, 0, limit).await
    }

    /// A page of a folder's children, by name, and the total count.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn list_children(&self, parent: NodeId, offset: i64, limit: i64) -> Result<(Vec<NodeRecord>, i64)> {
        let page = self.children_page(parent, offset, limit).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes WHERE parent = $1")
            .bind(parent.to_string())
            .fetch_one(&self.pool)
            .await?;
        Ok((page, total))
    }
}
