//! The use of SSH public keys at each SFTP login: the same checks as a personal access
//! token ([`super::live`]), keyed by the SHA-256 fingerprint of the key instead of the
//! hash of a secret. Registration, listing and revocation are in [`crate::ssh_keys`].
//!
//! SSH asks twice. A client first *offers* a key (no signature yet): [`Cells::ssh_key_offered`]
//! says whether this key would be accepted for this login, so that a client holding
//! several keys moves on without signing with the wrong one. It records no use; an
//! unknown key is not counted as a failure (an agent offers each of its keys), a known
//! key refused is (and audited). Once the client proved it holds the key (russh checked
//! the signature), [`Cells::authenticate`] with [`crate::auth::Credential::PublicKey`]
//! does the real check, notes the use and yields the principal, narrowed by the key's
//! scopes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cells_core::UnixTime;
use cells_core::expiry::is_expired;
use cells_core::scope::Scope;
use cells_store::KeyRecord;
use ssh_key::{HashAlg, PublicKey};

use super::Usage;
use super::usage::LiveUse;
use crate::principal::Proof;
use crate::{Cells, Principal, Result, ServiceError};

/// A verified key in the cache, with its expiry as bumped in memory.
pub(crate) struct LiveKey {
    pub(crate) record: KeyRecord,
    scopes: Option<Arc<[Scope]>>,
    usage: LiveUse,
}

impl LiveKey {
    fn new(record: KeyRecord) -> Self {
        Self {
            scopes: if record.scopes.is_empty() { None } else { Some(record.scopes.clone().into()) },
            usage: LiveUse::new(
                record.expires_at,
                record.last_used_at,
                (record.last_failure_at, record.last_failure_reason.clone()),
            ),
            record,
        }
    }

    /// The expiry, as pushed forward in memory by the uses of an auto-refresh key.
    pub(crate) fn expires_at(&self) -> UnixTime {
        self.usage.expires_at()
    }
}

/// The SHA-256 of a key's wire form: the cache key, and (as `SHA256:<base64>`) the
/// column a key is looked up by.
pub(crate) fn digest(key: &PublicKey) -> ([u8; 32], String) {
    let fingerprint = key.fingerprint(HashAlg::Sha256);
    let text = fingerprint.to_string();
    (fingerprint.sha256().unwrap_or_default(), text)
}

impl Cells {
    /// Validates a key whose possession the SSH layer has verified: cache (or database),
    /// not revoked, not expired, user active, and `login` the owner's. Every failure is
    /// the same [`ServiceError::Unauthenticated`]; the reason is logged (with the
    /// fingerprint, never the key) and kept in the key's audit data.
    pub(crate) async fn authenticate_key(
        &self,
        login: &str,
        key: &PublicKey,
        usage: Usage,
        cached_only: bool,
    ) -> Result<Principal> {
        let (digest, fingerprint) = digest(key);
        let epoch = self.caches().epoch();
        let Some(live) = self.find_key(digest, &fingerprint, cached_only).await? else {
            tracing::info!(fingerprint, reason = "unknown key", "SSH key refused");
            return Err(ServiceError::Unauthenticated);
        };
        let now = cells_core::now();
        let mut principal = self.check_key(&live, login, now).await?;
        self.note_key_use(&live, now, usage);
        principal.scopes.clone_from(&live.scopes);
        principal.epoch = epoch;
        principal.proof = Proof::Key { digest, live };
        Ok(principal)
    }

    /// Whether `key`, offered for `login` before any signature, would be accepted now.
    /// Records no use. An unknown key is refused without counting a failure; a known key
    /// that is refused (revoked, expired, another user's) counts, and is audited. From a
    /// throttled address only keys in use here are looked at.
    pub async fn ssh_key_offered(&self, login: &str, key: &PublicKey, ip: Option<std::net::IpAddr>) -> bool {
        let throttled = self.limiter().retry_after(ip).is_some();
        let (digest, fingerprint) = digest(key);
        match self.find_key(digest, &fingerprint, throttled).await {
            Ok(Some(live)) => match self.check_key(&live, login, cells_core::now()).await {
                Ok(_) => true,
                Err(_) => {
                    self.limiter().record_failure(ip);
                    false
                }
            },
            Ok(None) => {
                tracing::debug!(fingerprint, "SSH key offered is not registered");
                false
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot look an SSH key up");
                false
            }
        }
    }

