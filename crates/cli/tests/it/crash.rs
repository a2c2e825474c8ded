//! Crash safety: a server killed (SIGKILL) in the middle of a large upload restarts on
//! the same data with no trace of the partial file and a sound database; one killed
//! while it answers many small uploads at once (committed in batches) keeps every file
//! it answered.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{TestServer, enc, eventually};

const MIB: usize = 1024 * 1024;

/// Bytes in the files of `dir` (not recursive).
fn bytes_in(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
}

/// Files under `dir`, recursively.
fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.filter_map(Result::ok).map(|e| if e.path().is_dir() { files_under(&e.path()) } else { 1 }).sum()
}

/// 200 MiB in 1 MiB chunks, one every 20 ms: about four seconds in all.
fn slow_body() -> reqwest::Body {
    let chunk = crate::support::random_bytes(MIB, 3);
    let stream = futures_util::stream::unfold(0usize, move |sent| {
        let chunk = chunk.clone();
        async move {
            if sent == 200 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok::<_, std::io::Error>(chunk), sent + 1))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test]
async fn a_server_killed_mid_upload_leaves_no_partial_file() {
    let mut server = TestServer::start();
    let admin = server.admin().await;
    let grant = {
        server.user(&admin, "alice", "alice-password").await;
        server.login_grant("alice", "alice-password").await
    };
    let token = grant["access_token"].as_str().unwrap().to_owned();
    let alice = server.bearer(&token);
    alice.mkdir("/personal-files/up loads #1").await.expect(201);
    alice.upload("/personal-files/up loads #1/keep ü.txt", "kept").await.expect(201);
    let tmp = server.data().join("blobs").join("tmp");
    let published = server.data().join("blobs").join("blobs");
    assert_eq!(files_under(&published), 1);

    let target = "/personal-files/up loads #1/big 200%.bin";
    let upload = alice.request(reqwest::Method::PUT, &format!("/io{}", enc(target))).body(slow_body());
    let upload = tokio::spawn(upload.send());
    eventually("the server has received some MiB", Duration::from_secs(30), || async {
        bytes_in(&tmp) >= 8 * MIB as u64
    })
    .await;
    server.kill9();
    let received = bytes_in(&tmp);
    assert!(received < 200 * MIB as u64, "the upload finished before the kill ({received} bytes)");
    let outcome = upload.await.unwrap();
    assert!(outcome.is_err() || outcome.is_ok_and(|r| r.status().is_server_error()), "the upload cannot succeed");

    server.restart();
    let alice = server.bearer(&token);
    alice.stat(target).await.expect_error(404, "NotFound");
    alice.download(target).await.expect_error(404, "NotFound");
    assert_eq!(alice.names("/personal-files/up loads #1").await, ["keep ü.txt"]);
    assert_eq!(alice.download("/personal-files/up loads #1/keep ü.txt").await.expect(200).text(), "kept");
    assert_eq!(files_under(&published), 1, "no blob was published for the partial upload");

    // The store is sound: the CLI reads it, SQLite checks it, the same upload now works.
    let listed = server.cli(&["user", "list"], None);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("alice"));
    match Command::new("sqlite3").arg(server.data().join("cells.db")).arg("PRAGMA integrity_check").output() {
        Ok(check) => assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok"),
        Err(err) => eprintln!("sqlite3 not found ({err}): integrity checked through the server and the CLI only"),
    }
    let content = crate::support::random_bytes(3 * MIB + 5, 4);
    let done = alice.upload(target, content.clone()).await.expect(201).json();
    assert_eq!(done["Size"], 3 * MIB + 5);
    assert!(alice.download(target).await.expect(200).body == content);
    server.anonymous().get("/healthz").await.expect(200);
}

