//! Personal access tokens from the CLI and in use: `cells admin user token` (output,
//! durations, every mistake refused with nothing created), `token list|revoke`, Bearer
//! and Basic use, hard and sliding expiry, and revocation, locking and deletion taking
//! effect within a second.
//!
//! The shared helpers ([`is_pat`], [`records`], [`refused_within_a_second`]) serve the
//! other token modules too.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Reply, Session, TestServer, cli_ok, cli_usage_error, eventually, within_a_second};

/// `cpat_` and 49 base62 characters.
pub fn is_pat(text: &str) -> bool {
    text.len() == 54 && text.starts_with("cpat_") && text[5..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The test's clock in unix seconds, to bracket the times the server writes.
pub fn unix_now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// `POST /a/auth/tokens {ByUser}` as `session`: the records.
pub async fn records(session: &Session, by_user: Option<&str>) -> Vec<Value> {
    let body = by_user.map_or_else(|| json!({}), |login| json!({"ByUser": login}));
    let list = session.post("/a/auth/tokens", &body).await.expect(200).json();
    list["Tokens"].as_array().unwrap_or_else(|| panic!("no Tokens in {list}")).clone()
}

/// The record of token `uuid`, as an admin lists it.
pub async fn record(admin: &Session, uuid: &str) -> Value {
    let all = records(admin, None).await;
    all.into_iter().find(|t| t["Uuid"] == uuid).unwrap_or_else(|| panic!("no token {uuid}"))
}

/// The record labelled `label`, as an admin lists it.
pub async fn record_labelled(admin: &Session, label: &str) -> Value {
    let all = records(admin, None).await;
    all.into_iter().find(|t| t["Label"] == label).unwrap_or_else(|| panic!("no token labelled {label:?}"))
}

/// The record of token `uuid` once its failure audit says `reason`, polled: the audit
/// (`LastFailureAt`, `LastFailureReason`) is written by a task spawned after the refusal,
/// so it is not there yet when the refusal is answered.
pub async fn record_after_failure(admin: &Session, uuid: &str, reason: impl Fn(&str) -> bool) -> Value {
    let last = std::cell::RefCell::new(Value::Null);
    let what = format!("the failure audit of token {uuid}");
    eventually(&what, Duration::from_secs(10), || async {
        let now = record(admin, uuid).await;
        let noted = now["LastFailureReason"].as_str().is_some_and(&reason);
        *last.borrow_mut() = now;
        noted
    })
    .await;
    last.into_inner()
}

/// A refused credential: 401, `WWW-Authenticate: Bearer error="invalid_token"`, the JSON
/// error body.
#[track_caller]
pub fn assert_refused(reply: &Reply) {
    assert_eq!(reply.status, 401, "body: {}", reply.text());
    assert_eq!(reply.header("WWW-Authenticate").as_deref(), Some(r#"Bearer error="invalid_token""#));
    reply.assert_error_shape();
    assert_eq!(reply.json()["Code"], "Unauthorized");
}

/// Polls `GET target` until 401, held to the one-second promise (see [`within_a_second`]).
pub async fn refused_within_a_second(session: &Session, target: &str, what: &str) {
    within_a_second(what, || async { session.get(target).await.status == 401 }).await;
    assert_refused(&session.get(target).await);
}

#[tokio::test]
async fn the_cli_creates_tokens_and_refuses_mistakes() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let bob = server.user(&admin, "bob", "bob-password").await;

    // -q: the token and a newline, nothing else.
    let quiet = server.cli(&["user", "token", "-u", "alice", "-e", "1d", "-q"], None);
    let printed = cli_ok(&quiet);
    assert!(printed.ends_with('\n') && is_pat(&printed[..printed.len() - 1]), "{printed:?}");
    assert!(quiet.stderr.is_empty(), "{}", String::from_utf8_lossy(&quiet.stderr));
    let token = server.bearer(printed.trim_end());
    token.upload("/personal-files/from the CLI #1 ü.txt", "hi").await.expect(201);
    assert_eq!(token.get("/a/tree/").await.expect(200).json()["Children"].as_array().unwrap().len(), 2);

    // Without -q: whose, when, the token on its own line, and a warning.
    let label = "Laptop #2 100% ü";
    let verbose = cli_ok(&server.cli(&["user", "token", "-u", "alice", "-a", "12h", "-l", label], None));
    let tokens: Vec<&str> = verbose.lines().filter(|l| is_pat(l)).collect();
    assert_eq!(tokens.len(), 1, "{verbose}");
    assert!(verbose.contains("alice") && verbose.to_lowercase().contains("expires"), "{verbose}");
    assert!(verbose.to_lowercase().contains("secret"), "{verbose}");
    server.basic("alice", tokens[0]).download("/personal-files/from the CLI #1 ü.txt").await.expect(200);
    let listed = record_labelled(&admin, label).await;
    assert_eq!(listed["AutoRefreshWindow"], 43_200);
    assert_eq!(listed["UserLogin"], "alice");
    assert_eq!(listed["CreatedBy"], "cli");

    // Durations: every unit, and a compound. The expiry is exactly the duration after the
    // moment the token was made, which lies within the CLI call: measured against the
    // test's clock before and after it, not against CreatedAt, which the server may read
    // from its clock apart from the expiry (a second boundary can fall between the two).
    for (dur, seconds) in [("20s", 20), ("15m", 900), ("12h", 43_200), ("90d", 7_776_000), ("1d12h", 129_600)] {
        let label = format!("duration {dur}");
        let before = unix_now();
        server.pat("alice", &["-e", dur, "-l", &label]);
        let after = unix_now();
        let listed = record_labelled(&admin, &label).await;
        let created = listed["CreatedAt"].as_i64().unwrap();
        assert!((before..=after).contains(&created), "{dur}: made within [{before}, {after}]: {listed}");
        let expires = listed["ExpiresAt"].as_i64().unwrap();
        assert!(
            (before + seconds..=after + seconds).contains(&expires),
            "{dur}: made within [{before}, {after}]: {listed}"
        );
        assert_eq!(listed["AutoRefreshWindow"], 0, "{listed}");
        assert_eq!(listed["MaxExpiresAt"], Value::Null, "{listed}");
    }
    // Both: auto refresh, capped.
    let before = unix_now();
    server.pat("alice", &["-a", "1h", "-e", "30d", "-l", "capped"]);
    let after = unix_now();
    let capped = record_labelled(&admin, "capped").await;
    assert_eq!(capped["AutoRefreshWindow"], 3600);
    let cap = capped["MaxExpiresAt"].as_i64().unwrap();
    assert!((before + 30 * 86_400..=after + 30 * 86_400).contains(&cap), "made within [{before}, {after}]: {capped}");

    // Mistakes: status 2, a message, and no token.
    bob.mkdir("/personal-files/bob's folder").await.expect(201);
    let bobs = bob.uuid("/personal-files/bob's folder").await;
    let random = "0b7e3c1a-9d4f-4e2b-8c6a-5f4e3d2c1b0a";
    let before = records(&admin, None).await.len();
    let mistakes: [&[&str]; 13] = [
        &["-u", "alice", "-e", "1.5d"],
        &["-u", "alice", "-e", "0s"],
        &["-u", "alice", "-e", "abc"],
        &["-u", "alice", "-e", "-1h"],
        &["-u", "alice", "--expire=-1h"],
        &["-u", "alice", "-e", "99999999999999999999d"],
        &["-u", "alice", "-a", "1.5h"],
        &["-u", "alice", "-e", "1d", "-s", "node:nope:rw"],
        &["-u", "alice", "-e", "1d", "-s", &format!("node:{bobs}:r")],
        &["-u", "alice", "-e", "1d", "-s", &format!("node:{random}:r")],
        &["-u", "nobody", "-e", "1d"],
        &["-u", "alice"],
        &["-u", "alice", "-q", "-l", "no expiry"],
    ];
    for args in mistakes {
        let mut all = vec!["user", "token"];
        all.extend_from_slice(args);
        let output = server.cli(&all, None);
        let err = cli_usage_error(&output);
        assert!(!String::from_utf8_lossy(&output.stdout).contains("cpat_"), "{args:?} printed a token");
        if args.iter().any(|a| a.starts_with("node:")) {
            assert!(err.contains("scope") || err.contains("node"), "{args:?}: {err}");
        }
    }
    assert_eq!(records(&admin, None).await.len(), before, "a mistake created a token");
    let err = cli_usage_error(
        &server.cli(&["user", "token", "-u", "alice", "-e", "1d", "-s", &format!("node:{bobs}:r")], None),
    );
    assert!(err.contains(&bobs) && err.contains("alice"), "{err}");
    let err = cli_usage_error(&server.cli(&["user", "token", "-u", "nobody", "-e", "1d"], None));
    assert!(err.contains("nobody"), "{err}");
}

#[tokio::test]
async fn the_cli_lists_and_revokes() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    server.user(&admin, "bob", "bob-password").await;
    let active = server.pat("alice", &["-a", "2h", "-l", "active one ✓"]);
    let expiring = server.pat("alice", &["-e", "1s", "-l", "short lived"]);
    let revoked = server.pat("alice", &["-e", "1d", "-l", "to revoke #1"]);
    server.pat("bob", &["-e", "1d", "-l", "bob's"]);
    server.bearer(&active).get("/a/tree/").await.expect(200);
    let revoked_session = server.bearer(&revoked);
    revoked_session.get("/a/tree/").await.expect(200);
    let revoked_uuid = record_labelled(&admin, "to revoke #1").await["Uuid"].as_str().unwrap().to_owned();

    let said = cli_ok(&server.cli(&["token", "revoke", &revoked_uuid], None));
    assert!(said.contains(&revoked_uuid) && said.contains("alice"), "{said}");
    refused_within_a_second(&revoked_session, "/a/tree/", "a token revoked by the CLI").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let table = cli_ok(&server.cli(&["token", "list", "-u", "alice"], None));
    let header = table.lines().next().unwrap();
    let mut at = 0;
    for column in ["UUID", "USER", "STATUS", "MODEL", "EXPIRES", "LAST USED", "LABEL"] {
        let found = header[at..].find(column).unwrap_or_else(|| panic!("no {column} after {at} in {header:?}"));
        at += found + column.len();
    }
    let row = |label: &str| -> String {
        let line = table.lines().find(|l| l.ends_with(label)).unwrap_or_else(|| panic!("no {label:?} in\n{table}"));
        line.to_owned()
    };
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(!table.contains("bob's"), "{table}");
    let line = row("active one ✓");
    assert!(line.contains(" active ") && line.contains("auto refresh") && line.contains("(rest)"), "{line}");
    let line = row("short lived");
    assert!(line.contains(" expired ") && line.contains("hard limit") && line.contains("never"), "{line}");
    let line = row("to revoke #1");
    assert!(line.starts_with(&revoked_uuid) && line.contains(" revoked "), "{line}");
    let everyone = cli_ok(&server.cli(&["token", "list"], None));
    assert_eq!(everyone.lines().count(), 5, "{everyone}");
    assert!(everyone.lines().any(|l| l.contains(" bob ") && l.ends_with("bob's")), "{everyone}");
    for secret in [&active, &expiring, &revoked] {
        assert!(!table.contains(secret.as_str()) && !everyone.contains(secret.as_str()));
    }
    let rest = record_after_failure(&admin, &revoked_uuid, |r| r == "revoked").await;
    assert_eq!(rest["Status"], "revoked");
    assert!(rest["RevokedAt"].as_i64().is_some(), "{rest}");
    assert_eq!(rest["LastFailureReason"], "revoked", "{rest}");

    // Revoking again is harmless; garbage and unknown Uuids are mistakes.
    cli_ok(&server.cli(&["token", "revoke", &revoked_uuid], None));
    cli_usage_error(&server.cli(&["token", "revoke", "not-a-uuid"], None));
    cli_usage_error(&server.cli(&["token", "revoke", "0b7e3c1a-9d4f-4e2b-8c6a-5f4e3d2c1b0a"], None));
    cli_usage_error(&server.cli(&["token", "list", "-u", "nobody"], None));
    cli_usage_error(&server.cli(&["token", "self-service", "maybe"], None));
    server.bearer(&active).get("/a/tree/").await.expect(200);
}

#[tokio::test]
async fn tokens_work_in_the_authorization_header_only() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    server.user(&admin, "bob", "bob-password").await;
    alice.upload("/personal-files/naïve 50% #.txt", "alice's").await.expect(201);
    let token = server.pat("alice", &["-e", "1h", "-l", "header only"]);
    let uuid = record_labelled(&admin, "header only").await["Uuid"].as_str().unwrap().to_owned();

    let bearer = server.bearer(&token);
    assert_eq!(bearer.download("/personal-files/naïve 50% #.txt").await.expect(200).text(), "alice's");
    assert_eq!(bearer.names("/personal-files").await, ["naïve 50% #.txt"]);
    let basic = server.basic("alice", &token);
    assert_eq!(basic.download("/personal-files/naïve 50% #.txt").await.expect(200).text(), "alice's");
    basic.upload("/personal-files/by basic.txt", "b").await.expect(201);

    // Anyone else's login with alice's token: refused, and noted on the record.
    for login in ["bob", "admin", "Alice", ""] {
        assert_refused(&server.basic(login, &token).get("/a/tree/").await);
    }
    let noted = record_after_failure(&admin, &uuid, |r| r.contains("login")).await;
    assert!(noted["LastFailureReason"].as_str().is_some_and(|r| r.contains("login")), "{noted}");
    assert!(noted["LastFailureAt"].as_i64().is_some(), "{noted}");
    assert_eq!(noted["Status"], "active");

    // Never from a query string.
    let anonymous = server.anonymous();
    for target in [
        format!("/a/tree/?access_token={token}"),
        format!("/a/tree/?token={token}"),
        format!("/io/personal-files/by%20basic.txt?access_token={token}"),
        format!("/io/personal-files/by%20basic.txt?token={token}&password={token}"),
    ] {
        assert_refused(&anonymous.get(&target).await);
    }
    assert_refused(&anonymous.post(&format!("/a/auth/tokens?access_token={token}"), &json!({})).await);
    // Near misses: a changed character (checksum), a cut, another prefix, a stray space.
    let mut flipped = token.clone().into_bytes();
    flipped[20] = if flipped[20] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).unwrap();
    let other_prefix = format!("xpat_{}", &token[5..]);
    let longer = format!("{token}x");
    for bad in [flipped.as_str(), &token[..53], other_prefix.as_str(), longer.as_str()] {
        assert_refused(&server.bearer(bad).get("/a/tree/").await);
        assert_refused(&server.basic("alice", bad).get("/a/tree/").await);
    }
    bearer.get("/a/tree/").await.expect(200);
}

