//! Issue 6, sessions and secrets: a password change and a logout end logins at once, an
//! upload whose token is revoked is not committed, the data folder is private and a copy
//! of the database alone signs no login, no token reaches the log whatever field it is
//! typed into, and refusals cost no more than successes.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::support::{ADMIN_PASSWORD, NodeStore, TestServer, cli_ok, within_a_second};

#[tokio::test]
async fn a_password_change_or_a_logout_ends_logins_within_a_second() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let grant = server.login_grant("alice", "alice-password").await;
    let alice = server.bearer(grant["access_token"].as_str().unwrap());
    alice.get("/a/tree/").await.expect(200);

    // Logout (RFC 7009) with the refresh token: its access token goes too.
    let refresh = grant["refresh_token"].as_str().unwrap();
    let revoke = server.client.post(server.url("/oauth2/revoke")).form(&[("token", refresh)]).send().await.unwrap();
    assert_eq!(revoke.status(), 200);
    within_a_second("the access token refused after logout", || async { alice.get("/a/tree/").await.status == 401 })
        .await;
    let again = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(again.status, 400);
    // Logout with an access token, and with garbage (the same 200).
    let second = server.login_grant("alice", "alice-password").await;
    let access = second["access_token"].as_str().unwrap();
    let by_access = server.client.post(server.url("/oauth2/revoke")).form(&[("token", access)]).send().await.unwrap();
    assert_eq!(by_access.status(), 200);
    within_a_second("logged out by its access token", || async {
        server.bearer(access).get("/a/tree/").await.status == 401
    })
    .await;
    let garbage = server.client.post(server.url("/oauth2/revoke")).form(&[("token", "nonsense")]).send().await.unwrap();
    assert_eq!(garbage.status(), 200);

    // A password change ends every login made before it, not ten minutes later.
    let third = server.login("alice", "alice-password").await;
    third.get("/a/tree/").await.expect(200);
    admin.patch("/a/users/alice", &json!({"Password": "alice-new-password"})).await.expect(200);
    within_a_second("a login from before the password change", || async { third.get("/a/tree/").await.status == 401 })
        .await;
    // Control: a new login with the new password works.
    server.login("alice", "alice-new-password").await.get("/a/tree/").await.expect(200);
}

#[tokio::test]
async fn an_upload_whose_token_is_revoked_meanwhile_is_not_committed() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let token = server.pat("alice", &["-a", "1h", "-l", "uploader"]);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(receiver));
    let url = server.url("/io/personal-files/big.bin");
    let upload = tokio::spawn({
        let request = server.client.put(url).bearer_auth(&token).body(body);
        async move { request.send().await }
    });
    sender.send(Ok(vec![1; 1 << 20])).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let records = admin.post("/a/auth/tokens", &json!({"ByUser": "alice"})).await.expect(200).json();
    let uuid = records["Tokens"][0]["Uuid"].as_str().unwrap().to_owned();
    admin.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    // The client keeps sending; the server stops taking it.
    for _ in 0..40 {
        if sender.send(Ok(vec![2; 256 << 10])).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(sender);
    let answer = upload.await.unwrap();
    if let Ok(answer) = answer {
        assert_eq!(answer.status(), 401, "the upload is refused, not committed");
    }
    admin.get("/a/tree/personal-files").await.expect(200);
    let listed = server.login("alice", "alice-password").await.names("/personal-files").await;
    assert!(listed.is_empty(), "nothing was committed: {listed:?}");
}

/// A stream of the chunks sent to `receiver` (for a body the test feeds as it goes).
fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

