//! Ending and renewing tokens: `revoke` (one, or all beyond the policy), `rotate` (a new
//! secret, the old one good for a grace), and `leaked` (every token found in a text).

use std::io::Read;
use std::process::ExitCode;

use cells_core::TokenId;
use cells_core::duration::{Seconds, parse_duration};
use cells_service::tokens::{MAX_GRACE, beyond_policy};
use cells_service::{Admin, Cells, ServiceError};
use clap::Args;

use super::{date, usage_error};

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["uuid", "beyond_policy"]))]
pub struct RevokeArgs {
    /// The token's Uuid (from `list`).
    uuid: Option<String>,
    /// Instead of one token: every active token that breaks the token policy in force
    /// (made before it was tightened); each is printed.
    #[arg(long)]
    beyond_policy: bool,
}

#[derive(Args, Debug)]
pub struct RotateArgs {
    /// The token's Uuid (from `list`).
    uuid: String,
    /// How long the old secret keeps working: DUR (`10m`, `1d`, at most 30d), or `0` for
    /// not at all (the default).
    #[arg(long, value_name = "DUR|0", default_value = "0", value_parser = parse_grace)]
    grace: i64,
    /// Print only the new token and a newline.
    #[arg(short, long)]
    quiet: bool,
}

/// A grace: `0`, or a duration of at most [`MAX_GRACE`].
fn parse_grace(text: &str) -> Result<i64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    let grace = parse_duration(text).map_err(|e| format!("{e} (or 0 for no grace)"))?.as_i64();
    if grace > MAX_GRACE {
        let max = u64::try_from(MAX_GRACE).ok().and_then(|s| Seconds::new(s).ok());
        return Err(format!("a grace is at most {}", max.map_or_else(String::new, |m| m.to_string())));
    }
    Ok(grace)
}

fn token_id(uuid: &str) -> Result<TokenId, ExitCode> {
    uuid.parse::<TokenId>().map_err(|_| usage_error(&format!("{uuid:?} is not a token Uuid")))
}

pub async fn revoke(cells: &Cells, admin: Admin, args: RevokeArgs) -> Result<ExitCode, ServiceError> {
    if args.beyond_policy {
        let policy = cells.token_policy().await?;
        let ended = cells.revoke_beyond_policy(admin).await?;
        for record in &ended {
            let rules = beyond_policy(&policy, record).join(", ");
            println!("Revoked token {} of {} ({}): beyond {rules}", record.id, record.user_login, record.label);
        }
        let s = if ended.len() == 1 { "" } else { "s" };
        println!("Revoked {} token{s} beyond the token policy", ended.len());
        return Ok(ExitCode::SUCCESS);
    }
    let uuid = args.uuid.unwrap_or_default();
    let id = match token_id(&uuid) {
        Ok(id) => id,
        Err(code) => return Ok(code),
    };
    let (record, revoked) = cells.revoke_token_admin(admin, id).await?;
    if revoked {
        println!("Revoked token {id} of {}", record.user_login);
    } else {
        println!("Token {id} of {} was already revoked", record.user_login);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn rotate(cells: &Cells, admin: Admin, args: RotateArgs) -> Result<ExitCode, ServiceError> {
    let id = match token_id(&args.uuid) {
        Ok(id) => id,
        Err(code) => return Ok(code),
    };
    let (record, secret) = cells.rotate_token_admin(admin, id, args.grace).await?;
    if args.quiet {
        println!("{}", secret.expose());
        return Ok(ExitCode::SUCCESS);
    }
    println!("Rotated token {id} of {}", record.user_login);
    match record.grace_ends_at.filter(|_| args.grace > 0) {
        Some(at) => println!("The old token keeps working until {}, then stops", date(at)),
        None => println!("The old token has stopped working"),
    }
    println!();
    println!("{}", secret.expose());
    println!();
    println!("Keep this token secret: it is shown only this once and gives access as {}.", record.user_login);
    Ok(ExitCode::SUCCESS)
}

/// Every `cpat_` token-shaped string in `text` (the prefix and 49 base62 characters, not
/// followed by another), wherever it stands: in JSON, a log line, a URL.
fn token_shaped(text: &str) -> Vec<&str> {
    // NEVER CHANGE THE PREFIX: it is the token format's (DESIGN.md section 4).
    const PREFIX: &str = "cpat_";
    const BODY: usize = 49;
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(PREFIX) {
        let body = from + at + PREFIX.len();
        let run = bytes[body..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        if run == BODY {
            found.push(&text[body - PREFIX.len()..body + BODY]);
        }
        from = body + run;
    }
    found
}

pub async fn leaked(cells: &Cells, admin: Admin, source: &str) -> Result<ExitCode, ServiceError> {
    let mut bytes = Vec::new();
    let read = if source == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::File::open(source).and_then(|mut file| file.read_to_end(&mut bytes)).map(drop)
    };
    if let Err(err) = read {
        let from = if source == "-" { "standard input".to_owned() } else { format!("{source:?}") };
        return Ok(usage_error(&format!("cannot read {from}: {err}")));
    }
    let text = String::from_utf8_lossy(&bytes);
    let tokens: Vec<String> = token_shaped(&text).into_iter().map(str::to_owned).collect();
    let revoked = if tokens.is_empty() {
        eprintln!("note: no cpat_ token found in the input");
        0
    } else {
        cells.report_leaked_admin(admin, &tokens).await?
    };
    println!("Revoked {revoked} token{}", if revoked == 1 { "" } else { "s" });
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_wherever_they_stand() {
        let a = format!("cpat_{}", "A".repeat(49));
        let b = format!("cpat_{}", "0123456789".repeat(5)[..49].to_owned());
        let text = format!(
            "[{{\"token\":\"{a}\",\"url\":\"https://x/?t={b}&y=1\"}}]\nAuthorization: Bearer {a}\n\
             too long cpat_{} too short cpat_abc cpat_ {b}",
            "z".repeat(50)
        );
        assert_eq!(token_shaped(&text), vec![a.as_str(), b.as_str(), a.as_str(), b.as_str()]);
        assert!(token_shaped("").is_empty());
        assert!(token_shaped("cpat_cpat_cpat_").is_empty());
        let glued = format!("xx{a}");
        assert_eq!(token_shaped(&glued), vec![a.as_str()]);
    }

    #[test]
    fn a_grace_is_zero_or_a_duration_up_to_thirty_days() {
        assert_eq!(parse_grace("0"), Ok(0));
        assert_eq!(parse_grace("10m"), Ok(600));
        assert_eq!(parse_grace("30d"), Ok(MAX_GRACE));
        assert!(parse_grace("30d1s").is_err_and(|e| e.contains("30d")));
        for bad in ["0s", "-1h", "1.5h", "abc", ""] {
            assert!(parse_grace(bad).is_err(), "{bad:?}");
        }
    }
}
