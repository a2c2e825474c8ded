//! `cells admin` on the store of a running server: what it changes, the server sees
//! within a second (it polls a change counter); caller mistakes exit with status 2.

use std::process::Output;

use serde_json::json;

use crate::support::{Session, TestServer, within_a_second};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
fn ok(output: Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cells admin failed ({:?}): {err}", output.status);
    stdout(&output)
}

/// Exit status 2 and `error: ...` (or clap's usage error) on stderr.
#[track_caller]
fn usage_error(output: Output) {
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stdout: {}; stderr: {err}", stdout(&output));
    assert!(err.starts_with("error: ") || err.contains("\nerror: "), "stderr: {err}");
}

/// The text after `marker` on the line that holds it.
fn after<'a>(text: &'a str, marker: &str) -> &'a str {
    let line = text.lines().find(|l| l.contains(marker)).unwrap_or_else(|| panic!("no {marker:?} in {text}"));
    line.split_once(marker).unwrap().1.trim()
}

async fn status(session: &Session, target: &str) -> u16 {
    session.get(target).await.status
}

#[tokio::test]
async fn users_through_the_cli_while_the_server_runs() {
    let server = TestServer::start();
    let admin = server.admin().await;

    ok(server.cli(&["user", "create", "-u", "erin", "-p", "erin-pässword", "--display-name", "Erin Ü"], None));
    let erin = server.login("erin", "erin-pässword").await;
    erin.get("/a/tree/").await.expect(200);
    assert_eq!(admin.get("/a/users/erin").await.expect(200).json()["DisplayName"], "Erin Ü");

    ok(server.cli(&["user", "create", "-u", "frank", "-p", "-"], Some("frank password from stdin\n")));
    let frank = server.login("frank", "frank password from stdin").await;

    let created = ok(server.cli(&["user", "create", "-u", "gina"], None));
    let generated = after(&created, "Password (shown once):").to_owned();
    assert!(generated.len() >= 8, "{created}");
    let gina = server.login("gina", &generated).await;

    ok(server.cli(&["user", "create", "-u", "root2", "-p", "root2-password", "--profile", "admin"], None));
    server.login("root2", "root2-password").await.get("/a/users").await.expect(200);
    frank.get("/a/users").await.expect_error(403, "Forbidden");

    let listed = ok(server.cli(&["user", "list"], None));
    for login in ["admin", "erin", "frank", "gina", "root2"] {
        assert!(listed.lines().any(|l| l.starts_with(&format!("{login} "))), "{login} missing from {listed}");
    }
    assert!(!listed.contains("$argon2") && !listed.contains(&generated), "{listed}");

    // Lock and unlock: the server follows within a second.
    ok(server.cli(&["user", "lock", "-u", "frank"], None));
    within_a_second("frank's token refused", || async { status(&frank, "/a/tree/").await == 401 }).await;
    let listed = ok(server.cli(&["user", "list"], None));
    assert!(listed.lines().any(|l| l.starts_with("frank ") && l.contains(" yes ")), "{listed}");
    let login = [("grant_type", "password"), ("username", "frank"), ("password", "frank password from stdin")];
    assert_eq!(server.token_request(&login).await.json()["error"], "invalid_grant");
    ok(server.cli(&["user", "unlock", "-u", "frank"], None));
    // Unlocked, frank logs in again; the login that the lock ended stays ended.
    within_a_second("frank can log in again", || async { server.token_request(&login).await.status == 200 }).await;
    server.login("frank", "frank password from stdin").await.get("/a/tree/").await.expect(200);
    assert_eq!(status(&frank, "/a/tree/").await, 401, "a lock ends the logins made before it");

    // A new password retires the old one (cached Basic successes included).
    let old_basic = server.basic("erin", "erin-pässword");
    old_basic.get("/a/tree/").await.expect(200);
    ok(server.cli(&["user", "set-pwd", "-u", "erin", "-p", "erin-new-password"], None));
    within_a_second("erin's old password refused", || async { status(&old_basic, "/a/tree/").await == 401 }).await;
    server.basic("erin", "erin-new-password").get("/a/tree/").await.expect(200);
    let reset = ok(server.cli(&["user", "set-pwd", "-u", "erin"], None));
    let fresh = after(&reset, "New password (shown once):");
    server.login("erin", fresh).await.get("/a/tree/").await.expect(200);
    ok(server.cli(&["user", "set-pwd", "-u", "erin", "-p", "-"], Some("erin from stdin\n")));
    server.login("erin", "erin from stdin").await;

    // Deleting a user retires their tokens.
    gina.upload("/personal-files/g.txt", "gina's").await.expect(201);
    ok(server.cli(&["user", "delete", "-u", "gina"], None));
    within_a_second("gina's token refused", || async { status(&gina, "/a/tree/").await == 401 }).await;
    admin.get("/a/users/gina").await.expect_error(404, "NotFound");

    // Caller mistakes: status 2, a message on stderr, nothing changed.
    usage_error(server.cli(&["user", "delete", "-u", "nobody"], None));
    usage_error(server.cli(&["user", "lock", "-u", "nobody"], None));
    usage_error(server.cli(&["user", "unlock", "-u", "nobody"], None));
    usage_error(server.cli(&["user", "set-pwd", "-u", "nobody", "-p", "long-enough"], None));
    usage_error(server.cli(&["user", "create", "-u", "a b", "-p", "long-enough"], None));
    usage_error(server.cli(&["user", "create", "-u", "a:b", "-p", "long-enough"], None));
    usage_error(server.cli(&["user", "create", "-u", "shorty", "-p", "short"], None));
    usage_error(server.cli(&["user", "create", "-u", "erin", "-p", "long-enough"], None));
    usage_error(server.cli(&["user", "create", "-u", "x1", "-p", "long-enough", "--profile", "root"], None));
    usage_error(server.cli(&["user", "create", "-u", "x2", "-p", "-"], Some("")));
    usage_error(server.cli(&["user", "set-pwd", "-u", "erin", "-p", "short"], None));
    usage_error(server.cli(&["user", "frobnicate"], None));
    usage_error(server.cli(&["user", "create"], None));
    for login in ["a b", "shorty", "x1", "x2"] {
        admin.get(&format!("/a/users/{}", crate::support::enc(login))).await.expect(404);
    }
    server.login("erin", "erin from stdin").await;
}

