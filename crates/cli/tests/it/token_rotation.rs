//! Rotation of a personal access token (`POST /a/auth/tokens/{TokenId}/rotate`): a new
//! secret for the same record; the old one works for its grace (REST, WebDAV, SFTP) and
//! is refused after, with reason `rotated`; a second rotation or a revocation ends a
//! grace at once; who may rotate, and the graces refused; and on two nodes over
//! PostgreSQL, the grace and the revocation as the other node sees them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::dav::dav;
use crate::sftp_client::sftp_batch;
use crate::support::{Reply, Session, TestServer, eventually, within_a_second, within_a_second_of};
use crate::token_limits::expires_header;
use crate::tokens::{assert_refused, is_pat, record, record_after_failure, records, unix_now};

const ALICE_PASSWORD: &str = "alice-pässword-rotation";
const NOTE: &str = "/personal-files/rotation # 100% ü.txt";

/// `POST /a/auth/tokens/{uuid}/rotate` as `session`.
async fn rotate(session: &Session, uuid: &str, body: &Value) -> Reply {
    session.post(&format!("/a/auth/tokens/{uuid}/rotate"), body).await
}

/// A rotation that succeeded: the new secret, checked to belong to the same record.
async fn rotated(session: &Session, uuid: &str, grace: i64) -> String {
    let reply = rotate(session, uuid, &json!({"GraceSeconds": grace})).await.expect(200);
    assert_eq!(reply.header("Cache-Control").as_deref(), Some("no-store"));
    let answer = reply.json();
    assert_eq!(answer["Uuid"], uuid, "{answer}");
    let token = answer["AccessToken"].as_str().unwrap().to_owned();
    assert!(is_pat(&token), "{answer}");
    token
}

/// Whether `token` opens REST (the note's node) on `server`.
async fn opens_rest(server: &TestServer, token: &str) -> bool {
    match server.bearer(token).stat(NOTE).await.status {
        200 => true,
        401 => false,
        other => panic!("REST answered {other}"),
    }
}

/// Whether `token` opens WebDAV (Basic `alice:token`, a GET of the note) on `server`.
async fn opens_webdav(server: &TestServer, token: &str) -> bool {
    let reply = dav(&server.basic("alice", token), "GET", NOTE, &[], b"").await;
    match reply.status {
        200 => reply.text() == "the note",
        401 => false,
        other => panic!("WebDAV answered {other}"),
    }
}

/// Whether an SFTP session opens as alice with `token` on `server`.
fn opens_sftp(server: &TestServer, token: &str, local: &std::path::Path) -> bool {
    sftp_batch(server, "alice", token, local, "ls /personal-files\n").ok()
}

/// A server, alice, her note, and a token of hers expiring in 30 days.
struct Fixture {
    server: TestServer,
    admin: Session,
    alice: Session,
    local: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let server = TestServer::start();
        let admin = server.admin().await;
        let alice = server.user(&admin, "alice", ALICE_PASSWORD).await;
        alice.upload(NOTE, "the note").await.expect(201);
        Self { server, admin, alice, local: tempfile::tempdir().unwrap() }
    }

    async fn token(&self, body: Value) -> (String, String) {
        let mut body = body;
        body["ExpiresAt"] = json!(unix_now() + 30 * 86_400);
        let created = self.alice.post("/a/auth/token/personal", &body).await.expect(200).json();
        (created["AccessToken"].as_str().unwrap().to_owned(), created["Uuid"].as_str().unwrap().to_owned())
    }
}

