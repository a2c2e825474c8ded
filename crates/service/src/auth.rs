//! Authentication: the one entry point [`Cells::authenticate`] for every surface, and
//! Basic `login:password`. Login sessions (OAuth2 grants, login access tokens, logout)
//! are in [`crate::sessions`]; personal access tokens in [`crate::tokens`]; SSH keys in
//! [`crate::ssh_keys`].
//!
//! A verified Basic password is remembered for `PASSWORD_TTL` (60 s) under an HMAC of
//! login and password with a key that never leaves this process, so argon2 runs once,
//! not on every request. A password attempt is counted against its address when it
//! starts (and forgiven if it succeeds), so a burst of parallel guesses cannot outrun
//! the throttle, and argon2's queue is bounded: a full queue is a 503, not a wait.

use cells_core::UserId;
use cells_core::token::redact;
use cells_store::{Store, UserRecord};
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::caches::PASSWORD_TTL;
use crate::principal::Proof;
use crate::{Cells, Principal, Result, ServiceError, passwords};

type HmacSha256 = Hmac<Sha256>;

pub(crate) struct Keys {
    signing: Vec<u8>,
    password_cache: [u8; 32],
    /// A real argon2id hash of a random password, verified against when a login is
    /// unknown so that timing does not tell which logins exist.
    dummy_hash: String,
}

impl Keys {
    /// The signing key of login access tokens is derived from two halves: a random
    /// value in the database (shared by every process on it) and the local key
    /// (`crate::secrets`), which is not in the database. A copy of the database alone
    /// cannot sign a login.
    pub(crate) async fn load(
        store: &Store,
        local: &crate::secrets::LocalKey,
        now: cells_core::UnixTime,
    ) -> Result<Self> {
        let fresh: [u8; 32] = rand::rngs::OsRng.r#gen();
        let stored = store.server_key_or_insert("access-token-hmac", &fresh, now).await?;
        let signing = local.derive(b"access-token-hmac", &stored).to_vec();
        let dummy_hash = passwords::hash(passwords::generate()).await?;
        Ok(Self { signing, password_cache: rand::rngs::OsRng.r#gen(), dummy_hash })
    }

    pub(crate) fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length.
        HmacSha256::new_from_slice(&self.signing).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }
}

pub(crate) fn sha256_hex(text: &str) -> String {
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
    /// An SSH public key whose possession the SSH layer verified (the client signed
    /// with it), and the login it was given for: a registered key of that login.
    PublicKey { login: String, key: Box<ssh_key::PublicKey> },
}

impl Cells {
    /// Authenticates a caller, whatever the surface: the one entry point of every front
    /// end. Failed attempts are counted per address; past the limit, only credentials
    /// already verified and cached pass (without any database work), and the rest get
    /// [`ServiceError::Throttled`].
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for any bad credential (the reason is logged);
    /// [`ServiceError::Throttled`] for an address over the limit;
    /// [`ServiceError::Busy`] when the password hashing queue is full.
    pub async fn authenticate(&self, credential: Credential, usage: crate::Usage) -> Result<Principal> {
        let throttled = self.limiter().retry_after(usage.ip);
        let cached_only = throttled.is_some();
        // A password attempt is counted when it starts, the others once they failed.
        let mut counted = false;
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
            Credential::PublicKey { login, key } => self.authenticate_key(&login, &key, usage, cached_only).await,
            Credential::Basic { login, password } => match cells_core::token::parse(password.expose_secret()) {
                Ok(secret) => self.authenticate_pat(&secret, Some(&login), usage, cached_only).await,
                Err(_) => match self.cached_password(&login, &password).await {
                    Some(principal) => Ok(principal),
                    None if cached_only => Err(ServiceError::Unauthenticated),
                    None => {
                        counted = true;
                        let user = self.verify_password_counted(&login, password, usage.ip).await;
                        user.map_err(|err| match err {
                            ServiceError::InvalidGrant => ServiceError::Unauthenticated,
                            other => other,
                        })
                        .map(|user| principal_of(&user, self.caches().epoch()))
                    }
                },
            },
        };
        match (result, throttled) {
            (Ok(principal), _) => Ok(principal),
            (Err(ServiceError::Unauthenticated), Some(retry_after)) => Err(ServiceError::Throttled { retry_after }),
            (Err(ServiceError::Unauthenticated), None) => {
                if !counted {
                    self.limiter().record_failure(usage.ip);
                }
                Err(ServiceError::Unauthenticated)
            }
            (Err(other), _) => Err(other),
        }
    }

