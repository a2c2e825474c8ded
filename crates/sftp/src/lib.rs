//! The SFTP front end of cells: SSH (russh) with a login and a personal access token
//! (or password, or a registered SSH key) as credentials, and SFTP version 3 as OpenSSH
//! speaks it, over the same access service as REST and WebDAV. `/` lists the
//! workspaces; below them, the same paths as everywhere.
//!
//! - [`ssh`]: one connection: authentication, channels, the SFTP subsystem.
//! - [`admission`]: how many connections: not yet logged in, per address and in all;
//!   logged in, per user.
//! - [`pipe`]: the tasks that move a channel's bytes without ever wedging it;
//!   [`budget`]: how much of what a client sent one connection may hold.
//! - [`session`]: SFTP requests to [`Cells`] calls; [`files`] the open files and folders.
//! - [`paths`], [`attrs`], [`status`], [`wire`]: paths, attributes, status codes and
//!   packet framing.
//! - [`watch`]: closes a connection that has not logged in within [`LOGIN_GRACE`], or
//!   once its credentials stop being valid; [`cut`] makes sure it is closed.

pub mod admission;
pub mod attrs;
pub mod budget;
pub mod cut;
pub mod files;
pub mod paths;
pub mod pipe;
pub mod session;
pub mod ssh;
pub mod status;
pub mod watch;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use admission::{Admission, Full, UNAUTHENTICATED_PER_ADDRESS, UNAUTHENTICATED_TOTAL};
use cells_service::Cells;
use russh::keys::PrivateKey;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::{Preferred, cipher};
use tokio::net::TcpListener;

/// A connection that has not authenticated within this time of its accept is closed,
/// whether it is still in the SSH handshake or in the login.
pub const LOGIN_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("cannot load the SFTP host key: {0}")]
    HostKey(String),
}

/// The SSH host key: ed25519, generated on first start and kept. Kept in the store for
/// now, like the other server keys; this is the one place that knows where it lives.
///
/// # Errors
/// When the store cannot be read or the key is malformed.
pub async fn host_key(cells: &Cells) -> Result<PrivateKey, SftpError> {
    let seed = cells.sftp_host_key_seed().await.map_err(|e| SftpError::HostKey(e.to_string()))?;
    let keypair = Ed25519Keypair::from_seed(&seed);
    PrivateKey::new(KeypairData::Ed25519(keypair), "cells").map_err(|e| SftpError::HostKey(e.to_string()))
}

/// The transport settings: AES-GCM offered first, only the methods accepted advertised,
/// a large window for deep pipelines, no Nagle (see docs/sftp.md for the measurements).
fn config(key: PrivateKey) -> russh::server::Config {
    let preferred = Preferred {
        cipher: std::borrow::Cow::Borrowed(&[
            cipher::AES_128_GCM,
            cipher::AES_256_GCM,
            cipher::CHACHA20_POLY1305,
            cipher::AES_256_CTR,
            cipher::AES_128_CTR,
        ]),
        ..Preferred::DEFAULT
    };
    russh::server::Config {
        server_id: russh::SshId::Standard(format!("SSH-2.0-cells_{}", env!("CARGO_PKG_VERSION")).into()),
        methods: ssh::methods(),
        auth_rejection_time: Duration::from_millis(500),
        // OpenSSH asks with `none` first to learn the methods: no reason to wait then.
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        window_size: 16 * 1024 * 1024,
        maximum_packet_size: 32 * 1024,
        channel_buffer_size: 256,
        max_auth_attempts: 6,
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(60)),
        keepalive_max: 3,
        nodelay: true,
        preferred,
        ..russh::server::Config::default()
    }
}

/// A bound SFTP server, ready to serve.
pub struct SftpServer {
    listener: TcpListener,
    config: Arc<russh::server::Config>,
    cells: Cells,
    admission: Admission,
}

impl SftpServer {
    /// Binds `address` and loads (or creates) the host key.
    ///
    /// # Errors
    /// When the address cannot be bound or the host key loaded.
    pub async fn bind(address: &str, cells: Cells) -> Result<Self, SftpError> {
        let key = host_key(&cells).await?;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| SftpError::Bind { address: address.to_owned(), source })?;
        Ok(Self { listener, config: Arc::new(config(key)), cells, admission: Admission::default() })
    }

    /// The address bound (with the port chosen, for port 0).
    ///
    /// # Errors
    /// When the socket has no address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until dropped.
    pub async fn serve(self) {
        loop {
            let (socket, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot accept an SFTP connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let accepted = tokio::time::Instant::now();
            // Counted before any byte of SSH: past a cap, the socket is closed at once.
            let pending = match self.admission.admit(peer.ip()) {
                Ok(pending) => pending,
                Err(full) => {
                    let (scope, max) = match full {
                        Full::Address => ("from this address", UNAUTHENTICATED_PER_ADDRESS),
                        Full::Total => ("in all", UNAUTHENTICATED_TOTAL),
                    };
                    tracing::info!(peer = %peer, max, "refusing an SFTP connection: too many SFTP connections not logged in {scope}");
                    continue;
                }
            };
            if let Err(err) = socket.set_nodelay(true) {
                tracing::warn!(error = %err, "cannot set TCP_NODELAY");
            }
            let connection = ssh::Connection::new(self.cells.clone(), Some(peer), self.admission.clone(), pending);
            let watched =
                watch::serve_connection(Arc::clone(&self.config), socket, connection, self.cells.clone(), accepted);
            tokio::spawn(watched);
        }
    }
}
