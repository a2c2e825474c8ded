//! OAuth2 refresh tokens, stored as the SHA-256 of the opaque token, in families: a
//! login starts a family, and each redemption retires the token it used and issues the
//! next one in the same family. A retired token is kept until it expires, so that
//! presenting it again is recognised as theft (RFC 6819 section 5.2.2.3, OAuth 2.0
//! security best practice): the whole family ends, and with it the login access tokens
//! issued from it.

use cells_core::{UnixTime, UserId};
use sqlx::Row;

use crate::row::parse;
use crate::{Result, Store};

/// What redeeming a refresh token found.
#[derive(Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// Valid: retired now, its successor stored in the same family.
    Valid { user: UserId, family: String },
    /// Already used once: the family was ended (theft).
    Reused { user: UserId },
    /// Unknown or expired.
    Unknown,
}

impl Store {
    /// Stores a refresh token in `family` (a new login: a new family).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn insert_refresh_token(
        &self,
        hash: &str,
        family: &str,
        user: UserId,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, family, user_uuid, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
        .bind(family)
        .bind(user.to_string())
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Retires a refresh token and stores its successor `next` (expiring at
    /// `next_expires_at`) in the same family, in one write transaction: a token is
    /// redeemed once even under concurrent redemption, and a second use ends its family.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn rotate_refresh_token(
        &self,
        hash: &str,
        next: &str,
        now: UnixTime,
        next_expires_at: UnixTime,
    ) -> Result<Redeemed> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT user_uuid, family, expires_at, used_at FROM refresh_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(Redeemed::Unknown) };
        let user: UserId = parse(&row, "user_uuid")?;
        let family: String = row.try_get("family")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let used_at: Option<i64> = row.try_get("used_at")?;
        if expires_at <= now {
            return Ok(Redeemed::Unknown);
        }
        if used_at.is_some() {
            end_family(&mut tx, &family).await?;
            tx.commit().await?;
            return Ok(Redeemed::Reused { user });
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2")
            .bind(now)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, family, user_uuid, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(next)
        .bind(&family)
        .bind(user.to_string())
        .bind(now)
        .bind(next_expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Redeemed::Valid { user, family })
    }

    /// Ends the family of a refresh token (logout); `false` when the token is unknown.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn end_refresh_family_of(&self, hash: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let family: Option<String> = sqlx::query_scalar("SELECT family FROM refresh_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(family) = family else { return Ok(false) };
        end_family(&mut tx, &family).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends a family by its name (logout with an access token of that family).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn end_refresh_family(&self, family: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        end_family(&mut tx, family).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a family still has a token that can be redeemed: its login lasts.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn refresh_family_alive(&self, family: &str, now: UnixTime) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM refresh_tokens WHERE family = $1 AND used_at IS NULL AND expires_at > $2 LIMIT 1",
        )
        .bind(family)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Removes expired refresh tokens; returns how many.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn prune_refresh_tokens(&self, now: UnixTime) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}

/// Deletes every token of a family and bumps the change counter, so that every process
/// forgets the login access tokens it verified for it.
async fn end_family(tx: &mut sqlx::Transaction<'_, sqlx::Any>, family: &str) -> Result<()> {
    sqlx::query("DELETE FROM refresh_tokens WHERE family = $1").bind(family).execute(&mut **tx).await?;
    crate::keys::bump_change_counter(tx).await
}