#[tokio::test]
async fn hard_limits_end_and_auto_refresh_slides_while_used() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let hard = server.bearer(&server.pat("alice", &["-e", "5s", "-l", "hard 5s"]));
    let hard_made = Instant::now();
    let sliding = server.bearer(&server.pat("alice", &["-a", "4s", "-l", "sliding 4s"]));

    // Used about once a second for 9 s (with one 2 s pause), the sliding token lives on;
    // the hard one ends after 5 s however much it is used.
    let mut hard_refused_at = None;
    for pause in [1000, 1000, 1000, 2000, 1000, 1000, 1000, 1000] {
        sliding.get("/a/tree/").await.expect(200);
        let reply = hard.get("/a/tree/").await;
        let age = hard_made.elapsed();
        if age < Duration::from_millis(3500) {
            assert_eq!(reply.status, 200, "the 5 s token refused after {age:?}");
        }
        if reply.status == 401 && hard_refused_at.is_none() {
            assert_refused(&reply);
            hard_refused_at = Some(age);
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    sliding.get("/a/tree/").await.expect(200);
    let refused = hard_refused_at.expect("the 5 s token still worked after 9 s");
    assert!(refused <= Duration::from_secs(7), "{refused:?}");
    assert_refused(&hard.get("/io/personal-files/").await);

    // Idle longer than its window: refused.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_refused(&sliding.get("/a/tree/").await);
    assert_refused(&sliding.get("/a/tree/").await);
    for label in ["hard 5s", "sliding 4s"] {
        let uuid = record_labelled(&admin, label).await["Uuid"].as_str().unwrap().to_owned();
        let listed = record_after_failure(&admin, &uuid, |r| r == "expired").await;
        assert_eq!(listed["Status"], "expired", "{listed}");
        assert_eq!(listed["LastFailureReason"], "expired", "{listed}");
    }
    let sliding_record = record_labelled(&admin, "sliding 4s").await;
    // The stored expiry moved with use: well past creation plus one window.
    let pushed = sliding_record["ExpiresAt"].as_i64().unwrap() - sliding_record["CreatedAt"].as_i64().unwrap();
    assert!(pushed >= 9, "{sliding_record}");
}

#[tokio::test]
async fn revoking_locking_or_deleting_stops_tokens_within_a_second() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    for login in ["bob", "carol", "dave"] {
        server.user(&admin, login, &format!("{login}-password")).await;
    }
    let create = json!({"Label": "revoke me (REST) ü", "AutoRefresh": 3600});
    let own = alice.post("/a/auth/token/personal", &create).await.expect(200).json();
    let by_owner = server.bearer(own["AccessToken"].as_str().unwrap());
    let by_admin = server.bearer(&server.pat("alice", &["-e", "1d", "-l", "admin revokes"]));
    let untouched = server.bearer(&server.pat("alice", &["-e", "1d"]));
    for session in [&by_owner, &by_admin, &untouched] {
        session.get("/a/tree/").await.expect(200);
        session.download("/personal-files/none").await.expect(404);
    }

    let answer = alice.delete(&format!("/a/auth/tokens/{}", own["Uuid"].as_str().unwrap())).await.expect(200).json();
    assert_eq!(answer["Success"], true, "{answer}");
    assert!(answer["Message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    refused_within_a_second(&by_owner, "/a/tree/", "revoked by its owner").await;
    assert_refused(&by_owner.download("/personal-files/none").await);

    let uuid = record_labelled(&admin, "admin revokes").await["Uuid"].as_str().unwrap().to_owned();
    assert_eq!(admin.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200).json()["Success"], true);
    refused_within_a_second(&by_admin, "/io/personal-files/none", "revoked by an admin").await;
    untouched.get("/a/tree/").await.expect(200);

    // Locking: REST and CLI; unlocking brings the token back.
    let bob = server.bearer(&server.pat("bob", &["-a", "1h"]));
    let carol = server.bearer(&server.pat("carol", &["-e", "1h"]));
    let dave = server.bearer(&server.pat("dave", &["-e", "1h"]));
    for session in [&bob, &carol, &dave] {
        session.get("/a/tree/").await.expect(200);
    }
    admin.patch("/a/users/bob", &json!({"Locked": true})).await.expect(200);
    refused_within_a_second(&bob, "/a/tree/", "bob locked over REST").await;
    admin.patch("/a/users/bob", &json!({"Locked": false})).await.expect(200);
    within_a_second("bob unlocked", || async { bob.get("/a/tree/").await.status == 200 }).await;
    cli_ok(&server.cli(&["user", "lock", "-u", "carol"], None));
    refused_within_a_second(&carol, "/a/tree/", "carol locked by the CLI").await;

    // Deleting the user: the token is gone with them.
    admin.delete("/a/users/dave").await.expect(204);
    refused_within_a_second(&dave, "/a/tree/", "dave deleted").await;
    assert_eq!(records(&admin, Some("alice")).await.len(), 3);
    assert!(records(&admin, None).await.iter().all(|t| t["UserLogin"] != "dave"));
    untouched.get("/a/tree/").await.expect(200);
}
