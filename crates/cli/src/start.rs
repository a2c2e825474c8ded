//! `cells start`: opens the store, creates the first admin on a new database, and serves
//! HTTP and SFTP until SIGINT or SIGTERM, then lets requests in flight finish (for at most
//! [`SHUTDOWN_GRACE`]).

use anyhow::Context;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ServerArgs, Settings, StoreArgs};

/// How long requests in flight may take to finish after SIGINT or SIGTERM.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    server: ServerArgs,
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
    crate::logging::init();
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
    crate::tokens::policy::apply_at_start(&cells, &settings.token_policy).await?;
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    let address = listener.local_addr()?;
    let sftp = cells_sftp::SftpServer::bind(&settings.sftp_bind, cells.clone()).await?;
    let sftp_address = sftp.local_addr()?;
    let database = match cells_service::Dialect::of_url(&settings.database_url) {
        Some(cells_service::Dialect::Postgres) => "postgresql",
        _ => "sqlite",
    };
    tracing::info!(data = %settings.data.display(), database, storage = %cells.storage(), "store ready");
    // The SFTP line comes first: the HTTP line is the one that says the server is up.
    println!("cells listening on sftp://{sftp_address}");
    println!("cells listening on http://{address}");
    let sftp = tokio::spawn(sftp.serve());
    let upkeep = cells.spawn_upkeep();
    // Requests in flight get SHUTDOWN_GRACE to finish: a stalled client (an upload that
    // stopped sending, its socket still open) must not keep the process alive forever.
    let signalled = std::sync::Arc::new(tokio::sync::Notify::new());
    let shutdown = {
        let signalled = std::sync::Arc::clone(&signalled);
        async move {
            shutdown_signal().await;
            signalled.notify_one();
        }
    };
    let served = tokio::select! {
        served = cells_server::serve(listener, cells.clone(), settings.http.clone(), shutdown) => served,
        () = async {
            signalled.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "requests still in flight after the grace period: stopping");
            Ok(())
        }
    };
    upkeep.abort();
    sftp.abort();
    cells.close().await;
    served.context("the HTTP server failed")
}
