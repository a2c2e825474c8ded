//! `/a/auth/token*`: personal access token management, with the routes and PascalCase
//! fields of Cells Enterprise so that existing scripts work.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use cells_core::TokenId;
use cells_core::expiry::ExpiryModel;
use cells_core::limits::Limits;
use cells_core::policy::TokenPolicy;
use cells_core::scope::parse_scope_list;
use cells_core::token::PatSecret;
use cells_service::tokens::{EXPIRY_WARNING, beyond_policy, expires_within, status};
use cells_service::{TokenRecord, TokenSpec};
use serde::{Deserialize, Deserializer, Serialize};

use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};

/// A number, or a string holding one (`ExpiresAt` and `AutoRefresh` come both ways).
pub(super) fn number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(i64),
        Text(String),
    }
    match Option::<Either>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Either::Number(n)) => Ok(Some(n)),
        Some(Either::Text(text)) if text.trim().is_empty() => Ok(None),
        Some(Either::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a whole number"))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// Only for `/impersonate`.
    user_login: Option<String>,
    label: Option<String>,
    /// Auto-refresh window, seconds.
    #[serde(default, deserialize_with = "number_or_string")]
    auto_refresh: Option<i64>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "number_or_string")]
    expires_at: Option<i64>,
    #[serde(default)]
    scopes: Vec<String>,
    /// Address blocks the token may be used from (`10.0.0.0/8`, `2001:db8::/32`).
    #[serde(default)]
    allowed_ips: Vec<String>,
    /// Protocols it may be used through: `rest`, `io`, `webdav`, `sftp`, `s3`.
    #[serde(default)]
    allowed_via: Vec<String>,
}