#[tokio::test]
async fn workspaces_through_the_cli_while_the_server_runs() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;

    ok(server.cli(&["workspace", "create", "-s", "cli-room", "-l", "CLI Room ü"], None));
    let created = admin.get("/a/workspaces/cli-room").await.expect(200).json();
    assert_eq!(created["Label"], "CLI Room ü");
    assert_eq!(created["Kind"], "custom", "{created}");
    alice.stat("/cli-room").await.expect_error(404, "NotFound");

    ok(server.cli(&["workspace", "grant", "-s", "cli-room", "-u", "alice", "-r", "rw"], None));
    within_a_second("alice may write", || async {
        alice.upload("/cli-room/from alice #1.txt", "hello").await.status == 201
    })
    .await;
    let listed = ok(server.cli(&["workspace", "list"], None));
    let line = listed.lines().find(|l| l.starts_with("cli-room ")).unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("alice:rw"), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with("common-files ")), "{listed}");
    let rest = admin.get("/a/workspaces/cli-room").await.expect(200).json();
    assert_eq!(rest["Grants"][0]["Login"], "alice");
    assert_eq!(rest["Grants"][0]["Rights"], "rw");

    // Probing with an existing folder name writes nothing: 409 while writable, then 403.
    alice.mkdir("/cli-room/probe").await.expect(201);
    ok(server.cli(&["workspace", "grant", "-s", "cli-room", "-u", "alice", "-r", "r"], None));
    within_a_second("alice may only read", || async { alice.mkdir("/cli-room/probe").await.status == 403 }).await;
    alice.upload("/cli-room/from alice #1.txt", "again").await.expect_error(403, "Forbidden");
    assert_eq!(alice.download("/cli-room/from alice #1.txt").await.expect(200).text(), "hello");

    ok(server.cli(&["workspace", "revoke", "-s", "cli-room", "-u", "alice"], None));
    within_a_second("alice's grant revoked", || async {
        alice.download("/cli-room/from alice #1.txt").await.status == 404
    })
    .await;

    // Mistakes.
    usage_error(server.cli(&["workspace", "revoke", "-s", "cli-room", "-u", "alice"], None));
    usage_error(server.cli(&["workspace", "grant", "-s", "cli-room", "-u", "nobody", "-r", "r"], None));
    usage_error(server.cli(&["workspace", "grant", "-s", "nope", "-u", "alice", "-r", "r"], None));
    usage_error(server.cli(&["workspace", "grant", "-s", "cli-room", "-u", "alice", "-r", "x"], None));
    usage_error(server.cli(&["workspace", "grant", "-s", "common-files", "-u", "alice", "-r", "r"], None));
    usage_error(server.cli(&["workspace", "create", "-s", "Bad Slug"], None));
    usage_error(server.cli(&["workspace", "create", "-s", "-x"], None));
    usage_error(server.cli(&["workspace", "create", "-s", "common-files"], None));
    usage_error(server.cli(&["workspace", "create", "-s", "cli-room"], None));
    usage_error(server.cli(&["workspace", "delete", "-s", "nope"], None));
    usage_error(server.cli(&["workspace", "delete", "-s", "personal-files"], None));

    // Delete: the workspace and its content are gone for everyone.
    ok(server.cli(&["workspace", "grant", "-s", "cli-room", "-u", "alice", "-r", "r"], None));
    within_a_second("alice sees it again", || async { status(&alice, "/a/tree/cli-room").await == 200 }).await;
    ok(server.cli(&["workspace", "delete", "-s", "cli-room"], None));
    within_a_second("the workspace is gone", || async { status(&alice, "/a/tree/cli-room").await == 404 }).await;
    admin.get("/a/workspaces/cli-room").await.expect_error(404, "NotFound");
    // The slug is free again.
    admin.post("/a/workspaces", &json!({"Slug": "cli-room"})).await.expect(201);
}