#[tokio::test]
async fn the_old_secret_works_for_its_grace_on_every_protocol_then_is_refused() {
    let fx = Fixture::new().await;
    let files = fx.alice.uuid("/personal-files").await;
    let scope = format!("node:{files}:rw");
    let body = json!({"Label": "deploy key ✓", "Scopes": [scope], "AllowedIps": ["127.0.0.0/8"],
                      "AllowedVia": ["sftp", "rest", "webdav"]});
    let (old, uuid) = fx.token(body).await;
    // Used before, so the old secret is in the verified-token cache at the rotation.
    assert!(opens_rest(&fx.server, &old).await);
    assert!(opens_webdav(&fx.server, &old).await);
    let before = record(&fx.admin, &uuid).await;
    assert!(before["RotatedAt"].is_null() && before["GraceEndsAt"].is_null(), "{before}");
    let count = records(&fx.admin, None).await.len();

    let asked = unix_now();
    let new = rotated(&fx.alice, &uuid, 5).await;
    assert_ne!(new, old);
    // During the grace (5 s, so at least 4 s from now): both secrets, everywhere.
    assert!(opens_rest(&fx.server, &old).await, "the old secret on REST during the grace");
    assert!(opens_rest(&fx.server, &new).await, "the new secret on REST");
    // The old secret's answers say when it stops: the end of the grace (the token itself
    // expires in 30 days, so the new secret's answers carry no such header).
    let listed = record(&fx.admin, &uuid).await;
    let grace_ends = listed["GraceEndsAt"].as_i64().unwrap_or_else(|| panic!("no GraceEndsAt: {listed}"));
    let old_reply = fx.server.bearer(&old).stat(NOTE).await.expect(200);
    assert_eq!(expires_header(&old_reply), Some(grace_ends), "the old secret's answer");
    assert_eq!(fx.server.bearer(&new).stat(NOTE).await.expect(200).header("Cells-Token-Expires-At"), None);
    assert!(opens_webdav(&fx.server, &old).await, "the old secret on WebDAV during the grace");
    assert!(opens_webdav(&fx.server, &new).await, "the new secret on WebDAV");
    assert!(opens_sftp(&fx.server, &old, fx.local.path()), "the old secret on SFTP during the grace");
    assert!(unix_now() < asked + 4, "the checks within the grace took too long to prove anything");

    // The record is the same one, its label, scopes, limits and expiry kept.
    assert_eq!(records(&fx.admin, None).await.len(), count, "no new record");
    for field in ["Uuid", "Label", "Scopes", "AllowedIps", "AllowedVia", "ExpiresAt", "CreatedAt", "UserLogin"] {
        assert_eq!(listed[field], before[field], "{field}: {listed}");
    }
    let rotated_at = listed["RotatedAt"].as_i64().unwrap_or_else(|| panic!("no RotatedAt: {listed}"));
    assert!((asked..=unix_now()).contains(&rotated_at), "{listed}");
    assert_eq!(grace_ends, rotated_at + 5, "{listed}");
    assert_eq!(listed["Status"], "active");
    // The limits hold for the new secret: no /io, and no address outside 127.0.0.0/8.
    assert_refused(&fx.server.bearer(&new).download(NOTE).await);

    // After the grace: refused, not before.
    eventually("the old secret is refused after its grace", Duration::from_secs(15), || async {
        !opens_rest(&fx.server, &old).await
    })
    .await;
    assert!(unix_now() >= grace_ends, "refused before the grace ended at {grace_ends}");
    assert_refused(&fx.server.bearer(&old).stat(NOTE).await);
    assert!(!opens_webdav(&fx.server, &old).await, "the old secret on WebDAV after the grace");
    assert!(!opens_sftp(&fx.server, &old, fx.local.path()), "the old secret on SFTP after the grace");
    assert!(opens_rest(&fx.server, &new).await, "the new secret after the grace");
    assert!(opens_webdav(&fx.server, &new).await);
    assert!(opens_sftp(&fx.server, &new, fx.local.path()), "the new secret on SFTP after the grace");
    let listed = record_after_failure(&fx.admin, &uuid, |reason| reason == "rotated").await;
    assert_eq!(listed["Status"], "active", "{listed}");
}

#[tokio::test]
async fn without_a_grace_the_old_secret_is_refused_at_once() {
    let fx = Fixture::new().await;
    for body in [json!({"GraceSeconds": 0}), json!({}), json!({"GraceSeconds": "0"})] {
        let (old, uuid) = fx.token(json!({"Label": format!("no grace {body}")})).await;
        assert!(opens_rest(&fx.server, &old).await);
        let reply = rotate(&fx.alice, &uuid, &body).await.expect(200).json();
        let new = reply["AccessToken"].as_str().unwrap();
        assert_refused(&fx.server.bearer(&old).stat(NOTE).await);
        assert_refused(&fx.server.bearer(&old).download(NOTE).await);
        assert!(!opens_webdav(&fx.server, &old).await, "{body}");
        assert!(opens_rest(&fx.server, new).await, "{body}");
        assert_eq!(fx.server.bearer(new).download(NOTE).await.expect(200).text(), "the note");
        let listed = record_after_failure(&fx.admin, &uuid, |reason| reason == "rotated").await;
        assert_eq!(listed["GraceEndsAt"], listed["RotatedAt"], "{listed}");
    }
}

