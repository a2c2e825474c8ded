//! What a verified credential (a personal access token, an SSH key) keeps in memory
//! about its use, shared by both: the expiry as auto refresh pushes it, when its use was
//! last written, and the last refusal written to its audit data. The rules of when to
//! write are here once; the writing itself is each credential's own store call.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use cells_core::UnixTime;
use cells_core::expiry::{ExpiryModel, should_write_usage};

/// How often at most a refusal of one credential for one reason is written to its audit
/// data: a revoked token used in a loop costs one write a minute, not one per request
/// (a new reason is written at once).
const FAILURE_WRITE_INTERVAL: i64 = 60;

pub(crate) struct LiveUse {
    expires_at: AtomicI64,
    /// When usage was last written (or read from the record); `i64::MIN` for never.
    last_written: AtomicI64,
    /// When a refusal was last written to the audit data, and why.
    last_failure: Mutex<(Option<UnixTime>, Option<String>)>,
}

impl LiveUse {
    pub(crate) fn new(
        expires_at: UnixTime,
        last_used_at: Option<UnixTime>,
        last_failure: (Option<UnixTime>, Option<String>),
    ) -> Self {
        Self {
            expires_at: AtomicI64::new(expires_at),
            last_written: AtomicI64::new(last_used_at.unwrap_or(i64::MIN)),
            last_failure: Mutex::new(last_failure),
        }
    }

    /// The expiry, as pushed forward in memory by the uses of an auto-refresh credential.
    pub(crate) fn expires_at(&self) -> UnixTime {
        self.expires_at.load(Ordering::Acquire)
    }

    /// Whether this refusal is to be written: not when the same reason was written less
    /// than [`FAILURE_WRITE_INTERVAL`] ago. Claims the write when it is.
    pub(crate) fn failure_to_write(&self, now: UnixTime, reason: &str) -> bool {
        let Ok(mut last) = self.last_failure.lock() else { return false };
        let same = last.1.as_deref() == Some(reason);
        if same && last.0.is_some_and(|at| now.saturating_sub(at) < FAILURE_WRITE_INTERVAL) {
            return false;
        }
        *last = (Some(now), Some(reason.to_owned()));
        true
    }

    /// Notes a use: bumps the expiry in memory at once (auto refresh), and claims the
    /// write of the use at most once per interval, one writer even under concurrent
    /// uses. `Some(expiry to write)` when this use is to be written.
    pub(crate) fn note(&self, expiry: &ExpiryModel, now: UnixTime) -> Option<Option<UnixTime>> {
        let bumped = expiry.bumped_expiry(now);
        if let Some(bumped) = bumped {
            self.expires_at.fetch_max(bumped, Ordering::AcqRel);
        }
        let last = self.last_written.load(Ordering::Acquire);
        let last = (last != i64::MIN).then_some(last);
        if !should_write_usage(now, last, expiry.window()) {
            return None;
        }
        self.last_written
            .compare_exchange(last.unwrap_or(i64::MIN), now, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| bumped)
    }
}
