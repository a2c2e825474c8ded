//! The HTTP side of cells: the router, one module of handlers per resource, the `/io`
//! content routes, WebDAV at `/dav` (`dav/`), the OAuth2 endpoint, operations (`/healthz`,
//! `/metrics`), and the web console's embedded assets (`console.rs`, served at `/`).
//!
//! Handlers are thin: they parse, call the access service ([`cells_service::Cells`]),
//! and shape the answer. Every error leaves as an `ApiError` (`error.rs`): one JSON body.

mod auth;
mod client;
mod console;
mod dav;
mod error;
mod extract;
mod listen;
mod observe;
mod range;
mod routes;
mod s3;
mod unread;
mod wire;

use std::future::Future;
use std::sync::Arc;

use cells_service::Cells;
use tokio::net::TcpListener;

pub use client::Cidr;
pub use listen::Limits;
pub use observe::Metrics;

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub cells: Cells,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (none by default).
    pub trusted_proxies: Arc<[Cidr]>,
    /// S3 at `/io`, for signed requests.
    pub s3: Arc<s3::S3Front>,
}

/// How the HTTP side is set up beyond its listener.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub limits: Limits,
    pub trusted_proxies: Vec<Cidr>,
}

/// When the database last answered a health check (milliseconds on a monotonic clock).
#[derive(Default)]
pub struct Health {
    start: std::sync::OnceLock<std::time::Instant>,
    last_ok_ms: std::sync::atomic::AtomicU64,
}

impl Health {
    fn now_ms(&self) -> u64 {
        let start = self.start.get_or_init(std::time::Instant::now);
        u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX).saturating_add(1)
    }

    /// Whether the database answered less than a second ago.
    pub fn fresh(&self) -> bool {
        let last = self.last_ok_ms.load(std::sync::atomic::Ordering::Acquire);
        last != 0 && self.now_ms().saturating_sub(last) < 1000
    }

    pub fn record(&self, ok: bool) {
        let value = if ok { self.now_ms() } else { 0 };
        self.last_ok_ms.store(value, std::sync::atomic::Ordering::Release);
    }
}

/// Serves HTTP on `listener` until `shutdown` completes, then lets requests in flight
/// finish.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    listener: TcpListener,
    cells: Cells,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState {
        s3: Arc::new(s3::S3Front::new(cells.clone())),
        cells,
        metrics: Arc::new(Metrics::default()),
        health: Arc::new(Health::default()),
        trusted_proxies: options.trusted_proxies.into(),
    };
    listen::serve(listener, routes::router(state), options.limits, shutdown).await
}
