//! The use of personal access tokens, on every request: validation (the hot path), the
//! expiry bump of auto-refresh tokens, and the audit writes of uses and refusals.
//!
//! The format and checksum are checked first (no lookup for garbage), then one SHA-256
//! keys the verified-token cache; only a miss reads the database. The expiry bump happens
//! in memory at once and is written, with the last-used data, at most once per token per
//! `min(60 s, window / 10)`, off the request's path; a refusal is written at most once a
//! minute per reason.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cells_core::UnixTime;
use cells_core::expiry::is_expired;
use cells_core::scope::Scope;
use cells_core::token::PatSecret;
use cells_store::{Secret, TokenRecord};

use super::Usage;
use super::usage::LiveUse;
use crate::{Cells, Principal, Result, ServiceError};

/// A verified token in the cache, with its expiry as bumped in memory.
pub(crate) struct LiveToken {
    pub(crate) record: TokenRecord,
    /// Which of the record's secrets this entry's hash is.
    secret: Secret,
    scopes: Option<Arc<[Scope]>>,
    usage: LiveUse,
    /// Uses counted for the activity, not yet written.
    pub(super) uses: super::life::UseCounts,
}

impl LiveToken {
    fn new(record: TokenRecord, secret: Secret) -> Self {
        Self {
            secret,
            scopes: if record.scopes.is_empty() { None } else { Some(record.scopes.clone().into()) },
            usage: LiveUse::new(
                record.expires_at,
                record.last_used_at,
                (record.last_failure_at, record.last_failure_reason.clone()),
            ),
            record,
            uses: super::life::UseCounts::default(),
        }
    }

    /// The expiry, as pushed forward in memory by the uses of an auto-refresh token.
    pub(crate) fn expires_at(&self) -> UnixTime {
        self.usage.expires_at()
    }

    /// When this secret ends whatever its use: the token's hard limit or cap, or for the
    /// secret before a rotation the end of its grace if sooner; `None` for an uncapped
    /// auto-refresh token's current secret.
    pub(crate) fn hard_end(&self) -> Option<UnixTime> {
        let token = self.record.expiry.hard_end(self.expires_at());
        match (self.secret, self.record.grace_ends_at) {
            (Secret::Previous, Some(grace)) => Some(token.map_or(grace, |end| end.min(grace))),
            _ => token,
        }
    }

    /// When this secret stops opening the token: its expiry, or for the secret before a
    /// rotation, the end of its grace if sooner.
    pub(crate) fn ends_at(&self) -> UnixTime {
        match (self.secret, self.record.grace_ends_at) {
            (Secret::Previous, Some(grace)) => grace.min(self.expires_at()),
            (Secret::Previous, None) => UnixTime::MIN,
            (Secret::Current, _) => self.expires_at(),
        }
    }
}

