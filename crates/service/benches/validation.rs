//! The validation hot path of a personal access token, in process: what one
//! authenticated request costs before any handler runs.
//!
//! - `pat/cached`: format and checksum, one SHA-256, one cache hit, the user check
//!   (`pat/cached_in_runtime`: the same, plus a tokio `block_on` per iteration).
//! - `pat/cached_limits`: the same for a token limited to 4 address blocks (the one
//!   that matches last) and 2 protocols, used from an allowed address.
//! - `pat/uncached`: the same after dropping every cache, so the record is read from
//!   SQLite (the cost of the first request after a revocation or a restart).
//! - `pat/parse_and_hash`: the pure part alone (no cache).
//! - `access_token`: a login access token (HMAC-SHA256 JWT) for comparison.
//!
//! Run: `cargo bench -p cells-service --bench validation`.

use std::time::Duration;

use cells_core::expiry::ExpiryModel;
use cells_core::limits::Limits;
use cells_core::{Profile, token};
use cells_service::auth::Credential;
use cells_service::users::CreateUser;
use cells_service::{Admin, Cells, StoreConfig, TokenSpec, Usage, Via};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use secrecy::SecretString;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = StoreConfig {
        database_url: format!("sqlite://{}", dir.path().join("bench.db").display()),
        storage: cells_service::Storage::Folder(dir.path().join("blobs")),
        key_file: dir.path().join("secret.key"),
    };
    let (cells, pat, limited, access) = runtime.block_on(async {
        let cells = Cells::open(&config).await.expect("open");
        let password = SecretString::from("benchmark-password".to_owned());
        let new = CreateUser {
            login: "alice".into(),
            password: Some(password.clone()),
            profile: Profile::Standard,
            display_name: None,
        };
        cells.create_user(Admin::operator(), new).await.expect("user");
        let spec = TokenSpec {
            label: None,
            expiry: ExpiryModel::AutoRefresh { window: 3600, max_expires_at: None },
            scopes: vec![],
            limits: Limits::default(),
        };
        let (_, secret) = cells.create_token_for(Admin::operator(), "alice", spec, "bench").await.expect("token");
        let blocks = ["10.0.0.0/8", "2001:db8::/32", "172.16.0.0/12", "192.168.0.0/16"];
        let spec = TokenSpec {
            label: None,
            expiry: ExpiryModel::AutoRefresh { window: 3600, max_expires_at: None },
            scopes: vec![],
            limits: Limits::parse(&blocks, &["webdav", "rest"]).expect("limits"),
        };
        let (_, limited) = cells.create_token_for(Admin::operator(), "alice", spec, "bench").await.expect("token");
        let grant = cells.login_password("alice", password, None).await.expect("login");
        (cells, secret.expose().to_owned(), limited.expose().to_owned(), grant.access_token)
    });
    let usage = Usage { via: Via::Rest, ip: Some([127, 0, 0, 1].into()) };
    // Within the last of the limited token's blocks, through the second of its protocols.
    let inside = Usage { via: Via::Rest, ip: Some([192, 168, 7, 9].into()) };

    let mut group = c.benchmark_group("pat");
    group.measurement_time(Duration::from_secs(5));
    // Warm the cache, then poll the validation once per iteration: on a cache hit it
    // completes without awaiting anything, so this is the validation alone.
    runtime.block_on(cells.authenticate(Credential::Bearer(pat.clone()), usage)).expect("valid");
    runtime.block_on(cells.authenticate(Credential::Bearer(limited.clone()), inside)).expect("valid");
    let outside = Usage { via: Via::Rest, ip: Some([192, 0, 2, 1].into()) };
    assert!(runtime.block_on(cells.authenticate(Credential::Bearer(limited.clone()), outside)).is_err(), "limits hold");
    // Usage writes are spawned on the runtime, also from outside it.
    let _context = runtime.enter();
    group.bench_function("cached", |b| {
        b.iter(|| {
            cells
                .authenticate(Credential::Bearer(pat.clone()), usage)
                .now_or_never()
                .expect("a cache hit completes at once")
                .expect("valid")
        });
    });
    group.bench_function("cached_limits", |b| {
        b.iter(|| {
            cells
                .authenticate(Credential::Bearer(limited.clone()), inside)
                .now_or_never()
                .expect("a cache hit completes at once")
                .expect("valid")
        });
    });
    group.bench_function("cached_in_runtime", |b| {
        b.to_async(&runtime)
            .iter(|| async { cells.authenticate(Credential::Bearer(pat.clone()), usage).await.expect("valid") });
    });
    group.bench_function("uncached", |b| {
        b.to_async(&runtime).iter(|| async {
            cells.clear_caches();
            cells.authenticate(Credential::Bearer(pat.clone()), usage).await.expect("valid")
        });
    });
    group.bench_function("parse_and_hash", |b| b.iter(|| token::parse(&pat).expect("well formed").hash()));
    group.finish();

    c.bench_function("access_token", |b| {
        b.to_async(&runtime)
            .iter(|| async { cells.authenticate(Credential::Bearer(access.clone()), usage).await.expect("valid") });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
