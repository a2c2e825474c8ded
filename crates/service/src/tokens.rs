//! Personal access tokens: creation (self-service, impersonation, the CLI, document
//! tokens), listing, revocation, and validation on every request.
//!
//! Validation is built for the hot path: the format and checksum are checked first (no
//! lookup for garbage), then one SHA-256 keys the verified-token cache; only a miss reads
//! the database. The expiry bump of auto-refresh tokens happens in memory at once and is
//! written, with the last-used data, at most once per token per
//! `min(60 s, window / 10)`, off the request's path. Revocation and user changes bump the
//! database's change counter, which clears every process's cache (see the `caches` module).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use cells_core::expiry::{ExpiryModel, is_expired, should_write_usage};
use cells_core::scope::Scope;
use cells_core::token::{self, PatSecret};
use cells_core::{TokenId, TreePath, UnixTime};
use cells_store::{NewToken, TokenRecord, TokenType, UserRecord};

use crate::users::no_user;
use crate::{Admin, Cells, Principal, Result, ServiceError, Via};

/// The admin setting that allows users to create their own tokens (`on` by default).
pub const SELF_SERVICE_SETTING: &str = "tokens.self_service";
/// The auto-refresh window of document tokens: 30 minutes.
pub const DOCUMENT_WINDOW: i64 = 30 * 60;
/// Token records expired or revoked for longer than this are pruned.
pub const PRUNE_AFTER: i64 = 90 * 24 * 3600;

/// A verified token in the cache, with its expiry as bumped in memory.
pub(crate) struct LiveToken {
    pub(crate) record: TokenRecord,
    scopes: Option<Arc<[Scope]>>,
    expires_at: AtomicI64,
    /// When usage was last written (or read from the record); `i64::MIN` for never.
    last_written: AtomicI64,
    /// When a refusal was last written to the audit data, and why.
    last_failure: std::sync::Mutex<(Option<UnixTime>, Option<String>)>,
}

impl LiveToken {
    fn new(record: TokenRecord) -> Self {
        Self {
            scopes: if record.scopes.is_empty() { None } else { Some(record.scopes.clone().into()) },
            expires_at: AtomicI64::new(record.expires_at),
            last_written: AtomicI64::new(record.last_used_at.unwrap_or(i64::MIN)),
            last_failure: std::sync::Mutex::new((record.last_failure_at, record.last_failure_reason.clone())),
            record,
        }
    }

    /// The expiry, as pushed forward in memory by the uses of an auto-refresh token.
    pub(crate) fn expires_at(&self) -> UnixTime {
        self.expires_at.load(Ordering::Acquire)
    }
}

/// How often at most a refusal of one token for one reason is written to its audit
/// data: a revoked token used in a loop costs one write a minute, not one per request
/// (a new reason is written at once).
const FAILURE_WRITE_INTERVAL: i64 = 60;

/// Where and how a credential was presented.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub via: Via,
    pub ip: Option<IpAddr>,
}

/// What a new token should be.
pub struct TokenSpec {
    pub label: Option<String>,
    pub expiry: ExpiryModel,
    pub scopes: Vec<Scope>,
}

/// Counts writes of token usage (for `/metrics`, and to show the throttle works).
#[derive(Default)]
pub(crate) struct UsageWrites(AtomicU64);

fn check_label(label: &str) -> Result<()> {
    if label.chars().count() > 128 || label.chars().any(|c| c.is_control() || cells_core::path::is_bidi_control(c)) {
        return Err(ServiceError::BadRequest(
            "a label has at most 128 characters and no control or bidirectional-text control characters".into(),
        ));
    }
    Ok(())
}

