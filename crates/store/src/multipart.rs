//! Multipart uploads (S3's CreateMultipartUpload, UploadPart, Complete, Abort): a file to
//! be, and its parts, each a blob held outside the tree. A part's blob is in use while
//! its row exists (`Store::blob_in_use`), so the collector keeps it; a part replaced by
//! a new upload of the same number, and every part of an upload that ends (completed,
//! aborted, swept), goes to `blob_garbage` in the transaction that drops its row.

use cells_core::{BlobId, UnixTime, UserId, WorkspaceId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::row::parse;
use crate::{Result, Store};

/// A multipart upload in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartRecord {
    pub id: String,
    pub owner: UserId,
    pub workspace: WorkspaceId,
    /// The file's path inside the workspace.
    pub path: String,
    pub created_at: UnixTime,
}

/// A part received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartRecord {
    pub number: i64,
    pub blob: BlobId,
    pub size: i64,
    /// The MD5 of the part's bytes, in hex (the part's S3 ETag).
    pub etag: String,
    pub created_at: UnixTime,
}

fn upload_from_row(row: &AnyRow) -> Result<MultipartRecord> {
    Ok(MultipartRecord {
        id: row.try_get("id")?,
        owner: parse(row, "owner")?,
        workspace: parse(row, "workspace")?,
        path: row.try_get("path")?,
        created_at: row.try_get("created_at")?,
    })
}

fn part_from_row(row: &AnyRow) -> Result<PartRecord> {
    Ok(PartRecord {
        number: row.try_get("number")?,
        blob: parse(row, "blob")?,
        size: row.try_get("size")?,
        etag: row.try_get("etag")?,
        created_at: row.try_get("created_at")?,
    })
}

const UPLOAD_COLUMNS: &str = "id, owner, workspace, path, created_at";

impl Store {
    /// Records a new multipart upload.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn insert_multipart(&self, upload: &MultipartRecord) -> Result<()> {
        sqlx::query(&format!("INSERT INTO multipart_uploads ({UPLOAD_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"))
            .bind(&upload.id)
            .bind(upload.owner.to_string())
            .bind(upload.workspace.to_string())
            .bind(&upload.path)
            .bind(upload.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// # Errors
    /// On a database failure.
    pub async fn multipart(&self, id: &str) -> Result<Option<MultipartRecord>> {
        let row = sqlx::query(&format!("SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(upload_from_row).transpose()
    }

    /// A user's uploads in a workspace whose path starts at or after `from`, by path
    /// then id, at most `limit`.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn multiparts_of(
        &self,
        owner: UserId,
        workspace: WorkspaceId,
        from: &str,
        limit: i64,
    ) -> Result<Vec<MultipartRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE owner = $1 AND workspace = $2 AND path >= $3 \
             ORDER BY path, id LIMIT $4"
        ))
        .bind(owner.to_string())
        .bind(workspace.to_string())
        .bind(from)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(upload_from_row).collect()
    }

    /// Records a part, replacing a part of the same number (whose blob goes to the
    /// collector). `false` when the upload ended meanwhile: the caller drops the blob.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn put_part(&self, upload: &str, part: &PartRecord) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let alive: Option<i64> = sqlx::query_scalar("SELECT 1 FROM multipart_uploads WHERE id = $1")
            .bind(upload)
            .fetch_optional(&mut *tx)
            .await?;
        if alive.is_none() {
            return Ok(false);
        }
        let old: Option<String> =
            sqlx::query_scalar("SELECT blob FROM multipart_parts WHERE upload = $1 AND number = $2")
                .bind(upload)
                .bind(part.number)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(old) = old {
            let old = old.parse().map_err(|_| crate::StoreError::Corrupt("blob"))?;
            crate::garbage::drop_blob(&mut tx, old, part.created_at).await?;
        }
        sqlx::query(
            "INSERT INTO multipart_parts (upload, number, blob, size, etag, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (upload, number) DO UPDATE SET blob = excluded.blob, size = excluded.size, \
             etag = excluded.etag, created_at = excluded.created_at",
        )
        .bind(upload)
        .bind(part.number)
        .bind(part.blob.to_string())
        .bind(part.size)
        .bind(&part.etag)
        .bind(part.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An upload's parts, by number, from `after` (exclusive), at most `limit`.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn parts(&self, upload: &str, after: i64, limit: i64) -> Result<Vec<PartRecord>> {
        let rows = sqlx::query(
            "SELECT number, blob, size, etag, created_at FROM multipart_parts WHERE upload = $1 AND number > $2 \
             ORDER BY number LIMIT $3",
        )
        .bind(upload)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(part_from_row).collect()
    }

    /// Ends an upload (completed, aborted or swept): its row and its parts' rows go, and
    /// their blobs to the collector. `false` when it had already ended.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn end_multipart(&self, id: &str, now: UnixTime) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let blobs: Vec<String> = sqlx::query_scalar("SELECT blob FROM multipart_parts WHERE upload = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM multipart_parts WHERE upload = $1").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM multipart_uploads WHERE id = $1").bind(id).execute(&mut *tx).await?;
        for blob in blobs {
            let blob = blob.parse().map_err(|_| crate::StoreError::Corrupt("blob"))?;
            crate::garbage::drop_blob(&mut tx, blob, now).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Uploads started before `before`, at most `limit`: for the sweep of abandoned ones.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn stale_multiparts(&self, before: UnixTime, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM multipart_uploads WHERE created_at < $1 ORDER BY created_at LIMIT $2")
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}
