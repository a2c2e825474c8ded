//! Each connection runs under a watch: closed if it has not authenticated within
//! [`LOGIN_GRACE`], and closed within about [`CHECK_EVERY`] once the credentials it came
//! with stop being valid (the token revoked or expired, the user locked or deleted),
//! not at the next login. An upload in progress then is dropped, as any interrupted
//! upload is: the file keeps its old content.

use std::sync::Arc;
use std::time::Duration;

use cells_service::{Cells, Principal};
use russh::Disconnect;
use tokio::net::TcpStream;

use crate::LOGIN_GRACE;
use crate::ssh::Connection;

/// How often an authenticated connection's credentials are checked again.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

/// How long a connection told to go may take to leave before it is dropped.
const DISCONNECT_GRACE: Duration = Duration::from_secs(1);

/// Whether the credentials of `principal` are still good.
async fn still_valid(cells: &Cells, principal: &Principal) -> bool {
    match cells.check_current(principal).await {
        Ok(()) => true,
        Err(err) => {
            tracing::info!(user = %principal.login.as_str(), reason = %err, "closing an SFTP session: its credentials are no longer valid");
            false
        }
    }
}

/// Serves one connection until it ends, is refused, or its credentials lapse.
pub async fn serve_connection(
    config: Arc<russh::server::Config>,
    socket: TcpStream,
    connection: Connection,
    cells: Cells,
) {
    let principal = Arc::clone(&connection.principal);
    let mut session = match russh::server::run_stream(config, socket, connection).await {
        Ok(session) => session,
        Err(err) => {
            tracing::debug!(error = %err, "SSH handshake failed");
            return;
        }
    };
    let handle = session.handle();
    let started = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let reason = loop {
        tokio::select! {
            ended = &mut session => {
                if let Err(err) = ended {
                    tracing::debug!(error = %err, "SSH session ended with an error");
                }
                return;
            }
            _ = ticks.tick() => {
                match principal.get() {
                    None if started.elapsed() > LOGIN_GRACE => break "no authentication in time",
                    Some(principal) if !still_valid(&cells, principal).await => {
                        break "the credentials of this session were revoked or have expired";
                    }
                    None | Some(_) => {}
                }
            }
        }
    };
    let _ = handle.disconnect(Disconnect::ByApplication, reason.to_owned(), "en".to_owned()).await;
    // Give the goodbye a moment to reach the client, then drop the connection.
    let _ = tokio::time::timeout(DISCONNECT_GRACE, &mut session).await;
}
