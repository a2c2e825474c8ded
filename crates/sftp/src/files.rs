//! Open files and folders of one SFTP session.
//!
//! - [`ReadFile`]: a file opened for reading; each read is a range of its content.
//! - [`WriteFile`]: a file opened for writing is an [`Upload`] in progress, made
//!   visible by `close` only, complete, in one step (as every surface writes). SFTP
//!   writes at offsets; an upload is written from its first byte, so writes are taken
//!   in offset order: a write ahead of the next offset waits in memory until the gap
//!   fills, counted in its connection's [`crate::budget`] (all the files of a connection
//!   share [`AHEAD_BYTES`]; past that a write is refused). A file opened without truncation keeps
//!   the old content around what is written (a resumed transfer writes from the old
//!   size on), copied server side by [`Cells::keep_content`].
//! - [`Folder`]: a listing read page by page.

use std::collections::BTreeMap;

use bytes::Bytes;
use cells_core::TreePath;
use cells_service::{BlobReader, Cells, NodeRecord, Principal, ReadRange, Upload};
use futures_util::StreamExt;
use russh_sftp::protocol::{File, StatusCode};

use crate::budget::{AHEAD_BYTES, Held, HeldAhead};
use crate::status::Refusal;
use crate::wire::MAX_IO;

/// Entries per `SSH_FXP_NAME` answer.
const PAGE: i64 = 128;

/// A file opened for reading: the node as it was at open.
pub struct ReadFile {
    pub path: TreePath,
    pub node: NodeRecord,
}

impl ReadFile {
    /// Up to `len` bytes from `offset`; end of file is [`StatusCode::Eof`].
    pub async fn read(
        &self,
        cells: &Cells,
        principal: &Principal,
        offset: u64,
        len: u32,
    ) -> Result<Vec<Bytes>, Refusal> {
        let size = u64::try_from(self.node.size).unwrap_or(0);
        if offset >= size {
            return Err(Refusal::new(StatusCode::Eof, "end of file"));
        }
        let len = u64::from(len.min(MAX_IO)).min(size - offset);
        match cells.read_file(principal, &self.node, ReadRange { offset, len }).await? {
            BlobReader::Whole(bytes) => Ok(vec![bytes]),
            BlobReader::Stream(mut stream) => {
                let mut chunks = Vec::new();
                while let Some(chunk) = stream.next().await {
                    chunks.push(chunk.map_err(cells_service::ServiceError::from)?);
                }
                Ok(chunks)
            }
        }
    }
}

/// How a file was opened for writing.
pub struct WriteMode {
    /// The size of the content to keep around what is written; `None` when the file is
    /// new or truncated.
    pub keep: Option<u64>,
    /// Every write goes to the end (`SSH_FXF_APPEND`).
    pub append: bool,
}

/// A file opened for writing.
pub struct WriteFile {
    pub path: TreePath,
    upload: Upload,
    mode: WriteMode,
    /// Whether the content before the first write has been settled.
    started: bool,
    /// Whether anything was written (a file opened on old content and never written
    /// stays as it was).
    written: bool,
    /// Writes ahead of the upload, by offset, each still counted in the budget.
    ahead: BTreeMap<u64, (Bytes, HeldAhead)>,
    /// A modification time asked for while open (`fsetstat`), set once the file is.
    pub mtime: Option<i64>,
}

impl WriteFile {
    pub fn new(path: TreePath, upload: Upload, mode: WriteMode) -> Self {
        Self { path, upload, mode, started: false, written: false, ahead: BTreeMap::new(), mtime: None }
    }

    /// The size the file will have once closed, as far as known now.
    pub fn size(&self) -> u64 {
        let ahead_end = self.ahead.iter().next_back().map_or(0, |(offset, (data, _))| offset + data.len() as u64);
        self.upload.written().max(ahead_end).max(self.mode.keep.unwrap_or(0))
    }

    /// Writes `data` at `offset`, or keeps it (and `held`, its request's bytes in the
    /// budget) until the bytes before it come.
    pub async fn write(
        &mut self,
        cells: &Cells,
        principal: &Principal,
        offset: u64,
        data: Bytes,
        held: Held,
    ) -> Result<(), Refusal> {
        if !self.started {
            self.started = true;
            if let Some(old) = self.mode.keep {
                let upto = if self.mode.append { old } else { offset.min(old) };
                cells.keep_content(principal, &self.path, &mut self.upload, 0, upto).await?;
            }
        }
        self.written = true;
        let next = self.upload.written();
        let offset = if self.mode.append { next } else { offset };
        if offset > next {
            let Ok(held) = held.keep_ahead() else {
                tracing::info!(
                    user = %principal.login.as_str(),
                    path = %self.path,
                    "SFTP write refused: the connection's out-of-order budget is spent"
                );
                return Err(Refusal::failure(format!(
                    "out-of-order budget spent: this connection already holds {} MiB of writes \
                     waiting for the bytes before them; nothing was saved",
                    AHEAD_BYTES >> 20
                )));
            };
            self.ahead.insert(offset, (data, held));
            return Ok(());
        }
        if offset < next {
            return Err(Refusal::failure(format!(
                "this server writes a file once, in order: offset {offset} is before {next}, already written"
            )));
        }
        self.upload.write(&data).await?;
        drop(held);
        // Writes that waited for this one.
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() != self.upload.written() {
                break;
            }
            let (data, _held) = entry.remove();
            self.upload.write(&data).await?;
        }
        Ok(())
    }

    /// Makes the file visible, complete; `Ok(false)` when there was nothing to change.
    pub async fn close(mut self, cells: &Cells, principal: &Principal) -> Result<bool, Refusal> {
        if let Some(offset) = self.ahead.keys().next() {
            return Err(Refusal::failure(format!(
                "the file was not written whole: bytes {} to {offset} never came; nothing was saved",
                self.upload.written()
            )));
        }
        if let Some(old) = self.mode.keep {
            if !self.written {
                if let Some(mtime) = self.mtime {
                    cells.set_mtime(principal, &self.path, mtime).await?;
                }
                return Ok(false);
            }
            let next = self.upload.written();
            if next < old {
                cells.keep_content(principal, &self.path, &mut self.upload, next, old).await?;
            }
        }
        let (path, mtime) = (self.path.clone(), self.mtime);
        cells.commit_upload(self.upload).await?;
        if let Some(mtime) = mtime {
            cells.set_mtime(principal, &path, mtime).await?;
        }
        Ok(true)
    }
}

/// A folder opened for listing.
pub enum Folder {
    /// `/`: the workspaces, all in one answer.
    Root(Option<Vec<File>>),
    /// A folder in a workspace, read a page at a time.
    Tree { path: TreePath, offset: i64 },
}

impl Folder {
    /// The next page of entries; the end of the listing is [`StatusCode::Eof`].
    pub async fn next_page(&mut self, cells: &Cells, principal: &Principal) -> Result<Vec<File>, Refusal> {
        let eof = || Refusal::new(StatusCode::Eof, "end of the listing");
        match self {
            Self::Root(entries) => entries.take().filter(|e| !e.is_empty()).ok_or_else(eof),
            Self::Tree { path, offset } => {
                let (_, children, _) = cells.list(principal, path, *offset, PAGE).await?;
                if children.is_empty() {
                    return Err(eof());
                }
                *offset += i64::try_from(children.len()).unwrap_or(PAGE);
                let owner = principal.login.as_str();
                Ok(children
                    .iter()
                    .map(|c| crate::attrs::entry(c.path.name(), crate::attrs::of_node(&c.node), owner))
                    .collect())
            }
        }
    }
}
