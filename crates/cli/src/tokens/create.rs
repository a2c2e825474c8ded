//! `cells admin user token`: a new personal access token for a user, with its expiry
//! model, scopes and limits (addresses, protocols). The token policy in force applies:
//! a creation beyond it is refused with the rule named.

use std::process::ExitCode;

use cells_core::duration::{Seconds, parse_duration};
use cells_core::expiry::ExpiryModel;
use cells_core::limits::Limits;
use cells_core::scope::parse_scope_list;
use cells_service::{Admin, Cells, ServiceError, TokenSpec};
use clap::Args;

use super::{date, usage_error};

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
    /// Only from these addresses: an address or a block (`192.0.2.7`, `10.0.0.0/8`,
    /// `fd00::/8`); repeatable, or comma-separated. Default: from anywhere.
    #[arg(long = "allow-ip", value_name = "CIDR", value_delimiter = ',')]
    allow_ips: Vec<String>,
    /// Only through these protocols: `rest`, `io`, `webdav`, `sftp`, `s3`; repeatable, or
    /// comma-separated. Default: any.
    #[arg(long = "via", value_name = "PROTO", value_delimiter = ',')]
    via: Vec<String>,
    /// Print only the token and a newline.
    #[arg(short, long)]
    quiet: bool,
    /// A label to recognise the token by (default: says the CLI made it).
    #[arg(short, long)]
    label: Option<String>,
}

/// A token's limits as the CLI shows them: `ip=10.0.0.0/8,fd00::/8 via=sftp`, or `-`.
pub(super) fn limits_text(limits: &Limits) -> String {
    let mut parts = Vec::new();
    if !limits.ips().is_empty() {
        let ips: Vec<String> = limits.ips().iter().map(ToString::to_string).collect();
        parts.push(format!("ip={}", ips.join(",")));
    }
    let via = limits.via();
    if !via.is_empty() {
        let via: Vec<&str> = via.iter().map(|v| v.as_str()).collect();
        parts.push(format!("via={}", via.join(",")));
    }
    if parts.is_empty() { "-".to_owned() } else { parts.join(" ") }
}

pub async fn create(cells: &Cells, admin: Admin, args: CreateTokenArgs) -> Result<ExitCode, ServiceError> {
    let scopes = match parse_scope_list(&args.scopes) {
        Ok(scopes) => scopes,
        Err(err) => return Ok(usage_error(&err.to_string())),
    };
    let limits = match Limits::parse(&args.allow_ips, &args.via) {
        Ok(limits) => limits,
        Err(err) => return Ok(usage_error(&err.to_string())),
    };
    let now = cells_core::now();
    let hard = args.expire.map(|d| now.saturating_add(d.as_i64()));
    let expiry = match ExpiryModel::from_request(args.auto.map(Seconds::as_i64), hard) {
        Ok(expiry) => expiry,
        Err(err) => return Ok(usage_error(&err.to_string())),
    };
    let label = args.label.or_else(|| Some(format!("Created with the cells CLI on {}", date(now))));
    let spec = TokenSpec { label, expiry, scopes, limits };
    let (record, secret) = cells.create_token_for(admin, &args.login, spec, "cli").await?;
    if args.quiet {
        println!("{}", secret.expose());
        return Ok(ExitCode::SUCCESS);
    }
    println!("Personal access token {} for {}", record.id, record.user_login);
    crate::tokens::print_expiry_and_scopes(record.expiry, record.expires_at, &record.scopes);
    if !record.limits.ips().is_empty() {
        let ips: Vec<String> = record.limits.ips().iter().map(ToString::to_string).collect();
        println!("Only from: {}", ips.join(", "));
    }
    if !record.limits.via().is_empty() {
        let via: Vec<&str> = record.limits.via().iter().map(|v| v.as_str()).collect();
        println!("Only through: {}", via.join(", "));
    }
    println!();
    println!("{}", secret.expose());
    println!();
    println!("Keep this token secret: it is shown only this once and gives access as {}.", record.user_login);
    Ok(ExitCode::SUCCESS)
}
