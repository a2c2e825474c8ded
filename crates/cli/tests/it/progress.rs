//! Progress of the long admin commands: `migrate-store` and `blobs collect` tell how far
//! they got on standard error, in plain lines when it is not a terminal (one when a stage
//! begins, one at each tenth of its total or every 2 s, one when it ends), and as a bar
//! on a terminal; standard output keeps the final counts that scripts read.

use std::time::{Duration, Instant};

use cells_testkit::{BUCKET, PgSchema, S3Server};
use futures_util::StreamExt;

use crate::support::{NodeStore, Session, TestServer, cli_ok, files_under, on_postgres};

/// Uploads `count` small files, each of its own content, 8 at a time, into `folders`
/// folders under `root`; returns the bytes uploaded.
async fn many_files(session: &Session, root: &str, folders: usize, count: usize) -> u64 {
    session.mkdir(root).await.expect(201);
    for folder in 0..folders {
        session.mkdir(&format!("{root}/folder {folder} #ü")).await.expect(201);
    }
    let uploads = futures_util::stream::iter(0..count).map(|i| async move {
        let content = format!("file {i} of {count}\n");
        let path = format!("{root}/folder {} #ü/file {i}.txt", i % folders);
        session.upload(&path, content.clone()).await.expect(201);
        content.len() as u64
    });
    uploads.buffer_unordered(8).fold(0, |sum, len| async move { sum + len }).await
}

/// The `(done, total)` of each line of one stage (`migrate-store: blobs 10/20 ...`) on
/// stderr, and whether the last says the stage is done.
fn stage_lines(stderr: &str, command: &str, stage: &str) -> (Vec<(u64, u64)>, bool) {
    let prefix = format!("{command}: {stage} ");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with(&prefix)).collect();
    let counts = lines
        .iter()
        .map(|line| {
            let count = line[prefix.len()..].split(' ').next().unwrap();
            let (done, total) = count.split_once('/').unwrap_or_else(|| panic!("no DONE/TOTAL in {line:?}"));
            (done.parse().unwrap(), total.parse().unwrap())
        })
        .collect();
    (counts, lines.last().is_some_and(|l| l.contains(" done in ")))
}

/// Asserts that a stage began at 0, went up step by step to `total` (with at least
/// `between` lines in between), and ended there.
#[track_caller]
fn assert_progressed(stderr: &str, command: &str, stage: &str, total: u64, between: usize) {
    let (counts, ended) = stage_lines(stderr, command, stage);
    assert!(
        counts.len() >= between + 2,
        "{stage}: {} lines, not {between} between the first and the last:\n{stderr}",
        counts.len()
    );
    assert_eq!(counts.first(), Some(&(0, total)), "{stage} begins at 0 of {total}:\n{stderr}");
    assert_eq!(counts.last(), Some(&(total, total)), "{stage} ends at {total}:\n{stderr}");
    assert!(ended, "the last {stage} line says it is done:\n{stderr}");
    assert!(counts.windows(2).all(|w| w[0].0 < w[1].0), "{stage} counts go up: {counts:?}");
    assert!(counts.iter().all(|(_, of)| *of == total), "{stage} has one total: {counts:?}");
}

