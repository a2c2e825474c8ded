//! Password hashing (argon2id, slow and memory-hard on purpose) and generation of
//! passwords and opaque secrets.
//!
//! Each argon2 run takes 19 MiB. They run on [`HASHERS`] dedicated threads, not on the
//! blocking pool: concurrent logins queue instead of each taking 19 MiB on a new thread
//! (whose allocator arena would keep it), so the memory they cost stays bounded.
//! At most [`QUEUE`] jobs wait for them: past that, a request is answered at once
//! ([`ServiceError::Busy`], a 503 with `Retry-After`) instead of queueing behind a flood
//! of guesses, and a job whose requester has gone (a dropped connection) is skipped.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

use crate::{Result, ServiceError};

pub const MIN_PASSWORD_LEN: usize = 8;

/// Threads that run argon2: at most this many hashes are computed at once.
pub const HASHERS: usize = 2;
/// Jobs that may wait for a hashing thread (about half a second of work on two cores).
pub const QUEUE: usize = 16;

type Job = Box<dyn FnOnce() + Send>;

fn hashers() -> &'static std::sync::mpsc::SyncSender<Job> {
    static POOL: std::sync::OnceLock<std::sync::mpsc::SyncSender<Job>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..HASHERS {
            let receiver = std::sync::Arc::clone(&receiver);
            let spawned = std::thread::Builder::new().name(format!("cells-argon2-{n}")).spawn(move || {
                loop {
                    let job = match receiver.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password hashing thread");
            }
        }
        sender
    })
}

/// Runs `f` on a hashing thread and waits for its answer; refuses at once when the
/// queue is full. Dropping the returned future (the client went away) cancels the job
/// if it has not started.
async fn on_hasher<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        if answer.is_closed() {
            return;
        }
        let _ = answer.send(f());
    });
    hashers().try_send(job).map_err(|err| match err {
        std::sync::mpsc::TrySendError::Full(_) => {
            tracing::warn!("password hashing queue full: request refused");
            ServiceError::Busy { retry_after: 1 }
        }
        std::sync::mpsc::TrySendError::Disconnected(_) => {
            ServiceError::Internal("the password hashing threads stopped".into())
        }
    })?;
    answered.await.map_err(|_| ServiceError::Internal("a password hashing job was lost".into()))
}
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
    on_hasher(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
    })
    .await?
}

/// Checks a password against a PHC string. A malformed hash is simply a mismatch.
///
/// # Errors
/// [`ServiceError::Busy`] when the hashing queue is full.
pub async fn verify(password: SecretString, phc: String) -> Result<bool> {
    on_hasher(move || {
        PasswordHash::new(&phc)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
    })
    .await
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
