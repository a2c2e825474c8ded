//! `cells start`: opens the store, creates the first admin on a new database, and serves
//! until SIGINT or SIGTERM, then lets requests in flight finish.

use anyhow::Context;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;

use crate::config::{ServerArgs, Settings, StoreArgs};

#[derive(Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    server: ServerArgs,
}

fn init_logging() {
    let filter = EnvFilter::try_from_env("CELLS_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

pub async fn run(args: StartArgs) -> anyhow::Result<()> {
    init_logging();
    let settings = Settings::resolve(&args.store, &args.server)?;
    let cells = settings.open().await?;
    let password = std::env::var("CELLS_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty()).map(SecretString::from);
    let given = password.is_some();
    match cells.bootstrap_admin(password).await.map_err(|e| anyhow::anyhow!("cannot create the first admin: {e}"))? {
        Some((_, Some(generated))) => {
            // The one moment this password is shown.
            println!("Created the user 'admin' with the password: {}", generated.expose_secret());
            println!("Keep it now: it is not shown again.");
        }
        Some((_, None)) => {
            tracing::info!(from_env = given, "created the user admin with the password from CELLS_ADMIN_PASSWORD");
        }
        None => {}
    }
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    let address = listener.local_addr()?;
    tracing::info!(data = %settings.data.display(), sftp_bind = %settings.sftp_bind, "store ready (SFTP is not served by this version)");
    println!("cells listening on http://{address}");
    let upkeep = cells.spawn_upkeep();
    let served = cells_server::serve(listener, cells.clone(), shutdown_signal()).await;
    upkeep.abort();
    cells.close().await;
    served.context("the HTTP server failed")
}
