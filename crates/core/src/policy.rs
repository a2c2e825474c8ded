//! The admin's token policy: how long a new credential may live, whether auto refresh
//! needs a cap, whether an admin's token for someone else must carry scopes, and who may
//! make their own. Pure rules over a creation ([`TokenPolicy::check`]) and over a record
//! made before the policy was tightened ([`TokenPolicy::beyond`]); each names its rule.

use std::collections::BTreeMap;

use crate::UnixTime;
use crate::expiry::ExpiryModel;

/// The rules. `None` and `false` are the open defaults: no policy, no refusal.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TokenPolicy {
    /// The longest a new credential may be valid, in seconds: the hard limit, and the
    /// cap of an auto refresh.
    #[serde(default)]
    pub max_expires_in: Option<i64>,
    /// The longest auto-refresh window, in seconds.
    #[serde(default)]
    pub max_auto_refresh: Option<i64>,
    /// Whether an auto-refresh credential must also have a cap (`ExpiresAt`).
    #[serde(default)]
    pub auto_refresh_needs_cap: bool,
    /// Whether a token an admin (or the CLI) makes for someone else must carry scopes.
    #[serde(default)]
    pub scopes_for_others: bool,
    /// Whether users may make their own tokens and keys (admins always may).
    #[serde(default = "yes")]
    pub self_service: bool,
    /// Exceptions to `self_service`, by login (lower case).
    #[serde(default)]
    pub self_service_users: BTreeMap<String, bool>,
}

const fn yes() -> bool {
    true
}

/// The rule a creation breaks, with what the rule allows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the token policy's {rule} {allows}")]
pub struct PolicyError {
    pub rule: &'static str,
    pub allows: String,
}

/// What a credential is, for the policy.
#[non_exhaustive]
pub struct Made<'a> {
    pub expiry: &'a ExpiryModel,
    /// `ExpiresAt` when it was made.
    pub expires_at: UnixTime,
    pub made_at: UnixTime,
    pub has_scopes: bool,
    /// Made by an admin or the CLI for another user.
    pub for_other: bool,
}

impl<'a> Made<'a> {
    #[must_use]
    pub const fn new(
        expiry: &'a ExpiryModel,
        expires_at: UnixTime,
        made_at: UnixTime,
        has_scopes: bool,
        for_other: bool,
    ) -> Self {
        Self { expiry, expires_at, made_at, has_scopes, for_other }
    }
}

impl TokenPolicy {
    /// The open policy: what a new install has.
    #[must_use]
    pub fn open() -> Self {
        Self { self_service: true, ..Self::default() }
    }

    /// Whether `login` may make their own credentials.
    #[must_use]
    pub fn self_service_for(&self, login: &str) -> bool {
        self.self_service_users.get(&login.to_lowercase()).copied().unwrap_or(self.self_service)
    }

