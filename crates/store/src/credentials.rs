//! What personal access tokens and SSH keys share in the database: both are credentials
//! with the same lifecycle columns (`expires_at`, `revoked_at`, the last use and the last
//! failure), written the same way. `tokens.rs` and `ssh_keys.rs` hold what differs (how
//! a record is found and read) and call these for the rest.

use cells_core::UnixTime;

use crate::{Result, Store};

/// A table of credentials. The names are fixed here, never taken from input.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Credentials {
    Tokens,
    SshKeys,
}

impl Credentials {
    const fn table(self) -> &'static str {
        match self {
            Self::Tokens => "tokens",
            Self::SshKeys => "ssh_keys",
        }
    }
}

impl Store {
    /// Marks a credential revoked and bumps the change counter, so that every process
    /// drops it from its cache (and ends what it opened). `false` when there is no such
    /// record or it was already revoked.
    pub(crate) async fn revoke_credential(&self, kind: Credentials, id: &str, now: UnixTime) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(&format!(
            "UPDATE {} SET revoked_at = $1, updated_at = $1 WHERE uuid = $2 AND revoked_at IS NULL",
            kind.table()
        ))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        crate::keys::bump_change_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a use: the new expiry (auto refresh; never lowered) and the last-used data.
    /// Not a change that caches must see: it does not bump the change counter.
    pub(crate) async fn record_credential_use(
        &self,
        kind: Credentials,
        id: &str,
        expires_at: Option<UnixTime>,
        at: UnixTime,
        ip: Option<&str>,
        via: &str,
    ) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE {} SET expires_at = {}(expires_at, COALESCE($1, expires_at)), last_used_at = $2, \
             last_used_ip = $3, last_used_via = $4 WHERE uuid = $5 AND revoked_at IS NULL",
            kind.table(),
            self.dialect.greatest()
        ))
        .bind(expires_at)
        .bind(at)
        .bind(ip)
        .bind(via)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records why a known credential was refused (the audit trail of failures).
    pub(crate) async fn record_credential_failure(
        &self,
        kind: Credentials,
        id: &str,
        at: UnixTime,
        reason: &str,
    ) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE {} SET last_failure_at = $1, last_failure_reason = $2 WHERE uuid = $3",
            kind.table()
        ))
        .bind(at)
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes records that expired or were revoked before `before`; returns how many.
    pub(crate) async fn prune_credentials(&self, kind: Credentials, before: UnixTime) -> Result<u64> {
        let done = sqlx::query(&format!("DELETE FROM {} WHERE expires_at < $1 OR revoked_at < $1", kind.table()))
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
