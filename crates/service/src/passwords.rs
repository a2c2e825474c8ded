//! Password hashing (argon2id, slow on purpose, so run on the blocking pool) and
//! generation of passwords and opaque secrets.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

use crate::{Result, ServiceError};

pub const MIN_PASSWORD_LEN: usize = 8;
const MAX_PASSWORD_LEN: usize = 1024;

/// Refuses passwords that are too short or too long.
///
/// # Errors
/// [`ServiceError::BadRequest`] naming the rule.
pub fn check_strength(password: &SecretString) -> Result<()> {
    let len = password.expose_secret().chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(ServiceError::BadRequest(format!("a password needs at least {MIN_PASSWORD_LEN} characters")));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(ServiceError::BadRequest(format!("a password has at most {MAX_PASSWORD_LEN} characters")));
    }
    Ok(())
}

/// Hashes a password into a PHC string.
///
/// # Errors
/// Only on an internal failure of the hasher.
pub async fn hash(password: SecretString) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
}

/// Checks a password against a PHC string. A malformed hash is simply a mismatch.
pub async fn verify(password: SecretString, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A random password of 20 letters and digits (about 119 bits).
#[must_use]
pub fn generate() -> SecretString {
    let text: String =
        rand::rngs::OsRng.sample_iter(rand::distributions::Alphanumeric).take(20).map(char::from).collect();
    SecretString::from(text)
}

/// A random opaque secret: 32 bytes, base64url.
#[must_use]
pub fn random_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::rngs::OsRng.r#gen();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
