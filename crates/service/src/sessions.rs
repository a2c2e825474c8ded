//! Login sessions: the OAuth2 `password` and `refresh_token` grants, the short-lived
//! signed access tokens they issue, logout (RFC 7009), and [`Cells::check_current`],
//! which tells a stream or a session in flight that the credentials it started with
//! have ended.
//!
//! Access tokens are compact JWTs (HS256). Each carries its user's session generation
//! (`gen`, moved by a password change or a lock) and its refresh family (`fam`, one per
//! login): it is refused once either ends, not only when it expires. Refresh tokens are
//! opaque, stored as SHA-256, rotated on each use; reusing a retired one ends its whole
//! family (theft), see `cells_store::Redeemed`.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cells_core::expiry::is_expired;
use cells_core::{UnixTime, UserId};
use cells_store::{Redeemed, UserRecord};
use hmac::Mac;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::sha256_hex;
use crate::principal::Proof;
use crate::{Cells, Principal, Result, ServiceError, passwords};

/// Lifetime of an access token.
pub const ACCESS_TTL: i64 = 600;
/// Lifetime of a refresh token.
pub const REFRESH_TTL: i64 = 30 * 24 * 3600;

/// What a successful grant answers (RFC 6749 section 5.1).
#[derive(Serialize)]
pub struct Grant {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Grant(***)")
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    /// The user's session generation when issued.
    #[serde(rename = "gen")]
    session_gen: i64,
    /// The refresh family (login) it belongs to.
    fam: String,
}

/// A verified access token, as the cache keeps it.
#[derive(Clone)]
pub(crate) struct VerifiedAccess {
    user: UserId,
    expires_at: UnixTime,
    session_gen: i64,
    family: Arc<str>,
}

const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"; // {"alg":"HS256","typ":"JWT"}

