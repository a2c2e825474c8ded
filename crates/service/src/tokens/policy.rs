//! The admin's token policy (`GET|PUT /a/auth/token-policy`, the configuration at
//! start): kept as settings in the database, so every node and the CLI follow the same
//! one, and checked on every creation of a token or an SSH key, whatever the front end.
//! The rules themselves are pure, in [`cells_core::policy`].

use cells_core::UnixTime;
use cells_core::expiry::{ExpiryModel, MAX_WINDOW};
use cells_core::policy::{Made, TokenPolicy};
use cells_store::TokenRecord;

use super::SELF_SERVICE_SETTING;
use crate::{Admin, Cells, Result, ServiceError};

/// The setting that holds the policy, as JSON (self-service is its own setting).
pub const POLICY_SETTING: &str = "tokens.policy";

impl Cells {
    /// The token policy in force.
    ///
    /// # Errors
    /// On a store failure, or a setting that is not a policy.
    pub async fn token_policy(&self) -> Result<TokenPolicy> {
        let mut policy = match self.store().setting(POLICY_SETTING).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| ServiceError::Internal(format!("the stored token policy cannot be read: {e}")))?,
            None => TokenPolicy::open(),
        };
        policy.self_service = self.store().setting(SELF_SERVICE_SETTING).await?.as_deref() != Some("off");
        Ok(policy)
    }

    /// Sets the token policy. Tokens made before stay valid; the lists flag those beyond
    /// it (`BeyondPolicy`), and `cells admin token revoke --beyond-policy` ends them.
    ///
    /// # Errors
    /// 400 for a limit that is not a positive number of seconds within 100 years.
    pub async fn set_token_policy(&self, _: Admin, mut policy: TokenPolicy) -> Result<TokenPolicy> {
        for (name, value) in [("MaxExpiresIn", policy.max_expires_in), ("MaxAutoRefresh", policy.max_auto_refresh)] {
            if value.is_some_and(|v| !(1..=MAX_WINDOW).contains(&v)) {
                return Err(ServiceError::BadRequest(format!(
                    "{name} is a number of seconds from 1 to {MAX_WINDOW}, or null for no limit"
                )));
            }
        }
        policy.self_service_users =
            std::mem::take(&mut policy.self_service_users).into_iter().map(|(l, on)| (l.to_lowercase(), on)).collect();
        let json = serde_json::to_string(&policy).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.store().set_setting(POLICY_SETTING, &json).await?;
        self.store().set_setting(SELF_SERVICE_SETTING, if policy.self_service { "on" } else { "off" }).await?;
        self.changed().await;
        tracing::info!(policy = %json, "token policy set");
        Ok(policy)
    }

    /// Whether a new credential is within the policy: a 400 that names the rule if not.
    pub(crate) async fn check_policy(
        &self,
        expiry: &ExpiryModel,
        expires_at: UnixTime,
        now: UnixTime,
        has_scopes: bool,
        for_other: bool,
    ) -> Result<()> {
        let policy = self.token_policy().await?;
        policy
            .check(&Made::new(expiry, expires_at, now, has_scopes, for_other))
            .map_err(|e| ServiceError::BadRequest(e.to_string()))
    }
}

/// Whether a token was made for someone else than the one who made it (by an admin, or
/// with the CLI).
#[must_use]
pub fn made_for_other(record: &TokenRecord) -> bool {
    !record.created_by.eq_ignore_ascii_case(&record.user_login)
}

/// The rules of `policy` a token breaks (made before the policy was tightened), by
/// name; empty when within it.
#[must_use]
pub fn beyond_policy(policy: &TokenPolicy, record: &TokenRecord) -> Vec<&'static str> {
    let initial = match record.expiry {
        ExpiryModel::HardLimit { expires_at } => expires_at,
        ExpiryModel::AutoRefresh { .. } => record.created_at,
    };
    policy.beyond(&Made::new(
        &record.expiry,
        initial,
        record.created_at,
        !record.scopes.is_empty(),
        made_for_other(record),
    ))
}
