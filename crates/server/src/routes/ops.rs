//! Operations: health, metrics, and the OpenAPI document.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::AppState;
use crate::error::ApiResult;

/// `GET /healthz`: 200 when the database answered within the last second. Probes may
/// hammer it, so the database is pinged at most once a second.
pub async fn healthz(State(state): State<AppState>) -> ApiResult<&'static str> {
    if !state.health.fresh() {
        let ping = state.cells.ping().await;
        state.health.record(ping.is_ok());
        ping?;
    }
    Ok("ok\n")
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    text.push_str(
        "# HELP cells_token_usage_writes_total Writes of personal access token usage (expiry bump, last use).\n",
    );
    text.push_str("# TYPE cells_token_usage_writes_total counter\n");
    text.push_str(&format!("cells_token_usage_writes_total {}\n", state.cells.token_usage_writes()));
    text.push_str(
        "# HELP cells_token_failure_writes_total Writes of personal access token refusals to their audit data.\n",
    );
    text.push_str("# TYPE cells_token_failure_writes_total counter\n");
    text.push_str(&format!("cells_token_failure_writes_total {}\n", state.cells.token_failure_writes()));
    text.push_str(
        "# HELP cells_token_activity_writes_total Batched writes of token activity (one transaction each).\n",
    );
    text.push_str("# TYPE cells_token_activity_writes_total counter\n");
    text.push_str(&format!("cells_token_activity_writes_total {}\n", state.cells.token_activity_writes()));
    // A scrape costs one indexed count; a failed one leaves the gauge out rather than lie.
    if let Ok(expiring) = state.cells.tokens_expiring_soon().await {
        text.push_str("# HELP cells_tokens_expiring_7d Tokens not revoked that expire within 7 days.\n");
        text.push_str("# TYPE cells_tokens_expiring_7d gauge\n");
        text.push_str(&format!("cells_tokens_expiring_7d {expiring}\n"));
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

/// `GET /a/openapi.json`: the REST API, described by hand and checked by a test.
pub async fn openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], include_str!("../../../../docs/openapi.json"))
}
