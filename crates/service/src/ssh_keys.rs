//! SSH public keys as credentials shaped like tokens: registration (by a user for
//! themself, by an admin or the CLI for anyone), listing and revocation. The same rules
//! as personal access tokens apply: a label, an expiry model (hard limit or auto
//! refresh), scopes checked at creation against what the owner can reach, the
//! self-service setting, and revocation that bumps the change counter (open SFTP
//! sessions with the key close within a second). Their use at login is in
//! `tokens/keys.rs`.
//!
//! Only OpenSSH public keys of the algorithms the SFTP server verifies are taken:
//! ed25519, ECDSA (nistp256, nistp384, nistp521) and RSA of at least 2048 bits (signed
//! with SHA-2: `rsa-sha2-256` or `rsa-sha2-512`). A key is logged by its SHA-256
//! fingerprint only.

use cells_core::expiry::{ExpiryModel, is_expired};
use cells_core::scope::Scope;
use cells_core::{KeyId, UnixTime};
use cells_store::{KeyRecord, NewKey, UserRecord};
use ssh_key::PublicKey;
use ssh_key::public::KeyData;

use crate::tokens::{Whose, check_label};
use crate::users::no_user;
use crate::{Admin, Cells, Principal, Result, ServiceError};

/// What a new key should be.
pub struct KeySpec {
    /// Default: the key's comment, or a label that says who registered it.
    pub label: Option<String>,
    /// One line in the `authorized_keys` form: `ssh-ed25519 AAAA... comment`.
    pub public_key: String,
    pub expiry: ExpiryModel,
    pub scopes: Vec<Scope>,
}

/// The longest public key text taken (an RSA 16384-bit key is about 2.8 KiB).
const MAX_KEY_TEXT: usize = 8 * 1024;

/// The smallest RSA modulus taken, as OpenSSH requires since 8.9 (`RequiredRSASize`).
const MIN_RSA_BITS: u32 = 2048;

/// A public key as registered: parsed, of an accepted algorithm, without its comment.
struct Parsed {
    fingerprint: String,
    text: String,
    algorithm: String,
    comment: String,
}

/// Reads one OpenSSH public key. Messages never repeat the text: a pasted private key
/// must not end up in an error answer or a log.
fn parse_public_key(text: &str) -> Result<Parsed> {
    let text = text.trim();
    let bad = |why: &str| ServiceError::BadRequest(format!("PublicKey: {why}"));
    if text.contains("PRIVATE KEY") {
        return Err(bad("this is a private key: give the public one (the .pub file), and keep this one secret"));
    }
    if text.len() > MAX_KEY_TEXT || text.lines().count() != 1 {
        return Err(bad("give one OpenSSH public key, on one line"));
    }
    let key = PublicKey::from_openssh(text)
        .map_err(|_| bad("not an OpenSSH public key: expected one line like `ssh-ed25519 AAAA... comment`"))?;
    match key.key_data() {
        KeyData::Ed25519(_) | KeyData::Ecdsa(_) => {}
        KeyData::Rsa(rsa) if rsa.key_size() >= MIN_RSA_BITS => {}
        KeyData::Rsa(rsa) => {
            return Err(bad(&format!(
                "an RSA key of {} bits is too weak: at least {MIN_RSA_BITS} (or use ssh-keygen -t ed25519)",
                rsa.key_size()
            )));
        }
        _ => {
            return Err(bad(&format!(
                "{} keys are not accepted: use an ed25519 key (ssh-keygen -t ed25519), an ECDSA or an RSA one",
                key.algorithm().as_str()
            )));
        }
    }
    let comment = key.comment().as_str_lossy().to_owned();
    let bare = PublicKey::new(key.key_data().clone(), "");
    let text = bare.to_openssh().map_err(|_| bad("cannot be encoded again"))?.trim().to_owned();
    let (_, fingerprint) = crate::tokens::key_digest(&bare);
    Ok(Parsed { fingerprint, text, algorithm: key.algorithm().as_str().to_owned(), comment })
}

impl Cells {
    /// `POST /a/auth/keys`: a key for the caller (`login` absent or theirs), or, for an
    /// admin, for the user `login`.
    ///
    /// # Errors
    /// 403 for a scoped caller, a non-admin registering for someone else, or when
    /// self-service is off (for non-admins); 404 for an unknown user; 400 for a bad key,
    /// expiry, label or scope; 409 when the key is registered already.
    pub async fn register_key(&self, principal: &Principal, login: Option<&str>, spec: KeySpec) -> Result<KeyRecord> {
        Self::unrestricted(principal)?;
        match login {
            Some(login) if !login.eq_ignore_ascii_case(principal.login.as_str()) => {
                let admin = principal
                    .admin()
                    .map_err(|_| ServiceError::Forbidden("only admins register SSH keys for other users".into()))?;
                self.register_key_for(admin, login, spec, principal.login.as_str()).await
            }
            _ => {
                self.check_self_service(principal).await?;
                let owner = self.store().user_by_id(principal.user).await?.ok_or(ServiceError::Unauthenticated)?;
                self.add_key(&owner, spec, principal.login.as_str()).await
            }
        }
    }

    /// A key for any user, for admins and the CLI.
    ///
    /// # Errors
    /// 404 for an unknown user; 400 for a bad key, expiry, label or scope; 409 when the
    /// key is registered already.
    pub async fn register_key_for(&self, _: Admin, login: &str, spec: KeySpec, created_by: &str) -> Result<KeyRecord> {
        let owner = self.store().user_by_login(login).await?.ok_or_else(|| no_user(login))?;
        self.add_key(&owner, spec, created_by).await
    }

