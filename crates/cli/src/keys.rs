//! `cells admin user key add|list|revoke`: a user's SSH public keys, credentials shaped
//! like tokens for SFTP logins. The flags are those of `cells admin user token`; every
//! mistake (an unknown user, a bad key file, duration or scope) is a clear message and
//! exit status 2, and registers nothing.

use std::process::ExitCode;

use cells_core::KeyId;
use cells_core::duration::{Seconds, parse_duration};
use cells_core::expiry::ExpiryModel;
use cells_core::scope::parse_scope_list;
use cells_service::ssh_keys::status;
use cells_service::{Admin, Cells, KeySpec, ServiceError};
use clap::{Args, Subcommand};

use crate::tokens::{date, usage_error};

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Register an OpenSSH public key (ed25519 or ECDSA) for SFTP logins as the user.
    Add(AddKeyArgs),
    /// List a user's keys with their fingerprint, status, expiry model and last use.
    List {
        #[arg(short = 'u', long = "user")]
        login: String,
    },
    /// Revoke a key by its Uuid: refused at once, open SFTP sessions closed within a second.
    Revoke {
        /// The key's Uuid (from `list`).
        uuid: String,
    },
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("expiry").required(true).multiple(true).args(["expire", "auto"]))]
pub struct AddKeyArgs {
    /// The user's login.
    #[arg(short = 'u', long = "user")]
    login: String,
    /// The public key file (`id_ed25519.pub`); `-` reads it from standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: String,
    /// Hard limit: the key expires after DUR (`20s`, `15m`, `12h`, `90d`, `1d12h`). With
    /// `-a`, the cap of the auto refresh.
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration)]
    expire: Option<Seconds>,
    /// Auto refresh: the key expires DUR after its last use.
    #[arg(short, long, value_name = "DUR", value_parser = parse_duration)]
    auto: Option<Seconds>,
    /// Restrict the key: `node:<NODE_UUID>:r|w|rw`; repeatable, or comma-separated.
    #[arg(short, long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// A label to recognise the key by (default: the key's comment).
    #[arg(short, long)]
    label: Option<String>,
}

fn read_key(file: &str) -> Result<String, String> {
    let read =
        if file == "-" { std::io::read_to_string(std::io::stdin().lock()) } else { std::fs::read_to_string(file) };
    read.map_err(|err| format!("cannot read the public key from {file}: {err}"))
}

async fn add(cells: &Cells, admin: Admin, args: AddKeyArgs) -> Result<ExitCode, ServiceError> {
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
    let public_key = match read_key(&args.file) {
        Ok(text) => text,
        Err(message) => return Ok(usage_error(&message)),
    };
    let spec = KeySpec { label: args.label, public_key, expiry, scopes };
    let record = cells.register_key_for(admin, &args.login, spec, "cli").await?;
    println!("SSH key {} for {}", record.id, record.user_login);
    println!("Fingerprint {} ({})", record.fingerprint, record.algorithm);
    crate::tokens::print_expiry_and_scopes(record.expiry, record.expires_at, &record.scopes);
    Ok(ExitCode::SUCCESS)
}

pub async fn run(cells: &Cells, admin: Admin, command: KeyCommand) -> Result<ExitCode, ServiceError> {
    match command {
        KeyCommand::Add(args) => return add(cells, admin, args).await,
        KeyCommand::List { login } => {
            let now = cells_core::now();
            println!(
                "{:<36} {:<50} {:<8} {:<26} {:<31} {:<31} LABEL",
                "UUID", "FINGERPRINT", "STATUS", "MODEL", "EXPIRES", "LAST USED"
            );
            for key in cells.list_keys_of(admin, &login).await? {
                let model = match key.expiry {
                    ExpiryModel::HardLimit { .. } => "hard limit".to_owned(),
                    ExpiryModel::AutoRefresh { window, max_expires_at: None } => format!("auto refresh {window}s"),
                    ExpiryModel::AutoRefresh { window, max_expires_at: Some(_) } => {
                        format!("auto refresh {window}s, capped")
                    }
                };
                let last = key.last_used_at.map_or_else(
                    || "never".to_owned(),
                    |at| format!("{} from {}", date(at), key.last_used_ip.as_deref().unwrap_or("?")),
                );
                let scoped =
                    if key.scopes.is_empty() { String::new() } else { format!(" [{} scopes]", key.scopes.len()) };
                println!(
                    "{:<36} {:<50} {:<8} {:<26} {:<31} {:<31} {}{scoped}",
                    key.id.to_string(),
                    key.fingerprint,
                    status(&key, now),
                    model,
                    date(key.expires_at),
                    last,
                    key.label
                );
            }
        }
        KeyCommand::Revoke { uuid } => {
            let Ok(id) = uuid.parse::<KeyId>() else {
                return Ok(usage_error(&format!("{uuid:?} is not a key Uuid")));
            };
            let (record, revoked) = cells.revoke_key_admin(admin, id).await?;
            if revoked {
                println!("Revoked SSH key {id} ({}) of {}", record.fingerprint, record.user_login);
            } else {
                println!("SSH key {id} of {} was already revoked", record.user_login);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
