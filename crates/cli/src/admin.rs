//! `cells admin ...`: user and workspace administration on the server's store. It opens
//! the same database as the server (safe while it runs: SQLite in WAL mode), and acts
//! with the operator's capability. The commands that can run for minutes show their
//! progress on standard error ([`crate::progress`]).

use std::io::BufRead;
use std::process::ExitCode;

use cells_core::Profile;
use cells_service::users::{ChangeUser, CreateUser};
use cells_service::{Admin, Cells, ServiceError};
use clap::{Args, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::EXIT_USAGE;
use crate::config::{ServerArgs, Settings, StoreArgs};
use crate::progress::Reporter;

#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage workspaces and grants.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// List and revoke personal access tokens (create them with `user token`).
    #[command(subcommand)]
    Token(crate::tokens::TokenCommand),
    /// File content in the blob store.
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Copy this install (its database, and its files when the storage URL changes too)
    /// into a new, empty database: a single-node SQLite install moving to PostgreSQL and
    /// S3. Stop the server first; the source is left as it was. Progress goes to
    /// standard error (a bar on a terminal), the counts to standard output.
    MigrateStore {
        /// The database to copy into (`postgres://...`), freshly made and empty.
        #[arg(long)]
        to_database_url: String,
        /// Where file content goes from now on (`s3://BUCKET?endpoint=...`); default:
        /// where it is now.
        #[arg(long)]
        to_storage_url: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum BlobsCommand {
    /// Remove blobs that no file refers to (after deletes and replaced files, or left by
    /// interrupted uploads). The server does this by itself every ten minutes; safe while
    /// it runs. Progress goes to standard error, the counts to standard output.
    Collect {
        /// Only blobs unreferenced for at least this many seconds (so that an upload in
        /// flight is never collected).
        #[arg(long, default_value_t = cells_service::BLOB_GRACE.as_secs())]
        grace_secs: u64,
        /// First abort the multipart uploads (S3) left unfinished for at least this many
        /// seconds, whoever started them, so that their parts are removed too.
        #[arg(long, default_value_t = cells_service::multipart::ABANDONED_AFTER.as_secs())]
        abandoned_uploads_secs: u64,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a user (and their personal workspace).
    Create {
        #[arg(short = 'u', long = "user")]
        login: String,
        /// The password; `-` reads it from standard input; without it one is generated
        /// and printed.
        #[arg(short, long)]
        password: Option<String>,
        #[arg(long, default_value = "standard", value_parser = ["admin", "standard"])]
        profile: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List users.
    List,
    /// Delete a user with their personal files and tokens.
    Delete {
        #[arg(short = 'u', long = "user")]
        login: String,
    },
    /// Set a user's password.
    SetPwd {
        #[arg(short = 'u', long = "user")]
        login: String,
        /// The password; `-` reads it from standard input; without it one is generated
        /// and printed.
        #[arg(short, long)]
        password: Option<String>,
    },
    /// Lock a user: every login and token of theirs stops working.
    Lock {
        #[arg(short = 'u', long = "user")]
        login: String,
    },
    /// Unlock a user.
    Unlock {
        #[arg(short = 'u', long = "user")]
        login: String,
    },
    /// Create a personal access token for a user.
    Token(crate::tokens::CreateTokenArgs),
    /// Register, list and revoke a user's SSH public keys (SFTP logins).
    #[command(subcommand)]
    Key(crate::keys::KeyCommand),
}

#[derive(Subcommand, Debug)]
enum WorkspaceCommand {
    /// Create a workspace; users see it once granted.
    Create {
        /// Lowercase letters, digits and '-'.
        #[arg(short, long)]
        slug: String,
        #[arg(short, long)]
        label: Option<String>,
    },
    /// List shared workspaces and their grants.
    List,
    /// Give a user `r` or `rw` on a workspace.
    Grant {
        #[arg(short, long)]
        slug: String,
        #[arg(short = 'u', long = "user")]
        login: String,
        #[arg(short, long, value_parser = ["r", "rw"])]
        rights: String,
    },
    /// Take a user's grant away.
    Revoke {
        #[arg(short, long)]
        slug: String,
        #[arg(short = 'u', long = "user")]
        login: String,
    },
    /// Delete a workspace and everything in it.
    Delete {
        #[arg(short, long)]
        slug: String,
    },
}

/// Reads the password option: a value, `-` for one line of standard input, or `None`.
/// A password that cannot be read is the caller's mistake (exit status 2).
fn password_arg(password: Option<String>) -> Result<Option<SecretString>, ServiceError> {
    match password.as_deref() {
        Some("-") => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|err| {
                ServiceError::BadRequest(format!("cannot read the password from standard input: {err}"))
            })?;
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            if line.is_empty() {
                return Err(ServiceError::BadRequest("no password on standard input".into()));
            }
            Ok(Some(SecretString::from(line)))
        }
        Some(text) => Ok(Some(SecretString::from(text.to_owned()))),
        None => Ok(None),
    }
}

/// A service error as the CLI tells it: caller mistakes exit with status 2.
pub fn report(err: &ServiceError) -> ExitCode {
    // A message may quote a URL the operator gave, password included.
    eprintln!("error: {}", cells_core::redact::line(&err.to_string()));
    match err {
        ServiceError::BadRequest(_)
        | ServiceError::NotFound(_)
        | ServiceError::Conflict(_)
        | ServiceError::Forbidden(_) => ExitCode::from(EXIT_USAGE),
        ServiceError::Unauthenticated
        | ServiceError::InvalidGrant
        | ServiceError::Throttled { .. }
        | ServiceError::Busy { .. }
        | ServiceError::InsufficientStorage
        | ServiceError::PreconditionFailed
        | ServiceError::Internal(_) => ExitCode::FAILURE,
    }
}

pub async fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    if let AdminCommand::MigrateStore { to_database_url, to_storage_url } = &args.command {
        return migrate(&args.store, to_database_url, to_storage_url.as_deref()).await;
    }
    let settings = Settings::resolve(&args.store, &ServerArgs::default())?;
    let cells = settings.open().await?;
    let admin = Admin::operator();
    let result = match args.command {
        AdminCommand::User(command) => user(&cells, admin, command).await?,
        AdminCommand::Workspace(command) => workspace(&cells, admin, command).await,
        AdminCommand::Token(command) => crate::tokens::run(&cells, admin, command).await,
        AdminCommand::Blobs(BlobsCommand::Collect { grace_secs, abandoned_uploads_secs }) => {
            let grace = std::time::Duration::from_secs(grace_secs);
            let age = std::time::Duration::from_secs(abandoned_uploads_secs);
            match cells.abort_abandoned_uploads(admin, age).await {
                Ok(0) => {}
                Ok(n) => println!("Aborted {n} multipart uploads left unfinished"),
                Err(err) => return Ok(report(&err)),
            }
            let progress = Reporter::new("blobs collect");
            let collected = cells.collect_blobs_now(admin, grace, &progress).await;
            drop(progress);
            collected.map(|done| {
                println!("Removed {} unreferenced blobs and {} orphans", done.dropped, done.orphans);
                ExitCode::SUCCESS
            })
        }
        AdminCommand::MigrateStore { .. } => unreachable!("handled above"),
    };
    cells.close().await;
    Ok(result.unwrap_or_else(|err| report(&err)))
}

async fn migrate(store: &StoreArgs, to_database_url: &str, to_storage_url: Option<&str>) -> anyhow::Result<ExitCode> {
    let from = Settings::resolve(store, &ServerArgs::default())?;
    let to_args = StoreArgs {
        database_url: Some(to_database_url.to_owned()),
        storage_url: to_storage_url.map(str::to_owned).or_else(|| store.storage_url.clone()),
        ..store.clone()
    };
    let mut to = Settings::resolve(&to_args, &ServerArgs::default())?;
    if to_storage_url.is_none() {
        to.storage = from.storage.clone();
    }
    let (from, to) = (from.store_config(), to.store_config());
    let progress = Reporter::new("migrate-store");
    let migrated = cells_service::migrate::migrate_store(&from, &to, &progress).await;
    drop(progress);
    match migrated {
        Ok(done) => {
            for (table, rows) in &done.tables {
                println!("{table:<16} {rows} rows");
            }
            if from.storage != to.storage {
                println!("blobs            {} ({} bytes)", done.blobs, done.bytes);
            }
            println!(
                "Copied into {}; start the server with --database-url set to it",
                cells_core::redact::url(to_database_url)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => Ok(report(&err)),
    }
}

async fn user(cells: &Cells, admin: Admin, command: UserCommand) -> anyhow::Result<Result<ExitCode, ServiceError>> {
    Ok(match command {
        UserCommand::Create { login, password, profile, display_name } => {
            let profile: Profile = profile.parse().map_err(anyhow::Error::msg)?;
            let password = match password_arg(password) {
                Ok(password) => password,
                Err(err) => return Ok(Err(err)),
            };
            let new = CreateUser { login, password, profile, display_name };
            cells.create_user(admin, new).await.map(|(user, generated)| {
                println!("Created user {} ({}, {})", user.login, user.profile, user.id);
                if let Some(password) = generated {
                    println!("Password (shown once): {}", password.expose_secret());
                }
                ExitCode::SUCCESS
            })
        }
        UserCommand::List => cells.list_users(admin, 0, 10_000).await.map(|(users, _)| {
            println!("{:<24} {:<9} {:<7} {:<36} DISPLAY NAME", "LOGIN", "PROFILE", "LOCKED", "UUID");
            for user in users {
                let locked = if user.locked { "yes" } else { "no" };
                println!("{:<24} {:<9} {:<7} {:<36} {}", user.login, user.profile, locked, user.id, user.display_name);
            }
            ExitCode::SUCCESS
        }),
        UserCommand::Delete { login } => cells.delete_user(admin, &login).await.map(|()| {
            println!("Deleted user {login} with their personal files and tokens");
            ExitCode::SUCCESS
        }),
        UserCommand::SetPwd { login, password } => {
            let given = match password_arg(password) {
                Ok(given) => given,
                Err(err) => return Ok(Err(err)),
            };
            let password = given.clone().unwrap_or_else(cells_service::passwords::generate);
            let change = ChangeUser { password: Some(password.clone()), ..ChangeUser::default() };
            cells.update_user(admin, &login, change).await.map(|_| {
                println!("Password of {login} changed");
                if given.is_none() {
                    println!("New password (shown once): {}", password.expose_secret());
                }
                ExitCode::SUCCESS
            })
        }
        UserCommand::Lock { login } => set_locked(cells, admin, &login, true).await,
        UserCommand::Unlock { login } => set_locked(cells, admin, &login, false).await,
        UserCommand::Token(args) => crate::tokens::create(cells, admin, args).await,
        UserCommand::Key(command) => crate::keys::run(cells, admin, command).await,
    })
}

async fn set_locked(cells: &Cells, admin: Admin, login: &str, locked: bool) -> Result<ExitCode, ServiceError> {
    let change = ChangeUser { locked: Some(locked), ..ChangeUser::default() };
    cells.update_user(admin, login, change).await?;
    println!("{login} is now {}", if locked { "locked" } else { "unlocked" });
    Ok(ExitCode::SUCCESS)
}

async fn workspace(cells: &Cells, admin: Admin, command: WorkspaceCommand) -> Result<ExitCode, ServiceError> {
    match command {
        WorkspaceCommand::Create { slug, label } => {
            let created = cells.create_workspace(admin, &slug, label.as_deref()).await?;
            println!("Created workspace /{} (root folder {})", created.slug, created.root);
        }
        WorkspaceCommand::List => {
            println!("{:<24} {:<8} {:<36} GRANTS", "SLUG", "KIND", "ROOT UUID");
            for (workspace, grants) in cells.list_workspaces_admin(admin).await? {
                let grants: Vec<String> = grants.iter().map(|g| format!("{}:{}", g.login, g.rights)).collect();
                println!("{:<24} {:<8} {:<36} {}", workspace.slug, workspace.kind, workspace.root, grants.join(" "));
            }
        }
        WorkspaceCommand::Grant { slug, login, rights } => {
            cells.grant(admin, &slug, &login, &rights).await?;
            println!("{login} now has {rights} on /{slug}");
        }
        WorkspaceCommand::Revoke { slug, login } => {
            cells.revoke_grant(admin, &slug, &login).await?;
            println!("{login} no longer has access to /{slug}");
        }
        WorkspaceCommand::Delete { slug } => {
            cells.delete_workspace(admin, &slug).await?;
            println!("Deleted workspace /{slug} and everything in it");
        }
    }
    Ok(ExitCode::SUCCESS)
}
