//! Leak reports (`POST /a/auth/tokens/leaked`), as a secret scanner sends them: no login,
//! three body shapes, an answer that counts only the tokens the report revoked; a leaked
//! token refused on REST, `/io`, WebDAV and SFTP (an open SFTP session closed) while the
//! owner's other token goes on; the leak shown to the owner and the admin; a report of
//! more than 1,000 strings refused; reports that revoke nothing throttled; no reported
//! string in the log; the old secret of a rotated token revoking it during its grace only.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::sftp_client::{Interactive, sftp_batch};
use crate::support::{ADMIN_PASSWORD, Reply, Session, TestServer, eventually, sha256_hex};
use crate::tokens::{assert_refused, record_after_failure, records, unix_now};

const ALICE_PASSWORD: &str = "alice-password-leaks";

/// `POST /a/auth/tokens/leaked` without any credential.
async fn report(server: &TestServer, body: &Value) -> Reply {
    server.anonymous().post("/a/auth/tokens/leaked", body).await
}

/// A report that is answered `{"Revoked": N}` and nothing else; returns N.
#[track_caller]
fn revoked(reply: Reply) -> u64 {
    let answer = reply.expect(200).json();
    let keys: Vec<&String> = answer.as_object().unwrap_or_else(|| panic!("not an object: {answer}")).keys().collect();
    assert_eq!(keys, ["Revoked"], "the answer says how many and nothing else: {answer}");
    answer["Revoked"].as_u64().unwrap()
}

/// `POST /a/auth/token/personal` as `session`: the token and its Uuid.
async fn personal(session: &Session, label: &str) -> (String, String) {
    let body = json!({"Label": label, "ExpiresAt": unix_now() + 3600});
    let created = session.post("/a/auth/token/personal", &body).await.expect(200).json();
    (created["AccessToken"].as_str().unwrap().to_owned(), created["Uuid"].as_str().unwrap().to_owned())
}

/// `PROPFIND /dav/personal-files` at depth 0.
async fn propfind(session: &Session) -> Reply {
    let method = Method::from_bytes(b"PROPFIND").unwrap();
    Session::send(session.request(method, "/dav/personal-files").header("Depth", "0")).await
}

/// A well-formed token no server made (format and checksum right).
fn unknown_token() -> String {
    cells_core::token::generate().expose().to_owned()
}

/// A string shaped like a token whose checksum is wrong.
fn bad_checksum() -> String {
    let mut token = unknown_token().into_bytes();
    let last = token.len() - 1;
    token[last] = if token[last] == b'A' { b'B' } else { b'A' };
    String::from_utf8(token).unwrap()
}

/// The record of `uuid` in `session`'s own listing (`ByUser` for an admin).
async fn listed(session: &Session, by_user: Option<&str>, uuid: &str) -> Value {
    let all = records(session, by_user).await;
    all.into_iter().find(|t| t["Uuid"] == uuid).unwrap_or_else(|| panic!("no token {uuid} listed"))
}

