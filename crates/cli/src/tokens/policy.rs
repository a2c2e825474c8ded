//! The token policy from the command line, one policy in the database for every node:
//!
//! - `cells admin token policy [--max-expires-in DUR|none] ...` shows it, or changes the
//!   fields given ([`PolicyArgs`]);
//! - `cells start` writes the fields its configuration gives (the `[tokens]` table of the
//!   file, `CELLS_TOKEN_*`, `--token-*`: [`StartPolicyArgs`], [`PolicyFile`]) into the
//!   stored policy at each start; fields not given keep their stored value.
//!
//! Both become a [`PolicyChange`], applied over the stored policy.

use std::process::ExitCode;

use anyhow::Context;
use cells_core::duration::{Seconds, parse_duration};
use cells_core::policy::TokenPolicy;
use cells_service::tokens::{beyond_policy, status};
use cells_service::{Admin, Cells, ServiceError};
use clap::Args;
use clap::builder::BoolishValueParser;
use serde::Deserialize;

/// A limit of the policy as given: a duration, or `none` for no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Unlimited,
    Within(Seconds),
}

impl Limit {
    fn seconds(self) -> Option<i64> {
        match self {
            Self::Unlimited => None,
            Self::Within(seconds) => Some(seconds.as_i64()),
        }
    }
}

/// `none`, or a duration (`90d`, `12h`).
fn parse_limit(text: &str) -> Result<Limit, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Limit::Unlimited);
    }
    parse_duration(text).map(Limit::Within).map_err(|e| format!("{e} (or none for no limit)"))
}

/// `LOGIN=on|off|default`: an exception to SelfService for one user (`default` removes it).
fn parse_exception(text: &str) -> Result<(String, Option<bool>), String> {
    let (login, state) =
        text.rsplit_once('=').ok_or_else(|| format!("{text:?} is not LOGIN=on, LOGIN=off or LOGIN=default"))?;
    let state = match state.trim().to_ascii_lowercase().as_str() {
        "on" => Some(true),
        "off" => Some(false),
        "default" => None,
        _ => return Err(format!("{text:?}: say on, off or default after the =")),
    };
    let login = login.trim();
    if login.is_empty() {
        return Err(format!("{text:?}: no login before the ="));
    }
    Ok((login.to_owned(), state))
}

/// Fields of the policy to change; `None` keeps the stored value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyChange {
    pub max_expires_in: Option<Limit>,
    pub max_auto_refresh: Option<Limit>,
    pub auto_refresh_needs_cap: Option<bool>,
    pub scopes_for_others: Option<bool>,
    pub self_service: Option<bool>,
    /// Per-login exceptions to set (`Some`) or remove (`None`).
    pub self_service_users: Vec<(String, Option<bool>)>,
}

impl PolicyChange {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Field by field, `self` where given, else `under`.
    #[must_use]
    pub fn over(self, under: Self) -> Self {
        Self {
            max_expires_in: self.max_expires_in.or(under.max_expires_in),
            max_auto_refresh: self.max_auto_refresh.or(under.max_auto_refresh),
            auto_refresh_needs_cap: self.auto_refresh_needs_cap.or(under.auto_refresh_needs_cap),
            scopes_for_others: self.scopes_for_others.or(under.scopes_for_others),
            self_service: self.self_service.or(under.self_service),
            self_service_users: [under.self_service_users, self.self_service_users].concat(),
        }
    }

    fn apply(&self, mut policy: TokenPolicy) -> TokenPolicy {
        if let Some(limit) = self.max_expires_in {
            policy.max_expires_in = limit.seconds();
        }
        if let Some(limit) = self.max_auto_refresh {
            policy.max_auto_refresh = limit.seconds();
        }
        if let Some(on) = self.auto_refresh_needs_cap {
            policy.auto_refresh_needs_cap = on;
        }
        if let Some(on) = self.scopes_for_others {
            policy.scopes_for_others = on;
        }
        if let Some(on) = self.self_service {
            policy.self_service = on;
        }
        for (login, state) in &self.self_service_users {
            match state {
                Some(on) => policy.self_service_users.insert(login.to_lowercase(), *on),
                None => policy.self_service_users.remove(&login.to_lowercase()),
            };
        }
        policy
    }
}

