//! OAuth2 refresh tokens, stored as the SHA-256 of the opaque token. Each one is used
//! once: redeeming deletes it, and the caller issues the next.

use cells_core::{UnixTime, UserId};

use crate::row::parse;
use crate::{Result, Store};

impl Store {
    /// # Errors
    /// On a database failure.
    pub async fn insert_refresh_token(
        &self,
        hash: &str,
        user: UserId,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        sqlx::query("INSERT INTO refresh_tokens (hash, user_uuid, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(hash)
            .bind(user.to_string())
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the refresh token and returns its user if it existed and had not expired.
    /// Deleting first makes a token usable once even under concurrent redemption.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn redeem_refresh_token(&self, hash: &str, now: UnixTime) -> Result<Option<UserId>> {
        let row = sqlx::query("DELETE FROM refresh_tokens WHERE hash = $1 RETURNING user_uuid, expires_at")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: i64 = sqlx::Row::try_get(&row, "expires_at")?;
        if expires_at <= now {
            return Ok(None);
        }
        Ok(Some(parse(&row, "user_uuid")?))
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