impl Cells {
    /// The `password` grant. Wrong password, unknown user and locked user all give the
    /// same [`ServiceError::InvalidGrant`]; the real reason is logged.
    ///
    /// # Errors
    /// [`ServiceError::InvalidGrant`] on any failure to log in;
    /// [`ServiceError::Throttled`] for an address over the limit or a full hashing queue.
    pub async fn login_password(
        &self,
        login: &str,
        password: SecretString,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Grant> {
        if let Some(retry_after) = self.limiter().retry_after(ip) {
            // Only a password verified moments ago (and so not a guess) still passes.
            let cached = self.cached_password(login, &password).await;
            let user = match cached {
                Some(principal) => self.user_cached(principal.user).await?,
                None => None,
            };
            return match user {
                Some(user) => self.issue_grant(&user, None).await,
                None => Err(ServiceError::Throttled { retry_after }),
            };
        }
        let user = self.verify_password_counted(login, password, ip).await?;
        self.issue_grant(&user, None).await
    }

    /// The `refresh_token` grant: retires the refresh token and issues the next one of
    /// its family. A token used twice ends its family: both the thief and the victim
    /// must log in again.
    ///
    /// # Errors
    /// [`ServiceError::InvalidGrant`] when the token is unknown, used or expired, or the
    /// user is locked or gone.
    pub async fn login_refresh(&self, refresh_token: &SecretString) -> Result<Grant> {
        let now = cells_core::now();
        let hash = sha256_hex(refresh_token.expose_secret());
        let next = passwords::random_secret();
        let (user, family) =
            match self.store().rotate_refresh_token(&hash, &sha256_hex(&next), now, now + REFRESH_TTL).await? {
                Redeemed::Valid { user, family } => (user, family),
                Redeemed::Reused { user } => {
                    self.changed().await;
                    tracing::warn!(user = %user, reason = "refresh token used twice", "login ended: possible theft");
                    return Err(ServiceError::InvalidGrant);
                }
                Redeemed::Unknown => {
                    tracing::info!(reason = "unknown or expired refresh token", "refresh grant refused");
                    return Err(ServiceError::InvalidGrant);
                }
            };
        match self.user_cached(user).await? {
            Some(user) if !user.locked => Ok(Grant {
                access_token: self.sign_access_token(&user, &family, now),
                token_type: "Bearer",
                expires_in: ACCESS_TTL,
                refresh_token: next,
            }),
            _ => {
                tracing::info!(user = %user, reason = "user locked or deleted", "refresh grant refused");
                Err(ServiceError::InvalidGrant)
            }
        }
    }

    /// `POST /oauth2/revoke` (RFC 7009): ends the login of a refresh token or of a login
    /// access token: the refresh family and every access token issued from it. An
    /// unknown or invalid token is not an error (the RFC's answer is the same 200).
    ///
    /// # Errors
    /// On a store failure.
    pub async fn logout(&self, token: &SecretString) -> Result<()> {
        let token = token.expose_secret();
        let ended = if let Ok(access) = self.verify_access_token(token, cells_core::now()) {
            self.store().end_refresh_family(&access.family).await?;
            true
        } else {
            self.store().end_refresh_family_of(&sha256_hex(token)).await?
        };
        if ended {
            self.changed().await;
            tracing::info!("logged out");
        }
        Ok(())
    }

    async fn issue_grant(&self, user: &UserRecord, family: Option<String>) -> Result<Grant> {
        let now = cells_core::now();
        let refresh_token = passwords::random_secret();
        let family = family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.store()
            .insert_refresh_token(&sha256_hex(&refresh_token), &family, user.id, now, now + REFRESH_TTL)
            .await?;
        Ok(Grant {
            access_token: self.sign_access_token(user, &family, now),
            token_type: "Bearer",
            expires_in: ACCESS_TTL,
            refresh_token,
        })
    }

    fn sign_access_token(&self, user: &UserRecord, family: &str, now: UnixTime) -> String {
        let claims = Claims {
            sub: user.id.to_string(),
            iat: now,
            exp: now + ACCESS_TTL,
            session_gen: user.session_gen,
            fam: family.to_owned(),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signed = format!("{JWT_HEADER}.{payload}");
        let mut mac = self.keys().mac();
        mac.update(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signed}.{signature}")
    }

    /// Authenticates a Bearer access token issued by a grant.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for a bad signature, an expired token, an ended
    /// login, a locked or deleted user.
    pub(crate) async fn authenticate_access_token(&self, token: &str) -> Result<Principal> {
        let now = cells_core::now();
        let epoch = self.caches().epoch();
        // A token verified before is known by its SHA-256: no signature check, no JSON.
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let access = match self.caches().access_tokens.get(&key) {
            Some(access) => access,
            None => {
                let seen = self.caches().access_tokens.generation();
                // The signature first: a token that is not ours costs no database work
                // (and a validly signed one is no guess, so a throttled address may
                // still use it).
                let access = self.verify_access_token(token, now).map_err(|reason| {
                    tracing::info!(reason, "access token refused");
                    ServiceError::Unauthenticated
                })?;
                if !self.store().refresh_family_alive(&access.family, now).await? {
                    tracing::info!(user = %access.user, reason = "logged out", "access token refused");
                    return Err(ServiceError::Unauthenticated);
                }
                self.caches().access_tokens.insert(seen, key, access.clone());
                access
            }
        };
        if now >= access.expires_at {
            tracing::info!(reason = "expired", "access token refused");
            return Err(ServiceError::Unauthenticated);
        }
        let mut principal = self.active_principal(access.user).await?;
        let Proof::Password { session_gen } = principal.proof else {
            return Err(ServiceError::Unauthenticated);
        };
        if session_gen != access.session_gen {
            tracing::info!(user = %access.user, reason = "password changed or user locked since login", "access token refused");
            return Err(ServiceError::Unauthenticated);
        }
        principal.proof = Proof::Access { session_gen, family: access.family, key };
        principal.epoch = epoch;
        Ok(principal)
    }

    /// The claims of a validly signed, unexpired access token.
    fn verify_access_token(&self, token: &str, now: UnixTime) -> Result<VerifiedAccess, &'static str> {
        let (signed, signature) = token.rsplit_once('.').ok_or("malformed")?;
        let (header, payload) = signed.split_once('.').ok_or("malformed")?;
        if header != JWT_HEADER {
            return Err("unsupported header");
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "malformed signature")?;
        let mut mac = self.keys().mac();
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature).map_err(|_| "bad signature")?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| "malformed payload")?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| "malformed claims")?;
        if claims.exp <= now {
            return Err("expired");
        }
        let user = claims.sub.parse().map_err(|_| "malformed subject")?;
        Ok(VerifiedAccess { user, expires_at: claims.exp, session_gen: claims.session_gen, family: claims.fam.into() })
    }

    /// Whether the credentials a principal was authenticated with still hold: `Ok` until
    /// its personal access token or SSH key is revoked or expires, its login ends (logout, password
    /// change, a stolen refresh token), or its user is locked or deleted. Streams and
    /// sessions in flight call it as they go (every front end: `/io`, WebDAV, SFTP) and
    /// stop at the first error.
    ///
    /// Cheap: while nothing changed in users and tokens since the principal was
    /// authenticated (one atomic read), only a token's expiry is looked at; otherwise the
    /// caches (or, after a change, the database) answer.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] once the credentials have ended.
    pub async fn check_current(&self, principal: &Principal) -> Result<()> {
        let now = cells_core::now();
        let expires_at = match &principal.proof {
            Proof::Pat { live, .. } => Some(live.ends_at()),
            Proof::Key { live, .. } => Some(live.expires_at()),
            Proof::Password { .. } | Proof::Access { .. } => None,
        };
        if expires_at.is_some_and(|at| is_expired(now, at)) {
            return Err(ServiceError::Unauthenticated);
        }
        if self.caches().epoch() == principal.epoch {
            return Ok(());
        }
        let ended = |reason: &'static str| {
            tracing::info!(user = %principal.user, reason, "credentials ended while in use");
            ServiceError::Unauthenticated
        };
        let user = match self.user_cached(principal.user).await? {
            Some(user) if !user.locked => user,
            _ => return Err(ended("user locked or deleted")),
        };
        match &principal.proof {
            Proof::Password { session_gen } if *session_gen != user.session_gen => Err(ended("password changed")),
            Proof::Password { .. } => Ok(()),
            Proof::Access { session_gen, family, key } => {
                if *session_gen != user.session_gen {
                    return Err(ended("password changed or user locked since login"));
                }
                if self.caches().access_tokens.get(key).is_some() {
                    return Ok(());
                }
                if self.store().refresh_family_alive(family, now).await? { Ok(()) } else { Err(ended("logged out")) }
            }
            Proof::Pat { hash, .. } => match self.live_token(hash).await? {
                Some(live) if live.record.revoked_at.is_some() => Err(ended("token revoked")),
                Some(live) if is_expired(now, live.ends_at()) => Err(ended("token expired or rotated")),
                Some(_) => Ok(()),
                None => Err(ended("token deleted")),
            },
            Proof::Key { digest, live } => match self.live_key(*digest, &live.record.fingerprint).await? {
                Some(live) if live.record.revoked_at.is_some() => Err(ended("SSH key revoked")),
                Some(live) if is_expired(now, live.expires_at()) => Err(ended("SSH key expired")),
                Some(_) => Ok(()),
                None => Err(ended("SSH key deleted")),
            },
        }
    }

    /// Remembers a verified password for a short time under its keyed hash.
    pub(crate) fn remember_password(&self, seen: u64, key: [u8; 32], user: UserId) {
        self.caches().passwords.insert(seen, key, (user, Instant::now()));
    }
}