#[tokio::test]
async fn rotating_again_ends_the_first_grace_at_once() {
    let fx = Fixture::new().await;
    let (first, uuid) = fx.token(json!({"Label": "twice"})).await;
    assert!(opens_rest(&fx.server, &first).await);
    let second = rotated(&fx.alice, &uuid, 600).await;
    assert!(opens_rest(&fx.server, &first).await, "the first secret within its 10 min grace");
    assert!(opens_rest(&fx.server, &second).await);
    let third = rotated(&fx.alice, &uuid, 600).await;
    assert_refused(&fx.server.bearer(&first).stat(NOTE).await);
    assert!(!opens_webdav(&fx.server, &first).await);
    assert!(!opens_sftp(&fx.server, &first, fx.local.path()), "the first secret on SFTP");
    assert!(opens_rest(&fx.server, &second).await, "the second secret, within its own grace");
    assert!(opens_sftp(&fx.server, &second, fx.local.path()), "the second secret on SFTP");
    assert!(opens_rest(&fx.server, &third).await);
    // The store keeps one secret before the current one: the first is now unknown, refused
    // as any unknown token is. The record shows the second rotation's grace only.
    let listed = record(&fx.admin, &uuid).await;
    let (rotated_at, grace_ends) = (listed["RotatedAt"].as_i64().unwrap(), listed["GraceEndsAt"].as_i64().unwrap());
    assert_eq!(grace_ends, rotated_at + 600, "{listed}");
}

#[tokio::test]
async fn revoking_ends_both_secrets_at_once_and_a_revoked_token_is_not_rotated() {
    let fx = Fixture::new().await;
    let (old, uuid) = fx.token(json!({"Label": "revoked in its grace"})).await;
    let new = rotated(&fx.alice, &uuid, 600).await;
    assert!(opens_rest(&fx.server, &old).await && opens_rest(&fx.server, &new).await);
    assert!(opens_sftp(&fx.server, &old, fx.local.path()));
    fx.alice.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    for token in [&old, &new] {
        assert_refused(&fx.server.bearer(token).stat(NOTE).await);
        assert!(!opens_webdav(&fx.server, token).await);
        assert!(!opens_sftp(&fx.server, token, fx.local.path()));
    }
    let listed = record_after_failure(&fx.admin, &uuid, |reason| reason == "revoked").await;
    assert_eq!(listed["Status"], "revoked", "{listed}");

    let refused = rotate(&fx.alice, &uuid, &json!({"GraceSeconds": 60})).await.expect_error(400, "BadRequest");
    let detail = refused.json()["Detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("revoked"), "{detail}");
    rotate(&fx.admin, &uuid, &json!({"GraceSeconds": 60})).await.expect_error(400, "BadRequest");
    for token in [&old, &new] {
        assert!(!opens_rest(&fx.server, token).await, "a refused rotation opened nothing");
    }
    assert_eq!(record(&fx.admin, &uuid).await["GraceEndsAt"], listed["GraceEndsAt"], "untouched");
}

#[tokio::test]
async fn only_the_owner_or_an_admin_rotates_and_bad_graces_are_refused() {
    let fx = Fixture::new().await;
    let bob = fx.server.user(&fx.admin, "bob", "bob-password-rotation").await;
    let (token, uuid) = fx.token(json!({"Label": "alice's"})).await;

    // Someone else's token is not told apart from none, and is not rotated.
    let refused = rotate(&bob, &uuid, &json!({"GraceSeconds": 60})).await.expect_error(404, "NotFound");
    let unknown = rotate(&bob, "00000000-0000-4000-8000-000000000000", &json!({})).await;
    assert_eq!(unknown.expect_error(404, "NotFound").json()["Title"], refused.json()["Title"]);
    rotate(&bob, "not-a-uuid", &json!({})).await.expect_error(400, "BadRequest");
    fx.server.anonymous().post(&format!("/a/auth/tokens/{uuid}/rotate"), &json!({})).await.expect(401);
    // A token restricted by scopes manages no tokens, not even its own.
    let files = fx.alice.uuid("/personal-files").await;
    let (scoped, scoped_uuid) = fx.token(json!({"Scopes": [format!("node:{files}:r")]})).await;
    rotate(&fx.server.bearer(&scoped), &scoped_uuid, &json!({})).await.expect_error(403, "Forbidden");
    assert!(opens_rest(&fx.server, &scoped).await);

    // Bad graces: below 0, over 30 days, not a number.
    for grace in [json!(-1), json!(30 * 86_400 + 1), json!(i64::MAX), json!("ten"), json!(1.5)] {
        let reply = rotate(&fx.alice, &uuid, &json!({"GraceSeconds": grace})).await.expect_error(400, "BadRequest");
        assert!(reply.json()["Detail"].as_str().unwrap().contains("GraceSeconds"), "{grace}: {}", reply.text());
    }
    rotate(&fx.alice, &uuid, &json!({"Grace": 60})).await.expect_error(400, "BadRequest");
    let listed = record(&fx.admin, &uuid).await;
    assert!(listed["RotatedAt"].is_null(), "no refused request rotated it: {listed}");
    assert!(opens_rest(&fx.server, &token).await, "the secret still works");

    // The controls: the longest grace, by the owner; then an admin, for her.
    let by_alice = rotated(&fx.alice, &uuid, 30 * 86_400).await;
    assert!(opens_rest(&fx.server, &token).await && opens_rest(&fx.server, &by_alice).await);
    let by_admin = rotated(&fx.admin, &uuid, 0).await;
    assert!(opens_rest(&fx.server, &by_admin).await);
    assert!(!opens_rest(&fx.server, &token).await, "two rotations ago");
    assert!(!opens_rest(&fx.server, &by_alice).await, "no grace");
    // The owner may rotate with the token itself, when it has no scopes.
    let by_itself = rotated(&fx.server.bearer(&by_admin), &uuid, 60).await;
    assert!(opens_rest(&fx.server, &by_itself).await && opens_rest(&fx.server, &by_admin).await);
}

#[tokio::test]
async fn on_another_node_the_old_secret_works_for_its_grace_and_is_refused_after() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let admin_a = a.admin().await;
    let alice = a.user(&admin_a, "alice", ALICE_PASSWORD).await;
    alice.upload(NOTE, "the note").await.expect(201);
    let body = json!({"Label": "roaming", "ExpiresAt": unix_now() + 30 * 86_400});
    let created = alice.post("/a/auth/token/personal", &body).await.expect(200).json();
    let (old, uuid) = (created["AccessToken"].as_str().unwrap().to_owned(), created["Uuid"].as_str().unwrap());
    // In B's cache before the rotation.
    assert!(opens_rest(b, &old).await);
    assert!(opens_webdav(b, &old).await);

    let asked = unix_now();
    let new = rotated(&alice, uuid, 5).await;
    assert!(opens_rest(b, &new).await, "the new secret on B at once");
    assert!(opens_rest(b, &old).await, "the old secret on B during the grace");
    assert!(opens_webdav(b, &old).await);
    assert!(unix_now() < asked + 4, "the checks within the grace took too long to prove anything");
    let grace_ends = record(&admin_a, uuid).await["GraceEndsAt"].as_i64().unwrap();
    eventually("B refuses the old secret after its grace", Duration::from_secs(15), || async {
        !opens_rest(b, &old).await
    })
    .await;
    assert!(unix_now() >= grace_ends, "refused on B before the grace ended");
    assert_refused(&b.bearer(&old).stat(NOTE).await);
    assert!(!opens_webdav(b, &old).await);
    assert!(opens_rest(b, &new).await && opens_webdav(b, &new).await);
    record_after_failure(&admin_a, uuid, |reason| reason == "rotated").await;

    // Without a grace, B refuses the secret it had cached within a second.
    assert!(opens_rest(b, &new).await);
    let newest = rotated(&alice, uuid, 0).await;
    within_a_second("B refuses the secret rotated on A without a grace", || async { !opens_rest(b, &new).await }).await;
    assert!(opens_rest(b, &newest).await);
}