impl Cells {
    /// Validates a personal access token (its format and checksum already checked by the
    /// caller's parse): cache (or database), not revoked, not a rotated secret past its
    /// grace, not expired, within its address and protocol limits, user active, and (for
    /// Basic) the owner's login. Every
    /// failure is the same [`ServiceError::Unauthenticated`]; the reason is logged and,
    /// for a known token, kept in its audit data.
    pub(crate) async fn authenticate_pat(
        &self,
        secret: &PatSecret,
        login: Option<&str>,
        usage: Usage,
        cached_only: bool,
    ) -> Result<Principal> {
        let hash = secret.hash();
        let epoch = self.caches().epoch();
        let live = if let Some(live) = self.caches().tokens.get(&hash) {
            live
        } else {
            // A throttled address does no database work, except for a token that was in
            // use here (a revocation elsewhere may just have cleared the cache).
            if cached_only && !self.caches().tokens_in_use.contains(&hash) {
                return Err(ServiceError::Unauthenticated);
            }
            let Some(live) = self.load_live_token(&hash).await? else {
                tracing::info!(reason = "unknown token", "personal access token refused");
                return Err(ServiceError::Unauthenticated);
            };
            live
        };
        let now = cells_core::now();
        let record = &live.record;
        if record.revoked_at.is_some() {
            let reason = if record.leaked.is_some() { "leaked" } else { "revoked" };
            return Err(self.token_failure(&live, now, reason));
        }
        if live.secret == Secret::Previous && record.grace_ends_at.is_none_or(|ends| now >= ends) {
            return Err(self.token_failure(&live, now, "rotated"));
        }
        if is_expired(now, live.expires_at()) {
            return Err(self.token_failure(&live, now, "expired"));
        }
        if let Err(outside) = record.limits.check(usage.ip, usage.via) {
            return Err(self.token_failure(&live, now, outside.reason()));
        }
        let Ok(mut principal) = self.active_principal(record.user).await else {
            return Err(self.token_failure(&live, now, "user locked or deleted"));
        };
        if login.is_some_and(|login| login != principal.login.as_str()) {
            return Err(self.token_failure(&live, now, "user name is not the owner's login"));
        }
        self.note_use(&live, now, usage);
        if self.inner.activity.count(&live, now, usage) {
            let cells = self.clone();
            tokio::spawn(async move { cells.flush_activity().await });
        }
        principal.token = Some(record.id);
        principal.scopes.clone_from(&live.scopes);
        principal.epoch = epoch;
        principal.proof = crate::principal::Proof::Pat { hash, live };
        Ok(principal)
    }

    /// A token by its hash, from the cache or the database (then cached).
    pub(crate) async fn live_token(&self, hash: &cells_core::token::PatHash) -> Result<Option<Arc<LiveToken>>> {
        match self.caches().tokens.get(hash) {
            Some(live) => Ok(Some(live)),
            None => self.load_live_token(hash).await,
        }
    }

    async fn load_live_token(&self, hash: &cells_core::token::PatHash) -> Result<Option<Arc<LiveToken>>> {
        let seen = self.caches().tokens.generation();
        let Some((record, secret)) = self.store().token_by_hash(hash).await? else { return Ok(None) };
        if record.revoked_at.is_none() && !is_expired(cells_core::now(), record.expires_at) {
            self.caches().tokens_in_use.insert(*hash);
        }
        // Concurrent misses share the first entry, so its usage is written once.
        Ok(Some(self.caches().tokens.insert_or_get(seen, *hash, Arc::new(LiveToken::new(record, secret)))))
    }

    /// Logs a refusal of a known token, and writes it to the token's audit data at most
    /// once per minute (`LiveUse::failure_to_write`) for the same reason.
    fn token_failure(&self, live: &LiveToken, now: UnixTime, reason: &'static str) -> ServiceError {
        let record = &live.record;
        tracing::info!(token = %record.id, owner = %record.user_login, reason, "personal access token refused");
        if !live.usage.failure_to_write(now, reason) {
            return ServiceError::Unauthenticated;
        }
        self.inner.audit_writes.0.fetch_add(1, Ordering::Relaxed);
        let (store, id) = (self.store().clone(), record.id);
        tokio::spawn(async move {
            if let Err(err) = store.record_token_failure(id, now, reason).await {
                tracing::warn!(error = %err, "cannot record a token failure");
            }
        });
        ServiceError::Unauthenticated
    }

    /// Bumps the expiry in memory now; writes it and the last-used data at most once per
    /// interval, in the background.
    fn note_use(&self, live: &LiveToken, now: UnixTime, usage: Usage) {
        let Some(bumped) = live.usage.note(&live.record.expiry, now) else { return };
        self.inner.usage_writes.0.fetch_add(1, Ordering::Relaxed);
        let (store, id, ip) = (self.store().clone(), live.record.id, usage.ip.map(|ip| ip.to_string()));
        tokio::spawn(async move {
            if let Err(err) = store.record_token_use(id, bumped, now, ip.as_deref(), usage.via.as_str()).await {
                tracing::warn!(error = %err, "cannot record a token use");
            }
        });
    }
}