impl Cells {
    /// Whether users may create tokens for themselves.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn self_service_tokens(&self) -> Result<bool> {
        Ok(self.store().setting(SELF_SERVICE_SETTING).await?.as_deref() != Some("off"))
    }

    /// Turns self-service token creation on or off.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn set_self_service_tokens(&self, _: Admin, on: bool) -> Result<()> {
        self.store().set_setting(SELF_SERVICE_SETTING, if on { "on" } else { "off" }).await?;
        self.changed();
        Ok(())
    }

    /// `POST /a/auth/token/personal`: a token for the caller themself.
    ///
    /// # Errors
    /// 403 when self-service is off (for non-admins) or the caller uses a scoped token;
    /// 400 for a bad expiry, label or scope.
    pub async fn create_personal_token(
        &self,
        principal: &Principal,
        spec: TokenSpec,
    ) -> Result<(TokenRecord, PatSecret)> {
        Self::unrestricted(principal)?;
        self.check_self_service(principal).await?;
        let owner = self.store().user_by_id(principal.user).await?.ok_or(ServiceError::Unauthenticated)?;
        self.issue(&owner, TokenType::Personal, spec, principal.login.as_str()).await
    }

    /// `POST /a/auth/token/impersonate`, and the CLI: a token for any user.
    ///
    /// # Errors
    /// 404 for an unknown user; 400 for a bad expiry, label or scope.
    pub async fn create_token_for(
        &self,
        _: Admin,
        login: &str,
        spec: TokenSpec,
        created_by: &str,
    ) -> Result<(TokenRecord, PatSecret)> {
        let owner = self.store().user_by_login(login).await?.ok_or_else(|| no_user(login))?;
        self.issue(&owner, TokenType::Personal, spec, created_by).await
    }

    /// `POST /a/auth/token/document`: a DOCUMENT token for one file the caller can read,
    /// auto-refreshed every 30 minutes, scoped `rw` (or `r` if the caller may only read).
    /// It is a token the user makes for themself, so the self-service setting applies.
    ///
    /// # Errors
    /// 404 when the file is not visible; 400 for a folder; 403 for a scoped caller, or
    /// when self-service is off (for non-admins).
    pub async fn create_document_token(
        &self,
        principal: &Principal,
        path: &TreePath,
    ) -> Result<(TokenRecord, PatSecret)> {
        Self::unrestricted(principal)?;
        self.check_self_service(principal).await?;
        let located = self.locate(principal, path).await?;
        let node = located.existing()?;
        located.require_content()?;
        if node.kind == cells_core::NodeKind::Collection {
            return Err(ServiceError::BadRequest(format!(
                "{path} is a folder: a document token is for one file (make a personal token scoped to the folder)"
            )));
        }
        let rights = if located.rights.write { cells_core::Rights::READ_WRITE } else { cells_core::Rights::READ };
        let owner = self.store().user_by_id(principal.user).await?.ok_or(ServiceError::Unauthenticated)?;
        let spec = TokenSpec {
            label: Some(format!("Document {path}").chars().take(128).collect()),
            expiry: ExpiryModel::AutoRefresh { window: DOCUMENT_WINDOW, max_expires_at: None },
            scopes: vec![Scope { node: node.id, rights }],
        };
        self.issue(&owner, TokenType::Document, spec, principal.login.as_str()).await
    }

    /// Users other than admins make their own tokens only while self-service is on.
    async fn check_self_service(&self, principal: &Principal) -> Result<()> {
        if principal.admin().is_err() && !self.self_service_tokens().await? {
            return Err(ServiceError::Forbidden("creating your own tokens is turned off: ask an admin".into()));
        }
        Ok(())
    }

    fn unrestricted(principal: &Principal) -> Result<()> {
        if principal.scopes.is_some() {
            return Err(ServiceError::Forbidden("a token restricted by scopes cannot manage tokens".into()));
        }
        Ok(())
    }

    /// Checks the scopes against the owner's own access, then stores the token. The
    /// plaintext is returned to be shown once; only its hash is stored.
    async fn issue(
        &self,
        owner: &UserRecord,
        kind: TokenType,
        spec: TokenSpec,
        created_by: &str,
    ) -> Result<(TokenRecord, PatSecret)> {
        let label = spec.label.unwrap_or_else(|| format!("Created by {created_by}"));
        check_label(&label)?;
        if spec.scopes.len() > cells_core::scope::MAX_SCOPES {
            return Err(ServiceError::BadRequest(cells_core::scope::ScopeError::TooMany.to_string()));
        }
        for scope in &spec.scopes {
            self.check_scope(owner, scope).await?;
        }
        let now = cells_core::now();
        let expires_at = spec.expiry.initial_expiry(now).map_err(|e| ServiceError::BadRequest(e.to_string()))?;
        let secret = token::generate();
        let new = NewToken {
            hash: &secret.hash(),
            kind,
            label: &label,
            user: owner.id,
            user_login: owner.login.as_str(),
            scopes: &spec.scopes,
            expiry: spec.expiry,
            expires_at,
            created_by,
        };
        let record = self.store().insert_token(&new, now).await?;
        tracing::info!(token = %record.id, owner = %owner.login, created_by, "personal access token created");
        Ok((record, secret))
    }

    /// A scope must name an existing node that its owner can reach.
    async fn check_scope(&self, owner: &UserRecord, scope: &Scope) -> Result<()> {
        let unknown = || ServiceError::BadRequest(format!("scope {scope}: no such node"));
        let node = self.store().node_by_id(scope.node).await?.ok_or_else(unknown)?;
        let workspace = self.store().workspace_by_id(node.workspace).await?.ok_or_else(unknown)?;
        if self.rights_on(owner.id, &workspace).await?.is_none() {
            return Err(ServiceError::BadRequest(format!("scope {scope}: {} cannot access this node", owner.login)));
        }
        Ok(())
    }

    /// `POST /a/auth/tokens`: an admin lists anyone's tokens (everyone's without
    /// `by_user`); others only their own.
    ///
    /// # Errors
    /// 403 when a non-admin asks for someone else's; 404 for an unknown user.
    pub async fn list_tokens(&self, principal: &Principal, by_user: Option<&str>) -> Result<Vec<TokenRecord>> {
        Self::unrestricted(principal)?;
        match (principal.admin(), by_user) {
            (Ok(admin), Some(login)) => self.list_tokens_of(admin, login).await,
            (Ok(_), None) => Ok(self.store().all_tokens().await?),
            (Err(_), Some(login)) if login != principal.login.as_str() => {
                Err(ServiceError::Forbidden("only admins list other users' tokens".into()))
            }
            (Err(_), _) => Ok(self.store().tokens_of(principal.user).await?),
        }
    }

    /// A user's tokens, for admins and the CLI.
    ///
    /// # Errors
    /// 404 for an unknown user.
    pub async fn list_tokens_of(&self, _: Admin, login: &str) -> Result<Vec<TokenRecord>> {
        let user = self.store().user_by_login(login).await?.ok_or_else(|| no_user(login))?;
        Ok(self.store().tokens_of(user.id).await?)
    }

    /// Every token, for the CLI.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn list_all_tokens(&self, _: Admin) -> Result<Vec<TokenRecord>> {
        Ok(self.store().all_tokens().await?)
    }

    /// `DELETE /a/auth/tokens/{TokenId}`: by its owner or an admin. Returns `false` when
    /// it was already revoked.
    ///
    /// # Errors
    /// 404 when there is no such token, or it is someone else's and the caller no admin.
    pub async fn revoke_token(&self, principal: &Principal, id: TokenId) -> Result<bool> {
        Self::unrestricted(principal)?;
        let missing = || ServiceError::NotFound(format!("no token {id}"));
        let record = self.store().token_by_id(id).await?.ok_or_else(missing)?;
        if record.user != principal.user && principal.admin().is_err() {
            return Err(missing());
        }
        self.revoke(&record).await
    }

    /// Revokes any token, for the CLI.
    ///
    /// # Errors
    /// 404 when there is no such token.
    pub async fn revoke_token_admin(&self, _: Admin, id: TokenId) -> Result<(TokenRecord, bool)> {
        let record =
            self.store().token_by_id(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no token {id}")))?;
        let revoked = self.revoke(&record).await?;
        Ok((record, revoked))
    }

    async fn revoke(&self, record: &TokenRecord) -> Result<bool> {
        let revoked = self.store().revoke_token(record.id, cells_core::now()).await?;
        self.changed();
        tracing::info!(token = %record.id, owner = %record.user_login, "personal access token revoked");
        Ok(revoked)
    }

    /// Validates a personal access token (its format and checksum already checked by the
    /// caller's parse): cache (or database), not
    /// revoked, not expired, user active, and (for Basic) the owner's login. Every
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
            return Err(self.token_failure(&live, now, "revoked"));
        }
        if is_expired(now, live.expires_at()) {
            return Err(self.token_failure(&live, now, "expired"));
        }
        let Ok(mut principal) = self.active_principal(record.user).await else {
            return Err(self.token_failure(&live, now, "user locked or deleted"));
        };
        if login.is_some_and(|login| login != principal.login.as_str()) {
            return Err(self.token_failure(&live, now, "user name is not the owner's login"));
        }
        self.note_use(&live, now, usage);
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
        let Some(record) = self.store().token_by_hash(hash).await? else { return Ok(None) };
        if record.revoked_at.is_none() && !is_expired(cells_core::now(), record.expires_at) {
            self.caches().tokens_in_use.insert(*hash);
        }
        // Concurrent misses share the first entry, so its usage is written once.
        Ok(Some(self.caches().tokens.insert_or_get(seen, *hash, Arc::new(LiveToken::new(record)))))
    }

    /// Logs a refusal of a known token, and writes it to the token's audit data at most
    /// once per [`FAILURE_WRITE_INTERVAL`] for the same reason.
    fn token_failure(&self, live: &LiveToken, now: UnixTime, reason: &'static str) -> ServiceError {
        let record = &live.record;
        tracing::info!(token = %record.id, owner = %record.user_login, reason, "personal access token refused");
        {
            let Ok(mut last) = live.last_failure.lock() else { return ServiceError::Unauthenticated };
            let same = last.1.as_deref() == Some(reason);
            if same && last.0.is_some_and(|at| now.saturating_sub(at) < FAILURE_WRITE_INTERVAL) {
                return ServiceError::Unauthenticated;
            }
            *last = (Some(now), Some(reason.to_owned()));
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
        let window = live.record.expiry.window();
        let bumped = live.record.expiry.bumped_expiry(now);
        if let Some(bumped) = bumped {
            live.expires_at.fetch_max(bumped, Ordering::AcqRel);
        }
        let last = live.last_written.load(Ordering::Acquire);
        let last = (last != i64::MIN).then_some(last);
        if !should_write_usage(now, last, window) {
            return;
        }
        // One writer per interval, even under concurrent requests.
        if live
            .last_written
            .compare_exchange(last.unwrap_or(i64::MIN), now, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        self.inner.usage_writes.0.fetch_add(1, Ordering::Relaxed);
        let (store, id, ip) = (self.store().clone(), live.record.id, usage.ip.map(|ip| ip.to_string()));
        tokio::spawn(async move {
            if let Err(err) = store.record_token_use(id, bumped, now, ip.as_deref(), usage.via.as_str()).await {
                tracing::warn!(error = %err, "cannot record a token use");
            }
        });
    }

    /// How many times token usage was written since start.
    #[must_use]
    pub fn token_usage_writes(&self) -> u64 {
        self.inner.usage_writes.0.load(Ordering::Relaxed)
    }

    /// How many times a token refusal was written to the audit data since start.
    #[must_use]
    pub fn token_failure_writes(&self) -> u64 {
        self.inner.audit_writes.0.load(Ordering::Relaxed)
    }

    /// Deletes token records long expired or revoked.
    pub(crate) async fn prune_tokens(&self) {
        match self.store().prune_tokens(cells_core::now() - PRUNE_AFTER).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "pruned old token records"),
            Err(err) => tracing::warn!(error = %err, "cannot prune token records"),
        }
    }
}

/// A token's status at `now`, for listings.
#[must_use]
pub fn status(record: &TokenRecord, now: UnixTime) -> &'static str {
    if record.revoked_at.is_some() {
        "revoked"
    } else if is_expired(now, record.expires_at) {
        "expired"
    } else {
        "active"
    }
}