    /// Every rule a credential breaks, by name (empty when within the policy).
    #[must_use]
    pub fn beyond(&self, made: &Made<'_>) -> Vec<&'static str> {
        self.breaches(made).into_iter().map(|e| e.rule).collect()
    }

    /// Whether a new credential is within the policy.
    ///
    /// # Errors
    /// The first rule it breaks.
    pub fn check(&self, made: &Made<'_>) -> Result<(), PolicyError> {
        self.breaches(made).into_iter().next().map_or(Ok(()), Err)
    }

    fn breaches(&self, made: &Made<'_>) -> Vec<PolicyError> {
        let mut out = Vec::new();
        let lives = |at: UnixTime| at.saturating_sub(made.made_at);
        let hard = match *made.expiry {
            ExpiryModel::HardLimit { .. } => Some(made.expires_at),
            ExpiryModel::AutoRefresh { max_expires_at, .. } => max_expires_at,
        };
        if let (Some(max), Some(at)) = (self.max_expires_in, hard)
            && lives(at) > max
        {
            out.push(PolicyError { rule: "MaxExpiresIn", allows: format!("allows at most {} of validity", span(max)) });
        }
        if let ExpiryModel::AutoRefresh { window, max_expires_at } = *made.expiry {
            if let Some(max) = self.max_auto_refresh
                && window > max
            {
                out.push(PolicyError {
                    rule: "MaxAutoRefresh",
                    allows: format!("allows an auto-refresh window of at most {}", span(max)),
                });
            }
            if self.auto_refresh_needs_cap && max_expires_at.is_none() {
                out.push(PolicyError {
                    rule: "AutoRefreshNeedsCap",
                    allows: "asks an auto-refresh token for a cap too (ExpiresAt, or -e with -a)".into(),
                });
            }
        }
        if self.scopes_for_others && made.for_other && !made.has_scopes {
            out.push(PolicyError {
                rule: "ScopesForOthers",
                allows: "asks a token made for someone else for at least one scope".into(),
            });
        }
        out
    }
}

/// A span of seconds as the CLI writes it: `30d`, `12h`, `90m`, or seconds.
fn span(seconds: i64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds >= size && seconds % size == 0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn strict() -> TokenPolicy {
        TokenPolicy {
            max_expires_in: Some(30 * DAY),
            max_auto_refresh: Some(DAY),
            auto_refresh_needs_cap: true,
            scopes_for_others: true,
            ..TokenPolicy::open()
        }
    }

    #[test]
    fn the_open_policy_allows_everything() {
        let expiry = ExpiryModel::AutoRefresh { window: 3650 * DAY, max_expires_at: None };
        assert_eq!(TokenPolicy::open().check(&Made::new(&expiry, 1000, 0, false, true)), Ok(()));
        assert!(TokenPolicy::open().self_service_for("anyone"));
    }

    #[test]
    fn each_rule_is_named() {
        let policy = strict();
        let rule = |expiry: ExpiryModel, expires_at, scopes, other| {
            policy.check(&Made::new(&expiry, expires_at, 0, scopes, other)).err().map(|e| e.rule)
        };
        assert_eq!(rule(ExpiryModel::HardLimit { expires_at: 30 * DAY }, 30 * DAY, false, false), None);
        assert_eq!(rule(ExpiryModel::HardLimit { expires_at: 31 * DAY }, 31 * DAY, false, false), Some("MaxExpiresIn"));
        let capped = |window, cap| ExpiryModel::AutoRefresh { window, max_expires_at: cap };
        assert_eq!(rule(capped(DAY, Some(7 * DAY)), DAY, false, false), None);
        assert_eq!(rule(capped(2 * DAY, Some(7 * DAY)), DAY, false, false), Some("MaxAutoRefresh"));
        assert_eq!(rule(capped(DAY, None), DAY, false, false), Some("AutoRefreshNeedsCap"));
        assert_eq!(rule(capped(DAY, Some(60 * DAY)), DAY, false, false), Some("MaxExpiresIn"));
        assert_eq!(rule(ExpiryModel::HardLimit { expires_at: DAY }, DAY, false, true), Some("ScopesForOthers"));
        assert_eq!(rule(ExpiryModel::HardLimit { expires_at: DAY }, DAY, true, true), None);
        let all = policy.beyond(&Made::new(&capped(2 * DAY, None), DAY, 0, false, true));
        assert_eq!(all, vec!["MaxAutoRefresh", "AutoRefreshNeedsCap", "ScopesForOthers"]);
    }

    #[test]
    fn messages_say_what_the_rule_allows() {
        let err =
            strict().check(&Made::new(&ExpiryModel::HardLimit { expires_at: 90 * DAY }, 90 * DAY, 0, true, false));
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("the token policy's MaxExpiresIn allows at most 30d of validity".into())
        );
        assert_eq!(span(90 * 60), "90m");
        assert_eq!(span(61), "61s");
    }

    #[test]
    fn self_service_has_exceptions_by_login() {
        let mut policy = TokenPolicy { self_service: false, ..TokenPolicy::open() };
        policy.self_service_users.insert("alice".into(), true);
        assert!(policy.self_service_for("Alice"));
        assert!(!policy.self_service_for("bob"));
        let json: TokenPolicy = serde_json::from_str(r#"{"MaxExpiresIn": 60}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(json.self_service, "self-service stays on unless said");
        assert!(serde_json::from_str::<TokenPolicy>(r#"{"MaxExpiresln": 60}"#).is_err(), "a typo is refused");
    }
}
