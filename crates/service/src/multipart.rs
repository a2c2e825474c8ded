//! Multipart uploads: a file sent in numbered parts (S3's CreateMultipartUpload,
//! UploadPart, CompleteMultipartUpload, AbortMultipartUpload). Each part is checked as
//! an upload is (the caller may write the file there, now), streamed into a blob of its
//! own and recorded outside the tree: nothing is visible until Complete, which streams
//! the parts in order through one ordinary upload ([`Cells::begin_upload`], the same
//! checks and the same commit) and then drops the parts' blobs to the collector. An
//! upload belongs to the user who started it; the upkeep task aborts those left for
//! [`ABANDONED_AFTER`].

use cells_core::{TreePath, UnixTime};
use cells_store::{BlobWriter, MultipartRecord, PartRecord};
use futures_util::StreamExt;

use crate::tree::NodeView;
use crate::{Cells, Principal, Result, ServiceError};

/// The part numbers S3 allows.
pub const PART_NUMBERS: std::ops::RangeInclusive<i64> = 1..=10_000;

/// The least size of every part but the last, as S3 has it.
pub const MIN_PART: i64 = 5 * 1024 * 1024;

/// How long an upload may stay unfinished before the upkeep task aborts it.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A part being received. Dropping it discards what was written.
pub struct PartUpload {
    cells: Cells,
    principal: Principal,
    upload: String,
    number: i64,
    writer: BlobWriter,
    checked: std::time::Instant,
}

impl PartUpload {
    /// Appends a piece of the part.
    ///
    /// # Errors
    /// When the disk write fails, or the credentials ended.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if self.checked.elapsed() >= crate::content::CHECK_EVERY {
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

/// An upload in progress, as its owner sees it.
#[derive(Clone, Debug)]
pub struct MultipartView {
    pub id: String,
    pub path: TreePath,
    pub created_at: UnixTime,
}

fn no_such_upload() -> ServiceError {
    ServiceError::NotFound("no such multipart upload".into())
}

impl Cells {
    /// Starts a multipart upload to `path`, after the checks of an upload there.
    ///
    /// # Errors
    /// As [`Cells::begin_upload`].
    pub async fn create_multipart(&self, principal: &Principal, path: &TreePath) -> Result<String> {
        let (entered, _) = self.upload_target(principal, path).await?;
        let record = MultipartRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            owner: principal.user,
            workspace: entered.workspace.id,
            path: path.inner().to_owned(),
            created_at: cells_core::now(),
        };
        self.store().insert_multipart(&record).await?;
        Ok(record.id)
    }

    /// The caller's upload `id` to `path`; 404 for anyone else's, or another path's.
    async fn own_multipart(&self, principal: &Principal, path: &TreePath, id: &str) -> Result<MultipartRecord> {
        let record = self.store().multipart(id).await?.ok_or_else(no_such_upload)?;
        let (entered, _) = self.upload_target(principal, path).await?;
        if record.owner != principal.user || record.workspace != entered.workspace.id || record.path != path.inner() {
            return Err(no_such_upload());
        }
        Ok(record)
    }

    /// Starts receiving part `number` of upload `id`, after checking the caller may
    /// still write the file.
    ///
    /// # Errors
    /// 400 for a part number outside 1 to 10,000; 404 when there is no such upload of
    /// the caller's; as [`Cells::begin_upload`].
    pub async fn begin_part(
        &self,
        principal: &Principal,
        path: &TreePath,
        id: &str,
        number: i64,
    ) -> Result<PartUpload> {
        if !PART_NUMBERS.contains(&number) {
            return Err(ServiceError::BadRequest(format!("part number {number} is not between 1 and 10000")));
        }
        let record = self.own_multipart(principal, path, id).await?;
        let writer = self.blobs().writer().await?;
        Ok(PartUpload {
            cells: self.clone(),
            principal: principal.clone(),
            upload: record.id,
            number,
            writer,
            checked: std::time::Instant::now(),
        })
    }

    /// Keeps a part received whole; `md5` is the hex digest of its bytes (its ETag).
    ///
    /// # Errors
    /// 404 when the upload ended meanwhile; 401 when the credentials ended.
    pub async fn commit_part(&self, part: PartUpload, md5: String) -> Result<PartRecord> {
        let PartUpload { principal, upload, number, writer, .. } = part;
        self.check_current(&principal).await?;
        let (blob, size) = writer.finish().await?;
        let record = PartRecord {
            number,
            blob,
            size: i64::try_from(size).map_err(|_| ServiceError::BadRequest("part too large".into()))?,
            etag: md5,
            created_at: cells_core::now(),
        };
        if !self.store().put_part(&upload, &record).await? {
            self.blobs().delete(vec![blob]).await?;
            return Err(no_such_upload());
        }
        Ok(record)
    }

