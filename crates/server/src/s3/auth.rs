//! Who an S3 request is: `s3s` checks the signature against the fixed secret, and only a
//! request signed right gets here, where its access key (a personal access token or a
//! login access token) is authenticated as a Bearer token would be, through the one
//! entry point, `Cells::authenticate`, with `Via::S3`: scopes, limits, throttling,
//! revocation and the token's audit fields hold as on every other front end.

use std::net::IpAddr;

use axum::http::Extensions;

use cells_service::auth::Credential;
use cells_service::{Cells, ServiceError, Usage, Via};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::host::{S3Host, VirtualHost};
use s3s::{S3Result, s3_error};

/// The client's address, as the HTTP side trusts it (`--trusted-proxies`), carried to
/// the access check.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

/// The longest access key taken: a token or a login access token is far shorter.
const MAX_ACCESS_KEY: usize = 4096;

/// Every access key is signed with the same public secret ([`super::GATEWAY_SECRET`]):
/// the signature proves the request is whole, the access key who sent it.
pub struct FixedSecret;

#[async_trait::async_trait]
impl S3Auth for FixedSecret {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key.is_empty() || access_key.len() > MAX_ACCESS_KEY {
            return Err(s3_error!(InvalidAccessKeyId, "the access key must be a cells token"));
        }
        Ok(SecretKey::from(super::GATEWAY_SECRET))
    }
}

/// Authenticates the access key of a request whose signature held, and leaves the
/// principal in the request for the operation.
pub struct TokenAccess {
    pub cells: Cells,
}

#[async_trait::async_trait]
impl S3Access for TokenAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let access_key = cx.credentials().map(|credentials| credentials.access_key.clone());
        authenticate(&self.cells, access_key, cx.extensions_mut()).await
    }
}

/// Authenticates the access key (a token) of a signed request through
/// `Cells::authenticate` (`Via::S3`, the client's address) and leaves the principal in
/// the request's extensions.
pub async fn authenticate(cells: &Cells, access_key: Option<String>, extensions: &mut Extensions) -> S3Result<()> {
    let Some(token) = access_key else {
        return Err(s3_error!(AccessDenied, "sign the request: the access key is a cells token"));
    };
    let ip = extensions.get::<ClientAddr>().and_then(|addr| addr.0);
    match cells.authenticate(Credential::Bearer(token), Usage { via: Via::S3, ip }).await {
        Ok(principal) => {
            tracing::Span::current().record("user", principal.login.as_str());
            crate::observe::note_token_expiry(&principal);
            extensions.insert(principal);
            Ok(())
        }
        Err(ServiceError::Unauthenticated) => Err(s3_error!(
            InvalidAccessKeyId,
            "the access key is not a valid cells token (unknown, revoked, expired, or not usable here)"
        )),
        Err(err) => Err(super::error::key(err)),
    }
}

/// Path style everywhere; virtual-host style for a `Host` that starts with `io.`.
pub struct IoHost;

impl S3Host for IoHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match super::host_domain(host) {
            Some(domain) => VirtualHost::new(domain).with_bucket(super::BUCKET),
            None => VirtualHost::new(host),
        })
    }
}

/// Bucket names as AWS has them, and `io`, which is shorter than AWS allows but is the
/// name Cells' SDK uses.
pub struct IoNames;

impl s3s::validation::NameValidation for IoNames {
    fn validate_bucket_name(&self, name: &str) -> bool {
        name == super::BUCKET || s3s::validation::AwsNameValidation::new().validate_bucket_name(name)
    }
}
