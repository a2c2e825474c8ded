//! Request logging and metrics: one span per request (request id, method, route, user),
//! one log line when it ends (status, latency), and counters and latency histograms by
//! route and status for `/metrics`. Never a header value, so never a credential.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

type ByMethodStatus = BTreeMap<(&'static str, u16), Series>;

/// Request counters and latency histograms.
#[derive(Default)]
pub struct Metrics {
    /// By route, then by method and status: looking up a known route allocates nothing.
    series: Mutex<BTreeMap<String, ByMethodStatus>>,
    next_id: AtomicU64,
}

impl Metrics {
    fn record(&self, route: &str, method: &'static str, status: u16, seconds: f64) {
        let Ok(mut series) = self.series.lock() else { return };
        if !series.contains_key(route) {
            series.insert(route.to_owned(), BTreeMap::new());
        }
        let Some(by_route) = series.get_mut(route) else { return };
        let entry = by_route.entry((method, status)).or_default();
        entry.count += 1;
        entry.sum += seconds;
        for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(series) = self.series.lock() else { return out };
        out.push_str("# HELP cells_http_requests_total HTTP requests by route, method and status.\n");
        out.push_str("# TYPE cells_http_requests_total counter\n");
        for (route, (method, status), s) in series.iter().flat_map(|(r, m)| m.iter().map(move |(k, s)| (r, k, s))) {
            let _ = writeln!(
                out,
                "cells_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP cells_http_request_duration_seconds HTTP request latency by route, method and status.\n");
        out.push_str("# TYPE cells_http_request_duration_seconds histogram\n");
        for (route, (method, status), s) in series.iter().flat_map(|(r, m)| m.iter().map(move |(k, s)| (r, k, s))) {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            for (bound, count) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(out, "cells_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "cells_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "cells_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "cells_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        out
    }
}

fn method_name(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

tokio::task_local! {
    /// When the personal access token a request came with ends whatever its use (hard
    /// limit, cap, end of a rotated secret's grace), set where the request is
    /// authenticated, read when its answer leaves.
    static TOKEN_EXPIRY: std::cell::Cell<Option<i64>>;
}

/// Notes the expiry of the token a principal came with, for `Cells-Token-Expires-At`.
pub fn note_token_expiry(principal: &cells_service::Principal) {
    let _ = TOKEN_EXPIRY.try_with(|slot| slot.set(principal.token_ends_at()));
}

/// The header on answers to a token that expires within 7 days.
const EXPIRES_HEADER: &str = "cells-token-expires-at";

/// The middleware: wraps every request in a span and records its outcome.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = state.metrics.next_id.fetch_add(1, Ordering::Relaxed);
    let method = method_name(request.method());
    // The route template, not the path: paths hold file names and would explode the
    // number of series.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!("request", id, method, route = %route, user = tracing::field::Empty);
    let (mut response, expiry) = TOKEN_EXPIRY
        .scope(std::cell::Cell::new(None), async {
            let response = next.run(request).instrument(span.clone()).await;
            (response, TOKEN_EXPIRY.with(std::cell::Cell::get))
        })
        .await;
    if let Some(at) = expiry
        && at.saturating_sub(cells_core::now()) <= cells_service::tokens::EXPIRY_WARNING
        && let Ok(value) = axum::http::HeaderValue::from_str(&crate::wire::rfc3339(at))
    {
        response.headers_mut().insert(EXPIRES_HEADER, value);
    }
    let status = response.status().as_u16();
    let seconds = start.elapsed().as_secs_f64();
    span.in_scope(|| tracing::info!(status, latency_ms = seconds * 1000.0, "request"));
    state.metrics.record(route, method, status, seconds);
    response
}
