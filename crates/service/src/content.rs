//! File content: reading a file (whole or a byte range) and uploading one.
//!
//! An upload is checked before a byte is read (the caller may write there, the parent
//! exists, no folder has that name), streamed into a new blob, and only then made
//! visible, in one transaction that points the node to the blob. An upload that stops
//! half-way (a dropped connection, a killed process) leaves no visible trace. The commit
//! re-reads the folder inside its transaction: if it moved during the upload, the upload
//! fails (409) and leaves nothing, rather than land at a path that no longer exists. An
//! upload whose credentials end (a revoked token, a locked user) stops within
//! [`CHECK_EVERY`] and is not committed.

use bytes::Bytes;
use cells_core::{NodeKind, TreePath};
use cells_store::{BlobReader, BlobWriter, NodeRecord};
use futures_util::{Stream, StreamExt};

use crate::access::Entered;
use crate::commits::FileToPut;
use crate::tree::NodeView;
use crate::{Cells, Principal, Result, ServiceError};

/// A byte range of a file, already checked against its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRange {
    pub offset: u64,
    pub len: u64,
}

/// How often a transfer in flight checks that its credentials still hold.
pub const CHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// An upload in progress. Dropping it discards what was written.
pub struct Upload {
    cells: Cells,
    principal: Principal,
    entered: Entered,
    parent: NodeRecord,
    path: TreePath,
    writer: BlobWriter,
    checked: std::time::Instant,
}

impl Upload {
    /// Appends a piece of the content.
    ///
    /// # Errors
    /// When the disk write fails, or the credentials ended.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if self.checked.elapsed() >= CHECK_EVERY {
            self.cells.check_current(&self.principal).await?;
            self.checked = std::time::Instant::now();
        }
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

    /// Reads a range of a file found by [`Cells::open_file`] for `principal`. A large
    /// read streams, and the stream ends with an error within [`CHECK_EVERY`] of the
    /// principal's credentials ending (a revoked token, a locked user): a download that
    /// started before a revocation does not outlive it.
    ///
    /// # Errors
    /// When the blob cannot be read.
    pub async fn read_file(&self, principal: &Principal, node: &NodeRecord, range: ReadRange) -> Result<BlobReader> {
        match node.blob {
            Some(blob) if range.len > 0 => {
                let size = u64::try_from(node.size).unwrap_or(0);
                Ok(match self.blobs().read_sized(blob, size, range.offset, range.len).await? {
                    BlobReader::Stream(stream) => BlobReader::Stream(self.guarded(principal, stream)),
                    whole @ BlobReader::Whole(_) => whole,
                })
            }
            _ => Ok(BlobReader::Whole(bytes::Bytes::new())),
        }
    }

    /// A stream that stops with an error once the principal's credentials end.
    fn guarded<S>(
        &self,
        principal: &Principal,
        stream: S,
    ) -> Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + Unpin>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
    {
        let state = (stream, self.clone(), principal.clone(), std::time::Instant::now(), false);
        Box::new(Box::pin(futures_util::stream::unfold(
            state,
            |(mut stream, cells, principal, mut checked, ended)| async move {
                if ended {
                    return None;
                }
                if checked.elapsed() >= CHECK_EVERY {
                    if cells.check_current(&principal).await.is_err() {
                        let err = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "the credentials ended");
                        return Some((Err(err), (stream, cells, principal, checked, true)));
                    }
                    checked = std::time::Instant::now();
                }
                let item = stream.next().await?;
                Some((item, (stream, cells, principal, checked, false)))
            },
        )))
    }

    /// Starts an upload to `path`, after checking it may succeed.
    ///
    /// # Errors
    /// 404 when the workspace is not visible, 403 when read-only, 409 when the parent is
    /// missing or a folder has that name.
    pub async fn begin_upload(&self, principal: &Principal, path: &TreePath) -> Result<Upload> {
        let (entered, parent) = self.upload_target(principal, path).await?;
        let writer = self.blobs().writer().await?;
        Ok(Upload {
            cells: self.clone(),
            principal: principal.clone(),
            entered,
            parent,
            path: path.clone(),
            writer,
            checked: std::time::Instant::now(),
        })
    }

    /// What an upload to `path` checks before a byte is read (also before each part of
    /// a multipart upload): the folder it goes in, writable, and no folder by that name.
    pub(crate) async fn upload_target(&self, principal: &Principal, path: &TreePath) -> Result<(Entered, NodeRecord)> {
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
        Ok((entered, parent))
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
    /// transaction (creating the file, or replacing its content and keeping its UUID),
    /// shared with the uploads that finish at the same time (`commits`). Returns the
    /// node and whether it was created.
    ///
    /// # Errors
    /// As [`Cells::commit_upload_if`].
    pub async fn commit_upload(&self, upload: Upload) -> Result<(NodeView, bool)> {
        self.commit_upload_if(upload, |_| true).await
    }

    /// As [`Cells::commit_upload`], if `condition` holds on the file at the path at the
    /// moment of the commit (`None`: no file there), inside the commit's transaction:
    /// `If-Match` and `If-None-Match` cannot be raced.
    ///
    /// # Errors
    /// 412 when the condition does not hold; 409 when a folder took the name, or the
    /// folder moved or vanished meanwhile; 401 when the credentials ended.
    pub async fn commit_upload_if(
        &self,
        upload: Upload,
        condition: impl Fn(Option<&NodeRecord>) -> bool + Send + Sync + 'static,
    ) -> Result<(NodeView, bool)> {
        let Upload { principal, entered, parent, path, writer, .. } = upload;
        self.check_current(&principal).await?;
        let (blob, size) = writer.finish().await?;
        let file = FileToPut {
            workspace: entered.workspace.id,
            parent: parent.id,
            path: path.inner().to_owned(),
            name: path.name().to_owned(),
            size: i64::try_from(size).map_err(|_| ServiceError::BadRequest("file too large".into()))?,
            blob,
        };
        let (node, created) = match self.put_with_batch(file, Box::new(condition)).await {
            Ok(done) => done,
            Err(err) => {
                // Refused: nothing refers to the new blob, and nothing else knows it, so
                // it goes now. Otherwise the commit's fate may be unknown (the database
                // went away at COMMIT): the collector removes the blob if no node took it.
                if matches!(err, ServiceError::PreconditionFailed | ServiceError::Conflict(_)) {
                    self.blobs().delete(vec![blob]).await?;
                }
                return Err(err);
            }
        };
        Ok((NodeView { path: TreePath::from_trusted(entered.slug(), &node.path), node }, created))
    }
}