/// The number in a line of stdout such as `nodes            10023 rows`.
fn count_of(stdout: &str, table: &str) -> u64 {
    let line = stdout.lines().find(|l| l.split_whitespace().next() == Some(table));
    let line = line.unwrap_or_else(|| panic!("no {table} line in:\n{stdout}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_migration_of_10000_files_shows_its_progress_and_ends_with_the_counts() {
    if on_postgres() {
        // The migration starts from SQLite and a folder; the PostgreSQL pass runs none.
        eprintln!("skipped: the PostgreSQL pass has no SQLite install to migrate");
        return;
    }
    const FILES: usize = 10_000;
    const FOLDERS: usize = 20;
    let mut server = TestServer::start();
    let token = server.pat("admin", &["-e", "1d"]);
    let admin = server.bearer(&token);
    let started = Instant::now();
    let bytes = many_files(&admin, "/personal-files/many", FOLDERS, FILES).await;
    eprintln!("{FILES} uploads, 8 at a time: {:?}", started.elapsed());
    server.terminate(Duration::from_secs(20));

    let schema = PgSchema::create().await;
    let s3 = S3Server::start();
    let args = ["migrate-store", "--to-database-url", schema.url(), "--to-storage-url", &s3.storage_url()];
    let started = Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cells"))
        .arg("admin")
        .arg("--data")
        .arg(server.data())
        .args(args)
        .envs(s3.env())
        .output()
        .unwrap();
    let took = started.elapsed();
    let stdout = cli_ok(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("migrate-store of {FILES} files: {took:?}\n{stderr}");

    // Standard output: the counts, as before.
    let nodes = count_of(&stdout, "nodes");
    assert_eq!(nodes, (FILES + FOLDERS + 1 + 2) as u64, "files, folders, many, two workspace roots:\n{stdout}");
    assert!(stdout.contains(&format!("blobs            {FILES} ({bytes} bytes)")), "{stdout}");
    assert!(!stdout.contains("migrate-store:"), "no progress on stdout:\n{stdout}");
    // Standard error: each stage from 0 to its total, a line at least at each tenth.
    assert_progressed(&stderr, "migrate-store", "blobs", FILES as u64, 9);
    let rows: u64 = stdout
        .lines()
        .filter(|l| l.ends_with(" rows"))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(rows > nodes, "{stdout}");
    assert_progressed(&stderr, "migrate-store", "rows", rows, 9);
    let last = stderr.lines().rfind(|l| l.starts_with("migrate-store: blobs ")).unwrap();
    let (copied, of) = last.split_once('(').unwrap().1.split_once(')').unwrap().0.split_once(" of ").unwrap();
    assert!(copied == of && of.ends_with(" KiB"), "all the bytes: {last}");

    // What the lines counted is there.
    let there = schema.texts("SELECT COUNT(*)::text FROM nodes WHERE blob IS NOT NULL").await;
    assert_eq!(there, [FILES.to_string()]);
    assert_eq!(files_under(&s3.root().join(BUCKET).join("blobs")).len(), FILES, "every blob in the bucket");
}

#[tokio::test]
async fn a_blob_collection_shows_its_progress_and_ends_with_the_count() {
    const DELETED: usize = 1500;
    const ORPHANS: usize = 700;
    let server = TestServer::start();
    let token = server.pat("admin", &["-e", "1d"]);
    let admin = server.bearer(&token);
    many_files(&admin, "/personal-files/gone", 3, DELETED).await;
    admin.delete("/io/personal-files/gone").await.expect(204);
    // Blobs no node ever referred to (uploads cut between publishing and committing).
    let shard = server.blob_root().join("blobs").join("ab");
    std::fs::create_dir_all(&shard).unwrap();
    for i in 0..ORPHANS {
        std::fs::write(shard.join(format!("ab{i:06x}-0000-4000-8000-{i:012x}")), format!("orphan {i}")).unwrap();
    }
    let blobs = || files_under(&server.blob_root().join("blobs")).keys().filter(|k| !k.starts_with("tmp")).count();
    assert_eq!(blobs(), DELETED + ORPHANS);

    let output = server.cli(&["blobs", "collect", "--grace-secs", "0"], None);
    let stdout = cli_ok(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert_eq!(stdout, format!("Removed {DELETED} unreferenced blobs and {ORPHANS} orphans\n"));
    // Batches of 500: 500 and 1000 between the start and 1500.
    assert_progressed(&stderr, "blobs collect", "unreferenced", DELETED as u64, 2);
    assert_progressed(&stderr, "blobs collect", "checked", ORPHANS as u64, 1);
    assert_progressed(&stderr, "blobs collect", "orphans", ORPHANS as u64, 1);
    assert!(stderr.contains(&format!("blobs collect: listed {ORPHANS} done in ")), "{stderr}");
    assert_eq!(blobs(), 0, "all collected");

    // Nothing left: every stage says 0 of 0, begun and done.
    let output = server.cli(&["blobs", "collect", "--grace-secs", "0"], None);
    assert_eq!(cli_ok(&output), "Removed 0 unreferenced blobs and 0 orphans\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for stage in ["unreferenced", "checked", "orphans"] {
        assert_eq!(stage_lines(&stderr, "blobs collect", stage), (vec![(0, 0), (0, 0)], true), "{stderr}");
    }
}

#[tokio::test]
async fn on_a_bucket_the_collectors_pause_is_counted_in_seconds() {
    let schema = PgSchema::create().await;
    let s3 = S3Server::start();
    let env = s3.env();
    let store = NodeStore { database_url: schema.url(), storage_url: &s3.storage_url(), env: &env, key_file: None };
    let server = TestServer::start_node(&store);
    // Orphans written two hours ago: past the grace, so the second look waits for it.
    let shard = s3.root().join(BUCKET).join("blobs").join("ab");
    std::fs::create_dir_all(&shard).unwrap();
    for i in 0..3 {
        let orphan = shard.join(format!("ab{i:06x}-0000-4000-8000-{i:012x}"));
        std::fs::write(&orphan, "orphan").unwrap();
        let touched = std::process::Command::new("touch").args(["-d", "2 hours ago"]).arg(&orphan).status().unwrap();
        assert!(touched.success());
    }
    let output = server.cli(&["blobs", "collect", "--grace-secs", "3"], None);
    assert_eq!(cli_ok(&output), "Removed 0 unreferenced blobs and 3 orphans\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_progressed(&stderr, "blobs collect", "settling", 3, 2);
    assert_progressed(&stderr, "blobs collect", "orphans", 3, 0);
}

#[tokio::test]
async fn on_a_terminal_the_progress_is_a_bar() {
    if on_postgres() {
        eprintln!("skipped: the bar is the same on any store, and is drawn on the SQLite pass");
        return;
    }
    let server = TestServer::start();
    let token = server.pat("admin", &["-e", "1d"]);
    let admin = server.bearer(&token);
    many_files(&admin, "/personal-files/gone", 2, 40).await;
    admin.delete("/io/personal-files/gone").await.expect(204);
    // `script` runs the command on a pseudo-terminal, and copies what it wrote (stdout
    // and stderr alike) to its own stdout.
    let mut command = vec![env!("CARGO_BIN_EXE_cells").to_owned(), "admin".into(), "--data".into()];
    command.push(server.data().to_string_lossy().into_owned());
    command.extend(["blobs", "collect", "--grace-secs", "0"].map(str::to_owned));
    let quoted: Vec<String> = command.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
    let output = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{seen}");
    assert!(seen.contains("Removed 40 unreferenced blobs and 0 orphans"), "{seen}");
    assert!(
        seen.contains("blobs collect: unreferenced [==============================] 40/40"),
        "a full bar: {seen:?}"
    );
    assert!(!seen.contains("done in"), "no plain lines on a terminal: {seen:?}");
}
