//! Server keys, admin settings, and the change counter that tells every process's
//! caches that something they hold may be stale.

use cells_core::UnixTime;
use sqlx::{Any, Transaction};

use crate::{Result, Store};

pub(crate) async fn bump_change_counter(tx: &mut Transaction<'_, Any>) -> Result<()> {
    sqlx::query("UPDATE change_counter SET value = value + 1 WHERE id = 1").execute(&mut **tx).await?;
    Ok(())
}

pub(crate) async fn bump_tree_counter(tx: &mut Transaction<'_, Any>) -> Result<()> {
    sqlx::query("UPDATE change_counter SET tree = tree + 1 WHERE id = 1").execute(&mut **tx).await?;
    Ok(())
}

impl Store {
    /// Returns the key stored under `name`, storing `fresh` first if there is none. Safe
    /// when several processes start at once: the first insert wins and all read it back.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn server_key_or_insert(&self, name: &str, fresh: &[u8], now: UnixTime) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1").bind(name).fetch_one(&self.pool).await?)
    }

    /// # Errors
    /// On a database failure.
    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// # Errors
    /// On a database failure.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        bump_change_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The change counter of users, grants, tokens and settings.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn change_counter(&self) -> Result<i64> {
        Ok(self.change_counters().await?.0)
    }

    /// Both change counters: the first grows on every change to users, grants, tokens and
    /// settings; the second on every change to the tree.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn change_counters(&self) -> Result<(i64, i64)> {
        Ok(sqlx::query_as("SELECT value, tree FROM change_counter WHERE id = 1").fetch_one(&self.pool).await?)
    }
}