/// The policy settings of `cells start`: written into the stored policy at start.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Token policy (written into the database at start; what is not given keeps its value)")]
pub struct StartPolicyArgs {
    /// The longest validity of a new token or SSH key (the hard limit, and the cap of an
    /// auto refresh): DUR, or `none`.
    #[arg(long, env = "CELLS_TOKEN_MAX_EXPIRES_IN", value_name = "DUR|none", value_parser = parse_limit)]
    pub token_max_expires_in: Option<Limit>,
    /// The longest auto-refresh window of a new token or key: DUR, or `none`.
    #[arg(long, env = "CELLS_TOKEN_MAX_AUTO_REFRESH", value_name = "DUR|none", value_parser = parse_limit)]
    pub token_max_auto_refresh: Option<Limit>,
    /// Whether an auto-refresh token needs a cap too (`-e` with `-a`, REST `ExpiresAt`).
    #[arg(long, env = "CELLS_TOKEN_AUTO_REFRESH_NEEDS_CAP", value_name = "on|off", num_args = 0..=1,
          default_missing_value = "on", value_parser = BoolishValueParser::new(), hide_possible_values = true)]
    pub token_auto_refresh_needs_cap: Option<bool>,
    /// Whether a token an admin or the CLI makes for someone else needs a scope.
    #[arg(long, env = "CELLS_TOKEN_SCOPES_FOR_OTHERS", value_name = "on|off", num_args = 0..=1,
          default_missing_value = "on", value_parser = BoolishValueParser::new(), hide_possible_values = true)]
    pub token_scopes_for_others: Option<bool>,
    /// Whether users may make their own tokens and keys (admins always may).
    #[arg(long, env = "CELLS_TOKEN_SELF_SERVICE", value_name = "on|off", num_args = 0..=1,
          default_missing_value = "on", value_parser = BoolishValueParser::new(), hide_possible_values = true)]
    pub token_self_service: Option<bool>,
}

impl StartPolicyArgs {
    #[must_use]
    pub fn change(&self) -> PolicyChange {
        PolicyChange {
            max_expires_in: self.token_max_expires_in,
            max_auto_refresh: self.token_max_auto_refresh,
            auto_refresh_needs_cap: self.token_auto_refresh_needs_cap,
            scopes_for_others: self.token_scopes_for_others,
            self_service: self.token_self_service,
            self_service_users: Vec::new(),
        }
    }
}

/// The `[tokens]` table of the configuration file.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    max_expires_in: Option<String>,
    max_auto_refresh: Option<String>,
    auto_refresh_needs_cap: Option<bool>,
    scopes_for_others: Option<bool>,
    self_service: Option<bool>,
}

impl PolicyFile {
    /// # Errors
    /// A limit that is neither a duration nor `none`, named by its key.
    pub fn change(self) -> anyhow::Result<PolicyChange> {
        let limit = |key: &str, text: Option<String>| -> anyhow::Result<Option<Limit>> {
            text.map(|t| parse_limit(&t).map_err(anyhow::Error::msg).with_context(|| format!("[tokens] {key} = {t:?}")))
                .transpose()
        };
        Ok(PolicyChange {
            max_expires_in: limit("max_expires_in", self.max_expires_in)?,
            max_auto_refresh: limit("max_auto_refresh", self.max_auto_refresh)?,
            auto_refresh_needs_cap: self.auto_refresh_needs_cap,
            scopes_for_others: self.scopes_for_others,
            self_service: self.self_service,
            self_service_users: Vec::new(),
        })
    }
}

/// `cells admin token policy`: without flags, shows the policy.
#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// The longest validity of a new token or SSH key: DUR, or `none`.
    #[arg(long, value_name = "DUR|none", value_parser = parse_limit)]
    max_expires_in: Option<Limit>,
    /// The longest auto-refresh window of a new token or key: DUR, or `none`.
    #[arg(long, value_name = "DUR|none", value_parser = parse_limit)]
    max_auto_refresh: Option<Limit>,
    /// Whether an auto-refresh token needs a cap too.
    #[arg(long, value_name = "on|off", num_args = 0..=1, default_missing_value = "on",
          value_parser = BoolishValueParser::new(), hide_possible_values = true)]
    auto_refresh_needs_cap: Option<bool>,
    /// Whether a token made for someone else (by an admin, the CLI) needs a scope.
    #[arg(long, value_name = "on|off", num_args = 0..=1, default_missing_value = "on",
          value_parser = BoolishValueParser::new(), hide_possible_values = true)]
    scopes_for_others: Option<bool>,
    /// Whether users may make their own tokens and keys (admins always may).
    #[arg(long, value_name = "on|off", num_args = 0..=1, default_missing_value = "on",
          value_parser = BoolishValueParser::new(), hide_possible_values = true)]
    self_service: Option<bool>,
    /// An exception to SelfService for one user (`default` removes it); repeatable.
    #[arg(long = "self-service-user", value_name = "LOGIN=on|off|default", value_parser = parse_exception)]
    self_service_users: Vec<(String, Option<bool>)>,
}

