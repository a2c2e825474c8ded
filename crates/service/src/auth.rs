//! Authentication: the OAuth2 `password` and `refresh_token` grants, the short-lived
//! signed access tokens they issue, and Basic `login:password`.
//!
//! Access tokens are compact JWTs (HS256) signed with a key kept in the database, so
//! that every process sharing the database accepts them. Refresh tokens are opaque,
//! stored as SHA-256 and replaced on each use. A verified Basic password is remembered
//! for `PASSWORD_TTL` (60 s) under an HMAC of login and password with a key
//! that never leaves this process, so argon2 runs once, not on every request.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cells_core::{UnixTime, UserId};
use cells_store::{Store, UserRecord};
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::caches::PASSWORD_TTL;
use crate::{Cells, Principal, Result, ServiceError, passwords};

/// Lifetime of an access token.
pub const ACCESS_TTL: i64 = 600;
/// Lifetime of a refresh token.
pub const REFRESH_TTL: i64 = 30 * 24 * 3600;

type HmacSha256 = Hmac<Sha256>;

pub(crate) struct Keys {
    signing: Vec<u8>,
    password_cache: [u8; 32],
    /// A real argon2id hash of a random password, verified against when a login is
    /// unknown so that timing does not tell which logins exist.
    dummy_hash: String,
}

impl Keys {
    pub(crate) async fn load(store: &Store, now: UnixTime) -> Result<Self> {
        let fresh: [u8; 32] = rand::rngs::OsRng.r#gen();
        let signing = store.server_key_or_insert("access-token-hmac", &fresh, now).await?;
        let dummy_hash = passwords::hash(passwords::generate()).await?;
        Ok(Self { signing, password_cache: rand::rngs::OsRng.r#gen(), dummy_hash })
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length.
        HmacSha256::new_from_slice(&self.signing).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }
}

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
}

const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"; // {"alg":"HS256","typ":"JWT"}

fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Credentials as a front end received them.
pub enum Credential {
    /// `Authorization: Bearer`: a personal access token or a login access token.
    Bearer(String),
    /// A login and a password, which may be a personal access token (Basic auth, SFTP):
    /// a password in the exact token format (prefix, length, checksum) is taken as one.
    Basic { login: String, password: SecretString },
}

impl Cells {
    /// Authenticates a caller, whatever the surface: the one entry point of every front
    /// end. Failed attempts are counted per address; past the limit, only credentials
    /// already verified and cached pass, and the rest get [`ServiceError::Throttled`].
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for any bad credential (the reason is logged);
    /// [`ServiceError::Throttled`] for an address over the limit.
    pub async fn authenticate(&self, credential: Credential, usage: crate::Usage) -> Result<Principal> {
        let throttled = self.inner.limiter.retry_after(usage.ip);
        let cached_only = throttled.is_some();
        let result = match credential {
            Credential::Bearer(token) if cells_core::token::looks_like_pat(&token) => {
                match cells_core::token::parse(&token) {
                    Ok(secret) => self.authenticate_pat(&secret, None, usage, cached_only).await,
                    Err(err) => {
                        tracing::info!(reason = %err, "personal access token refused");
                        Err(ServiceError::Unauthenticated)
                    }
                }
            }
            Credential::Bearer(token) => self.authenticate_access_token(&token).await,
            Credential::Basic { login, password } => match cells_core::token::parse(password.expose_secret()) {
                Ok(secret) => self.authenticate_pat(&secret, Some(&login), usage, cached_only).await,
                Err(_) => self.authenticate_password(&login, password, cached_only).await,
            },
        };
        match (result, throttled) {
            (Ok(principal), _) => Ok(principal),
            (Err(ServiceError::Unauthenticated), Some(retry_after)) => Err(ServiceError::Throttled { retry_after }),
            (Err(ServiceError::Unauthenticated), None) => {
                self.inner.limiter.record_failure(usage.ip);
                Err(ServiceError::Unauthenticated)
            }
            (Err(other), _) => Err(other),
        }
    }