    async fn add_key(&self, owner: &UserRecord, spec: KeySpec, created_by: &str) -> Result<KeyRecord> {
        let parsed = parse_public_key(&spec.public_key)?;
        let label = match spec.label {
            Some(label) => label,
            None if !parsed.comment.is_empty() => parsed.comment.chars().take(128).collect(),
            None => format!("Created by {created_by}"),
        };
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
        let new = NewKey {
            fingerprint: &parsed.fingerprint,
            public_key: &parsed.text,
            algorithm: &parsed.algorithm,
            label: &label,
            user: owner.id,
            user_login: owner.login.as_str(),
            scopes: &spec.scopes,
            expiry: spec.expiry,
            expires_at,
            created_by,
        };
        let record = self.store().insert_key(&new, now).await?;
        // A key revoked and registered again must not be found in a cache as revoked.
        self.changed().await;
        tracing::info!(key = %record.id, fingerprint = %record.fingerprint, owner = %owner.login, created_by, "SSH key registered");
        Ok(record)
    }

    /// `POST /a/auth/keys/list`: an admin lists anyone's keys (everyone's without
    /// `by_user`); others only their own.
    ///
    /// # Errors
    /// 403 when a non-admin asks for someone else's; 404 for an unknown user.
    pub async fn list_keys(&self, principal: &Principal, by_user: Option<&str>) -> Result<Vec<KeyRecord>> {
        match Self::whose(principal, by_user, "SSH keys")? {
            Whose::Everyone => Ok(self.store().all_keys().await?),
            Whose::Of(admin, login) => self.list_keys_of(admin, login).await,
            Whose::Own => Ok(self.store().keys_of(principal.user).await?),
        }
    }

    /// A user's keys, for admins and the CLI.
    ///
    /// # Errors
    /// 404 for an unknown user.
    pub async fn list_keys_of(&self, _: Admin, login: &str) -> Result<Vec<KeyRecord>> {
        let user = self.store().user_by_login(login).await?.ok_or_else(|| no_user(login))?;
        Ok(self.store().keys_of(user.id).await?)
    }

    /// `DELETE /a/auth/keys/{KeyId}`: by its owner or an admin. `false` when it was
    /// already revoked.
    ///
    /// # Errors
    /// 404 when there is no such key, or it is someone else's and the caller no admin.
    pub async fn revoke_key(&self, principal: &Principal, id: KeyId) -> Result<bool> {
        Self::unrestricted(principal)?;
        let missing = || ServiceError::NotFound(format!("no SSH key {id}"));
        let record = self.store().key_by_id(id).await?.ok_or_else(missing)?;
        if !Self::may_revoke(principal, record.user) {
            return Err(missing());
        }
        self.revoke_key_record(&record).await
    }

    /// Revokes any key, for the CLI.
    ///
    /// # Errors
    /// 404 when there is no such key.
    pub async fn revoke_key_admin(&self, _: Admin, id: KeyId) -> Result<(KeyRecord, bool)> {
        let record =
            self.store().key_by_id(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no SSH key {id}")))?;
        let revoked = self.revoke_key_record(&record).await?;
        Ok((record, revoked))
    }

    async fn revoke_key_record(&self, record: &KeyRecord) -> Result<bool> {
        let revoked = self.store().revoke_key(record.id, cells_core::now()).await?;
        self.changed().await;
        tracing::info!(key = %record.id, fingerprint = %record.fingerprint, owner = %record.user_login, "SSH key revoked");
        Ok(revoked)
    }

    /// Deletes key records long expired or revoked.
    pub(crate) async fn prune_keys(&self) {
        match self.store().prune_keys(cells_core::now() - crate::tokens::PRUNE_AFTER).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "pruned old SSH key records"),
            Err(err) => tracing::warn!(error = %err, "cannot prune SSH key records"),
        }
    }
}

/// A key's status at `now`, for listings: `active`, `expired` or `revoked`.
#[must_use]
pub fn status(record: &KeyRecord, now: UnixTime) -> &'static str {
    if record.revoked_at.is_some() {
        "revoked"
    } else if is_expired(now, record.expires_at) {
        "expired"
    } else {
        "active"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOKCr77cUI0MXWTfun9s4ST6Wm0oyH80DeI5XH7avAZU alice@laptop";

    #[test]
    fn an_ed25519_key_is_read_with_its_fingerprint_and_without_its_comment() {
        let parsed = parse_public_key(&format!("  {ED25519}\n")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.algorithm, "ssh-ed25519");
        assert_eq!(parsed.comment, "alice@laptop");
        // As `ssh-keygen -l` prints it.
        assert_eq!(parsed.fingerprint, "SHA256:IV3t3pgl1ZtAvdMvjv/f8RcFpxlmALeFlKudhfVC3n0");
        assert_eq!(parsed.text, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOKCr77cUI0MXWTfun9s4ST6Wm0oyH80DeI5XH7avAZU");
    }

    #[test]
    fn malformed_keys_private_keys_and_other_algorithms_are_clear_errors() {
        for (text, says) in [
            ("", "give one OpenSSH public key"),
            ("ssh-ed25519", "not an OpenSSH public key"),
            ("ssh-ed25519 AAAAnotbase64!!", "not an OpenSSH public key"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n", "private key"),
            (&format!("{ED25519}\n{ED25519}"), "one line"),
            (
                "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSoAAACBAPY3rSA== x",
                "not",
            ),
        ] {
            let err = parse_public_key(text).err().unwrap_or_else(|| panic!("{text:?} was taken"));
            assert!(err.to_string().contains(says), "{text:?}: {err}");
            assert!(!err.to_string().contains("b3BlbnNz"), "the message repeats the key: {err}");
        }
    }
}