    /// A key by its digest, from the cache or (unless `cached_only` and the key was not
    /// in use here) the database.
    async fn find_key(&self, digest: [u8; 32], fingerprint: &str, cached_only: bool) -> Result<Option<Arc<LiveKey>>> {
        if let Some(live) = self.caches().ssh_keys.get(&digest) {
            return Ok(Some(live));
        }
        if cached_only && !self.caches().keys_in_use.contains(&digest) {
            return Ok(None);
        }
        self.load_live_key(digest, fingerprint).await
    }

    /// A key by its digest and fingerprint, for [`Cells::check_current`].
    pub(crate) async fn live_key(&self, digest: [u8; 32], fingerprint: &str) -> Result<Option<Arc<LiveKey>>> {
        self.find_key(digest, fingerprint, false).await
    }

    async fn load_live_key(&self, digest: [u8; 32], fingerprint: &str) -> Result<Option<Arc<LiveKey>>> {
        let seen = self.caches().ssh_keys.generation();
        let Some(record) = self.store().key_by_fingerprint(fingerprint).await? else { return Ok(None) };
        if record.revoked_at.is_none() && !is_expired(cells_core::now(), record.expires_at) {
            self.caches().keys_in_use.insert(digest);
        }
        Ok(Some(self.caches().ssh_keys.insert_or_get(seen, digest, Arc::new(LiveKey::new(record)))))
    }

    /// The checks of a known key, in the order of a token's: revoked, expired, user
    /// active, the login is the owner's.
    async fn check_key(&self, live: &LiveKey, login: &str, now: UnixTime) -> Result<Principal> {
        if live.record.revoked_at.is_some() {
            return Err(self.key_failure(live, now, "revoked"));
        }
        if is_expired(now, live.expires_at()) {
            return Err(self.key_failure(live, now, "expired"));
        }
        let Ok(principal) = self.active_principal(live.record.user).await else {
            return Err(self.key_failure(live, now, "user locked or deleted"));
        };
        if login != principal.login.as_str() {
            return Err(self.key_failure(live, now, "user name is not the owner's login"));
        }
        Ok(principal)
    }

    /// Logs a refusal of a known key, and writes it to the key's audit data at most once
    /// per minute (`LiveUse::failure_to_write`) for the same reason.
    fn key_failure(&self, live: &LiveKey, now: UnixTime, reason: &'static str) -> ServiceError {
        let record = &live.record;
        tracing::info!(key = %record.id, fingerprint = %record.fingerprint, owner = %record.user_login, reason, "SSH key refused");
        if !live.usage.failure_to_write(now, reason) {
            return ServiceError::Unauthenticated;
        }
        self.inner.audit_writes.0.fetch_add(1, Ordering::Relaxed);
        let (store, id) = (self.store().clone(), record.id);
        tokio::spawn(async move {
            if let Err(err) = store.record_key_failure(id, now, reason).await {
                tracing::warn!(error = %err, "cannot record an SSH key failure");
            }
        });
        ServiceError::Unauthenticated
    }

    /// Bumps the expiry in memory now; writes it and the last-used data at most once per
    /// interval, in the background (the same throttle as tokens).
    fn note_key_use(&self, live: &LiveKey, now: UnixTime, usage: Usage) {
        let Some(bumped) = live.usage.note(&live.record.expiry, now) else { return };
        self.inner.usage_writes.0.fetch_add(1, Ordering::Relaxed);
        let (store, id, ip) = (self.store().clone(), live.record.id, usage.ip.map(|ip| ip.to_string()));
        tokio::spawn(async move {
            if let Err(err) = store.record_key_use(id, bumped, now, ip.as_deref(), usage.via.as_str()).await {
                tracing::warn!(error = %err, "cannot record an SSH key use");
            }
        });
    }
}
