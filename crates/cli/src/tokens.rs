//! `cells admin user token` (create) and `cells admin token list|revoke|self-service`.
//!
//! `-q` prints the token and a newline, nothing else, for scripts. Every mistake (an
//! unknown user, a bad duration or scope, neither `-e` nor `-a`) is a clear message and
//! exit status 2, and creates nothing.

use std::process::ExitCode;

use cells_core::TokenId;
use cells_core::duration::{Seconds, parse_duration};
use cells_core::expiry::ExpiryModel;
use cells_core::scope::parse_scope_list;
use cells_service::tokens::status;
use cells_service::{Admin, Cells, ServiceError, TokenSpec};
use clap::{Args, Subcommand};

use crate::EXIT_USAGE;

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("expiry").required(true).multiple(true).args(["expire", "auto"]))]
pub struct CreateTokenArgs {
    /// The user's login.
    #[arg(short = 'u', long = "user")]
    login: String,
    /// Hard limit: the token expires after DUR (`20s`, `15m`, `12h`, `90d`, `1d12h`).
    /// With `-a`, the cap of the auto refresh.
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration)]
    expire: Option<Seconds>,
    /// Auto refresh: the token expires DUR after its last use.
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration)]
    auto: Option<Seconds>,
    /// Restrict the token: `node:<NODE_UUID>:r|w|rw`; repeatable, or comma-separated.
    #[arg(short, long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Print only the token and a newline.
    #[arg(short, long)]
    quiet: bool,
    /// A label to recognise the token by (default: says the CLI made it).
    #[arg(short, long)]
    label: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// List tokens (a user's, or everyone's) with their status, expiry model and last use.
    List {
        #[arg(short = 'u', long = "user")]
        login: Option<String>,
    },
    /// Revoke a token by its Uuid: refused on every surface within a second.
    Revoke {
        /// The token's Uuid (from `list`).
        uuid: String,
    },
    /// Allow or forbid users to create tokens for themselves.
    SelfService {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

pub(crate) fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

pub(crate) fn date(at: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(at).unwrap_or(0)))
}

pub async fn create(cells: &Cells, admin: Admin, args: CreateTokenArgs) -> Result<ExitCode, ServiceError> {
    let scopes = match parse_scope_list(&args.scopes) {
        Ok(scopes) => scopes,
        Err(err) => return Ok(usage_error(&err.to_string())),
    };
    let now = cells_core::now();
    let hard = args.expire.map(|d| now.saturating_add(d.as_i64()));
    let expiry = match ExpiryModel::from_request(args.auto.map(Seconds::as_i64), hard) {
        Ok(expiry) => expiry,
        Err(err) => return Ok(usage_error(&err.to_string())),
    };
    let label = args.label.or_else(|| Some(format!("Created with the cells CLI on {}", date(now))));
    let spec = TokenSpec { label, expiry, scopes, limits: cells_core::limits::Limits::default() };
    let (record, secret) = cells.create_token_for(admin, &args.login, spec, "cli").await?;
    if args.quiet {
        println!("{}", secret.expose());
        return Ok(ExitCode::SUCCESS);
    }
    println!("Personal access token {} for {}", record.id, record.user_login);
    match record.expiry {
        ExpiryModel::HardLimit { expires_at } => println!("Expires at {} (hard limit)", date(expires_at)),
        ExpiryModel::AutoRefresh { window, max_expires_at } => {
            println!("Expires at {}, pushed back to {window} s after each use", date(record.expires_at));
            if let Some(max) = max_expires_at {
                println!("Never valid beyond {}", date(max));
            }
        }
    }
    if !record.scopes.is_empty() {
        let scopes: Vec<String> = record.scopes.iter().map(ToString::to_string).collect();
        println!("Scopes: {}", scopes.join(", "));
    }
    println!();
    println!("{}", secret.expose());
    println!();
    println!("Keep this token secret: it is shown only this once and gives access as {}.", record.user_login);
    Ok(ExitCode::SUCCESS)
}

pub async fn run(cells: &Cells, admin: Admin, command: TokenCommand) -> Result<ExitCode, ServiceError> {
    match command {
        TokenCommand::List { login } => {
            let tokens = match login {
                Some(login) => cells.list_tokens_of(admin, &login).await?,
                None => cells.list_all_tokens(admin).await?,
            };
            let now = cells_core::now();
            println!(
                "{:<36} {:<16} {:<8} {:<26} {:<31} {:<31} LABEL",
                "UUID", "USER", "STATUS", "MODEL", "EXPIRES", "LAST USED"
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
                println!(
                    "{:<36} {:<16} {:<8} {:<26} {:<31} {:<31} {}",
                    token.id.to_string(),
                    token.user_login,
                    status(&token, now),
                    model,
                    date(token.expires_at),
                    last,
                    token.label
                );
            }
        }
        TokenCommand::Revoke { uuid } => {
            let Ok(id) = uuid.parse::<TokenId>() else {
                return Ok(usage_error(&format!("{uuid:?} is not a token Uuid")));
            };
            let (record, revoked) = cells.revoke_token_admin(admin, id).await?;
            if revoked {
                println!("Revoked token {id} of {}", record.user_login);
            } else {
                println!("Token {id} of {} was already revoked", record.user_login);
            }
        }
        TokenCommand::SelfService { state } => {
            cells.set_self_service_tokens(admin, state == "on").await?;
            println!("Users {} create their own tokens", if state == "on" { "may" } else { "may not" });
        }
    }
    Ok(ExitCode::SUCCESS)
}
