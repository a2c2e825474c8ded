//! Personal access tokens: creation (self-service, impersonation, the CLI, document
//! tokens), listing and revocation. Their use on every request (validation, expiry bump,
//! audit) is in [`live`]. Revocation and user changes bump the database's change
//! counter, which clears every process's cache (see the `caches` module).

mod keys;
mod life;
mod live;
mod policy;
mod usage;

pub(crate) use keys::{LiveKey, digest as key_digest};
pub(crate) use life::Activity;
pub use life::{ACTIVITY_DAYS, ACTIVITY_FLUSH, EXPIRY_WARNING, MAX_GRACE, MAX_LEAK_REPORT, expires_within};
pub(crate) use live::LiveToken;
pub use policy::{POLICY_SETTING, beyond_policy, made_for_other};

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use cells_core::expiry::{ExpiryModel, is_expired};
use cells_core::limits::Limits;
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
    /// Address blocks and protocols it may be used from (empty: anywhere, any).
    pub limits: Limits,
}

/// Counts writes of token usage (for `/metrics`, and to show the throttle works).
#[derive(Default)]
pub(crate) struct UsageWrites(AtomicU64);

pub(crate) fn check_label(label: &str) -> Result<()> {
    if label.chars().count() > 128 || label.chars().any(|c| c.is_control() || cells_core::path::is_bidi_control(c)) {
        return Err(ServiceError::BadRequest(
            "a label has at most 128 characters and no control or bidirectional-text control characters".into(),
        ));
    }
    Ok(())
}

/// Whose credentials a listing shows, as [`Cells::whose`] decides.
pub(crate) enum Whose<'a> {
    Everyone,
    Of(Admin, &'a str),
    Own,
}

