//! Listings by key, in S3's byte order: the workspaces a caller may enter, a folder's
//! children (a folder's key ends in `/`), or every file below a place, each filtered by
//! the caller's rights and scopes exactly as [`Cells::list`] filters (a scoped token
//! sees its subtrees and the way down to them, nothing else). A page reads a bounded
//! number of rows: when the caller's scopes hide many, it may come back short, with a
//! place to go on from.

use cells_core::{NodeKind, TreePath};
use cells_store::NodeRecord;

use crate::access::Entered;
use crate::tree::NodeView;
use crate::{Cells, Principal, Result, ServiceError};

/// Rows read per store query while filling a page.
const BATCH: i64 = 1000;

/// The most rows one page reads, whatever the scopes hide.
const MOST_READ: usize = 10_000;

/// A page of a listing by key.
#[derive(Debug, Default)]
pub struct KeyPage {
    pub entries: Vec<NodeView>,
    /// Where the next page starts (exclusive), in the terms of the call (a name key or
    /// a path inside the workspace); `None` when the listing ended.
    pub next_after: Option<String>,
}

impl Cells {
    /// The workspaces the caller may enter, by slug in byte order.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn workspaces_by_key(&self, principal: &Principal) -> Result<Vec<NodeView>> {
        let mut roots = self.list_workspaces(principal).await?;
        roots.sort_by(|a, b| format!("{}/", a.path.workspace()).cmp(&format!("{}/", b.path.workspace())));
        Ok(roots)
    }

    /// Up to `limit` children of the folder `folder` by key (a file's name, a folder's
    /// name and `/`), the keys that start with `prefix` and sort after `after`.
    ///
    /// # Errors
    /// 404 when the folder is not visible; 400 when it is a file; 403 when not readable.
    pub async fn children_by_key(
        &self,
        principal: &Principal,
        folder: &TreePath,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<KeyPage> {
        let located = self.locate(principal, folder).await?;
        let node = located.existing()?.clone();
        located.require_read()?;
        if node.kind != NodeKind::Collection {
            return Err(ServiceError::BadRequest(format!("{folder} is a file, not a folder")));
        }
        let scopes = if located.passage { self.scopes_at(principal).await? } else { None };
        let entered = located.entered;
        let key = |n: &NodeRecord| match n.kind {
            NodeKind::Collection => format!("{}/", n.name),
            NodeKind::Leaf => n.name.clone(),
        };
        let visible = |n: &NodeRecord| {
            scopes.as_deref().is_none_or(|scopes| {
                !Self::effective(entered.rights, Some(scopes), entered.workspace.id, &n.path).0.is_none()
            })
        };
        let store = self.store();
        let fetch = |after: String| async move { store.children_by_key(node.id, prefix, &after, BATCH).await };
        fill(&entered, prefix, after, limit, key, visible, fetch).await
    }

    /// Up to `limit` files below `place` at any depth (its workspace's root for all of
    /// it), by path in byte order: those whose path inside the workspace starts with
    /// `prefix` and sorts after `after`.
    ///
    /// # Errors
    /// 404 when the place is not visible; 403 when it is not readable.
    pub async fn files_by_path(
        &self,
        principal: &Principal,
        workspace: &TreePath,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<KeyPage> {
        let located = self.locate(principal, workspace).await?;
        located.require_read()?;
        let scopes = self.scopes_at(principal).await?;
        let entered = located.entered;
        let visible = |n: &NodeRecord| {
            let (rights, _) = Self::effective(entered.rights, scopes.as_deref(), entered.workspace.id, &n.path);
            rights.read
        };
        let store = self.store();
        let id = entered.workspace.id;
        let fetch = |after: String| async move { store.files_by_path(id, prefix, &after, BATCH).await };
        fill(&entered, prefix, after, limit, |n: &NodeRecord| n.path.clone(), visible, fetch).await
    }
}

/// Reads batches from `fetch` (rows by `key`, after the key given) until `limit`
/// visible rows under `prefix` are gathered, the rows leave the prefix, or
/// [`MOST_READ`] rows were read.
async fn fill<F, Fut>(
    entered: &Entered,
    prefix: &str,
    after: &str,
    limit: usize,
    key: impl Fn(&NodeRecord) -> String,
    visible: impl Fn(&NodeRecord) -> bool,
    fetch: F,
) -> Result<KeyPage>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = cells_store::Result<Vec<NodeRecord>>>,
{
    let mut page = KeyPage::default();
    let mut cursor = after.to_owned();
    let mut read = 0;
    loop {
        let rows = fetch(cursor.clone()).await?;
        let full = rows.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
        for row in rows {
            let row_key = key(&row);
            if !row_key.starts_with(prefix) {
                return Ok(page);
            }
            read += 1;
            cursor = row_key;
            if visible(&row) {
                let path = TreePath::from_trusted(entered.slug(), &row.path);
                page.entries.push(NodeView { node: row, path });
                if page.entries.len() == limit {
                    page.next_after = Some(cursor);
                    return Ok(page);
                }
            }
            if read >= MOST_READ {
                page.next_after = Some(cursor);
                return Ok(page);
            }
        }
        if !full {
            return Ok(page);
        }
    }
}
