//! One SSH connection: authentication through [`Cells::authenticate`], then SFTP on
//! session channels, nothing else (no shell, exec, or forwarding).
//!
//! A connection holds its place among those not yet logged in until it logs in, and
//! then a seat among its user's connections ([`crate::admission`]); a user who already
//! holds all theirs is told so and disconnected. Its channels share one [`Budget`].
//!
//! The username is the login; the credential is a personal access token of that login
//! or the user's password, through `password` or `keyboard-interactive` (some clients
//! offer only the latter for passwords), or an SSH key registered for that login
//! (`publickey`). A key offered is first asked about ([`Cells::ssh_key_offered`]: would
//! it be accepted?), so that a client with several keys signs only with the right one;
//! once russh verified the signature, the key goes through [`Cells::authenticate`] as
//! every credential does.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use cells_service::auth::Credential;
use cells_service::{Cells, Principal, ServiceError, Usage, Via};
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Response, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, Disconnect, MethodKind, MethodSet};
use secrecy::SecretString;

use crate::admission::{Admission, CONNECTIONS_PER_USER, Pending, Seat};
use crate::budget::Budget;
use crate::pipe;
use crate::session::SftpSession;

/// Session channels one connection may have open at once (each SFTP channel is one).
const MAX_CHANNELS: usize = 8;

const PROMPT: &str = "Password or access token: ";

/// The methods advertised and accepted.
pub fn methods() -> MethodSet {
    MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password, MethodKind::KeyboardInteractive][..])
}

/// `ssh-rsa`: an RSA signature over SHA-1, which OpenSSH refuses since 8.8; an RSA key
/// logs in with `rsa-sha2-256` or `rsa-sha2-512`.
fn sha1_rsa(algorithm: &russh::keys::Algorithm) -> bool {
    matches!(algorithm, russh::keys::Algorithm::Rsa { hash: None })
}

/// The state of one connection, shared with its revocation watch.
pub struct Connection {
    cells: Cells,
    peer: Option<SocketAddr>,
    /// Set once, by a successful authentication.
    pub principal: Arc<OnceLock<Principal>>,
    /// Channels opened and not yet given to the SFTP subsystem.
    channels: HashMap<ChannelId, Channel<Msg>>,
    /// Every channel open now.
    open: HashSet<ChannelId>,
    admission: Admission,
    /// The place held until the login.
    pending: Option<Pending>,
    /// The place held from the login on.
    seat: Option<Seat>,
    /// Why credentials that were good are refused all the same, told to the client.
    refused: Option<String>,
    budget: Budget,
}

impl Connection {
    /// A connection accepted from `peer`, holding `pending` in `admission`.
    pub fn new(cells: Cells, peer: Option<SocketAddr>, admission: Admission, pending: Pending) -> Self {
        Self {
            cells,
            peer,
            principal: Arc::new(OnceLock::new()),
            channels: HashMap::new(),
            open: HashSet::new(),
            admission,
            pending: Some(pending),
            seat: None,
            refused: None,
            budget: Budget::default(),
        }
    }

    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    async fn login(&mut self, user: &str, password: String) -> Auth {
        let credential = Credential::Basic { login: user.to_owned(), password: SecretString::from(password) };
        self.authenticate(credential, None).await
    }