/// Uploads of 4 KiB files, 16 at a time, until the server is killed (once half of
/// `FILES` were answered): every file answered 201 is there after the restart, whole;
/// every other one is either there, whole, or absent. Small uploads that finish together
/// are committed in one transaction: this checks that none is answered before its
/// batch is on disk.
#[tokio::test]
async fn a_server_killed_while_answering_a_burst_of_uploads_keeps_every_answered_file() {
    const FILES: usize = 600;
    const WORKERS: usize = 16;
    let mut server = TestServer::start();
    let admin = server.admin().await;
    admin.mkdir("/personal-files/burst").await.expect(201);
    let content = |i: usize| crate::support::random_bytes(4096, 1000 + i as u64);
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let (admin, answered) = (admin.clone(), answered.clone());
        workers.push(tokio::spawn(async move {
            for i in (worker..FILES).step_by(WORKERS) {
                let put = admin.request(reqwest::Method::PUT, &format!("/io/personal-files/burst/f{i}.bin"));
                match put.body(content(i)).send().await {
                    Ok(reply) if reply.status() == 201 => answered.lock().unwrap().push(i),
                    Ok(reply) => panic!("upload {i}: {}", reply.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    let count = || answered.lock().unwrap().len();
    eventually("half of the uploads are answered", Duration::from_secs(60), || async { count() >= FILES / 2 }).await;
    server.kill9();
    for worker in workers {
        worker.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() < FILES, "every upload was answered before the kill: nothing was tested");

    server.restart();
    let admin = server.admin().await;
    for &i in &answered {
        let got = admin.download(&format!("/personal-files/burst/f{i}.bin")).await.expect(200);
        assert!(got.body == content(i), "answered file f{i}.bin lost its content");
    }
    let names = admin.names("/personal-files/burst").await;
    assert!(names.len() >= answered.len(), "{} files listed, {} answered", names.len(), answered.len());
    for name in &names {
        let i: usize = name.trim_start_matches('f').trim_end_matches(".bin").parse().unwrap();
        let got = admin.download(&format!("/personal-files/burst/{name}")).await.expect(200);
        assert!(got.body == content(i), "{name}, committed but not answered, is not whole");
    }
    eprintln!("{} answered before the kill, {} there after it", answered.len(), names.len());
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_upload_leaves_nothing_behind() {
    use std::io::Write;

    let server = TestServer::start();
    let admin = server.admin().await;
    let tmp = server.data().join("blobs").join("tmp");
    let published = server.data().join("blobs").join("blobs");
    let auth = format!("admin:{}", crate::support::ADMIN_PASSWORD);
    let head = format!(
        "PUT /io/personal-files/cut%20%23short HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nContent-Length: {}\r\n\r\n",
        crate::support::base64(auth.as_bytes()),
        10 * MIB
    );
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&crate::support::random_bytes(2 * MIB, 5)).unwrap();
    eventually("the upload has started", Duration::from_secs(10), || async { bytes_in(&tmp) > 0 }).await;
    drop(stream);

    eventually("the temporary file is removed", Duration::from_secs(5), || async { bytes_in(&tmp) == 0 }).await;
    admin.stat("/personal-files/cut #short").await.expect_error(404, "NotFound");
    assert!(admin.names("/personal-files").await.is_empty());
    assert_eq!(files_under(&published), 0);
    admin.upload("/personal-files/cut #short", "whole").await.expect(201);
}

/// A tmpfs of `size` mounted at `dir`, unmounted on drop. Needs root (CI runs as root).
struct TinyDisk(std::path::PathBuf);

impl TinyDisk {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted =
            Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).status();
        mounted.is_ok_and(|s| s.success()).then(|| Self(dir.to_owned()))
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_the_upload_with_507_and_keeps_what_was_there() {
    let holder = tempfile::tempdir().unwrap();
    let blob_dir = holder.path().join("blobs on a tiny disk");
    // Mounting needs root: CI runs as root, and there a skip is a failure (a test that
    // cannot run must not pass); elsewhere this test says so and checks nothing.
    let Some(_disk) = TinyDisk::mount(&blob_dir, "2m") else {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!in_ci, "CI=true, but a tmpfs cannot be mounted here: the full-disk test cannot run");
        eprintln!("skipped: cannot mount a tmpfs here (not root?); under CI=true this fails");
        return;
    };
    let server = TestServer::start_with_storage(blob_dir.to_str().unwrap());
    let admin = server.admin().await;
    let kept = crate::support::random_bytes(MIB, 9);
    admin.upload("/personal-files/kept #1.bin", kept.clone()).await.expect(201);

    let too_big = crate::support::random_bytes(4 * MIB, 10);
    let refused = admin.upload("/personal-files/too big 100%.bin", too_big).await;
    refused.assert_error_shape();
    assert_eq!(refused.status, 507, "{}", refused.text());
    assert_eq!(refused.json()["Code"], "InsufficientStorage");
    admin.stat("/personal-files/too big 100%.bin").await.expect(404);
    assert_eq!(files_under(&blob_dir.join("tmp")), 0, "the partial upload is gone");

    // Replacing the kept file with too much content leaves the old content in place.
    let refused = admin.upload("/personal-files/kept #1.bin", crate::support::random_bytes(3 * MIB, 11)).await;
    assert_eq!(refused.status, 507);
    let got = admin.download("/personal-files/kept #1.bin").await.expect(200);
    assert_eq!(got.body, kept, "the old content is intact");
    // Once there is room again, uploads work.
    admin.delete(&format!("/a/tree{}", enc("/personal-files/kept #1.bin"))).await.expect(204);
    admin.upload("/personal-files/after.bin", crate::support::random_bytes(MIB, 12)).await.expect(201);

    // Small files are written once, under their final name: the one that finds the disk
    // full gets a 507 too, and leaves no file behind.
    let mut stored = 0;
    let refused = loop {
        let small = crate::support::random_bytes(200 * 1024, 20 + stored as u64);
        let reply = admin.upload(&format!("/personal-files/small {stored}.bin"), small).await;
        if reply.status != 201 {
            break reply;
        }
        stored += 1;
        assert!(stored < 20, "a 2 MiB disk took {stored} files of 200 KiB");
    };
    assert_eq!(refused.status, 507, "{}", refused.text());
    admin.stat(&format!("/personal-files/small {stored}.bin")).await.expect(404);
    // The blobs: the deleted file's (until the collector's grace ends), after.bin's,
    // and each stored small file's; none of the refused one.
    assert_eq!(files_under(&blob_dir.join("blobs")), stored + 2);
}
