//! SSH public key records: credentials shaped like tokens (label, expiry model, scopes,
//! revocation, audit), looked up by the key's SHA-256 fingerprint. A public key is not a
//! secret, but only its fingerprint is ever logged; the key text is kept to compare the
//! key a client proves against the one registered.

use cells_core::expiry::ExpiryModel;
use cells_core::scope::Scope;
use cells_core::{KeyId, UnixTime, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::credentials::Credentials;
use crate::row::parse;
use crate::{Result, Store, StoreError};

/// A registered key, as listed (the key text is kept apart: see [`KeyRecord::public_key`]).
#[derive(Clone, Debug)]
pub struct KeyRecord {
    pub id: KeyId,
    /// `SHA256:<base64>`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `<algorithm> <base64>`, without a comment.
    pub public_key: String,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, ...
    pub algorithm: String,
    pub label: String,
    pub user: UserId,
    pub user_login: String,
    pub scopes: Vec<Scope>,
    pub expiry: ExpiryModel,
    pub expires_at: UnixTime,
    pub created_by: String,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
    pub last_used_ip: Option<String>,
    pub last_used_via: Option<String>,
    pub revoked_at: Option<UnixTime>,
    pub last_failure_at: Option<UnixTime>,
    pub last_failure_reason: Option<String>,
}

/// What registering a key needs.
pub struct NewKey<'a> {
    pub fingerprint: &'a str,
    pub public_key: &'a str,
    pub algorithm: &'a str,
    pub label: &'a str,
    pub user: UserId,
    pub user_login: &'a str,
    pub scopes: &'a [Scope],
    pub expiry: ExpiryModel,
    pub expires_at: UnixTime,
    pub created_by: &'a str,
}

const COLUMNS: &str = "uuid, fingerprint, public_key, algorithm, label, user_uuid, user_login, scopes, \
                       auto_refresh_window, expires_at, max_expires_at, created_by, created_at, updated_at, \
                       last_used_at, last_used_ip, last_used_via, revoked_at, last_failure_at, last_failure_reason";

fn from_row(row: &AnyRow) -> Result<KeyRecord> {
    let scopes: &str = row.try_get("scopes")?;
    let window: i64 = row.try_get("auto_refresh_window")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let max: Option<i64> = row.try_get("max_expires_at")?;
    Ok(KeyRecord {
        id: parse(row, "uuid")?,
        fingerprint: row.try_get("fingerprint")?,
        public_key: row.try_get("public_key")?,
        algorithm: row.try_get("algorithm")?,
        label: row.try_get("label")?,
        user: parse(row, "user_uuid")?,
        user_login: row.try_get("user_login")?,
        scopes: serde_json::from_str(scopes).map_err(|_| StoreError::Corrupt("scopes"))?,
        expiry: ExpiryModel::from_record(window, expires_at, max),
        expires_at,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_used_at: row.try_get("last_used_at")?,
        last_used_ip: row.try_get("last_used_ip")?,
        last_used_via: row.try_get("last_used_via")?,
        revoked_at: row.try_get("revoked_at")?,
        last_failure_at: row.try_get("last_failure_at")?,
        last_failure_reason: row.try_get("last_failure_reason")?,
    })
}

impl Store {
    /// Registers a key, and bumps the change counter.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the same key is registered and not revoked;
    /// [`StoreError::Vanished`] when the user was deleted meanwhile.
    pub async fn insert_key(&self, new: &NewKey<'_>, now: UnixTime) -> Result<KeyRecord> {
        let id = KeyId::random();
        let scopes = serde_json::to_string(new.scopes).map_err(|_| StoreError::Corrupt("scopes"))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO ssh_keys (uuid, fingerprint, public_key, algorithm, label, user_uuid, user_login, scopes, \
             auto_refresh_window, expires_at, max_expires_at, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .bind(id.to_string())
        .bind(new.fingerprint)
        .bind(new.public_key)
        .bind(new.algorithm)
        .bind(new.label)
        .bind(new.user.to_string())
        .bind(new.user_login)
        .bind(scopes)
        .bind(new.expiry.window())
        .bind(new.expires_at)
        .bind(new.expiry.max_expires_at())
        .bind(new.created_by)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        // A key registered again after its revocation: every process must drop the
        // revoked record it may have cached under the same fingerprint.
        crate::keys::bump_change_counter(&mut tx).await?;
        tx.commit().await?;
        self.key_by_id(id).await?.ok_or(StoreError::Vanished)
    }

    /// The key with this fingerprint: the one not revoked if there is one (at most one
    /// is), else the latest revoked, so that its refusal is audited.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn key_by_fingerprint(&self, fingerprint: &str) -> Result<Option<KeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM ssh_keys WHERE fingerprint = $1 \
             ORDER BY CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END, revoked_at DESC LIMIT 1"
        ))
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// # Errors
    /// On a database failure.
    pub async fn key_by_id(&self, id: KeyId) -> Result<Option<KeyRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM ssh_keys WHERE uuid = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A user's keys, newest first.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn keys_of(&self, user: UserId) -> Result<Vec<KeyRecord>> {
        let rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM ssh_keys WHERE user_uuid = $1 ORDER BY created_at DESC, uuid"))
                .bind(user.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(from_row).collect()
    }

    /// Every key, newest first.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn all_keys(&self) -> Result<Vec<KeyRecord>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM ssh_keys ORDER BY created_at DESC, uuid"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Marks a key revoked and bumps the change counter, so that every process drops it
    /// from its cache (and closes the sessions it opened). `false` when there is no such
    /// key or it was already revoked.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn revoke_key(&self, id: KeyId, now: UnixTime) -> Result<bool> {
        self.revoke_credential(Credentials::SshKeys, &id.to_string(), now).await
    }

    /// Records a use: the new expiry (auto refresh; never lowered) and the last-used
    /// data. Not a change caches must see: no bump of the change counter.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn record_key_use(
        &self,
        id: KeyId,
        expires_at: Option<UnixTime>,
        at: UnixTime,
        ip: Option<&str>,
        via: &str,
    ) -> Result<()> {
        self.record_credential_use(Credentials::SshKeys, &id.to_string(), expires_at, at, ip, via).await
    }

    /// Records why a known key was refused.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn record_key_failure(&self, id: KeyId, at: UnixTime, reason: &str) -> Result<()> {
        self.record_credential_failure(Credentials::SshKeys, &id.to_string(), at, reason).await
    }

    /// Deletes key records that expired or were revoked before `before`; returns how many.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn prune_keys(&self, before: UnixTime) -> Result<u64> {
        self.prune_credentials(Credentials::SshKeys, before).await
    }
}