    /// A Basic password verified in the last [`PASSWORD_TTL`], whose user is active.
    pub(crate) async fn cached_password(&self, login: &str, password: &SecretString) -> Option<Principal> {
        let key = self.password_cache_key(login, password);
        let (user, at) = self.caches().passwords.get(&key)?;
        if at.elapsed() >= PASSWORD_TTL {
            return None;
        }
        self.active_principal(user).await.ok()
    }

    /// Checks a password with argon2, counting the attempt as a failure of the address
    /// from the start (forgiven on success), and remembers a success under its keyed
    /// hash. Concurrent checks of the same login and password wait for the first one
    /// (one hash for a burst of requests that all missed the cache), and the queue of
    /// hashes stays for different guesses. One answer for every failure.
    ///
    /// # Errors
    /// [`ServiceError::InvalidGrant`] on any failure; [`ServiceError::Busy`] when too many
    /// hashes are waiting.
    pub(crate) async fn verify_password_counted(
        &self,
        login: &str,
        password: SecretString,
        ip: Option<std::net::IpAddr>,
    ) -> Result<std::sync::Arc<UserRecord>> {
        let key = self.password_cache_key(login, &password);
        let gate = self.caches().password_gates.gate(key);
        let verified = async {
            let _turn = gate.lock().await;
            // The check this one waited for may have verified the same password.
            if let Some(principal) = self.cached_password(login, &password).await
                && let Some(user) = self.user_cached(principal.user).await?
            {
                return Ok(user);
            }
            self.limiter().record_failure(ip);
            let seen = self.caches().passwords.generation();
            let user = self.check_password(login, password).await?;
            self.limiter().forgive(ip);
            self.remember_password(seen, key, user.id);
            Ok(std::sync::Arc::new(user))
        }
        .await;
        self.caches().password_gates.release(key, gate);
        verified
    }

    fn password_cache_key(&self, login: &str, password: &SecretString) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.keys().password_cache)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(login.as_bytes());
        mac.update(&[0]);
        mac.update(password.expose_secret().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Checks a login and password with argon2; the same error for every failure. The
    /// login is logged redacted: a token typed as a user name is never written down.
    async fn check_password(&self, login: &str, password: SecretString) -> Result<UserRecord> {
        let Some(user) = self.store().user_by_login(login).await? else {
            // Spend the same time as a real check, so timing does not reveal logins.
            let _ = passwords::verify(password, self.keys().dummy_hash.clone()).await?;
            tracing::info!(login = %redact(login), reason = "unknown user", "login refused");
            return Err(ServiceError::InvalidGrant);
        };
        if !passwords::verify(password, user.password_hash.clone()).await? {
            tracing::info!(login = %user.login, reason = "wrong password", "login refused");
            return Err(ServiceError::InvalidGrant);
        }
        if user.locked {
            tracing::info!(login = %user.login, reason = "user locked", "login refused");
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
        let epoch = self.caches().epoch();
        match self.user_cached(user).await? {
            Some(record) if !record.locked => Ok(principal_of(&record, epoch)),
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

    pub(crate) async fn user_cached(&self, user: UserId) -> Result<Option<std::sync::Arc<UserRecord>>> {
        let load = async { Ok::<_, ServiceError>(self.store().user_by_id(user).await?.map(std::sync::Arc::new)) };
        self.caches().users.get_or_load(user, load).await
    }
}

/// The principal of a user who came with their password (or a login built on it).
pub(crate) fn principal_of(user: &UserRecord, epoch: u64) -> Principal {
    Principal {
        user: user.id,
        login: user.login.clone(),
        profile: user.profile,
        token: None,
        scopes: None,
        proof: Proof::Password { session_gen: user.session_gen },
        epoch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_lowercase_hex() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