#[tokio::test]
async fn token_leaks_a_report_revokes_in_every_shape_and_counts_only_what_it_revoked() {
    let server = TestServer::start_with(Some(ADMIN_PASSWORD), "debug");
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", ALICE_PASSWORD).await;
    let bob = server.user(&admin, "bob", "bob-password-leaks").await;
    alice.upload("/personal-files/note ü #1.txt", "note").await.expect(201);
    let local = tempfile::tempdir().unwrap();
    let (first, first_uuid) = personal(&alice, "first").await;
    let (second, second_uuid) = personal(&alice, "second").await;
    let (third, third_uuid) = personal(&alice, "third").await;
    let (keep, keep_uuid) = personal(&alice, "keep").await;
    let (bobs, bobs_uuid) = personal(&bob, "bob's").await;
    let (unknown, garbage_checksum) = (unknown_token(), bad_checksum());
    // Each in use (cached) before the report: the report must reach the caches too.
    for token in [&first, &second, &third, &keep, &bobs] {
        server.bearer(token).get("/a/tree/").await.expect(200);
    }
    let before = unix_now();

    // Shape 1, {"Tokens": [...]}: a garbage string, an unknown well-formed token, a bad
    // checksum and a duplicate count for nothing.
    let body = json!({"Tokens": [first, "not a token at all", unknown, garbage_checksum, first]});
    assert_eq!(revoked(report(&server, &body).await), 1);
    // Shape 2, a list of strings: the same token twice (once with spaces around) is one.
    assert_eq!(revoked(report(&server, &json!([second, format!("  {second}\n")])).await), 1);
    // Shape 3, GitHub secret scanning: objects with a `token` field.
    let github = json!([{
        "token": third,
        "type": "cells_personal_access_token",
        "url": "https://github.com/someone/dotfiles/blob/main/.env",
        "source": "content",
    }]);
    assert_eq!(revoked(report(&server, &github).await), 1);
    // Reported again, an empty report, only strangers: 0.
    assert_eq!(revoked(report(&server, &json!({"Tokens": [first, second, third]})).await), 0);
    assert_eq!(revoked(report(&server, &json!({"Tokens": []})).await), 0);
    assert_eq!(revoked(report(&server, &json!([unknown_token(), bad_checksum(), "cpat_"])).await), 0);
    // A revoked token beside a live one: 1, the live one.
    assert_eq!(revoked(report(&server, &json!([first, bobs])).await), 1);
    let after = unix_now();

    // Shapes that are not a report: a 400 that quotes nothing, and nothing revoked.
    for body in [
        json!({"Tokens": keep}),
        json!({"tokens": [keep]}),
        json!({"Tokens": [keep], "More": 1}),
        json!([{"secret": keep}]),
        json!([{"token": 5, "note": keep}]),
        json!([keep, 7]),
        json!(keep),
    ] {
        let reply = report(&server, &body).await.expect_error(400, "BadRequest");
        assert!(!reply.text().contains(&keep), "a 400 quotes the body: {}", reply.text());
    }
    let not_json = server.raw(
        "POST",
        "/a/auth/tokens/leaked",
        &[("Content-Type", "application/json")],
        format!("[\"{keep}\"").as_bytes(),
    );
    let not_json = not_json.expect_error(400, "BadRequest");
    assert!(!not_json.text().contains(&keep), "{}", not_json.text());
    server.bearer(&keep).get("/a/tree/").await.expect(200);

    // The leaked tokens are refused on every surface; alice's other token is not.
    for leaked in [&first, &second, &third] {
        assert_refused(&server.bearer(leaked).get("/a/tree/").await);
    }
    assert_refused(&server.bearer(&bobs).get("/a/tree/").await);
    server.bearer(&first).download("/personal-files/note ü #1.txt").await.expect(401);
    server.basic("alice", &first).download("/personal-files/note ü #1.txt").await.expect(401);
    propfind(&server.bearer(&first)).await.expect(401);
    let over_dav = propfind(&server.basic("alice", &first)).await.expect(401);
    assert_eq!(over_dav.header("WWW-Authenticate").as_deref(), Some(r#"Basic realm="cells""#));
    sftp_batch(&server, "alice", &first, local.path(), "ls /\n").expect_failed();
    server.bearer(&keep).get("/a/tree/").await.expect(200);
    assert_eq!(server.bearer(&keep).download("/personal-files/note ü #1.txt").await.expect(200).text(), "note");
    propfind(&server.basic("alice", &keep)).await.expect(207);
    let listing = sftp_batch(&server, "alice", &keep, local.path(), "ls /\n").expect_ok();
    assert!(listing.stdout().contains("personal-files"), "{}", listing.stdout());

    // The owner and the admin see the leak: when, and from which address.
    let failed = record_after_failure(&admin, &first_uuid, |r| r == "leaked").await;
    assert_eq!(failed["LastFailureReason"], "leaked", "{failed}");
    for (session, by_user) in [(&alice, None), (&admin, Some("alice"))] {
        for uuid in [&first_uuid, &second_uuid, &third_uuid] {
            let record = listed(session, by_user, uuid).await;
            assert_eq!(record["Status"], "leaked", "{record}");
            assert_eq!(record["Leaked"]["By"], "127.0.0.1", "{record}");
            let at = record["Leaked"]["At"].as_i64().unwrap_or_else(|| panic!("no Leaked.At: {record}"));
            assert!((before..=after).contains(&at), "{record}");
            assert_eq!(record["RevokedAt"], at, "{record}");
        }
        let control = listed(session, by_user, &keep_uuid).await;
        assert_eq!(control["Status"], "active", "{control}");
        assert_eq!(control["Leaked"], Value::Null, "{control}");
        assert_eq!(control["RevokedAt"], Value::Null, "{control}");
    }
    assert_eq!(listed(&bob, None, &bobs_uuid).await["Status"], "leaked");
    assert!(records(&bob, None).await.iter().all(|t| t["UserLogin"] == "bob"), "bob sees only his own");

    // 1,000 strings are a report; 1,001 are refused whole, in any shape.
    let (last, last_uuid) = personal(&alice, "in a long report").await;
    let mut long: Vec<String> = (0..999).map(|i| format!("filler {i}")).collect();
    long.push(last.clone());
    assert_eq!(revoked(report(&server, &json!({"Tokens": long})).await), 1);
    assert_eq!(listed(&alice, None, &last_uuid).await["Status"], "leaked");
    let mut too_long: Vec<String> = (0..1000).map(|i| format!("filler {i}")).collect();
    too_long.push(keep.clone());
    let objects: Vec<Value> = too_long.iter().map(|t| json!({"token": t})).collect();
    for body in [json!({"Tokens": too_long}), json!(too_long), Value::Array(objects)] {
        let reply = report(&server, &body).await.expect_error(400, "BadRequest");
        assert!(reply.json()["Detail"].as_str().unwrap().contains("1000"), "{}", reply.text());
        assert!(!reply.text().contains(&keep), "{}", reply.text());
    }
    server.bearer(&keep).get("/a/tree/").await.expect(200);
    assert_eq!(listed(&alice, None, &keep_uuid).await["Status"], "active");

    // The log tells of the reports, and holds none of the strings reported.
    let log = server.log();
    assert!(log.contains("leak report") && log.contains("DEBUG"), "a quiet log?\n{log}");
    for token in [&first, &second, &third, &keep, &bobs, &last, &unknown, &garbage_checksum] {
        assert!(!log.contains(token.as_str()), "a reported token in the log");
        let hash = sha256_hex(token);
        assert!(!log.contains(&hash) && !log.contains(&hash.to_uppercase()), "a reported token's hash in the log");
    }
}

#[tokio::test]
async fn token_leaks_a_report_ends_an_open_sftp_session_of_the_token() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", ALICE_PASSWORD).await;
    let local = tempfile::tempdir().unwrap();
    let (doomed, _) = personal(&alice, "doomed").await;
    let (keep, _) = personal(&alice, "keep").await;
    let mut session = Interactive::open(&server, "alice", &doomed, local.path());
    let mut control = Interactive::open(&server, "alice", &keep, local.path());
    for (open, name) in [(&mut session, "doomed.txt"), (&mut control, "keep.txt")] {
        std::fs::write(local.path().join(name), name).unwrap();
        open.send(&format!("put {name} /personal-files/{name}")).unwrap();
        let path = format!("/personal-files/{name}");
        eventually(&format!("{name} uploaded"), Duration::from_secs(20), || async {
            alice.stat(&path).await.status == 200
        })
        .await;
    }

    assert_eq!(revoked(report(&server, &json!([doomed])).await), 1);
    let started = std::time::Instant::now();
    while !session.exited() {
        assert!(started.elapsed() < Duration::from_secs(5), "the leaked token's session is still open");
        let _ = session.send("ls /");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!control.exited(), "the other token's session ended too");
    std::fs::write(local.path().join("after.txt"), "after").unwrap();
    control.send("put after.txt /personal-files/after.txt").unwrap();
    eventually("the other session still uploads", Duration::from_secs(20), || async {
        alice.stat("/personal-files/after.txt").await.status == 200
    })
    .await;
}

#[tokio::test]
async fn token_leaks_the_old_secret_of_a_rotated_token_revokes_it_during_its_grace_only() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", ALICE_PASSWORD).await;
    let rotate = |uuid: String, grace: i64| {
        let alice = alice.clone();
        async move {
            let target = format!("/a/auth/tokens/{uuid}/rotate");
            let answer = alice.post(&target, &json!({"GraceSeconds": grace})).await.expect(200).json();
            assert_eq!(answer["Uuid"], uuid.as_str(), "{answer}");
            answer["AccessToken"].as_str().unwrap().to_owned()
        }
    };

    // Rotated with an hour of grace: both secrets open it.
    let (old, uuid) = personal(&alice, "rotated with grace").await;
    let new = rotate(uuid.clone(), 3600).await;
    server.bearer(&old).get("/a/tree/").await.expect(200);
    server.bearer(&new).get("/a/tree/").await.expect(200);
    // Rotated without grace: the old secret opens nothing, and a report of it ends nothing.
    let (gone, gone_uuid) = personal(&alice, "rotated without grace").await;
    let current = rotate(gone_uuid.clone(), 0).await;
    assert_refused(&server.bearer(&gone).get("/a/tree/").await);
    assert_eq!(revoked(report(&server, &json!([gone])).await), 0);
    server.bearer(&current).get("/a/tree/").await.expect(200);
    assert_eq!(listed(&alice, None, &gone_uuid).await["Status"], "active");

    // The old secret reported during its grace revokes the record: both secrets fail.
    assert_eq!(revoked(report(&server, &json!({"Tokens": [old]})).await), 1);
    assert_refused(&server.bearer(&new).get("/a/tree/").await);
    assert_refused(&server.bearer(&old).get("/a/tree/").await);
    let record = listed(&alice, None, &uuid).await;
    assert_eq!(record["Status"], "leaked", "{record}");
    assert_eq!(record["Leaked"]["By"], "127.0.0.1", "{record}");
    server.bearer(&current).get("/a/tree/").await.expect(200);
}

