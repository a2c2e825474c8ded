//! Personal access token records. Only the SHA-256 of a token is stored (`hash`, unique);
//! the plaintext never reaches this module.

use cells_core::expiry::ExpiryModel;
use cells_core::limits::Limits;
use cells_core::scope::Scope;
use cells_core::token::PatHash;
use cells_core::{TokenId, UnixTime, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::credentials::Credentials;
use crate::row::parse;
use crate::{Result, Store, StoreError};

/// PERSONAL (made by a user or an admin) or DOCUMENT (made for one node by the app).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Personal,
    Document,
}

impl TokenType {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "PERSONAL",
            Self::Document => "DOCUMENT",
        }
    }
}

impl std::str::FromStr for TokenType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "PERSONAL" => Ok(Self::Personal),
            "DOCUMENT" => Ok(Self::Document),
            _ => Err(()),
        }
    }
}

/// A token record, as DESIGN.md section 4 lists it. No secret, no hash.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub id: TokenId,
    pub kind: TokenType,
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
    /// Address blocks and protocols it may be used from (empty: anywhere, any).
    pub limits: Limits,
    /// When its secret was last replaced, and until when the one before still works.
    pub rotated_at: Option<UnixTime>,
    pub grace_ends_at: Option<UnixTime>,
    /// When a leak report revoked it, and from which address (`cli` for the CLI).
    pub leaked: Option<(UnixTime, String)>,
}

/// Which of a record's secrets a hash is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secret {
    Current,
    /// The secret before the last rotation: good until `grace_ends_at`.
    Previous,
}

/// What creating a token needs.
pub struct NewToken<'a> {
    pub hash: &'a PatHash,
    pub kind: TokenType,
    pub label: &'a str,
    pub user: UserId,
    pub user_login: &'a str,
    pub scopes: &'a [Scope],
    pub expiry: ExpiryModel,
    pub expires_at: UnixTime,
    pub created_by: &'a str,
    pub limits: &'a Limits,
}

const COLUMNS: &str = "uuid, type, label, user_uuid, user_login, scopes, auto_refresh_window, expires_at, \
                       max_expires_at, created_by, created_at, updated_at, last_used_at, last_used_ip, \
                       last_used_via, revoked_at, last_failure_at, last_failure_reason, allowed_ips, \
                       allowed_via, rotated_at, grace_ends_at, leaked_at, leaked_by";

fn limits_from_row(row: &AnyRow) -> Result<Limits> {
    let ips: Vec<String> =
        serde_json::from_str(row.try_get("allowed_ips")?).map_err(|_| StoreError::Corrupt("allowed_ips"))?;
    let via: Vec<String> =
        serde_json::from_str(row.try_get("allowed_via")?).map_err(|_| StoreError::Corrupt("allowed_via"))?;
    Limits::parse(&ips, &via).map_err(|_| StoreError::Corrupt("token limits"))
}

/// The limits as their two JSON columns.
fn limits_to_columns(limits: &Limits) -> (String, String) {
    let ips: Vec<String> = limits.ips().iter().map(ToString::to_string).collect();
    let via: Vec<&str> = limits.via().iter().map(|v| v.as_str()).collect();
    (serde_json::Value::from(ips).to_string(), serde_json::Value::from(via).to_string())
}

fn from_row(row: &AnyRow) -> Result<TokenRecord> {
    let scopes: &str = row.try_get("scopes")?;
    let window: i64 = row.try_get("auto_refresh_window")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let max: Option<i64> = row.try_get("max_expires_at")?;
    Ok(TokenRecord {
        id: parse(row, "uuid")?,
        kind: parse(row, "type")?,
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
        limits: limits_from_row(row)?,
        rotated_at: row.try_get("rotated_at")?,
        grace_ends_at: row.try_get("grace_ends_at")?,
        leaked: match (row.try_get::<Option<i64>, _>("leaked_at")?, row.try_get::<Option<String>, _>("leaked_by")?) {
            (Some(at), by) => Some((at, by.unwrap_or_default())),
            (None, _) => None,
        },
    })
}

impl Store {
    /// Stores a new token record.
    ///
    /// # Errors
    /// [`StoreError::Vanished`] when the user was deleted meanwhile.
    pub async fn insert_token(&self, new: &NewToken<'_>, now: UnixTime) -> Result<TokenRecord> {
        let id = TokenId::random();
        let scopes = serde_json::to_string(new.scopes).map_err(|_| StoreError::Corrupt("scopes"))?;
        let (ips, via) = limits_to_columns(new.limits);
        sqlx::query(
            "INSERT INTO tokens (uuid, hash, type, label, user_uuid, user_login, scopes, auto_refresh_window, \
             expires_at, max_expires_at, created_by, created_at, updated_at, allowed_ips, allowed_via) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14)",
        )
        .bind(id.to_string())
        .bind(new.hash.to_hex())
        .bind(new.kind.as_str())
        .bind(new.label)
        .bind(new.user.to_string())
        .bind(new.user_login)
        .bind(scopes)
        .bind(new.expiry.window())
        .bind(new.expires_at)
        .bind(new.expiry.max_expires_at())
        .bind(new.created_by)
        .bind(now)
        .bind(ips)
        .bind(via)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_write)?;
        self.token_by_id(id).await?.ok_or(StoreError::Vanished)
    }

    /// The record a secret's hash belongs to, and which of its secrets it is (the
    /// current one, or the one before the last rotation).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn token_by_hash(&self, hash: &PatHash) -> Result<Option<(TokenRecord, Secret)>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, CAST(CASE WHEN hash = $1 THEN 1 ELSE 0 END AS BIGINT) AS current \
             FROM tokens WHERE hash = $1 OR old_hash = $1"
        ))
        .bind(hash.to_hex())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let current: i64 = row.try_get("current")?;
        Ok(Some((from_row(&row)?, if current == 1 { Secret::Current } else { Secret::Previous })))
    }

    /// # Errors
    /// On a database failure.
    pub async fn token_by_id(&self, id: TokenId) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tokens WHERE uuid = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A user's tokens, newest first.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn tokens_of(&self, user: UserId) -> Result<Vec<TokenRecord>> {
        let rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM tokens WHERE user_uuid = $1 ORDER BY created_at DESC, uuid"))
                .bind(user.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(from_row).collect()
    }

    /// Every token, newest first.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn all_tokens(&self) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM tokens ORDER BY created_at DESC, uuid"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Marks a token revoked and bumps the change counter, so that every process drops
    /// it from its cache. `false` when there is no such token or it was already revoked.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn revoke_token(&self, id: TokenId, now: UnixTime) -> Result<bool> {
        self.revoke_credential(Credentials::Tokens, &id.to_string(), now).await
    }

    /// Records a use: the new expiry (auto refresh; never lowered) and the last-used data.
    /// Not a change that caches must see: it does not bump the change counter.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn record_token_use(
        &self,
        id: TokenId,
        expires_at: Option<UnixTime>,
        at: UnixTime,
        ip: Option<&str>,
        via: &str,
    ) -> Result<()> {
        self.record_credential_use(Credentials::Tokens, &id.to_string(), expires_at, at, ip, via).await
    }

    /// Records why a known token was refused (the audit trail of failures).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn record_token_failure(&self, id: TokenId, at: UnixTime, reason: &str) -> Result<()> {
        self.record_credential_failure(Credentials::Tokens, &id.to_string(), at, reason).await
    }

    /// Deletes records that expired or were revoked before `before`; returns how many.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn prune_tokens(&self, before: UnixTime) -> Result<u64> {
        self.prune_credentials(Credentials::Tokens, before).await
    }
}
