//! The local key: a secret kept in a file beside the data (0600), never in the
//! database. Keys that must not be recoverable from a copy of the database alone (the
//! key that signs login access tokens) are derived from it and from a random value in
//! the database: a stolen backup of `cells.db` yields no way to sign a login, and a
//! stolen key file alone is no better. Several processes sharing one database share
//! this file too (the same content on every node; see `docs/security.md`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use crate::{Result, ServiceError};

/// The local key, read from (or created in) its file.
pub struct LocalKey([u8; 32]);

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalKey(***)")
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl LocalKey {
    /// Reads the key file, creating it (0600, 32 random bytes in hex) if missing. Safe
    /// when several processes start at once: the first to create it wins, the others
    /// read it.
    ///
    /// # Errors
    /// When the file cannot be read or created, or does not hold a key.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        let unreadable = |e: std::io::Error| ServiceError::Internal(format!("key file {}: {e}", path.display()));
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(mut file) => {
                let key: [u8; 32] = rand::rngs::OsRng.r#gen();
                file.write_all(format!("{}\n", to_hex(&key)).as_bytes()).map_err(unreadable)?;
                file.sync_all().map_err(unreadable)?;
                tracing::info!(path = %path.display(), "created the local key");
                Ok(Self(key))
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                // Another process may be writing it right now: retry briefly.
                for _ in 0..50 {
                    let text = std::fs::read_to_string(path).map_err(unreadable)?;
                    if let Some(key) = from_hex(&text) {
                        return Ok(Self(key));
                    }
                    if !text.is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(ServiceError::Internal(format!("key file {} does not hold a key (64 hex digits)", path.display())))
            }
            Err(err) => Err(unreadable(err)),
        }
    }

    /// A key for `purpose`, from this key and a value kept in the database.
    pub(crate) fn derive(&self, purpose: &[u8], stored: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(purpose);
        mac.update(&[0]);
        mac.update(stored);
        mac.finalize().into_bytes().into()
    }
}

/// The name under which the database keeps a check value of the local key.
const KEY_CHECK: &str = "local-key-check";

/// Checks that this process's local key is the one the database was set up with
/// (recording it on first use). Every process on one database derives its signing key
/// and SSH host key from the same file: a node with another key file would sign logins
/// that other nodes refuse, and show SFTP clients another host key. The database keeps
/// only a one-way check value, which gives nothing towards the key.
///
/// # Errors
/// When the key file differs from the one the database was set up with.
pub(crate) async fn check_shared(
    store: &cells_store::Store,
    local: &LocalKey,
    now: cells_core::UnixTime,
) -> Result<()> {
    let check = local.derive(b"local-key-check", b"");
    let stored = store.server_key_or_insert(KEY_CHECK, &check, now).await?;
    if stored != check {
        return Err(ServiceError::Internal(
            "the local key file (secret.key) is not the one this database was set up with: every process \
             sharing a database needs the same secret.key (copy it from the data folder of the first one)"
                .to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_private_once_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("secret.key");
        let first = LocalKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o600);
        let again = LocalKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.derive(b"p", b"s"), again.derive(b"p", b"s"));
        assert_ne!(first.derive(b"p", b"s"), first.derive(b"q", b"s"));
        assert_ne!(first.derive(b"p", b"s"), first.derive(b"p", b"t"));
        std::fs::write(&path, "not a key").unwrap_or_else(|e| panic!("{e}"));
        assert!(LocalKey::load_or_create(&path).is_err());
        assert!(!format!("{first:?}").contains(&to_hex(&first.0)));
    }
}