    /// `key` is the fingerprint of the key the client signed with, for the log.
    async fn authenticate(&mut self, credential: Credential, key: Option<String>) -> Auth {
        let usage = Usage { via: Via::Sftp, ip: self.peer.map(|p| p.ip()) };
        match self.cells.authenticate(credential, usage).await {
            Ok(principal) => match self.admission.seat(principal.user) {
                Some(seat) => {
                    tracing::info!(user = %principal.login.as_str(), peer = ?self.peer, key = key.as_deref(), "SFTP login");
                    self.seat = Some(seat);
                    self.pending = None;
                    let _ = self.principal.set(principal);
                    Auth::Accept
                }
                None => {
                    let login = principal.login.as_str();
                    tracing::info!(
                        user = %login,
                        peer = ?self.peer,
                        max = CONNECTIONS_PER_USER,
                        "SFTP login refused: too many SFTP connections for this user"
                    );
                    // Accepted only to be told why, at once: the connection gets no
                    // principal, so no channel.
                    self.refused = Some(format!(
                        "too many SFTP connections for {login}: at most {CONNECTIONS_PER_USER} at once; close one and retry"
                    ));
                    Auth::Accept
                }
            },
            Err(ServiceError::Throttled { retry_after } | ServiceError::Busy { retry_after }) => {
                tracing::info!(peer = ?self.peer, retry_after, "SFTP login throttled or the server busy");
                Auth::reject()
            }
            Err(ServiceError::Unauthenticated) => {
                tracing::info!(peer = ?self.peer, "SFTP login refused");
                Auth::reject()
            }
            Err(err) => {
                tracing::warn!(peer = ?self.peer, error = %err, "SFTP login failed");
                Auth::reject()
            }
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        Ok(self.login(user, password.to_owned()).await)
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        let Some(mut response) = response else {
            return Ok(Auth::Partial {
                name: "".into(),
                instructions: "".into(),
                prompts: vec![(PROMPT.into(), false)].into(),
            });
        };
        let Some(answer) = response.next() else { return Ok(Auth::reject()) };
        let Ok(password) = String::from_utf8(answer.to_vec()) else { return Ok(Auth::reject()) };
        Ok(self.login(user, password).await)
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), Self::Error> {
        match self.refused.take() {
            Some(reason) => session.disconnect(Disconnect::TooManyConnections, &reason, "en"),
            None => Ok(()),
        }
    }

    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        if sha1_rsa(offer.algorithm) {
            return Ok(Auth::reject());
        }
        let ip = self.peer.map(|p| p.ip());
        let known = self.cells.ssh_key_offered(user, offer.public_key, ip).await;
        Ok(if known { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        if sha1_rsa(key.algorithm) {
            return Ok(Auth::reject());
        }
        let fingerprint = key.public_key.fingerprint(russh::keys::HashAlg::Sha256).to_string();
        let credential = Credential::PublicKey { login: user.to_owned(), key: Box::new(key.public_key.clone()) };
        Ok(self.authenticate(credential, Some(fingerprint)).await)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.principal.get().is_none() || self.open.len() >= MAX_CHANNELS {
            reply.reject(russh::ChannelOpenFailure::AdministrativelyProhibited).await;
            return Ok(());
        }
        self.open.insert(channel.id());
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(&mut self, id: ChannelId, name: &str, session: &mut Session) -> Result<(), Self::Error> {
        let (Some(principal), true) = (self.principal.get(), name == "sftp") else {
            tracing::info!(subsystem = name, "subsystem refused");
            return session.channel_failure(id);
        };
        let Some(channel) = self.channels.remove(&id) else { return session.channel_failure(id) };
        session.channel_success(id)?;
        let session = SftpSession::new(self.cells.clone(), principal.clone());
        tokio::spawn(pipe::run(channel, session, self.budget.clone()));
        Ok(())
    }

    async fn shell_request(&mut self, id: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.data(id, "This server offers SFTP only.\r\n".as_bytes().to_vec())?;
        session.channel_failure(id)?;
        session.close(id)
    }

    async fn exec_request(&mut self, id: ChannelId, _data: &[u8], session: &mut Session) -> Result<(), Self::Error> {
        session.channel_failure(id)?;
        session.close(id)
    }

    async fn pty_request(
        &mut self,
        id: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(id)
    }

    async fn channel_close(&mut self, id: ChannelId, _session: &mut Session) -> Result<(), Self::Error> {
        self.channels.remove(&id);
        self.open.remove(&id);
        Ok(())
    }
}
