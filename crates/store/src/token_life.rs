//! What happens to a token record after its creation, besides its use: rotation (a new
//! secret, the old one kept for a grace), leak reports (revoked and marked), and the
//! activity per hour, written in batches. Each write that caches must see bumps the
//! change counter in its own transaction.

use cells_core::token::PatHash;
use cells_core::{TokenId, UnixTime};
use sqlx::Row;

use crate::{Result, Store};

/// One count of uses: a token, the hour (unix seconds at its start), the address ('' if
/// unknown) and the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ActivityKey {
    pub token: TokenId,
    pub hour: UnixTime,
    pub ip: String,
    pub via: &'static str,
}

/// An hour of a token's activity, as `GET /a/auth/tokens/{TokenId}/activity` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityRow {
    pub hour: UnixTime,
    pub ip: String,
    pub via: String,
    pub count: i64,
}

impl Store {
    /// Gives a token a new secret: the current one becomes the previous one, good until
    /// `grace_ends_at`; the previous one before it is forgotten (its grace ends now).
    /// `false` when there is no such token or it is revoked.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn rotate_token(
        &self,
        id: TokenId,
        new_hash: &PatHash,
        grace_ends_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE tokens SET old_hash = hash, hash = $1, rotated_at = $2, grace_ends_at = $3, updated_at = $2 \
             WHERE uuid = $4 AND revoked_at IS NULL",
        )
        .bind(new_hash.to_hex())
        .bind(now)
        .bind(grace_ends_at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        crate::keys::bump_change_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Revokes every token that one of `hashes` opens (its current secret, or the one
    /// before within its grace) and marks it leaked at `now` by `reporter`; returns how
    /// many it revoked. One statement and one change-counter bump for the whole report.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn revoke_leaked(&self, hashes: &[PatHash], now: UnixTime, reporter: &str) -> Result<u64> {
        if hashes.is_empty() {
            return Ok(0);
        }
        let list = (0..hashes.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE tokens SET revoked_at = $1, updated_at = $1, leaked_at = $1, leaked_by = $2 \
             WHERE revoked_at IS NULL AND (hash IN ({list}) OR (old_hash IN ({list}) AND grace_ends_at > $1))"
        );
        let mut query = sqlx::query(&sql).bind(now).bind(reporter);
        for hash in hashes {
            query = query.bind(hash.to_hex());
        }
        let mut tx = self.pool.begin().await?;
        let done = query.execute(&mut *tx).await?;
        if done.rows_affected() > 0 {
            crate::keys::bump_change_counter(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Adds counts of uses, in one transaction. Counts of a token deleted meanwhile are
    /// dropped.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn add_token_activity(&self, counts: &[(ActivityKey, u64)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (key, count) in counts {
            sqlx::query(
                "INSERT INTO token_activity (token_uuid, hour, ip, via, count) \
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM tokens WHERE uuid = $1) \
                 ON CONFLICT (token_uuid, hour, ip, via) DO UPDATE SET count = token_activity.count + excluded.count",
            )
            .bind(key.token.to_string())
            .bind(key.hour)
            .bind(key.ip.as_str())
            .bind(key.via)
            .bind(i64::try_from(*count).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A token's activity since `since`, newest hour first.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn token_activity(&self, id: TokenId, since: UnixTime) -> Result<Vec<ActivityRow>> {
        let rows = sqlx::query(
            "SELECT hour, ip, via, count FROM token_activity WHERE token_uuid = $1 AND hour >= $2 \
             ORDER BY hour DESC, ip, via",
        )
        .bind(id.to_string())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ActivityRow {
                    hour: row.try_get("hour")?,
                    ip: row.try_get("ip")?,
                    via: row.try_get("via")?,
                    count: row.try_get("count")?,
                })
            })
            .collect()
    }

    /// Deletes activity of hours before `before`; returns how many rows.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn prune_token_activity(&self, before: UnixTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM token_activity WHERE hour < $1").bind(before).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// How many tokens not revoked end after `now` and by `until` whatever their use:
    /// by their hard limit, or an auto refresh by its cap (the gauge of tokens about to
    /// expire).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn count_tokens_expiring(&self, now: UnixTime, until: UnixTime) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM tokens WHERE revoked_at IS NULL AND expires_at > $1 \
             AND ((auto_refresh_window = 0 AND expires_at <= $2) OR (auto_refresh_window > 0 AND max_expires_at <= $2))",
        )
        .bind(now)
        .bind(until)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}
