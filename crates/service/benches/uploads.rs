//! What one small upload costs the service, step by step, and what uploads finishing
//! together cost (group commit). No HTTP, SSH or client: the service calls alone, on
//! SQLite and a blob folder in a temporary directory (`BENCH_DIR`, default the system's
//! temporary folder: a real disk here, unless it is a tmpfs).
//!
//! - `begin`: [`Cells::begin_upload`] (access checks, the parent, the name free).
//! - `write`: one 4 KiB [`Upload::write`].
//! - `commit`: [`Cells::commit_upload`] alone (the blob's sync, the transaction).
//! - `parallel N`: `FILES` uploads, N at a time, each begin, write and commit: files/s.
//!
//! Each figure is the median of `ROUNDS` rounds (default 3) of `FILES` (1000) files.
//! Run: `cargo bench -p cells-service --bench uploads` (`FILES=300 ROUNDS=1` for a
//! quick look).

use std::time::{Duration, Instant};

use cells_core::expiry::ExpiryModel;
use cells_core::limits::Limits;
use cells_core::{NodeKind, Profile, TreePath};
use cells_service::auth::Credential;
use cells_service::users::CreateUser;
use cells_service::{Admin, Cells, Principal, StoreConfig, TokenSpec, Usage, Via};
use secrecy::SecretString;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn setup(dir: &std::path::Path) -> (Cells, Principal) {
    let config = StoreConfig {
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        storage: cells_service::Storage::Folder(dir.join("blobs")),
        key_file: dir.join("secret.key"),
    };
    let cells = Cells::open(&config).await.expect("open");
    let new = CreateUser {
        login: "alice".into(),
        password: Some(SecretString::from("benchmark-password".to_owned())),
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
    let usage = Usage { via: Via::Rest, ip: Some([127, 0, 0, 1].into()) };
    let principal = cells.authenticate(Credential::Bearer(secret.expose().to_owned()), usage).await.expect("valid");
    (cells, principal)
}

fn path(folder: &str, i: usize) -> TreePath {
    TreePath::parse_relative(&format!("personal-files/{folder}/f{i}.bin")).expect("path")
}

async fn mkdir(cells: &Cells, principal: &Principal, folder: &str) {
    let at = TreePath::parse_relative(&format!("personal-files/{folder}")).expect("path");
    cells.create(principal, &at, NodeKind::Collection).await.expect("folder");
}

/// One file after the other: the time of each step, in µs, medians over the files.
async fn steps(cells: &Cells, principal: &Principal, folder: &str, files: usize, content: &[u8]) -> [f64; 3] {
    mkdir(cells, principal, folder).await;
    let (mut begin, mut write, mut commit) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..files {
        let t = Instant::now();
        let mut upload = cells.begin_upload(principal, &path(folder, i)).await.expect("begin");
        let t1 = Instant::now();
        upload.write(content).await.expect("write");
        let t2 = Instant::now();
        cells.commit_upload(upload).await.expect("commit");
        let t3 = Instant::now();
        begin.push((t1 - t).as_secs_f64() * 1e6);
        write.push((t2 - t1).as_secs_f64() * 1e6);
        commit.push((t3 - t2).as_secs_f64() * 1e6);
    }
    [median(begin), median(write), median(commit)]
}

/// `files` uploads, `parallel` at a time: files per second.
async fn parallel(cells: &Cells, principal: &Principal, folder: &str, files: usize, parallel: usize) -> f64 {
    mkdir(cells, principal, folder).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..parallel {
        let (cells, principal, folder) = (cells.clone(), principal.clone(), folder.to_owned());
        tasks.push(tokio::spawn(async move {
            let content = vec![7u8; 4096];
            for i in (worker..files).step_by(parallel) {
                let mut upload = cells.begin_upload(&principal, &path(&folder, i)).await.expect("begin");
                upload.write(&content).await.expect("write");
                cells.commit_upload(upload).await.expect("commit");
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker");
    }
    files as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

fn main() {
    let (files, rounds) = (knob("FILES", 1000), knob("ROUNDS", 3));
    let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (cells, principal) = setup(dir.path()).await;
        let content = vec![7u8; 4096];
        let mut step_rounds = Vec::new();
        let mut rates: [Vec<f64>; 3] = Default::default();
        for round in 0..rounds {
            step_rounds.push(steps(&cells, &principal, &format!("steps {round}"), files, &content).await);
            for (slot, n) in [1, 8, 32].into_iter().enumerate() {
                rates[slot].push(parallel(&cells, &principal, &format!("p{n} {round}"), files, n).await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let step = |k: usize| median(step_rounds.iter().map(|s| s[k]).collect());
        println!("{files} files of 4 KiB, median of {rounds} rounds, in {}", dir.path().display());
        println!("| step | µs per file |");
        println!("|---|---:|");
        println!("| begin | {:.0} |", step(0));
        println!("| write 4 KiB | {:.0} |", step(1));
        println!("| commit | {:.0} |", step(2));
        println!("| all three | {:.0} |", step(0) + step(1) + step(2));
        println!();
        println!("| uploads at a time | files/s |");
        println!("|---|---:|");
        for (slot, n) in [1, 8, 32].into_iter().enumerate() {
            println!("| {n} | {:.0} |", median(rates[slot].clone()));
        }
    });
}