impl CreateTokenRequest {
    fn spec(self) -> ApiResult<TokenSpec> {
        // 0 stands for "not set", as clients of the Cells API send it.
        let expiry = ExpiryModel::from_request(self.auto_refresh, self.expires_at.filter(|&at| at != 0))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let scopes = parse_scope_list(&self.scopes).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let limits =
            Limits::parse(&self.allowed_ips, &self.allowed_via).map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(TokenSpec { label: self.label, expiry, scopes, limits })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedToken {
    /// The secret, shown this once.
    access_token: String,
    uuid: String,
}

pub(super) fn created(
    (record, secret): (TokenRecord, PatSecret),
) -> (StatusCode, crate::wire::NoStore, JsonAnswer<CreatedToken>) {
    let answer = CreatedToken { access_token: secret.expose().to_owned(), uuid: record.id.to_string() };
    (StatusCode::OK, crate::wire::no_store(), JsonAnswer(answer))
}

/// `POST /a/auth/token/personal`: a token for the caller.
pub async fn create_personal_token(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, crate::wire::NoStore, JsonAnswer<CreatedToken>)> {
    if body.user_login.is_some() {
        return Err(ApiError::bad_request("UserLogin belongs to /a/auth/token/impersonate"));
    }
    Ok(created(state.cells.create_personal_token(&principal, body.spec()?).await?))
}

/// `POST /a/auth/token/impersonate`: an admin makes a token for `UserLogin`.
pub async fn impersonate_token(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(mut body): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, crate::wire::NoStore, JsonAnswer<CreatedToken>)> {
    principal.admin()?;
    let login = body.user_login.take().ok_or_else(|| ApiError::bad_request("UserLogin is required"))?;
    Ok(created(state.cells.impersonate_token(&principal, &login, body.spec()?).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DocumentTokenRequest {
    path: String,
}

/// `POST /a/auth/token/document`: a DOCUMENT token for one node.
pub async fn create_document_token(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<DocumentTokenRequest>,
) -> ApiResult<(StatusCode, crate::wire::NoStore, JsonAnswer<CreatedToken>)> {
    let path = cells_core::TreePath::parse_given(&body.path)
        .map_err(|e| ApiError::bad_request(format!("invalid Path {:?}: {e}", body.path)))?;
    Ok(created(state.cells.create_document_token(&principal, &path).await?))
}

/// A token record as listed: never the secret, never its hash.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenJson {
    uuid: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    label: String,
    user_uuid: String,
    user_login: String,
    scopes: Vec<String>,
    auto_refresh_window: i64,
    expires_at: i64,
    max_expires_at: Option<i64>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
    last_used_via: Option<String>,
    revoked_at: Option<i64>,
    last_failure_at: Option<i64>,
    last_failure_reason: Option<String>,
    allowed_ips: Vec<String>,
    allowed_via: Vec<&'static str>,
    rotated_at: Option<i64>,
    grace_ends_at: Option<i64>,
    /// When a leak report revoked it, and from which address.
    leaked: Option<Leaked>,
    /// The rules of the token policy in force that it breaks (made before a tightening).
    beyond_policy: Vec<&'static str>,
    /// Whether it ends within 7 days whatever its use: its hard limit or its cap (an
    /// uncapped auto-refresh token never does while it is used).
    expires_soon: bool,
    /// `active`, `expired`, `revoked` or `leaked`, at the time of the answer.
    status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Leaked {
    at: i64,
    by: String,
}

impl TokenJson {
    fn new(record: &TokenRecord, policy: &TokenPolicy) -> Self {
        let now = cells_core::now();
        let status = status(record, now);
        Self {
            uuid: record.id.to_string(),
            kind: record.kind.as_str(),
            label: record.label.clone(),
            user_uuid: record.user.to_string(),
            user_login: record.user_login.clone(),
            scopes: record.scopes.iter().map(ToString::to_string).collect(),
            auto_refresh_window: record.expiry.window(),
            expires_at: record.expires_at,
            max_expires_at: record.expiry.max_expires_at(),
            created_by: record.created_by.clone(),
            created_at: record.created_at,
            updated_at: record.updated_at,
            last_used_at: record.last_used_at,
            last_used_ip: record.last_used_ip.clone(),
            last_used_via: record.last_used_via.clone(),
            revoked_at: record.revoked_at,
            last_failure_at: record.last_failure_at,
            last_failure_reason: record.last_failure_reason.clone(),
            allowed_ips: record.limits.ips().iter().map(ToString::to_string).collect(),
            allowed_via: record.limits.via().iter().map(|v| v.as_str()).collect(),
            rotated_at: record.rotated_at,
            grace_ends_at: record.grace_ends_at,
            leaked: record.leaked.as_ref().map(|(at, by)| Leaked { at: *at, by: by.clone() }),
            beyond_policy: if status == "active" { beyond_policy(policy, record) } else { Vec::new() },
            expires_soon: expires_within(record, now, EXPIRY_WARNING),
            status,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListTokensRequest {
    by_user: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenList {
    tokens: Vec<TokenJson>,
}

/// `POST /a/auth/tokens {ByUser}`: admins list anyone's; others their own.
pub async fn list_tokens(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<ListTokensRequest>,
) -> ApiResult<JsonAnswer<TokenList>> {
    let by_user = body.by_user.as_deref().filter(|login| !login.is_empty());
    let tokens = state.cells.list_tokens(&principal, by_user).await?;
    let policy = state.cells.token_policy().await?;
    Ok(JsonAnswer(TokenList { tokens: tokens.iter().map(|t| TokenJson::new(t, &policy)).collect() }))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevokeAnswer {
    success: bool,
    message: String,
}

impl RevokeAnswer {
    pub(super) const fn new(message: String) -> Self {
        Self { success: true, message }
    }
}

/// `DELETE /a/auth/tokens/{TokenId}`: by the owner or an admin.
pub async fn revoke_token(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<JsonAnswer<RevokeAnswer>> {
    let id: TokenId = id.parse().map_err(|_| ApiError::bad_request(format!("{id:?} is not a token Uuid")))?;
    let revoked = state.cells.revoke_token(&principal, id).await?;
    let message = if revoked { format!("token {id} revoked") } else { format!("token {id} was already revoked") };
    Ok(JsonAnswer(RevokeAnswer::new(message)))
}