    /// The `password` grant. Wrong password, unknown user and locked user all give the
    /// same [`ServiceError::InvalidGrant`]; the real reason is logged.
    ///
    /// # Errors
    /// [`ServiceError::InvalidGrant`] on any failure to log in.
    pub async fn login_password(
        &self,
        login: &str,
        password: SecretString,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Grant> {
        if let Some(retry_after) = self.inner.limiter.retry_after(ip) {
            // Only a password verified moments ago (and so not a guess) still passes.
            let cached = self.authenticate_password(login, password, true).await;
            let user = match cached {
                Ok(principal) => self.user_cached(principal.user).await?,
                Err(_) => None,
            };
            return match user {
                Some(user) => self.issue_grant(&user).await,
                None => Err(ServiceError::Throttled { retry_after }),
            };
        }
        let seen = self.caches().passwords.generation();
        let key = self.password_cache_key(login, &password);
        let user = match self.check_password(login, password).await {
            Ok(user) => user,
            Err(err) => {
                self.inner.limiter.record_failure(ip);
                return Err(err);
            }
        };
        self.caches().passwords.insert(seen, key, (user.id, Instant::now()));
        self.issue_grant(&user).await
    }

    /// The `refresh_token` grant: redeems (and so retires) the refresh token.
    ///
    /// # Errors
    /// [`ServiceError::InvalidGrant`] when the token is unknown, used or expired, or the
    /// user is locked or gone.
    pub async fn login_refresh(&self, refresh_token: &SecretString) -> Result<Grant> {
        let now = cells_core::now();
        let hash = sha256_hex(refresh_token.expose_secret());
        let Some(user) = self.store().redeem_refresh_token(&hash, now).await? else {
            tracing::info!(reason = "unknown, used or expired refresh token", "refresh grant refused");
            return Err(ServiceError::InvalidGrant);
        };
        match self.user_cached(user).await? {
            Some(user) if !user.locked => self.issue_grant(&user).await,
            _ => {
                tracing::info!(user = %user, reason = "user locked or deleted", "refresh grant refused");
                Err(ServiceError::InvalidGrant)
            }
        }
    }

    async fn issue_grant(&self, user: &UserRecord) -> Result<Grant> {
        let now = cells_core::now();
        let refresh_token = passwords::random_secret();
        self.store().insert_refresh_token(&sha256_hex(&refresh_token), user.id, now, now + REFRESH_TTL).await?;
        Ok(Grant {
            access_token: self.sign_access_token(user.id, now),
            token_type: "Bearer",
            expires_in: ACCESS_TTL,
            refresh_token,
        })
    }

    fn sign_access_token(&self, user: UserId, now: UnixTime) -> String {
        let claims = Claims { sub: user.to_string(), iat: now, exp: now + ACCESS_TTL };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signed = format!("{JWT_HEADER}.{payload}");
        let mut mac = self.inner.keys.mac();
        mac.update(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signed}.{signature}")
    }

    /// Authenticates a Bearer access token issued by [`Cells::login_password`].
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for a bad signature, an expired token, a locked
    /// or deleted user.
    async fn authenticate_access_token(&self, token: &str) -> Result<Principal> {
        let now = cells_core::now();
        // A token verified before is known by its SHA-256: no signature check, no JSON.
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((user, expires_at)) = self.caches().access_tokens.get(&key)
            && now < expires_at
        {
            return self.active_principal(user).await;
        }
        let seen = self.caches().access_tokens.generation();
        let (user, expires_at) = self.verify_access_token(token, now).map_err(|reason| {
            tracing::info!(reason, "access token refused");
            ServiceError::Unauthenticated
        })?;
        self.caches().access_tokens.insert(seen, key, (user, expires_at));
        self.active_principal(user).await
    }

    /// The user and expiry of a valid access token.
    fn verify_access_token(&self, token: &str, now: UnixTime) -> Result<(UserId, UnixTime), &'static str> {
        let (signed, signature) = token.rsplit_once('.').ok_or("malformed")?;
        let (header, payload) = signed.split_once('.').ok_or("malformed")?;
        if header != JWT_HEADER {
            return Err("unsupported header");
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "malformed signature")?;
        let mut mac = self.inner.keys.mac();
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature).map_err(|_| "bad signature")?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| "malformed payload")?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| "malformed claims")?;
        if claims.exp <= now {
            return Err("expired");
        }
        let user = claims.sub.parse().map_err(|_| "malformed subject")?;
        Ok((user, claims.exp))
    }

    /// Authenticates Basic `login:password`. A success is remembered briefly (keyed by an
    /// HMAC, never the plaintext) and forgotten at once on any change to users.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] on any failure.
    async fn authenticate_password(&self, login: &str, password: SecretString, cached_only: bool) -> Result<Principal> {
        let key = self.password_cache_key(login, &password);
        if let Some((user, at)) = self.caches().passwords.get(&key)
            && at.elapsed() < PASSWORD_TTL
        {
            return self.active_principal(user).await;
        }
        if cached_only {
            return Err(ServiceError::Unauthenticated);
        }
        let seen = self.caches().passwords.generation();
        let user = self.check_password(login, password).await.map_err(|_| ServiceError::Unauthenticated)?;
        self.caches().passwords.insert(seen, key, (user.id, Instant::now()));
        Ok(principal_of(&user))
    }

    fn password_cache_key(&self, login: &str, password: &SecretString) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.inner.keys.password_cache)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(login.as_bytes());
        mac.update(&[0]);
        mac.update(password.expose_secret().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Checks a login and password with argon2; the same error for every failure.
    async fn check_password(&self, login: &str, password: SecretString) -> Result<UserRecord> {
        let Some(user) = self.store().user_by_login(login).await? else {
            // Spend the same time as a real check, so timing does not reveal logins.
            let _ = passwords::verify(password, self.inner.keys.dummy_hash.clone()).await;
            tracing::info!(login, reason = "unknown user", "login refused");
            return Err(ServiceError::InvalidGrant);
        };
        if !passwords::verify(password, user.password_hash.clone()).await {
            tracing::info!(login, reason = "wrong password", "login refused");
            return Err(ServiceError::InvalidGrant);
        }
        if user.locked {
            tracing::info!(login, reason = "user locked", "login refused");
            return Err(ServiceError::InvalidGrant);
        }
        Ok(user)
    }

    /// The principal of a login, without credentials: only in benchmark builds
    /// (`--features bench-anonymous`), to measure what authentication costs.
    ///
    /// # Errors
    /// When there is no such active user.
    #[cfg(feature = "bench-anonymous")]
    pub async fn bench_principal(&self, login: &str) -> Result<Principal> {
        let user = self.store().user_by_login(login).await?.ok_or(ServiceError::Unauthenticated)?;
        self.active_principal(user.id).await
    }

    /// The principal of a user who exists and is not locked.
    pub(crate) async fn active_principal(&self, user: UserId) -> Result<Principal> {
        match self.user_cached(user).await? {
            Some(record) if !record.locked => Ok(principal_of(&record)),
            Some(_) => {
                tracing::info!(user = %user, reason = "user locked", "credentials refused");
                Err(ServiceError::Unauthenticated)
            }
            None => {
                tracing::info!(user = %user, reason = "user deleted", "credentials refused");
                Err(ServiceError::Unauthenticated)
            }
        }
    }

    pub(crate) async fn user_cached(&self, user: UserId) -> Result<Option<Arc<UserRecord>>> {
        let load = async { Ok::<_, ServiceError>(self.store().user_by_id(user).await?.map(Arc::new)) };
        self.caches().users.get_or_load(user, load).await
    }
}

pub(crate) fn principal_of(user: &UserRecord) -> Principal {
    Principal { user: user.id, login: user.login.clone(), profile: user.profile, token: None, scopes: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_lowercase_hex() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