fn limit_text(seconds: Option<i64>) -> String {
    seconds
        .and_then(|s| u64::try_from(s).ok())
        .and_then(|s| Seconds::new(s).ok())
        .map_or_else(|| "none".to_owned(), |s| s.to_string())
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn show(policy: &TokenPolicy) {
    let users: Vec<String> = policy.self_service_users.iter().map(|(l, on)| format!("{l}={}", on_off(*on))).collect();
    println!("MaxExpiresIn         {}", limit_text(policy.max_expires_in));
    println!("MaxAutoRefresh       {}", limit_text(policy.max_auto_refresh));
    println!("AutoRefreshNeedsCap  {}", on_off(policy.auto_refresh_needs_cap));
    println!("ScopesForOthers      {}", on_off(policy.scopes_for_others));
    println!("SelfService          {}", on_off(policy.self_service));
    println!("SelfServiceUsers     {}", if users.is_empty() { "none".to_owned() } else { users.join(" ") });
}

pub async fn run(cells: &Cells, admin: Admin, args: PolicyArgs) -> Result<ExitCode, ServiceError> {
    let change = PolicyChange {
        max_expires_in: args.max_expires_in,
        max_auto_refresh: args.max_auto_refresh,
        auto_refresh_needs_cap: args.auto_refresh_needs_cap,
        scopes_for_others: args.scopes_for_others,
        self_service: args.self_service,
        self_service_users: args.self_service_users,
    };
    if change.is_empty() {
        show(&cells.token_policy().await?);
        return Ok(ExitCode::SUCCESS);
    }
    // An exception for a login that does not exist is a typo (removing one is not). The
    // policy keeps logins in lower case, as users are told apart.
    for (login, state) in &change.self_service_users {
        if state.is_some()
            && let Err(err) = cells.get_user(admin, login).await
        {
            cells.get_user(admin, &login.to_lowercase()).await.map_err(|_| err)?;
        }
    }
    let policy = cells.set_token_policy(admin, change.apply(cells.token_policy().await?)).await?;
    println!("Token policy set:");
    show(&policy);
    let now = cells_core::now();
    let beyond = cells
        .list_all_tokens(admin)
        .await?
        .iter()
        .filter(|t| status(t, now) == "active" && !beyond_policy(&policy, t).is_empty())
        .count();
    if beyond > 0 {
        println!(
            "{beyond} active token(s) made before are beyond it (BEYOND in `cells admin token list`); \
             `cells admin token revoke --beyond-policy` ends them"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// At `cells start`: writes the fields the configuration gives into the stored policy.
///
/// # Errors
/// A limit the policy cannot hold, or a store failure.
pub async fn apply_at_start(cells: &Cells, change: &PolicyChange) -> anyhow::Result<()> {
    if change.is_empty() {
        return Ok(());
    }
    let stored = cells.token_policy().await.map_err(|e| anyhow::anyhow!("cannot read the token policy: {e}"))?;
    let policy = cells
        .set_token_policy(Admin::operator(), change.apply(stored))
        .await
        .map_err(|e| anyhow::anyhow!("cannot set the token policy from the configuration: {e}"))?;
    tracing::info!(
        max_expires_in = ?policy.max_expires_in,
        max_auto_refresh = ?policy.max_auto_refresh,
        auto_refresh_needs_cap = policy.auto_refresh_needs_cap,
        scopes_for_others = policy.scopes_for_others,
        self_service = policy.self_service,
        "token policy from the configuration"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_exceptions_parse() {
        assert_eq!(parse_limit("none"), Ok(Limit::Unlimited));
        assert_eq!(parse_limit("90d").map(Limit::seconds), Ok(Some(90 * 86_400)));
        assert!(parse_limit("0s").is_err() && parse_limit("1.5d").is_err() && parse_limit("").is_err());
        assert_eq!(parse_exception("Alice=off"), Ok(("Alice".into(), Some(false))));
        assert_eq!(parse_exception("a=b=on"), Ok(("a=b".into(), Some(true))));
        assert_eq!(parse_exception("bob=default"), Ok(("bob".into(), None)));
        for bad in ["alice", "=on", "alice=maybe", "alice="] {
            assert!(parse_exception(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_change_keeps_what_it_does_not_give() {
        let mut stored = TokenPolicy { max_auto_refresh: Some(3600), scopes_for_others: true, ..TokenPolicy::open() };
        stored.self_service_users.insert("bob".into(), false);
        let flags = PolicyChange { max_expires_in: Some(Limit::Unlimited), ..PolicyChange::default() };
        let file = PolicyChange {
            max_expires_in: parse_limit("30d").ok(),
            auto_refresh_needs_cap: Some(true),
            ..PolicyChange::default()
        };
        let change = PolicyChange {
            self_service_users: vec![("Alice".into(), Some(true)), ("BOB".into(), None)],
            ..flags.over(file)
        };
        let policy = change.apply(stored);
        assert_eq!(policy.max_expires_in, None, "the flag wins over the file");
        assert!(policy.auto_refresh_needs_cap, "the file fills what the flag left");
        assert_eq!(policy.max_auto_refresh, Some(3600));
        assert!(policy.scopes_for_others && policy.self_service);
        assert_eq!(policy.self_service_users.into_iter().collect::<Vec<_>>(), vec![("alice".to_owned(), true)]);
        assert!(PolicyChange::default().is_empty());
        assert_eq!(limit_text(Some(129_600)), "1d12h");
        assert_eq!(limit_text(None), "none");
    }
}