#[tokio::test]
async fn a_revocation_on_one_node_ends_both_secrets_on_the_other_within_a_second() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let admin_a = a.admin().await;
    let alice = a.user(&admin_a, "alice", ALICE_PASSWORD).await;
    alice.upload(NOTE, "the note").await.expect(201);
    let body = json!({"Label": "revoked", "ExpiresAt": unix_now() + 30 * 86_400});
    let created = alice.post("/a/auth/token/personal", &body).await.expect(200).json();
    let (old, uuid) = (created["AccessToken"].as_str().unwrap().to_owned(), created["Uuid"].as_str().unwrap());
    let new = rotated(&alice, uuid, 600).await;
    // Both in B's cache.
    assert!(opens_rest(b, &old).await && opens_rest(b, &new).await);
    assert!(opens_webdav(b, &old).await && opens_webdav(b, &new).await);
    let control_body = json!({"Label": "control", "ExpiresAt": unix_now() + 3600});
    let control = alice.post("/a/auth/token/personal", &control_body).await.expect(200).json();
    let control = control["AccessToken"].as_str().unwrap().to_owned();

    admin_a.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    let revoked = std::time::Instant::now();
    within_a_second("B refuses the old secret", || async { !opens_rest(b, &old).await }).await;
    within_a_second_of(revoked, "B refuses the new secret", || async { !opens_rest(b, &new).await }).await;
    assert!(!opens_webdav(b, &old).await && !opens_webdav(b, &new).await);
    assert!(opens_rest(b, &control).await, "another token of alice's still works on B");
}
