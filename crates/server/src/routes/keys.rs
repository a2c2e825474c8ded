//! `/a/auth/keys*`: SSH public keys, credentials shaped like personal access tokens
//! (label, expiry model, scopes, revocation, audit) for SFTP logins. The fields follow
//! the token routes beside them (`routes/tokens.rs`).

use axum::Json as JsonAnswer;
use axum::extract::State;
use cells_core::KeyId;
use cells_core::expiry::ExpiryModel;
use cells_core::scope::parse_scope_list;
use cells_service::ssh_keys::status;
use cells_service::{KeyRecord, KeySpec};
use serde::{Deserialize, Serialize};

use super::tokens::{RevokeAnswer, number_or_string};
use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RegisterKeyRequest {
    /// Whose key: the caller's without it; anyone's for an admin.
    user_login: Option<String>,
    label: Option<String>,
    /// One line of `authorized_keys`: `ssh-ed25519 AAAA... comment`.
    public_key: String,
    /// Auto-refresh window, seconds.
    #[serde(default, deserialize_with = "number_or_string")]
    auto_refresh: Option<i64>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "number_or_string")]
    expires_at: Option<i64>,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisteredKey {
    uuid: String,
    /// `SHA256:<base64>`, as `ssh-keygen -l` prints it.
    fingerprint: String,
}

/// `POST /a/auth/keys`: registers a key for the caller, or (admins) for `UserLogin`.
pub async fn register_key(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<RegisterKeyRequest>,
) -> ApiResult<JsonAnswer<RegisteredKey>> {
    // 0 stands for "not set", as for tokens.
    let expiry = ExpiryModel::from_request(body.auto_refresh, body.expires_at.filter(|&at| at != 0))
        .map_err(|e| ApiError::bad_request(e.to_string().replace("a token", "a key")))?;
    let scopes = parse_scope_list(&body.scopes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let spec = KeySpec { label: body.label, public_key: body.public_key, expiry, scopes };
    let login = body.user_login.as_deref().filter(|login| !login.is_empty());
    let record = state.cells.register_key(&principal, login, spec).await?;
    Ok(JsonAnswer(RegisteredKey { uuid: record.id.to_string(), fingerprint: record.fingerprint }))
}

/// A key as listed: its fingerprint and algorithm, not the key itself.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyJson {
    uuid: String,
    label: String,
    user_uuid: String,
    user_login: String,
    fingerprint: String,
    algorithm: String,
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
    /// `active`, `expired` or `revoked`, at the time of the answer.
    status: &'static str,
}

impl From<&KeyRecord> for KeyJson {
    fn from(record: &KeyRecord) -> Self {
        Self {
            uuid: record.id.to_string(),
            label: record.label.clone(),
            user_uuid: record.user.to_string(),
            user_login: record.user_login.clone(),
            fingerprint: record.fingerprint.clone(),
            algorithm: record.algorithm.clone(),
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
            status: status(record, cells_core::now()),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListKeysRequest {
    by_user: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyList {
    keys: Vec<KeyJson>,
}

/// `POST /a/auth/keys/list {ByUser}`: admins list anyone's; others their own.
pub async fn list_keys(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<ListKeysRequest>,
) -> ApiResult<JsonAnswer<KeyList>> {
    let by_user = body.by_user.as_deref().filter(|login| !login.is_empty());
    let keys = state.cells.list_keys(&principal, by_user).await?;
    Ok(JsonAnswer(KeyList { keys: keys.iter().map(KeyJson::from).collect() }))
}

/// `DELETE /a/auth/keys/{KeyId}`: by the owner or an admin.
pub async fn revoke_key(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<JsonAnswer<RevokeAnswer>> {
    let id: KeyId = id.parse().map_err(|_| ApiError::bad_request(format!("{id:?} is not a key Uuid")))?;
    let revoked = state.cells.revoke_key(&principal, id).await?;
    let message = if revoked { format!("SSH key {id} revoked") } else { format!("SSH key {id} was already revoked") };
    Ok(JsonAnswer(RevokeAnswer::new(message)))
}
