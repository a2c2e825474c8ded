//! Who is asking: an authenticated user, how they came in, and (for the CLI and the
//! admin routes) the capability to administer.

use std::sync::Arc;

use cells_core::scope::Scope;
use cells_core::token::PatHash;
use cells_core::{Login, Profile, TokenId, UserId};

use crate::tokens::{LiveKey, LiveToken};
use crate::{Result, ServiceError};

pub use cells_core::Via;

/// An authenticated user, and the token they came with, if any.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: UserId,
    pub login: Login,
    pub profile: Profile,
    /// The personal access token used, if any.
    pub token: Option<TokenId>,
    /// The token's scopes; `None` means the user's full rights.
    pub scopes: Option<Arc<[Scope]>>,
    /// What the credentials were, to tell later whether they still hold
    /// ([`crate::Cells::check_current`]).
    pub(crate) proof: Proof,
    /// The caches' epoch when authenticated: while it has not moved, nothing that could
    /// end these credentials has changed.
    pub(crate) epoch: u64,
}

/// The credentials a principal was authenticated with, without any secret.
#[derive(Clone)]
pub(crate) enum Proof {
    /// A password: good while the user's session generation holds.
    Password { session_gen: i64 },
    /// A login access token: good while the session generation and the login (its
    /// refresh family) hold. `key` is the SHA-256 of the token, as the cache knows it.
    Access { session_gen: i64, family: Arc<str>, key: [u8; 32] },
    /// A personal access token: good while not revoked and not expired.
    Pat { hash: PatHash, live: Arc<LiveToken> },
    /// A registered SSH key: good while not revoked and not expired, as a token.
    /// `digest` is the SHA-256 of the key, as the cache knows it.
    Key { digest: [u8; 32], live: Arc<LiveKey> },
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Password { .. } => "Password(***)",
            Self::Access { .. } => "Access(***)",
            Self::Pat { .. } => "Pat(***)",
            Self::Key { .. } => "Key(***)",
        })
    }
}

impl Principal {
    /// Whether the personal access token this principal came with is held to some
    /// addresses or protocols.
    #[must_use]
    pub fn token_limited(&self) -> bool {
        matches!(&self.proof, Proof::Pat { live, .. } if !live.record.limits.is_empty())
    }

    /// When the personal access token this principal came with ends whatever its use
    /// (its hard limit, its cap, or a rotated secret's end of grace), for the expiry
    /// warning; `None` for an uncapped auto-refresh token and other credentials.
    #[must_use]
    pub fn token_ends_at(&self) -> Option<cells_core::UnixTime> {
        match &self.proof {
            Proof::Pat { live, .. } => live.hard_end(),
            _ => None,
        }
    }

    /// The capability to administer, for an admin with unrestricted credentials; 403
    /// otherwise.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for a standard user.
    pub fn admin(&self) -> Result<Admin> {
        if self.scopes.is_some() {
            return Err(ServiceError::Forbidden("a token restricted by scopes cannot administer".into()));
        }
        match self.profile {
            Profile::Admin => Ok(Admin { _private: () }),
            Profile::Standard => Err(ServiceError::Forbidden("this action needs an admin".into())),
        }
    }
}

/// Proof that the caller may administer: obtained from an admin [`Principal`], or by the
/// CLI, which runs with the rights of whoever can read the database.
#[derive(Clone, Copy, Debug)]
pub struct Admin {
    _private: (),
}

impl Admin {
    /// The capability of the local operator (the `cells admin` CLI).
    #[must_use]
    pub const fn operator() -> Self {
        Self { _private: () }
    }
}