impl Cells {
    /// Whether users may create tokens for themselves.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn self_service_tokens(&self) -> Result<bool> {
        Ok(self.token_policy().await?.self_service)
    }

    /// Turns self-service token creation on or off.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn set_self_service_tokens(&self, _: Admin, on: bool) -> Result<()> {
        self.store().set_setting(SELF_SERVICE_SETTING, if on { "on" } else { "off" }).await?;
        self.changed().await;
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
            expiry: self.document_expiry().await?,
            scopes: vec![Scope { node: node.id, rights }],
            limits: Limits::default(),
        };
        self.issue(&owner, TokenType::Document, spec, principal.login.as_str()).await
    }

    /// A document token's expiry: 30 minutes of auto refresh, shortened and capped as
    /// the policy asks (capped at `MaxExpiresIn`, or 7 days when only a cap is asked for).
    async fn document_expiry(&self) -> Result<ExpiryModel> {
        let policy = self.token_policy().await?;
        let window = policy.max_auto_refresh.map_or(DOCUMENT_WINDOW, |max| max.min(DOCUMENT_WINDOW));
        let cap = match (policy.max_expires_in, policy.auto_refresh_needs_cap) {
            (Some(max), _) => Some(max),
            (None, true) => Some(EXPIRY_WARNING),
            (None, false) => None,
        };
        Ok(ExpiryModel::AutoRefresh { window, max_expires_at: cap.map(|c| cells_core::now().saturating_add(c)) })
    }

    /// Users other than admins make their own tokens only while self-service is on for
    /// them (the policy's default, or its exception for their login).
    pub(crate) async fn check_self_service(&self, principal: &Principal) -> Result<()> {
        if principal.admin().is_err() && !self.token_policy().await?.self_service_for(principal.login.as_str()) {
            return Err(ServiceError::Forbidden("creating your own tokens is turned off: ask an admin".into()));
        }
        Ok(())
    }

    /// Credentials are managed only with unrestricted ones: a token narrowed by scopes,
    /// or held to addresses or protocols, could otherwise make one without its limits.
    pub(crate) fn unrestricted(principal: &Principal) -> Result<()> {
        if principal.scopes.is_some() || principal.token_limited() {
            return Err(ServiceError::Forbidden(
                "a token restricted by scopes, addresses or protocols cannot manage tokens or SSH keys".into(),
            ));
        }
        Ok(())
    }

    /// `POST /a/auth/token/impersonate`: an admin, with unrestricted credentials, makes a
    /// token for any user.
    ///
    /// # Errors
    /// 403 for a non-admin or restricted credentials; otherwise as
    /// [`Cells::create_token_for`].
    pub async fn impersonate_token(
        &self,
        principal: &Principal,
        login: &str,
        spec: TokenSpec,
    ) -> Result<(TokenRecord, PatSecret)> {
        Self::unrestricted(principal)?;
        let admin = principal.admin()?;
        self.create_token_for(admin, login, spec, principal.login.as_str()).await
    }

    /// Whose credentials (tokens, SSH keys) a caller listing them with `by_user` gets:
    /// an admin anyone's (everyone's without `by_user`), others only their own. Logins
    /// are unique without regard to case: `Bob` asking for `bob`'s is asking for their own.
    pub(crate) fn whose<'a>(principal: &Principal, by_user: Option<&'a str>, what: &str) -> Result<Whose<'a>> {
        Self::unrestricted(principal)?;
        match (principal.admin(), by_user) {
            (Ok(admin), Some(login)) => Ok(Whose::Of(admin, login)),
            (Ok(_), None) => Ok(Whose::Everyone),
            (Err(_), Some(login)) if !login.eq_ignore_ascii_case(principal.login.as_str()) => {
                Err(ServiceError::Forbidden(format!("only admins list other users' {what}")))
            }
            (Err(_), _) => Ok(Whose::Own),
        }
    }

    /// Whether a caller may revoke a credential of `owner`: their own, or anyone's for an
    /// admin. (Someone else's is answered as not found, so it is not told apart.)
    pub(crate) fn may_revoke(principal: &Principal, owner: cells_core::UserId) -> bool {
        owner == principal.user || principal.admin().is_ok()
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
        let for_other = !created_by.eq_ignore_ascii_case(owner.login.as_str());
        self.check_policy(&spec.expiry, expires_at, now, !spec.scopes.is_empty(), for_other).await?;
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
            limits: &spec.limits,
        };
        let record = self.store().insert_token(&new, now).await?;
        tracing::info!(token = %record.id, owner = %owner.login, created_by, "personal access token created");
        Ok((record, secret))
    }

    /// A scope must name an existing node that its owner can reach.
    pub(crate) async fn check_scope(&self, owner: &UserRecord, scope: &Scope) -> Result<()> {
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
        match Self::whose(principal, by_user, "tokens")? {
            Whose::Everyone => Ok(self.store().all_tokens().await?),
            Whose::Of(admin, login) => self.list_tokens_of(admin, login).await,
            Whose::Own => Ok(self.store().tokens_of(principal.user).await?),
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
        let record = self.owned_token(principal, id).await?;
        self.revoke(&record).await
    }

    /// `cells admin token revoke --beyond-policy`: revokes every token not revoked nor
    /// expired that breaks the policy in force; returns them.
    ///
    /// # Errors
    /// On a store failure.
    pub async fn revoke_beyond_policy(&self, _: Admin) -> Result<Vec<TokenRecord>> {
        let policy = self.token_policy().await?;
        let now = cells_core::now();
        let mut ended = Vec::new();
        for record in self.store().all_tokens().await? {
            if status(&record, now) == "active"
                && !beyond_policy(&policy, &record).is_empty()
                && self.revoke(&record).await?
            {
                ended.push(record);
            }
        }
        Ok(ended)
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
        self.changed().await;
        tracing::info!(token = %record.id, owner = %record.user_login, "personal access token revoked");
        Ok(revoked)
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
        if let Err(err) = self.store().prune_token_activity(cells_core::now() - ACTIVITY_DAYS * 86_400).await {
            tracing::warn!(error = %err, "cannot prune token activity");
        }
    }
}

/// A token's status at `now`, for listings.
#[must_use]
pub fn status(record: &TokenRecord, now: UnixTime) -> &'static str {
    if record.leaked.is_some() {
        "leaked"
    } else if record.revoked_at.is_some() {
        "revoked"
    } else if is_expired(now, record.expires_at) {
        "expired"
    } else {
        "active"
    }
}
