//! Real WebDAV clients against the real server, with a personal access token as the
//! password: `litmus` (all five suites: basic, copymove, props, locks, http, every test
//! passing) and `rclone` (a tree with awkward names up, listed, back byte-identical,
//! deleted; a revoked token refused on the next request). Both come from Debian;
//! `scripts/test.sh` installs them when missing.

use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{TestServer, eventually, files_under, long_name, random_bytes};

/// Runs a command off the async runtime (the server answers meanwhile).
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("the command runs (is it installed?)")).await.unwrap()
}

async fn alice_token(server: &TestServer) -> String {
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    server.pat("alice", &["-a", "1h"])
}

#[tokio::test]
async fn litmus_passes_all_five_suites_with_a_token_as_password() {
    let server = TestServer::start();
    let token = alice_token(&server).await;
    let scratch = tempfile::tempdir().unwrap();
    let mut litmus = Command::new("litmus");
    litmus.arg(server.url("/dav/personal-files/")).arg("alice").arg(&token).current_dir(scratch.path());
    let output = run(litmus).await;
    let text = String::from_utf8_lossy(&output.stdout);
    let summaries: Vec<&str> = text.lines().filter(|l| l.starts_with("<- summary for `")).collect();
    for suite in ["basic", "copymove", "props", "locks", "http"] {
        let line = summaries
            .iter()
            .find(|l| l.contains(&format!("`{suite}'")))
            .unwrap_or_else(|| panic!("no {suite} suite in:\n{text}"));
        assert!(line.contains(" 0 failed") && line.ends_with("100.0%"), "{line}\n{text}");
    }
    assert!(output.status.success(), "litmus: {:?}\n{text}", output.status);
}

/// rclone with a WebDAV remote `cells:` for alice, her token as the password.
fn rclone(server: &TestServer, token: &str, args: &[&str]) -> Command {
    let obscured = Command::new("rclone").args(["obscure", token]).output().expect("rclone (Debian package)");
    let obscured = String::from_utf8(obscured.stdout).unwrap().trim().to_owned();
    let mut command = Command::new("rclone");
    command
        .args(["--config", "/dev/null", "--low-level-retries", "1", "--retries", "1"])
        .args(args)
        .env("RCLONE_CONFIG_CELLS_TYPE", "webdav")
        .env("RCLONE_CONFIG_CELLS_URL", server.url("/dav/personal-files/"))
        .env("RCLONE_CONFIG_CELLS_VENDOR", "other")
        .env("RCLONE_CONFIG_CELLS_USER", "alice")
        .env("RCLONE_CONFIG_CELLS_PASS", obscured);
    command
}

#[track_caller]
fn ok(output: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{what}: {:?}\n{err}", output.status);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn rclone_copies_a_tree_up_and_back_byte_identical_then_deletes_it() {
    let server = TestServer::start();
    let token = alice_token(&server).await;
    let scratch = tempfile::tempdir().unwrap();
    let up = scratch.path().join("up");
    let long = long_name();
    let files: Vec<(String, Vec<u8>)> = vec![
        ("a b/c #1.txt".into(), b"hello".to_vec()),
        ("100% sure/what?.bin".into(), random_bytes(3 * 1024 * 1024 + 17, 7)),
        ("ünïcødé 📁/empty".into(), Vec::new()),
        (format!("deep/er/{long}"), random_bytes(4096, 8)),
    ];
    for (name, content) in &files {
        let path = up.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let up_arg = up.to_string_lossy().into_owned();
    ok(&run(rclone(&server, &token, &["copy", &up_arg, "cells:tree"])).await, "rclone copy up");

    let listed = ok(&run(rclone(&server, &token, &["lsf", "-R", "--files-only", "cells:tree"])).await, "rclone lsf");
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort_unstable();
    let mut expected: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    // The same files through REST.
    let rest = server.login("alice", "alice-password").await;
    assert_eq!(rest.download("/personal-files/tree/a b/c #1.txt").await.expect(200).text(), "hello");

    let back = scratch.path().join("back");
    let back_arg = back.to_string_lossy().into_owned();
    ok(&run(rclone(&server, &token, &["copy", "cells:tree", &back_arg])).await, "rclone copy back");
    assert_eq!(files_under(&back), files_under(&up), "the round trip is byte-identical");

    ok(&run(rclone(&server, &token, &["purge", "cells:tree"])).await, "rclone purge");
    assert!(!rest.names("/personal-files").await.contains(&"tree".to_owned()));

    // Revoked: the next request fails.
    let admin = server.admin().await;
    let uuid = crate::tokens::records(&admin, Some("alice")).await[0]["Uuid"].as_str().unwrap().to_owned();
    admin.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    let session = server.basic("alice", &token);
    eventually("revocation", Duration::from_secs(2), || async {
        crate::dav::dav(&session, "PROPFIND", "/personal-files", &[("Depth", "0")], b"").await.status == 401
    })
    .await;
    let refused = run(rclone(&server, &token, &["lsf", "cells:"])).await;
    assert!(!refused.status.success(), "rclone with a revoked token must fail");
}
