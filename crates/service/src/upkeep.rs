//! The background upkeep of a running server: following the change counters (announced
//! by PostgreSQL's change feed, else polled) so that caches drop what another process
//! changed, and, every ten minutes, sweeping stopped uploads, pruning expired refresh
//! tokens and collecting unreferenced blobs.

use std::time::Duration;

use crate::{Cells, POLL_INTERVAL, collector};

/// While PostgreSQL's change feed is up, the counters are still polled every this many
/// ticks of [`POLL_INTERVAL`] (5 s): a safety net, not the way changes arrive.
const FEED_POLL_EVERY: u64 = 20;

/// How often (and at start) temporary files are swept, expired refresh tokens pruned
/// and unreferenced blobs collected.
const SWEEP_INTERVAL: Duration = Duration::from_secs(600);

/// How long to wait before subscribing again to a feed that is down.
const FEED_RETRY: Duration = Duration::from_secs(1);

/// Aborts a task when dropped: the feed follower ends with the upkeep task.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Cells {
    /// Runs the background upkeep until the returned task is dropped or aborted: follows
    /// the change counters (announced by PostgreSQL, else polled), sweeps temporary files
    /// of stopped uploads, prunes expired refresh tokens, collects unreferenced blobs,
    /// writes token activity.
    #[must_use]
    pub fn spawn_upkeep(&self) -> tokio::task::JoinHandle<()> {
        let cells = self.clone();
        tokio::spawn(async move {
            let feed = tokio::spawn(cells.clone().follow_feed());
            let _abort_feed = AbortOnDrop(feed);
            // Sweeping and collecting may take a while (the collector pauses before it
            // removes what it scanned): on a task of its own, so that following the
            // counters never waits for it.
            let sweeper = tokio::spawn({
                let cells = cells.clone();
                async move {
                    let mut every = tokio::time::interval(SWEEP_INTERVAL);
                    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        every.tick().await;
                        cells.sweep().await;
                    }
                }
            });
            let _abort_sweeper = AbortOnDrop(sweeper);
            // Token activity, counted in memory, is written in one transaction a flush.
            let activity = tokio::spawn({
                let cells = cells.clone();
                async move {
                    let mut every = tokio::time::interval(crate::tokens::ACTIVITY_FLUSH);
                    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        every.tick().await;
                        cells.flush_activity().await;
                    }
                }
            });
            let _abort_activity = AbortOnDrop(activity);
            let mut ticks: u64 = 0;
            let mut interval = tokio::time::interval(POLL_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                // While the feed is up, a poll now and then is only a safety net.
                let listening = cells.inner.listening.load(std::sync::atomic::Ordering::Acquire);
                if !listening || ticks.is_multiple_of(FEED_POLL_EVERY) {
                    cells.poll_counters().await;
                }
                ticks += 1;
            }
        })
    }

    async fn poll_counters(&self) {
        match self.inner.store.change_counters().await {
            Ok(counter) => self.inner.caches.observe(counter),
            Err(err) => tracing::warn!(error = %err, "cannot read the change counter"),
        }
    }

    /// Follows PostgreSQL's change feed, if there is one: each announcement is applied
    /// as it comes. While the feed is down, [`Cells::spawn_upkeep`] polls.
    async fn follow_feed(self) {
        use std::sync::atomic::Ordering;
        let mut feed = loop {
            match self.inner.store.change_feed().await {
                Ok(Some(feed)) => break feed,
                Ok(None) => return,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot subscribe to the change feed; polling meanwhile");
                    tokio::time::sleep(FEED_RETRY).await;
                }
            }
        };
        // Anything committed before the subscription was seen by the first poll or is
        // read now.
        self.inner.listening.store(true, Ordering::Release);
        self.poll_counters().await;
        loop {
            match feed.next().await {
                Ok(cells_store::FeedEvent::Counters(value, tree)) => self.inner.caches.observe((value, tree)),
                Ok(cells_store::FeedEvent::Reconnected) => {
                    tracing::info!("the change feed is back");
                    self.inner.listening.store(true, Ordering::Release);
                    self.poll_counters().await;
                }
                Err(err) => {
                    if self.inner.listening.swap(false, Ordering::AcqRel) {
                        tracing::warn!(error = %err, "the change feed is down; polling until it is back");
                    }
                    tokio::time::sleep(FEED_RETRY).await;
                }
            }
        }
    }

    async fn sweep(&self) {
        match self.inner.blobs.sweep_temporary(Duration::from_secs(600)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed temporary files of stopped uploads"),
            Err(err) => tracing::warn!(error = %err, "cannot sweep temporary files"),
        }
        if let Err(err) = self.inner.store.prune_refresh_tokens(cells_core::now()).await {
            tracing::warn!(error = %err, "cannot prune refresh tokens");
        }
        self.prune_tokens().await;
        self.prune_keys().await;
        match self.sweep_multiparts(crate::multipart::ABANDONED_AFTER).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(aborted = n, "aborted multipart uploads left unfinished for a day"),
            Err(err) => tracing::warn!(error = %err, "cannot sweep abandoned multipart uploads"),
        }
        if let Err(err) = self.collect_blobs(collector::GRACE).await {
            tracing::warn!(error = %err, "cannot collect unreferenced blobs");
        }
    }
}
