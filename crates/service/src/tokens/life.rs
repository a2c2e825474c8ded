//! A token's life after its creation, besides validation: rotation with a grace, leak
//! reports, the activity per hour, and the count of tokens about to expire.
//!
//! Activity is counted in memory on each use (one lock, one map entry per token, hour,
//! address and protocol) and written by the upkeep task every [`ACTIVITY_FLUSH`] in one
//! transaction, never once per request.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cells_core::token::{self, PatSecret};
use cells_core::{TokenId, UnixTime, Via};
use cells_store::{ActivityKey, ActivityRow, TokenRecord};

use super::{LiveToken, Usage};
use crate::{Cells, Principal, Result, ServiceError};

/// How often the counts of uses are written.
pub const ACTIVITY_FLUSH: std::time::Duration = std::time::Duration::from_secs(30);
/// How long activity is kept.
pub const ACTIVITY_DAYS: i64 = 30;
/// The most token strings one leak report may carry.
pub const MAX_LEAK_REPORT: usize = 1_000;
/// The longest grace a rotation may give the old secret: 30 days.
pub const MAX_GRACE: i64 = 30 * 86_400;
/// Tokens expiring within this are flagged (`Cells-Token-Expires-At`, the gauge).
pub const EXPIRY_WARNING: i64 = 7 * 86_400;

/// Past this many distinct (hour, address, protocol) entries of one token, the counts are
/// written at once rather than at the next flush, so memory stays bounded whatever the
/// clients do.
const MAX_PENDING: usize = 1_024;

/// An hour, an address (if known) and a protocol: what a use is counted under.
pub(crate) type UseKey = (UnixTime, Option<IpAddr>, Via);

/// The counts of one token's uses not yet written: kept in its cache entry, so that a use
/// takes only that entry's lock (no lock shared by every request, no hashing), and
/// usually finds its key first in a list of one or two.
#[derive(Default)]
pub(crate) struct UseCounts(Mutex<Vec<(UseKey, u64)>>);

/// The tokens with counts not yet written. A token is listed once, by the use that
/// found its counts empty; the flush takes the list, then each token's counts.
#[derive(Default)]
pub(crate) struct Activity {
    dirty: Mutex<Vec<Arc<LiveToken>>>,
    /// Counts whose write failed, for the next flush (bounded: the oldest go first).
    failed: Mutex<Vec<(ActivityKey, u64)>>,
    writes: AtomicU64,
}

/// The most counts kept over failed writes (a database down for a long while).
const MAX_FAILED: usize = 100_000;

impl Activity {
    /// Counts one use; `true` when the counts are to be written now (too many pending).
    pub(crate) fn count(&self, live: &Arc<LiveToken>, now: UnixTime, usage: Usage) -> bool {
        let key = (now - now.rem_euclid(3600), usage.ip, usage.via);
        let (first, many) = {
            let Ok(mut counts) = live.uses.0.lock() else { return false };
            let first = counts.is_empty();
            match counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => counts.push((key, 1)),
            }
            (first, counts.len() >= MAX_PENDING)
        };
        if first && let Ok(mut dirty) = self.dirty.lock() {
            dirty.push(Arc::clone(live));
        }
        many
    }

    fn take(&self) -> Vec<(ActivityKey, u64)> {
        let tokens = self.dirty.lock().map(|mut dirty| std::mem::take(&mut *dirty)).unwrap_or_default();
        let mut out = self.failed.lock().map(|mut failed| std::mem::take(&mut *failed)).unwrap_or_default();
        for live in tokens {
            let counts = live.uses.0.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default();
            out.extend(counts.into_iter().map(|((hour, ip, via), n)| {
                let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
                (ActivityKey { token: live.record.id, hour, ip, via: via.as_str() }, n)
            }));
        }
        out
    }

    /// After a failed write: the counts wait in a list of their own for the next flush.
    fn put_back(&self, counts: Vec<(ActivityKey, u64)>) {
        if let Ok(mut failed) = self.failed.lock() {
            failed.extend(counts);
            let over = failed.len().saturating_sub(MAX_FAILED);
            if over > 0 {
                tracing::warn!(dropped = over, "token activity not written for too long: the oldest counts dropped");
                failed.drain(..over);
            }
        }
    }
}

impl Cells {
    /// Writes the counts of uses gathered since the last write, in one transaction (none
    /// when there is nothing to write). A failed write keeps them for the next.
    pub async fn flush_activity(&self) {
        let counts = self.inner.activity.take();
        if counts.is_empty() {
            return;
        }
        self.inner.activity.writes.fetch_add(1, Ordering::Relaxed);
        if let Err(err) = self.store().add_token_activity(&counts).await {
            tracing::warn!(error = %err, "cannot write token activity: kept for the next write");
            self.inner.activity.put_back(counts);
        }
    }

    /// How many times token activity was written since start (one transaction each).
    #[must_use]
    pub fn token_activity_writes(&self) -> u64 {
        self.inner.activity.writes.load(Ordering::Relaxed)
    }

    /// `GET /a/auth/tokens/{TokenId}/activity`: the distinct (address, protocol) pairs
    /// that used a token, per hour, for its owner or an admin; this process's counts are
    /// written first, so the answer includes its latest uses.
    ///
    /// # Errors
    /// 404 when there is no such token, or it is someone else's and the caller no admin.
    pub async fn token_activity(&self, principal: &Principal, id: TokenId) -> Result<Vec<ActivityRow>> {
        self.owned_token(principal, id).await?;
        self.flush_activity().await;
        let since = cells_core::now() - ACTIVITY_DAYS * 86_400;
        Ok(self.store().token_activity(id, since).await?)
    }

