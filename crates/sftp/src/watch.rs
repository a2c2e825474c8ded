//! Each connection runs under a watch: closed if it has not authenticated within
//! [`LOGIN_GRACE`] of its accept (the SSH handshake included: a client that sends
//! nothing, or only its banner, is closed as surely as one that never logs in), and
//! closed within about [`CHECK_EVERY`] once the credentials it came with stop being
//! valid (the token revoked or expired, the user locked or deleted), not at the next
//! login. An upload in progress then is dropped, as any interrupted upload is: the file
//! keeps its old content.
//!
//! A connection the watch closes is told why, given [`DISCONNECT_GRACE`] to leave, and
//! then cut ([`crate::cut`]): its session's task ends and its socket is closed, whatever
//! the client does.

use std::sync::Arc;
use std::time::Duration;

use cells_service::{Cells, Principal};
use russh::Disconnect;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::LOGIN_GRACE;
use crate::cut::cuttable;
use crate::ssh::Connection;

/// How often an authenticated connection's credentials are checked again.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

/// How long a connection told to go may take to leave before it is cut.
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

/// Serves one connection, accepted at `accepted`, until it ends, is refused, or its
/// credentials lapse; when this returns, the connection is closed.
pub async fn serve_connection(
    config: Arc<russh::server::Config>,
    socket: TcpStream,
    connection: Connection,
    cells: Cells,
    accepted: Instant,
) {
    let deadline = accepted + LOGIN_GRACE;
    let peer = connection.peer();
    let principal = Arc::clone(&connection.principal);
    // Dropped when this returns, whichever way: the session's task cannot outlive it.
    let (socket, _cut) = cuttable(socket);
    let handshake = russh::server::run_stream(config, socket, connection);
    let mut session = match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(session)) => session,
        Ok(Err(err)) => {
            tracing::debug!(error = %err, "SSH handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(peer = ?peer, "closing an SFTP connection: no SSH banner within the login grace");
            return;
        }
    };
    let handle = session.handle();
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
            () = tokio::time::sleep_until(deadline), if principal.get().is_none() => {
                tracing::info!(peer = ?peer, "closing an SFTP connection: not logged in within the login grace");
                break "no authentication in time";
            }
            _ = ticks.tick() => {
                if let Some(principal) = principal.get() && !still_valid(&cells, principal).await {
                    break "the credentials of this session were revoked or have expired";
                }
            }
        }
    };
    // Tell the client why and give it a moment to leave (a session stalled in its key
    // exchange never sends the goodbye); then the connection is cut.
    let goodbye = async {
        let _ = handle.disconnect(Disconnect::ByApplication, reason.to_owned(), "en".to_owned()).await;
        let _ = (&mut session).await;
    };
    let _ = tokio::time::timeout(DISCONNECT_GRACE, goodbye).await;
}
