//! Personal access tokens from the command line: `cells admin user token` makes one
//! ([`create`]); `cells admin token ...` lists them ([`list`]), ends or renews them
//! (revoke, rotate, leaked: [`life`]) and shows or sets the token policy ([`policy`],
//! which also holds the policy settings of `cells start`).
//!
//! `-q` prints a new token and a newline, nothing else, for scripts. Every mistake (an
//! unknown user or token, a bad duration, scope, address or protocol, a creation the
//! policy refuses) is a clear message and exit status 2, and creates or changes nothing.
//! No command prints a token other than the one it has just made.

mod create;
mod life;
mod list;
pub mod policy;

use std::process::ExitCode;

use cells_service::{Admin, Cells, ServiceError};
use clap::Subcommand;

pub use create::{CreateTokenArgs, create};

use crate::EXIT_USAGE;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// List tokens (a user's, or everyone's) with their status, expiry model, last use,
    /// limits, and the policy rules they break.
    List(list::ListArgs),
    /// Revoke a token by its Uuid, or every token beyond the token policy: refused on
    /// every surface within a second.
    Revoke(life::RevokeArgs),
    /// Give a token a new secret (label, scopes, limits and expiry kept); the old one
    /// works on for the grace, then fails.
    Rotate(life::RotateArgs),
    /// Revoke every token found in a leak: the text of FILE (`-`: standard input), such
    /// as a secret scanner's JSON or a log excerpt; every `cpat_...` string in it counts.
    /// Prints only how many were revoked.
    Leaked {
        /// The file to read, or `-` for standard input.
        #[arg(value_name = "FILE|-")]
        source: String,
    },
    /// Show the token policy, or change the fields given (the others keep their value).
    Policy(policy::PolicyArgs),
    /// Allow or forbid users to create tokens for themselves (the policy's SelfService).
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

/// Prints how a new credential (a token, an SSH key) expires, and its scopes.
pub(crate) fn print_expiry_and_scopes(
    expiry: cells_core::expiry::ExpiryModel,
    expires_at: i64,
    scopes: &[cells_core::scope::Scope],
) {
    match expiry {
        cells_core::expiry::ExpiryModel::HardLimit { expires_at } => {
            println!("Expires at {} (hard limit)", date(expires_at));
        }
        cells_core::expiry::ExpiryModel::AutoRefresh { window, max_expires_at } => {
            println!("Expires at {}, pushed back to {window} s after each use", date(expires_at));
            if let Some(max) = max_expires_at {
                println!("Never valid beyond {}", date(max));
            }
        }
    }
    if !scopes.is_empty() {
        let scopes: Vec<String> = scopes.iter().map(ToString::to_string).collect();
        println!("Scopes: {}", scopes.join(", "));
    }
}

pub async fn run(cells: &Cells, admin: Admin, command: TokenCommand) -> Result<ExitCode, ServiceError> {
    match command {
        TokenCommand::List(args) => list::list(cells, admin, args).await,
        TokenCommand::Revoke(args) => life::revoke(cells, admin, args).await,
        TokenCommand::Rotate(args) => life::rotate(cells, admin, args).await,
        TokenCommand::Leaked { source } => life::leaked(cells, admin, &source).await,
        TokenCommand::Policy(args) => policy::run(cells, admin, args).await,
        TokenCommand::SelfService { state } => {
            cells.set_self_service_tokens(admin, state == "on").await?;
            println!("Users {} create their own tokens", if state == "on" { "may" } else { "may not" });
            Ok(ExitCode::SUCCESS)
        }
    }
}
