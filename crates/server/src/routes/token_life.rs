//! `/a/auth/tokens/...` beyond create, list and revoke: rotation with a grace, leak
//! reports from secret scanners, a token's activity, and the admin's token policy.

use axum::Json as JsonAnswer;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use cells_core::TokenId;
use cells_core::policy::TokenPolicy;
use cells_service::tokens::MAX_LEAK_REPORT;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::tokens::{CreatedToken, created};
use crate::AppState;
use crate::auth::Authenticated;
use crate::client::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::wire::NoStore;

fn token_id(id: &str) -> ApiResult<TokenId> {
    id.parse().map_err(|_| ApiError::bad_request(format!("{id:?} is not a token Uuid")))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old secret keeps working, seconds (0: not at all).
    #[serde(default, deserialize_with = "super::tokens::number_or_string")]
    grace_seconds: Option<i64>,
}

/// `POST /a/auth/tokens/{TokenId}/rotate {GraceSeconds}`: a new secret, shown once.
pub async fn rotate_token(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<RotateRequest>,
) -> ApiResult<(StatusCode, NoStore, JsonAnswer<CreatedToken>)> {
    let grace = body.grace_seconds.unwrap_or(0);
    Ok(created(state.cells.rotate_token(&principal, token_id(&id)?, grace).await?))
}

/// The token strings of a leak report, in the shapes scanners send: `{"Tokens": [..]}`,
/// a list of strings, or a list of objects with a `token` field (GitHub's secret
/// scanning). Errors never quote the body: it holds secrets.
fn leaked_strings(body: &[u8]) -> ApiResult<Vec<String>> {
    let shape = || {
        ApiError::bad_request(
            "expected {\"Tokens\": [\"cpat_...\", ...]}, a list of token strings, or a list of {\"token\": \"cpat_...\"}",
        )
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::bad_request("the body is not JSON"))?;
    let list = match value {
        Value::Object(mut object) if object.len() == 1 => object.remove("Tokens").ok_or_else(shape)?,
        list @ Value::Array(_) => list,
        _ => return Err(shape()),
    };
    let Value::Array(items) = list else { return Err(shape()) };
    if items.len() > MAX_LEAK_REPORT {
        return Err(ApiError::bad_request(format!("a report holds at most {MAX_LEAK_REPORT} tokens")));
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::String(token) => Ok(token),
            Value::Object(mut object) => match object.remove("token") {
                Some(Value::String(token)) => Ok(token),
                _ => Err(shape()),
            },
            _ => Err(shape()),
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LeakAnswer {
    revoked: u64,
}

/// `POST /a/auth/tokens/leaked`: no login; revokes what the listed tokens open and says
/// only how many.
pub async fn report_leaked(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> ApiResult<(NoStore, JsonAnswer<LeakAnswer>)> {
    let tokens = leaked_strings(&body)?;
    let revoked = state.cells.report_leaked(&tokens, ip).await?;
    Ok((crate::wire::no_store(), JsonAnswer(LeakAnswer { revoked })))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActivityJson {
    hour: i64,
    ip: String,
    via: String,
    count: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActivityAnswer {
    activity: Vec<ActivityJson>,
}

/// `GET /a/auth/tokens/{TokenId}/activity`: per hour, the addresses and protocols that
/// used it, for 30 days.
pub async fn token_activity(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<JsonAnswer<ActivityAnswer>> {
    let rows = state.cells.token_activity(&principal, token_id(&id)?).await?;
    let activity =
        rows.into_iter().map(|r| ActivityJson { hour: r.hour, ip: r.ip, via: r.via, count: r.count }).collect();
    Ok(JsonAnswer(ActivityAnswer { activity }))
}

/// `GET /a/auth/token-policy`: the policy in force, for anyone signed in (so a user
/// knows what they may create).
pub async fn get_policy(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
) -> ApiResult<JsonAnswer<TokenPolicy>> {
    Ok(JsonAnswer(state.cells.token_policy().await?))
}

/// `PUT /a/auth/token-policy`: an admin sets it, whole (fields left out take their
/// open defaults).
pub async fn put_policy(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(policy): Json<serde_json::Map<String, Value>>,
) -> ApiResult<JsonAnswer<TokenPolicy>> {
    let admin = principal.admin()?;
    // An object only: serde would take a list as the fields in order, and `[]` as the
    // open policy.
    let policy: TokenPolicy = serde_json::from_value(Value::Object(policy))
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    Ok(JsonAnswer(state.cells.set_token_policy(admin, policy).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_come_in_the_shapes_scanners_send() {
        let got = |body: &str| leaked_strings(body.as_bytes()).map_err(|e| format!("{e:?}"));
        assert_eq!(got(r#"{"Tokens": ["a", "b"]}"#), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(got(r#"["a"]"#), Ok(vec!["a".into()]));
        assert_eq!(got(r#"[{"token": "a", "type": "cells_pat", "url": "https://x"}]"#), Ok(vec!["a".into()]));
        for bad in [r#"{"tokens": ["a"]}"#, r#"[1]"#, r#""a""#, "not json", r#"[{"secret": "a"}]"#] {
            assert!(got(bad).is_err(), "{bad}");
        }
        let many = serde_json::to_string(&vec!["x"; MAX_LEAK_REPORT + 1]).unwrap_or_default();
        assert!(got(&many).is_err());
    }

    #[test]
    fn errors_never_quote_the_body() {
        let secret = "cpat_thisisnotarealtokenbutlookslikeoneXXXXXXXXXXXXXXXXXXX";
        for body in [
            format!(r#"{{"Tokens": "{secret}"}}"#),
            format!(r#"["{secret}""#),
            format!(r#"[{{"token": 5, "x": "{secret}"}}]"#),
        ] {
            let err = leaked_strings(body.as_bytes()).err().map(|e| format!("{e:?}")).unwrap_or_default();
            assert!(!err.is_empty() && !err.contains(secret), "{err}");
        }
    }
}
