//! `POST /oauth2/token`: the RFC 6749 `password` and `refresh_token` grants;
//! `POST /oauth2/revoke`: RFC 7009 revocation, which is how a login ends (logout).
//!
//! Errors carry RFC 6749's `error` and `error_description` beside the usual
//! `Code`/`Title`/`Detail`, so OAuth2 clients and our own scripts both read them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cells_service::ServiceError;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::extract::Form;

#[derive(Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<SecretString>,
    refresh_token: Option<SecretString>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": description,
        "Code": error,
        "Title": status.canonical_reason().unwrap_or("Error"),
        "Detail": description,
    });
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn token(
    State(state): State<AppState>,
    crate::client::ClientIp(ip): crate::client::ClientIp,
    form: Result<Form<TokenRequest>, crate::error::ApiError>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "expected a form-encoded body");
    };
    let result = match form.grant_type.as_deref() {
        Some("password") => match (form.username, form.password) {
            (Some(username), Some(password)) => state.cells.login_password(&username, password, ip).await,
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the password grant needs username and password",
                );
            }
        },
        Some("refresh_token") => match form.refresh_token {
            Some(token) => state.cells.login_refresh(&token).await,
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the refresh_token grant needs refresh_token",
                );
            }
        },
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "supported grants: password, refresh_token",
            );
        }
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is missing"),
    };
    match result {
        Ok(grant) => {
            let mut response = Json(grant).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(ServiceError::InvalidGrant) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "invalid credentials"),
        Err(err) => crate::error::ApiError::from(err).into_response(),
    }
}

#[derive(Deserialize)]
pub struct RevokeRequest {
    token: Option<SecretString>,
}

/// `POST /oauth2/revoke` (RFC 7009): `token` is a refresh token or a login access token
/// of the login to end. Its whole login ends: the refresh token, its successors, and the
/// access tokens issued from it, on every process within a second. An unknown token is
/// answered the same 200 (section 2.2), so the route tells nothing about tokens.
pub async fn revoke(
    State(state): State<AppState>,
    form: Result<Form<RevokeRequest>, crate::error::ApiError>,
) -> Response {
    let token = match form {
        Ok(Form(RevokeRequest { token: Some(token) })) => token,
        _ => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "expected a form-encoded body with token"),
    };
    match state.cells.logout(&token).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => crate::error::ApiError::from(err).into_response(),
    }
}
