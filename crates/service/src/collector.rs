//! The blob collector: removes blobs that no node refers to, once they have been
//! unreferenced (or, for a blob never referenced, unwritten) for a grace period, so that
//! an upload in flight on any process is never collected. See `cells_store`'s `garbage`
//! module for why this is safe with several processes on one store.
//!
//! A collection goes through stages, each told to a [`Progress`] (the CLI shows them):
//! `unreferenced` (blobs recorded as dropped, removed in batches), `listed` (the blob
//! store's scan), `checked` (what the scan found, against the database), `settling` (a
//! bucket only: the second look's pause, in seconds) and `orphans` (blobs no node ever
//! referred to).

use std::time::{Duration, SystemTime};

use crate::progress::{Progress, Silent, Stage};
use crate::{Admin, Cells, Result};

/// How long a blob stays after it lost its last reference, or after it was last
/// written if it never had one. Far longer than the moment between publishing a blob
/// and committing the node that points to it.
pub const GRACE: Duration = Duration::from_secs(600);

/// How long a blob in a bucket found unreferenced by the scan must stay so before it is
/// removed. The scan goes by when a blob was written, and a bucket may date a multipart
/// upload from its start (AWS does): a long upload that completed an instant ago can
/// look old while its node is being committed. Looking again after this pause (at most
/// the grace) closes that gap: a commit follows its upload's completion within moments.
const SETTLE: Duration = Duration::from_secs(30);

/// Blobs removed per batch (and per database round trip).
const BATCH: i64 = 500;

/// What one collection did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// Blobs removed after a delete or a replacement.
    pub dropped: usize,
    /// Blobs removed that no node ever referred to.
    pub orphans: usize,
}

impl Cells {
    /// Runs the collector once with the given grace (the CLI's `cells admin blobs
    /// collect`; the upkeep task runs it every ten minutes with [`GRACE`]), telling
    /// `progress` how far it got.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn collect_blobs_now(&self, _: Admin, grace: Duration, progress: &dyn Progress) -> Result<Collected> {
        self.collect_blobs_with(grace, progress).await
    }

    /// Aborts the multipart uploads left unfinished for `age` (whoever started them),
    /// so that the next collection removes their parts: the CLI's `cells admin blobs
    /// collect --abandoned-uploads-secs`; the upkeep task does it every ten minutes with
    /// [`crate::multipart::ABANDONED_AFTER`]. Returns how many.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn abort_abandoned_uploads(&self, _: Admin, age: Duration) -> Result<usize> {
        self.sweep_multiparts(age).await
    }

    pub(crate) async fn collect_blobs(&self, grace: Duration) -> Result<Collected> {
        self.collect_blobs_with(grace, &Silent).await
    }

    async fn collect_blobs_with(&self, grace: Duration, progress: &dyn Progress) -> Result<Collected> {
        let mut collected = Collected::default();
        let batch_len = usize::try_from(BATCH).unwrap_or(500);
        let before = cells_core::now() - i64::try_from(grace.as_secs()).unwrap_or(i64::MAX / 2);
        let dropped = self.store().count_collectable_blobs(before).await?;
        progress.begin(Stage { name: "unreferenced", items: Some(dropped), bytes: None });
        loop {
            let batch = self.store().collectable_blobs(before, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            self.blobs().delete(batch.clone()).await?;
            self.store().forget_garbage(&batch, before).await?;
            collected.dropped += batch.len();
            progress.advance(batch.len() as u64, 0);
        }
        // Records of blobs that a copy still refers to are dropped too.
        self.store().forget_garbage(&[], before).await?;
        progress.end();
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
        progress.begin(Stage { name: "listed", items: None, bytes: None });
        let candidates = self.blobs().old_blobs(cutoff).await?;
        progress.advance(candidates.len() as u64, 0);
        progress.end();
        progress.begin(Stage { name: "checked", items: Some(candidates.len() as u64), bytes: None });
        let mut orphans = Vec::new();
        for chunk in candidates.chunks(batch_len) {
            orphans.extend(self.store().unreferenced(chunk).await?);
            progress.advance(chunk.len() as u64, 0);
        }
        progress.end();
        let pause = SETTLE.min(grace).as_secs();
        if !orphans.is_empty() && self.blobs().is_bucket() && pause > 0 {
            // Counted in seconds: something to watch move for half a minute.
            progress.begin(Stage { name: "settling", items: Some(pause), bytes: None });
            for _ in 0..pause {
                tokio::time::sleep(Duration::from_secs(1)).await;
                progress.advance(1, 0);
            }
            progress.end();
        }
        progress.begin(Stage { name: "orphans", items: Some(orphans.len() as u64), bytes: None });
        for chunk in orphans.chunks(batch_len) {
            let free = self.store().unreferenced(chunk).await?;
            collected.orphans += free.len();
            self.blobs().delete(free).await?;
            progress.advance(chunk.len() as u64, 0);
        }
        progress.end();
        if collected != Collected::default() {
            tracing::info!(dropped = collected.dropped, orphans = collected.orphans, "collected unreferenced blobs");
        }
        Ok(collected)
    }
}