    /// The parts of the caller's upload `id`, by number, after `after`, at most `limit`.
    ///
    /// # Errors
    /// 404 when there is no such upload of the caller's.
    pub async fn multipart_parts(
        &self,
        principal: &Principal,
        path: &TreePath,
        id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PartRecord>> {
        let record = self.own_multipart(principal, path, id).await?;
        Ok(self.store().parts(&record.id, after, limit.clamp(1, 1000)).await?)
    }

    /// Completes the caller's upload `id` from the parts named (number and ETag, in
    /// ascending order): their bytes, in that order, become the file, through one
    /// upload and commit as any other. Returns the file, whether it was created, and
    /// the MD5 digests of the parts used, in order.
    ///
    /// # Errors
    /// 400 when the list is empty, out of order, names a part not received or with
    /// another ETag, or a part but the last is under 5 MiB; 404 when there is no such
    /// upload; as [`Cells::commit_upload`].
    pub async fn complete_multipart(
        &self,
        principal: &Principal,
        path: &TreePath,
        id: &str,
        chosen: &[(i64, String)],
    ) -> Result<(NodeView, bool, Vec<String>)> {
        let record = self.own_multipart(principal, path, id).await?;
        if chosen.is_empty() {
            return Err(ServiceError::BadRequest("a multipart upload completes with at least one part".into()));
        }
        if chosen.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Err(ServiceError::BadRequest("the parts must be listed in ascending order of number".into()));
        }
        let received = self.store().parts(&record.id, 0, i64::from(u16::MAX)).await?;
        let mut parts = Vec::with_capacity(chosen.len());
        for (index, (number, etag)) in chosen.iter().enumerate() {
            let part = received
                .iter()
                .find(|p| p.number == *number && p.etag.eq_ignore_ascii_case(etag.trim_matches('"')))
                .ok_or_else(|| ServiceError::BadRequest(format!("part {number} was not received with that ETag")))?;
            if index + 1 < chosen.len() && part.size < MIN_PART {
                return Err(ServiceError::BadRequest(format!(
                    "part {number} has {} bytes: every part but the last needs at least 5 MiB",
                    part.size
                )));
            }
            parts.push(part);
        }
        let mut upload = self.begin_upload(principal, path).await?;
        for part in &parts {
            let size = u64::try_from(part.size).unwrap_or(0);
            if size == 0 {
                continue;
            }
            match self.blobs().read_sized(part.blob, size, 0, size).await? {
                cells_store::BlobReader::Whole(bytes) => upload.write(&bytes).await?,
                cells_store::BlobReader::Stream(mut stream) => {
                    while let Some(chunk) = stream.next().await {
                        upload.write(&chunk?).await?;
                    }
                }
            }
        }
        let (view, created) = self.commit_upload(upload).await?;
        self.store().end_multipart(&record.id, cells_core::now()).await?;
        Ok((view, created, parts.iter().map(|p| p.etag.clone()).collect()))
    }

    /// Aborts the caller's upload `id`: its parts go to the collector.
    ///
    /// # Errors
    /// 404 when there is no such upload of the caller's.
    pub async fn abort_multipart(&self, principal: &Principal, path: &TreePath, id: &str) -> Result<()> {
        let record = self.own_multipart(principal, path, id).await?;
        if !self.store().end_multipart(&record.id, cells_core::now()).await? {
            return Err(no_such_upload());
        }
        Ok(())
    }

    /// The caller's uploads in progress in a workspace, from the path `from` on (inside
    /// the workspace), by path, at most `limit`.
    ///
    /// # Errors
    /// 404 when the workspace is not visible.
    pub async fn multipart_uploads(
        &self,
        principal: &Principal,
        workspace: &TreePath,
        from: &str,
        limit: i64,
    ) -> Result<Vec<MultipartView>> {
        let located = self.locate(principal, workspace).await?;
        let slug = located.entered.slug().to_owned();
        let records = self
            .store()
            .multiparts_of(principal.user, located.entered.workspace.id, from, limit.clamp(1, 1000))
            .await?;
        Ok(records
            .into_iter()
            .map(|r| MultipartView { path: TreePath::from_trusted(&slug, &r.path), id: r.id, created_at: r.created_at })
            .collect())
    }

    /// Aborts the uploads left unfinished for `age` ([`ABANDONED_AFTER`] in the upkeep
    /// task), whoever started them. Returns how many.
    pub(crate) async fn sweep_multiparts(&self, age: std::time::Duration) -> Result<usize> {
        let before = cells_core::now() - i64::try_from(age.as_secs()).unwrap_or(i64::MAX / 2);
        let mut swept = 0;
        loop {
            let stale = self.store().stale_multiparts(before, 100).await?;
            for id in &stale {
                if self.store().end_multipart(id, cells_core::now()).await? {
                    swept += 1;
                }
            }
            if stale.len() < 100 {
                return Ok(swept);
            }
        }
    }
}
