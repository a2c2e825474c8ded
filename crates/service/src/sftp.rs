//! What the SFTP front end needs beyond the calls every surface shares: its host key,
//! uploads that keep part of the file they replace, and setting a modification time.
//!
//! SFTP writes at offsets into an open file, while an [`Upload`] is a new blob written
//! from its first byte. A client that opens an existing file without truncating it and
//! writes from offset N (a resumed transfer) expects the first N bytes to stay; one that
//! rewrites the start of a file expects its end to stay. [`Cells::keep_content`] copies
//! such a range of the current content into the upload, server side: the content never
//! reaches the client, so it needs the write right only, as the upload itself does.

use cells_core::{TreePath, UnixTime};
use futures_util::StreamExt;
use rand::Rng;

use crate::{BlobReader, Cells, Principal, Result, ServiceError, Upload};

/// Name of the SFTP host key's seed in the server keys.
const HOST_KEY: &str = "sftp-host-ed25519";

impl Cells {
    /// The seed of the SFTP server's ed25519 host key: generated on first start, then
    /// the same for every start and every process sharing the database and the local
    /// key file.
    ///
    /// # Errors
    /// On a store failure, or a stored seed of the wrong length.
    pub async fn sftp_host_key_seed(&self) -> Result<[u8; 32]> {
        let fresh: [u8; 32] = rand::rngs::OsRng.r#gen();
        let stored = self.store().server_key_or_insert(HOST_KEY, &fresh, cells_core::now()).await?;
        if stored.len() != 32 {
            return Err(ServiceError::Internal(format!("the stored {HOST_KEY} is not 32 bytes")));
        }
        // As the signing key of logins: derived with the local key, so a copy of the
        // database alone cannot impersonate the server; every node sharing the database
        // and `secret.key` has the same host key.
        Ok(self.local_key().derive(HOST_KEY.as_bytes(), &stored))
    }

    /// Appends to `upload` the bytes `[from, to)` of the file now at `path` (as far as it
    /// reaches): the part of the old content that an SFTP client writing at offsets
    /// leaves in place. Returns how many bytes were copied.
    ///
    /// # Errors
    /// 404 when the place is not visible; 403 when the caller may not write there; when
    /// the content cannot be read or written.
    pub async fn keep_content(
        &self,
        principal: &Principal,
        path: &TreePath,
        upload: &mut Upload,
        from: u64,
        to: u64,
    ) -> Result<u64> {
        let located = self.locate(principal, path).await?;
        located.require_write()?;
        let Some(node) = located.node else { return Ok(0) };
        let size = u64::try_from(node.size).unwrap_or(0);
        let to = to.min(size);
        let Some(blob) = node.blob.filter(|_| from < to) else { return Ok(0) };
        let mut copied = 0;
        match self.blobs().read_sized(blob, size, from, to - from).await? {
            BlobReader::Whole(bytes) => {
                upload.write(&bytes).await?;
                copied += bytes.len() as u64;
            }
            BlobReader::Stream(mut stream) => {
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    upload.write(&chunk).await?;
                    copied += chunk.len() as u64;
                }
            }
        }
        Ok(copied)
    }

    /// Sets the modification time of the node at `path`, as SFTP `setstat` asks (a sync
    /// tool keeps the source's time, then finds the file unchanged). Writing the node's
    /// time needs the write right there; a workspace root keeps its own.
    ///
    /// # Errors
    /// 404 when not visible; 403 when read-only or a workspace root.
    pub async fn set_mtime(&self, principal: &Principal, path: &TreePath, mtime: UnixTime) -> Result<()> {
        let located = self.locate(principal, path).await?;
        let node = located.existing()?.clone();
        located.require_write()?;
        if node.parent.is_none() {
            return Err(ServiceError::Forbidden(format!("{path} is a workspace: its time is its own")));
        }
        let set = self.store().set_mtime(node.id, mtime).await;
        self.tree_changed();
        if !set? {
            return Err(ServiceError::NotFound(format!("{path} does not exist")));
        }
        Ok(())
    }
}
