//! File content: reading a file (whole or a byte range) and uploading one.
//!
//! An upload is checked before a byte is read (the caller may write there, the parent
//! exists, no folder has that name), streamed into a new blob, and only then made
//! visible, in one transaction that points the node to the blob. An upload that stops
//! half-way (a dropped connection, a killed process) leaves no visible trace.

use cells_core::{NodeKind, TreePath};
use cells_store::{BlobReader, BlobWriter, NewNode, NodeRecord};

use crate::access::Entered;
use crate::tree::NodeView;
use crate::{Cells, Principal, Result, ServiceError};

/// A byte range of a file, already checked against its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRange {
    pub offset: u64,
    pub len: u64,
}

/// An upload in progress. Dropping it discards what was written.
pub struct Upload {
    entered: Entered,
    parent: NodeRecord,
    path: TreePath,
    writer: BlobWriter,
}

impl Upload {
    /// Appends a piece of the content.
    ///
    /// # Errors
    /// When the disk write fails.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        Ok(self.writer.write(chunk).await?)
    }

    /// Bytes received so far.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.writer.written()
    }
}

impl Cells {
    /// Finds a file the caller may read.
    ///
    /// # Errors
    /// 404 when not visible; 409 when it is a folder.
    pub async fn open_file(&self, principal: &Principal, path: &TreePath) -> Result<NodeView> {
        let view = self.stat(principal, path).await?;
        if view.node.kind == NodeKind::Collection {
            return Err(ServiceError::Conflict(format!("{path} is a folder: list it with /a/tree")));
        }
        Ok(view)
    }

    /// Reads a range of a file found by [`Cells::open_file`].
    ///
    /// # Errors
    /// When the blob cannot be read.
    pub async fn read_file(&self, node: &NodeRecord, range: ReadRange) -> Result<BlobReader> {
        match node.blob {
            Some(blob) if range.len > 0 => {
                let size = u64::try_from(node.size).unwrap_or(0);
                Ok(self.blobs().read_sized(blob, size, range.offset, range.len).await?)
            }
            _ => Ok(BlobReader::Whole(bytes::Bytes::new())),
        }
    }

    /// Starts an upload to `path`, after checking it may succeed.
    ///
    /// # Errors
    /// 404 when the workspace is not visible, 403 when read-only, 409 when the parent is
    /// missing or a folder has that name.
    pub async fn begin_upload(&self, principal: &Principal, path: &TreePath) -> Result<Upload> {
        let (entered, parent) = match self.writable_parent(principal, path).await {
            Err(ServiceError::Forbidden(detail)) => {
                self.replaceable_file(principal, path).await?.ok_or(ServiceError::Forbidden(detail))?
            }
            other => other?,
        };
        if let Some(existing) = self.store().node_by_path(entered.workspace.id, path.inner()).await?
            && existing.kind == NodeKind::Collection
        {
            return Err(ServiceError::Conflict(format!("{path} is a folder")));
        }
        let writer = self.blobs().writer().await?;
        Ok(Upload { entered, parent, path: path.clone(), writer })
    }

    /// An existing file the caller may write in a folder they may not (a scope on the
    /// file itself, as a document token has): replacing content writes the file only.
    async fn replaceable_file(&self, principal: &Principal, path: &TreePath) -> Result<Option<(Entered, NodeRecord)>> {
        let located = match self.locate(principal, path).await {
            Ok(located) => located,
            Err(ServiceError::NotFound(_)) => return Ok(None),
            Err(err) => return Err(err),
        };
        let writable = located.rights.write && !located.passage;
        let Some(parent) =
            located.node.as_ref().filter(|n| writable && n.kind == NodeKind::Leaf).and_then(|n| n.parent)
        else {
            return Ok(None);
        };
        Ok(self.store().node_by_id(parent).await?.map(|parent| (located.entered, parent)))
    }

    /// Completes an upload: syncs the blob, then points the node to it in one
    /// transaction (creating the file, or replacing its content and keeping its UUID).
    /// Returns the node and whether it was created.
    ///
    /// # Errors
    /// 409 when a folder took the name or the parent vanished meanwhile.
    pub async fn commit_upload(&self, upload: Upload) -> Result<(NodeView, bool)> {
        let Upload { entered, parent, path, writer } = upload;
        let (blob, size) = writer.finish().await?;
        let new = NewNode {
            workspace: entered.workspace.id,
            parent: parent.id,
            path: path.inner(),
            name: path.name(),
            kind: NodeKind::Leaf,
            size: i64::try_from(size).map_err(|_| ServiceError::BadRequest("file too large".into()))?,
            blob: Some(blob),
        };
        let put = self.store().put_file(&new, cells_core::now()).await;
        self.tree_changed();
        let (node, created, replaced) = match put {
            Ok(done) => done,
            Err(err) => {
                self.blobs().delete(vec![blob]).await?;
                return Err(err.into());
            }
        };
        if let Some(old) = replaced {
            self.blobs().delete(vec![old]).await?;
        }
        Ok((NodeView { path: TreePath::from_trusted(entered.slug(), &node.path), node }, created))
    }
}
