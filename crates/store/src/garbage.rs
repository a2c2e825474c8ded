//! Unreferenced blobs, and the collector's view of them.
//!
//! Blobs are immutable and may be shared (a copy points to the same blobs), so no write
//! deletes a blob file itself. A write that drops a reference (a delete, a replaced
//! file, a deleted user) records the blob in `blob_garbage` in the same transaction.
//! The collector (`cells_service`) removes a blob once it has been recorded for longer
//! than a grace period and no node refers to it; blobs never referenced at all (an
//! upload cut between publishing its blob and committing, a crash) are found by a scan
//! of the blob store, again only past the grace period. Both steps are safe with several
//! processes on one database and one blob store: a blob unreferenced for the whole grace
//! period can gain no new reference (only a copy of a node adds one, and none points to
//! it), and deleting a file twice is harmless.

use cells_core::{BlobId, UnixTime};
use sqlx::{Any, Transaction};

use crate::row::parse;
use crate::{Result, Store};

pub(crate) const INSERT: &str = "INSERT INTO blob_garbage (blob, dropped_at)";
pub(crate) const ON_CONFLICT: &str = "ON CONFLICT (blob) DO UPDATE SET dropped_at = excluded.dropped_at";

/// Records that a node stopped pointing to `blob`.
pub(crate) async fn drop_blob(tx: &mut Transaction<'_, Any>, blob: BlobId, now: UnixTime) -> Result<()> {
    sqlx::query(&format!("{INSERT} VALUES ($1, $2) {ON_CONFLICT}"))
        .bind(blob.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Up to `limit` blobs recorded as dropped at or before `before` that no node refers
    /// to: safe to remove.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn collectable_blobs(&self, before: UnixTime, limit: i64) -> Result<Vec<BlobId>> {
        let rows = sqlx::query(
            "SELECT g.blob FROM blob_garbage g WHERE g.dropped_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.blob = g.blob) LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| parse(row, "blob")).collect()
    }

    /// How many blobs [`Store::collectable_blobs`] would give without a limit (what the
    /// collector tells as its progress).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn count_collectable_blobs(&self, before: UnixTime) -> Result<u64> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM blob_garbage g WHERE g.dropped_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.blob = g.blob)",
        )
        .bind(before)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Forgets garbage records: of blobs removed, and of blobs that turned out to be
    /// referenced again (by a copy). Returns how many records went.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn forget_garbage(&self, removed: &[BlobId], before: UnixTime) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut forgotten = 0;
        for blob in removed {
            let done = sqlx::query("DELETE FROM blob_garbage WHERE blob = $1")
                .bind(blob.to_string())
                .execute(&mut *tx)
                .await?;
            forgotten += done.rows_affected();
        }
        let done = sqlx::query(
            "DELETE FROM blob_garbage WHERE dropped_at <= $1 \
             AND EXISTS (SELECT 1 FROM nodes n WHERE n.blob = blob_garbage.blob)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(forgotten + done.rows_affected())
    }

    /// Which of `blobs` no node refers to (for the scan of the blob store).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn unreferenced(&self, blobs: &[BlobId]) -> Result<Vec<BlobId>> {
        let mut free = Vec::new();
        for blob in blobs {
            if !self.blob_in_use(*blob).await? {
                free.push(*blob);
            }
        }
        Ok(free)
    }
}