    /// A token the caller may manage: their own, or anyone's for an admin; 404 otherwise
    /// (someone else's is not told apart from none).
    pub(crate) async fn owned_token(&self, principal: &Principal, id: TokenId) -> Result<TokenRecord> {
        Self::unrestricted(principal)?;
        let missing = || ServiceError::NotFound(format!("no token {id}"));
        let record = self.store().token_by_id(id).await?.ok_or_else(missing)?;
        if !Self::may_revoke(principal, record.user) {
            return Err(missing());
        }
        Ok(record)
    }

    /// `POST /a/auth/tokens/{TokenId}/rotate`: a new secret for the same record (label,
    /// scopes, limits and expiry kept). The old secret works for `grace` more seconds (0:
    /// not at all), then fails with reason `rotated`; a secret rotated before is
    /// forgotten at once.
    ///
    /// # Errors
    /// 404 as [`Cells::owned_token`]; 400 for a revoked or expired token, or a grace
    /// below 0 or over 30 days.
    pub async fn rotate_token(
        &self,
        principal: &Principal,
        id: TokenId,
        grace: i64,
    ) -> Result<(TokenRecord, PatSecret)> {
        let record = self.owned_token(principal, id).await?;
        self.rotate(record, grace).await
    }

    /// Rotates any token, for the CLI.
    ///
    /// # Errors
    /// As [`Cells::rotate_token`].
    pub async fn rotate_token_admin(
        &self,
        _: crate::Admin,
        id: TokenId,
        grace: i64,
    ) -> Result<(TokenRecord, PatSecret)> {
        let record =
            self.store().token_by_id(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no token {id}")))?;
        self.rotate(record, grace).await
    }

    async fn rotate(&self, record: TokenRecord, grace: i64) -> Result<(TokenRecord, PatSecret)> {
        if !(0..=MAX_GRACE).contains(&grace) {
            return Err(ServiceError::BadRequest("GraceSeconds is from 0 to 2592000 (30 days)".into()));
        }
        let now = cells_core::now();
        if record.revoked_at.is_some() || cells_core::expiry::is_expired(now, record.expires_at) {
            return Err(ServiceError::BadRequest(format!(
                "token {} is {}: it cannot be rotated",
                record.id,
                super::status(&record, now)
            )));
        }
        let secret = token::generate();
        if !self.store().rotate_token(record.id, &secret.hash(), now.saturating_add(grace), now).await? {
            return Err(ServiceError::BadRequest(format!("token {} was revoked meanwhile", record.id)));
        }
        self.changed().await;
        tracing::info!(token = %record.id, owner = %record.user_login, grace, "personal access token rotated");
        let record =
            self.store().token_by_id(record.id).await?.ok_or(ServiceError::NotFound("the token is gone".into()))?;
        Ok((record, secret))
    }

    /// `POST /a/auth/tokens/leaked`: revokes every token among `tokens` not revoked yet
    /// (expired ones too: an auto-refresh token may be valid in memory for a while past
    /// its stored expiry), marks it leaked by `reporter`, and says only how many. Needs no login:
    /// holding a token proves the right to end it. Strings that are not tokens (format,
    /// checksum) are skipped without any lookup; nothing of them is logged.
    ///
    /// # Errors
    /// 400 for more than [`MAX_LEAK_REPORT`] strings; 429 for an address over the
    /// failure limit (a report that revokes nothing counts as a failure).
    pub async fn report_leaked(&self, tokens: &[String], reporter: Option<IpAddr>) -> Result<u64> {
        if tokens.len() > MAX_LEAK_REPORT {
            return Err(ServiceError::BadRequest(format!("a report holds at most {MAX_LEAK_REPORT} tokens")));
        }
        if let Some(retry_after) = self.limiter().retry_after(reporter) {
            return Err(ServiceError::Throttled { retry_after });
        }
        let by = reporter.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let revoked = self.revoke_leaked(tokens, &by).await?;
        if revoked == 0 {
            self.limiter().record_failure(reporter);
        }
        Ok(revoked)
    }

    /// `cells admin token leaked`: the same, from the local operator.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn report_leaked_admin(&self, _: crate::Admin, tokens: &[String]) -> Result<u64> {
        self.revoke_leaked(tokens, "cli").await
    }

    async fn revoke_leaked(&self, tokens: &[String], by: &str) -> Result<u64> {
        let mut seen = std::collections::HashSet::new();
        let hashes: Vec<_> = tokens
            .iter()
            .filter_map(|t| token::parse(t.trim()).ok())
            .map(|s| s.hash())
            .filter(|h| seen.insert(*h.as_bytes()))
            .collect();
        let revoked = self.store().revoke_leaked(&hashes, cells_core::now(), by).await?;
        if revoked > 0 {
            self.changed().await;
        }
        tracing::info!(reported = tokens.len(), revoked, reporter = by, "leak report");
        Ok(revoked)
    }

    /// How many tokens not revoked end within [`EXPIRY_WARNING`] whatever their use (the
    /// gauge; see [`expires_within`]).
    ///
    /// # Errors
    /// On a store failure.
    pub async fn tokens_expiring_soon(&self) -> Result<i64> {
        let now = cells_core::now();
        Ok(self.store().count_tokens_expiring(now, now + EXPIRY_WARNING).await?)
    }
}

/// Whether an active token ends within `within` seconds of `now` whatever its use: its
/// hard limit, or its cap (an uncapped auto-refresh token in use never lapses, so it is
/// never said to be expiring). The one rule of `ExpiresSoon`, `--expiring` and the gauge.
#[must_use]
pub fn expires_within(record: &TokenRecord, now: UnixTime, within: i64) -> bool {
    super::status(record, now) == "active"
        && record.expiry.hard_end(record.expires_at).is_some_and(|end| end <= now.saturating_add(within))
}
