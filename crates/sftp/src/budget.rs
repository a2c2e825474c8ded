//! What one connection may hold in memory of what its client sent: requests read off
//! its channels and not yet answered, and writes that came ahead of their file's next
//! offset, waiting for the bytes before them. One [`Budget`] per connection, shared by
//! its channels and all their open files, so that neither more channels nor more
//! handles raise the bound (docs/sftp.md, "Bounds").
//!
//! A request's bytes are counted once, from the moment its packet is read off the
//! channel ([`Budget::hold`], which waits for room: the client's own backpressure)
//! until it has been answered, or, for a write that goes ahead, until that write reaches
//! the file ([`Held::keep_ahead`], which never waits: past [`AHEAD_BYTES`] the write is
//! refused). Writes ahead may take only part of [`CONNECTION_BYTES`]: the rest always
//! stays for the queue, so the write that fills a gap can always be read.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes of client requests one connection holds at most: queued, or written ahead.
pub const CONNECTION_BYTES: usize = 16 * 1024 * 1024;

/// Of [`CONNECTION_BYTES`], the most that writes ahead of their files' next offsets may
/// hold, all open files of the connection together.
pub const AHEAD_BYTES: usize = 8 * 1024 * 1024;

/// The budget of one connection; clones share it.
#[derive(Clone)]
pub struct Budget {
    held: Arc<Semaphore>,
    ahead: Arc<Semaphore>,
}

impl Default for Budget {
    fn default() -> Self {
        Self { held: Arc::new(Semaphore::new(CONNECTION_BYTES)), ahead: Arc::new(Semaphore::new(AHEAD_BYTES)) }
    }
}

/// The bytes of one request, counted in its connection's budget until dropped.
pub struct Held {
    bytes: u32,
    held: OwnedSemaphorePermit,
    ahead: Arc<Semaphore>,
}

/// The bytes of a write kept ahead of its file's next offset.
pub struct HeldAhead {
    _held: OwnedSemaphorePermit,
    _ahead: OwnedSemaphorePermit,
}

/// Writes ahead already hold [`AHEAD_BYTES`].
#[derive(Debug)]
pub struct AheadSpent;

impl Budget {
    /// Counts `bytes` (one packet, at most [`crate::wire::MAX_PACKET`]), waiting until
    /// there is room; `None` only if the budget were closed, which it never is.
    pub async fn hold(&self, bytes: usize) -> Option<Held> {
        let bytes = u32::try_from(bytes.min(CONNECTION_BYTES)).unwrap_or(u32::MAX);
        let held = Arc::clone(&self.held).acquire_many_owned(bytes).await.ok()?;
        Some(Held { bytes, held, ahead: Arc::clone(&self.ahead) })
    }
}

impl Held {
    /// Keeps these bytes, as a write ahead of its file's next offset, while the
    /// connection's writes ahead have room for them.
    ///
    /// # Errors
    /// When they do not: the bytes are given back.
    pub fn keep_ahead(self) -> Result<HeldAhead, AheadSpent> {
        let ahead = Arc::clone(&self.ahead).try_acquire_many_owned(self.bytes).map_err(|_| AheadSpent)?;
        Ok(HeldAhead { _held: self.held, _ahead: ahead })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn hold(budget: &Budget, bytes: usize) -> Held {
        budget.hold(bytes).await.expect("an open budget")
    }

    #[tokio::test]
    async fn writes_ahead_take_only_their_share_and_give_it_back() {
        let budget = Budget::default();
        let chunk = 1024 * 1024;
        let mut ahead = Vec::new();
        for _ in 0..AHEAD_BYTES / chunk {
            ahead.push(hold(&budget, chunk).await.keep_ahead().expect("room ahead"));
        }
        assert!(hold(&budget, chunk).await.keep_ahead().is_err(), "past the share ahead");
        // The queue still has the rest.
        let queued = hold(&budget, CONNECTION_BYTES - AHEAD_BYTES).await;
        assert_eq!(budget.held.available_permits(), 0);
        drop(queued);
        ahead.pop();
        assert!(hold(&budget, chunk).await.keep_ahead().is_ok(), "room once a write ahead is gone");
    }

    #[tokio::test]
    async fn a_full_queue_waits_rather_than_grows() {
        let budget = Budget::default();
        let all = hold(&budget, CONNECTION_BYTES).await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), budget.hold(1)).await;
        assert!(waiting.is_err(), "a hold past the budget did not wait");
        drop(all);
        let _one = hold(&budget, 1).await;
    }
}
