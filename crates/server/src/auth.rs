//! The `Authenticated` extractor: who is calling, from the `Authorization` header.
//!
//! - `Bearer <token>`: a personal access token (`cpat_...`) or an access token from
//!   `POST /oauth2/token`;
//! - `Basic login:password`, where the password may be a personal access token of
//!   that login.
//!
//! Every failure is the same 401; the reason is logged by the service. Credentials are
//! never read from the query string.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cells_service::auth::Credential;
use cells_service::{Principal, Usage, Via};
use secrecy::SecretString;

use crate::AppState;
use crate::error::ApiError;

/// An authenticated caller.
pub struct Authenticated(pub Principal);

/// The credentials in an `Authorization` header.
pub enum Credentials {
    Bearer(String),
    Basic { login: String, password: SecretString },
}

impl Credentials {
    /// Reads the header; `None` when absent or malformed.
    pub fn from_header(value: &[u8]) -> Option<Self> {
        let value = std::str::from_utf8(value).ok()?;
        let (scheme, rest) = value.split_once(' ')?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(Self::Bearer(rest.to_owned()));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(rest).ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (login, password) = decoded.split_once(':')?;
            return Some(Self::Basic { login: login.to_owned(), password: SecretString::from(password.to_owned()) });
        }
        None
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            #[cfg(feature = "bench-anonymous")]
            {
                // Benchmark builds only: no credentials means `admin`, resolved once.
                static ANONYMOUS: tokio::sync::OnceCell<Principal> = tokio::sync::OnceCell::const_new();
                let principal = ANONYMOUS.get_or_try_init(|| state.cells.bench_principal("admin")).await?;
                return Ok(Self(principal.clone()));
            }
            #[cfg(not(feature = "bench-anonymous"))]
            return Err(ApiError::unauthorized());
        };
        let Some(credentials) = Credentials::from_header(header.as_bytes()) else {
            tracing::info!(reason = "malformed Authorization header", "credentials refused");
            return Err(ApiError::unauthorized());
        };
        let credential = match credentials {
            Credentials::Bearer(token) => Credential::Bearer(token),
            Credentials::Basic { login, password } => Credential::Basic { login, password },
        };
        let via = if parts.uri.path().starts_with("/io/") { Via::Io } else { Via::Rest };
        let ip = crate::client::client_ip(parts, &state.trusted_proxies);
        let principal = state.cells.authenticate(credential, Usage { via, ip }).await?;
        tracing::Span::current().record("user", principal.login.as_str());
        crate::observe::note_token_expiry(&principal);
        Ok(Self(principal))
    }
}
