//! `cells admin token list`: one line per token, with what an operator checks before
//! acting: status (`leaked` for one a leak report ended), expiry model, last use, limits,
//! and the rules of the policy in force that it breaks (BEYOND, for active tokens).
//! `--expiring DUR` keeps only the active tokens that expire within DUR.

use std::process::ExitCode;

use cells_core::duration::{Seconds, parse_duration};
use cells_core::expiry::ExpiryModel;
use cells_service::tokens::{beyond_policy, status};
use cells_service::{Admin, Cells, ServiceError};
use clap::Args;

use super::create::limits_text;
use super::date;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this user's tokens.
    #[arg(short = 'u', long = "user")]
    login: Option<String>,
    /// Only active tokens that expire within DUR (`7d`, `12h`).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    expiring: Option<Seconds>,
}

pub async fn list(cells: &Cells, admin: Admin, args: ListArgs) -> Result<ExitCode, ServiceError> {
    let mut tokens = match args.login {
        Some(login) => cells.list_tokens_of(admin, &login).await?,
        None => cells.list_all_tokens(admin).await?,
    };
    let policy = cells.token_policy().await?;
    let now = cells_core::now();
    if let Some(within) = args.expiring {
        tokens.retain(|t| cells_service::tokens::expires_within(t, now, within.as_i64()));
    }
    println!(
        "{:<36} {:<16} {:<8} {:<26} {:<31} {:<31} {:<24} {:<14} LABEL",
        "UUID", "USER", "STATUS", "MODEL", "EXPIRES", "LAST USED", "LIMITS", "BEYOND"
    );
    for token in tokens {
        let model = match token.expiry {
            ExpiryModel::HardLimit { .. } => "hard limit".to_owned(),
            ExpiryModel::AutoRefresh { window, max_expires_at: None } => format!("auto refresh {window}s"),
            ExpiryModel::AutoRefresh { window, max_expires_at: Some(_) } => {
                format!("auto refresh {window}s, capped")
            }
        };
        let last = token.last_used_at.map_or_else(
            || "never".to_owned(),
            |at| format!("{} ({})", date(at), token.last_used_via.as_deref().unwrap_or("?")),
        );
        let status = status(&token, now);
        // As the REST list: a token no longer active breaks no rule that matters.
        let beyond = if status == "active" { beyond_policy(&policy, &token) } else { Vec::new() };
        let beyond = if beyond.is_empty() { "-".to_owned() } else { beyond.join(",") };
        println!(
            "{:<36} {:<16} {:<8} {:<26} {:<31} {:<31} {:<24} {:<14} {}",
            token.id.to_string(),
            token.user_login,
            status,
            model,
            date(token.expires_at),
            last,
            limits_text(&token.limits),
            beyond,
            token.label
        );
    }
    Ok(ExitCode::SUCCESS)
}