/// Keep apart: it throttles the test's own address (on its own server).
#[tokio::test]
async fn token_leaks_reports_that_revoke_nothing_are_throttled() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", ALICE_PASSWORD).await;
    let (in_use, _) = personal(&alice, "in use").await;
    server.bearer(&in_use).get("/a/tree/").await.expect(200);
    // In use before the throttle too, so that its use is not refused once throttled.
    let (spared, spared_uuid) = personal(&alice, "spared").await;
    server.bearer(&spared).get("/a/tree/").await.expect(200);
    let mut fresh = Vec::new();
    for i in 0..5 {
        fresh.push(personal(&alice, &format!("fresh {i}")).await.0);
    }

    // 29 reports that revoke nothing, then 5 that revoke one each: those are no failures,
    // so the 30th empty report is still answered.
    for _ in 0..29 {
        assert_eq!(revoked(report(&server, &json!([unknown_token()])).await), 0);
    }
    for token in &fresh {
        assert_eq!(revoked(report(&server, &json!([token])).await), 1);
    }
    assert_eq!(revoked(report(&server, &json!([unknown_token(), "garbage"])).await), 0);

    // The 31st: 429 with Retry-After, even for a report that would revoke something.
    for body in [json!([unknown_token()]), json!({"Tokens": [spared]})] {
        let reply = report(&server, &body).await;
        assert_eq!(reply.status, 429, "{}", reply.text());
        let wait: u64 = reply.header("Retry-After").expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        reply.assert_error_shape();
        assert!(!reply.text().contains(&spared), "{}", reply.text());
    }
    assert_eq!(listed(&alice, None, &spared_uuid).await["Status"], "active");
    server.bearer(&spared).get("/a/tree/").await.expect(200);
    // A token verified before is never slowed.
    for _ in 0..10 {
        server.bearer(&in_use).get("/a/tree/").await.expect(200);
    }
}