#[tokio::test]
async fn the_data_folder_is_private_and_a_copy_of_the_database_signs_no_login() {
    let mut server = TestServer::start();
    let admin = server.admin().await;
    admin.upload("/personal-files/a.txt", "a").await.expect(201);
    let mode = |path: std::path::PathBuf| std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap();
    let data = server.data();
    assert_eq!(mode(data.clone()), 0o700);
    for file in ["cells.db", "cells.db-wal", "secret.key"] {
        assert_eq!(mode(data.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(data.join("blobs")), 0o700);

    // Another server on a copy of the database alone: the login of the first is refused
    // (the signing key is not in the database), though the users are all there.
    let access = server.login_grant("admin", ADMIN_PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    server.bearer(&access).get("/a/users").await.expect(200);
    cli_ok(&server.cli(&["user", "list"], None));
    let copy = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("sqlite3")
        .arg(data.join("cells.db"))
        .arg(format!(".backup '{}'", copy.path().join("stolen.db").display()))
        .status()
        .unwrap();
    assert!(status.success());
    server.terminate(std::time::Duration::from_secs(20));
    let stolen = copy.path().join("stolen.db");
    let url = format!("sqlite://{}", stolen.display());
    let backup = copy.path().join("backup.db");
    std::fs::copy(&stolen, &backup).unwrap();

    // A server on the copy with a key file of its own does not start: it could not sign
    // a login the database's owner would accept, and says why.
    let elsewhere = tempfile::tempdir().unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_cells"))
        .args(["start", "--bind", "127.0.0.1:0", "--sftp-bind", "127.0.0.1:0", "--database-url", &url, "--data"])
        .arg(elsewhere.path())
        .env("CELLS_ADMIN_PASSWORD", "x")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("secret.key"), "{said}");

    // One who also removes the key's check value starts a server, and has the users,
    // but the login of the first is refused: the signing key is not in the database.
    let sqlite = |db: &std::path::Path, sql: &str| {
        assert!(std::process::Command::new("sqlite3").arg(db).arg(sql).status().unwrap().success());
    };
    sqlite(&stolen, "DELETE FROM server_keys WHERE name = 'local-key-check'");
    let thief = TestServer::start_with_args(&["--database-url", &url]);
    thief.login("admin", ADMIN_PASSWORD).await.get("/a/users").await.expect(200);
    thief.bearer(&access).get("/a/users").await.expect(401);

    // With the key file as well (a whole backup), the login is the same.
    let url = format!("sqlite://{}", backup.display());
    let blobs = copy.path().join("blobs");
    let key = data.join("secret.key");
    let store = NodeStore { database_url: &url, storage_url: blobs.to_str().unwrap(), env: &[], key_file: Some(&key) };
    let restored = TestServer::start_node(&store);
    restored.bearer(&access).get("/a/users").await.expect(200);
}

#[tokio::test]
async fn no_token_reaches_the_log_in_any_field() {
    let server = TestServer::start_with(Some(ADMIN_PASSWORD), "debug");
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let token = server.pat("alice", &["-a", "1h"]);
    // curl -u "$TOKEN:" (the token as the user name), and the OAuth password grant with
    // the token as username: both refused, both logged as refusals.
    server.basic(&token, "").get("/a/tree/").await.expect(401);
    server.basic(&token, "x").get("/a/tree/").await.expect(401);
    let grant = server.token_request(&[("grant_type", "password"), ("username", &token), ("password", "x")]).await;
    assert_eq!(grant.status, 400);
    // A token in a path and a header the server does not read.
    server.bearer(&token).get(&format!("/a/tree/personal-files/{token}")).await.expect(404);
    server.bearer("not a token").get(&format!("/io/{token}")).await.expect(401);
    // Control: the token works where it belongs.
    server.bearer(&token).get("/a/tree/").await.expect(200);

    let log = within_log(&server, "unknown user").await;
    assert!(log.lines().filter(|l| l.contains("login refused")).count() >= 3, "{log}");
    assert!(log.contains("cpat_***"), "the refusals are logged, masked:\n{log}");
    assert!(!log.contains(&token[5..]), "the token is in the log:\n{log}");
    assert!(!log.contains(&crate::support::sha256_hex(&token)), "the token's hash is in the log");
}

/// The server's log once it holds `needle` (log lines are written as requests end).
async fn within_log(server: &TestServer, needle: &str) -> String {
    crate::support::eventually("the log line", std::time::Duration::from_secs(10), || async {
        server.log().contains(needle)
    })
    .await;
    server.log()
}

#[tokio::test]
async fn a_revoked_token_in_a_loop_costs_no_write_per_request() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let token = server.pat("alice", &["-a", "1h", "-l", "looped"]);
    server.bearer(&token).get("/a/tree/").await.expect(200);
    let records = admin.post("/a/auth/tokens", &json!({"ByUser": "alice"})).await.expect(200).json();
    let uuid = records["Tokens"][0]["Uuid"].as_str().unwrap().to_owned();
    admin.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    let metric = |text: String| -> u64 {
        let line = text.lines().find(|l| l.starts_with("cells_token_failure_writes_total ")).unwrap_or_default();
        line.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
    };
    let before = metric(server.anonymous().get("/metrics").await.expect(200).text());
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..200 {
        *statuses.entry(server.bearer(&token).get("/a/tree/").await.status).or_insert(0) += 1;
    }
    let after = metric(server.anonymous().get("/metrics").await.expect(200).text());
    assert_eq!(statuses.keys().copied().collect::<Vec<_>>(), [401, 429], "refused, then throttled: {statuses:?}");
    assert!(after - before <= 1, "{} audit writes for 200 refusals", after - before);
    // The audit data still tells why.
    let records = admin.post("/a/auth/tokens", &json!({"ByUser": "alice"})).await.expect(200).json();
    assert_eq!(records["Tokens"][0]["LastFailureReason"], "revoked");
}

#[tokio::test]
async fn a_burst_of_parallel_wrong_passwords_is_throttled_as_it_starts() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let guesses = (0..150).map(|n| {
        let session = server.basic("alice", &format!("guess number {n}"));
        async move { session.get("/a/tree/").await.status }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let count = |status: u16| statuses.iter().filter(|s| **s == status).count();
    // At most the limit is ever checked with argon2; the rest are answered at once.
    assert!(count(401) <= 30, "{} guesses reached argon2: {statuses:?}", count(401));
    assert_eq!(count(401) + count(429) + count(503), statuses.len(), "{statuses:?}");
    assert!(count(429) >= 100, "{statuses:?}");
    // Throttled now: even a right password not verified before waits (it could be a
    // guess)...
    admin.post("/a/users", &json!({"Login": "bob", "Password": "bob-password"})).await.expect(201);
    assert_eq!(server.basic("bob", "bob-password").get("/a/tree/").await.status, 429);
    // ...but credentials verified before are not slowed.
    admin.get("/a/tree/").await.expect(200);
    server.basic("alice", "alice-password").get("/a/tree/").await.expect(200);
}

#[tokio::test]
async fn a_burst_of_requests_with_one_new_password_costs_one_hash_and_all_pass() {
    let server = TestServer::start();
    let admin = server.admin().await;
    admin.post("/a/users", &json!({"Login": "carol", "Password": "carol-password"})).await.expect(201);
    // Forty parallel requests with a password no request has verified yet: they wait for
    // the first check instead of queueing forty hashes (or being refused as busy).
    let burst = (0..40).map(|_| {
        let session = server.basic("carol", "carol-password");
        async move { session.get("/a/tree/").await.status }
    });
    let statuses = futures_util::future::join_all(burst).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // And they were not counted as failures: a wrong password still gets its 401.
    assert_eq!(server.basic("carol", "not her password").get("/a/tree/").await.status, 401);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let server = TestServer::start_with_args(&["--trusted-proxies", "127.0.0.1/32,::1"]);
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let from = |client: &'static str, password: &'static str| {
        let request = server.client.get(server.url("/a/tree/")).basic_auth("alice", Some(password));
        async move { request.header("X-Forwarded-For", client).send().await.unwrap().status().as_u16() }
    };
    for _ in 0..30 {
        assert_eq!(from("203.0.113.7", "wrong password").await, 401);
    }
    assert_eq!(from("203.0.113.7", "wrong password").await, 429);
    // Another client behind the same proxy is not throttled.
    assert_eq!(from("203.0.113.8", "alice-password").await, 200);
    // Without the setting the header is not believed: every client is the proxy.
    let plain = TestServer::start();
    let admin = plain.admin().await;
    plain.user(&admin, "alice", "alice-password").await;
    for n in 0..30 {
        let request = plain.client.get(plain.url("/a/tree/")).basic_auth("alice", Some("wrong password"));
        let forged = format!("198.51.100.{n}");
        assert_eq!(request.header("X-Forwarded-For", forged).send().await.unwrap().status(), 401);
    }
    let last = plain.client.get(plain.url("/a/tree/")).basic_auth("alice", Some("wrong password"));
    assert_eq!(last.header("X-Forwarded-For", "198.51.100.200").send().await.unwrap().status(), 429);
}
