//! The admin's token policy (`GET|PUT /a/auth/token-policy`): a whole document that any
//! signed-in user reads and only an admin sets, kept over a restart; each rule refusing a
//! creation (REST personal and impersonated tokens, the CLI, SSH keys) with the rule
//! named, beside the same creation within it; self-service turned off with a per-login
//! exception; older tokens flagged `BeyondPolicy` after a tightening; document tokens
//! shaped to fit a strict policy.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{Reply, Session, TestServer};
use crate::tokens::{is_pat, records, unix_now};

const DAY: i64 = 86_400;
const POLICY: &str = "/a/auth/token-policy";

fn open_policy() -> Value {
    json!({
        "MaxExpiresIn": null,
        "MaxAutoRefresh": null,
        "AutoRefreshNeedsCap": false,
        "ScopesForOthers": false,
        "SelfService": true,
        "SelfServiceUsers": {},
    })
}

/// `PUT` the policy as the admin; returns what the server answered.
async fn set_policy(admin: &Session, policy: &Value) -> Value {
    admin.put_json(POLICY, policy).await.expect(200).json()
}

/// A 400 whose Detail names `rule`; returns the Detail.
#[track_caller]
fn refused_by(reply: Reply, rule: &str) -> String {
    let reply = reply.expect_error(400, "BadRequest");
    let detail = reply.json()["Detail"].as_str().unwrap().to_owned();
    assert!(detail.contains(&format!("the token policy's {rule}")), "{detail}");
    detail
}

/// A token made: it opens the tree.
async fn works(server: &TestServer, reply: Reply) -> String {
    let created = reply.expect(200).json();
    let token = created["AccessToken"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    assert!(is_pat(&token), "{created}");
    server.bearer(&token).get("/a/tree/").await.expect(200);
    created["Uuid"].as_str().unwrap().to_owned()
}

/// `cells admin user token -u LOGIN -q ARGS...`: its output.
fn cli_token(server: &TestServer, login: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["user", "token", "-u", login, "-q"];
    all.extend_from_slice(args);
    server.cli(&all, None)
}

#[track_caller]
fn cli_refused_by(output: &std::process::Output, rule: &str) {
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the CLI made a token beyond the policy: {err}");
    assert!(err.contains(rule), "{err}");
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
}

/// A new ed25519 public key, as one `authorized_keys` line.
fn public_key(dir: &std::path::Path, name: &str) -> String {
    let private = dir.join(name);
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", &format!("{name}@test"), "-f"])
        .arg(&private)
        .output()
        .expect("ssh-keygen (Debian: openssh-client)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    std::fs::read_to_string(private.with_extension("pub")).unwrap().trim().to_owned()
}

async fn record_of(admin: &Session, uuid: &str) -> Value {
    let all = records(admin, None).await;
    all.into_iter().find(|t| t["Uuid"] == uuid).unwrap_or_else(|| panic!("no token {uuid}"))
}

#[tokio::test]
async fn token_policy_round_trips_and_only_an_admin_sets_it() {
    let mut server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password-pol").await;
    assert_eq!(alice.get(POLICY).await.expect(200).json(), open_policy(), "a new install's policy is open");
    server.anonymous().get(POLICY).await.expect(401);
    let token = server.pat("alice", &["-e", "1h"]);

    let strict = json!({
        "MaxExpiresIn": 30 * DAY,
        "MaxAutoRefresh": DAY,
        "AutoRefreshNeedsCap": true,
        "ScopesForOthers": true,
        "SelfService": false,
        "SelfServiceUsers": {"Bob": true, "carol": false},
    });
    let mut stored = strict.clone();
    stored["SelfServiceUsers"] = json!({"bob": true, "carol": false});
    assert_eq!(set_policy(&admin, &strict).await, stored, "logins are kept in lower case");
    assert_eq!(alice.get(POLICY).await.expect(200).json(), stored);

    // Not an admin: 403, also with a token; nothing changes.
    alice.put_json(POLICY, &open_policy()).await.expect_error(403, "Forbidden");
    server.bearer(&token).put_json(POLICY, &open_policy()).await.expect_error(403, "Forbidden");
    server.anonymous().put_json(POLICY, &open_policy()).await.expect(401);
    // Mistakes: 400, nothing changes.
    for bad in [
        json!({"MaxExpiresln": 60}),
        json!({"MaxExpiresIn": 0}),
        json!({"MaxExpiresIn": -5}),
        json!({"MaxAutoRefresh": 0}),
        json!({"MaxAutoRefresh": -DAY}),
        json!({"MaxExpiresIn": "30d"}),
        json!({"MaxExpiresIn": 1.5}),
        json!({"MaxExpiresIn": 1000 * 365 * DAY}),
        json!({"SelfService": "no"}),
        json!({"SelfServiceUsers": ["bob"]}),
        json!([]),
    ] {
        admin.put_json(POLICY, &bad).await.expect_error(400, "BadRequest");
    }
    assert_eq!(alice.get(POLICY).await.expect(200).json(), stored);

    // A whole document: what is left out takes its open default.
    let mut partial = open_policy();
    partial["MaxExpiresIn"] = json!(3600);
    assert_eq!(set_policy(&admin, &json!({"MaxExpiresIn": 3600})).await, partial);
    assert_eq!(alice.get(POLICY).await.expect(200).json(), partial);

    // Kept in the database: the same after a restart.
    server.restart();
    let alice = server.login("alice", "alice-password-pol").await;
    assert_eq!(alice.get(POLICY).await.expect(200).json(), partial);
}

#[tokio::test]
async fn token_policy_each_rule_refuses_a_creation_with_its_name_beside_a_control() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password-pol").await;
    let folder = alice.uuid("/personal-files").await;
    let scope = format!("node:{folder}:r");
    let personal = |body: Value| {
        let alice = alice.clone();
        async move { alice.post("/a/auth/token/personal", &body).await }
    };
    let impersonate = |mut body: Value| {
        let admin = admin.clone();
        body["UserLogin"] = json!("alice");
        async move { admin.post("/a/auth/token/impersonate", &body).await }
    };

    // MaxExpiresIn: 30 days of validity, as a hard limit or as the cap of an auto refresh.
    set_policy(&admin, &json!({"MaxExpiresIn": 30 * DAY})).await;
    let detail = refused_by(personal(json!({"ExpiresAt": unix_now() + 31 * DAY})).await, "MaxExpiresIn");
    assert_eq!(detail, "the token policy's MaxExpiresIn allows at most 30d of validity");
    works(&server, personal(json!({"ExpiresAt": unix_now() + 29 * DAY})).await).await;
    refused_by(personal(json!({"AutoRefresh": 3600, "ExpiresAt": unix_now() + 60 * DAY})).await, "MaxExpiresIn");
    works(&server, personal(json!({"AutoRefresh": 3600, "ExpiresAt": unix_now() + 20 * DAY})).await).await;
    refused_by(impersonate(json!({"ExpiresAt": unix_now() + 31 * DAY})).await, "MaxExpiresIn");
    works(&server, impersonate(json!({"ExpiresAt": unix_now() + DAY})).await).await;
    cli_refused_by(&cli_token(&server, "alice", &["-e", "31d"]), "MaxExpiresIn");
    assert!(is_pat(crate::support::cli_ok(&cli_token(&server, "alice", &["-e", "30d"])).trim_end()));

    // MaxAutoRefresh: a window of at most an hour.
    set_policy(&admin, &json!({"MaxAutoRefresh": 3600})).await;
    let detail = refused_by(personal(json!({"AutoRefresh": 7200})).await, "MaxAutoRefresh");
    assert!(detail.contains("1h"), "{detail}");
    works(&server, personal(json!({"AutoRefresh": 3600})).await).await;
    works(&server, personal(json!({"ExpiresAt": unix_now() + 365 * DAY})).await).await;
    cli_refused_by(&cli_token(&server, "alice", &["-a", "2h"]), "MaxAutoRefresh");
    crate::support::cli_ok(&cli_token(&server, "alice", &["-a", "1h"]));

    // AutoRefreshNeedsCap: an auto refresh needs an ExpiresAt too.
    set_policy(&admin, &json!({"AutoRefreshNeedsCap": true})).await;
    refused_by(personal(json!({"AutoRefresh": 600})).await, "AutoRefreshNeedsCap");
    refused_by(impersonate(json!({"AutoRefresh": 600})).await, "AutoRefreshNeedsCap");
    works(&server, personal(json!({"AutoRefresh": 600, "ExpiresAt": unix_now() + DAY})).await).await;
    works(&server, personal(json!({"ExpiresAt": unix_now() + DAY})).await).await;
    cli_refused_by(&cli_token(&server, "alice", &["-a", "1h"]), "AutoRefreshNeedsCap");
    crate::support::cli_ok(&cli_token(&server, "alice", &["-a", "1h", "-e", "1d"]));

    // ScopesForOthers: a token made for someone else carries a scope; one's own need not.
    set_policy(&admin, &json!({"ScopesForOthers": true})).await;
    refused_by(impersonate(json!({"ExpiresAt": unix_now() + DAY})).await, "ScopesForOthers");
    let scoped = works(&server, impersonate(json!({"ExpiresAt": unix_now() + DAY, "Scopes": [scope]})).await).await;
    assert_eq!(record_of(&admin, &scoped).await["Scopes"], json!([scope]));
    works(&server, personal(json!({"ExpiresAt": unix_now() + DAY})).await).await;
    let own = json!({"UserLogin": "admin", "ExpiresAt": unix_now() + DAY});
    works(&server, admin.post("/a/auth/token/impersonate", &own).await).await;
    works(&server, admin.post("/a/auth/token/personal", &json!({"ExpiresAt": unix_now() + DAY})).await).await;
    cli_refused_by(&cli_token(&server, "alice", &["-e", "1d"]), "ScopesForOthers");
    crate::support::cli_ok(&cli_token(&server, "alice", &["-e", "1d", "-s", &scope]));

    // Each refusal made nothing: alice has the 13 tokens that passed.
    let tokens = records(&admin, Some("alice")).await;
    assert_eq!(tokens.len(), 13, "{tokens:?}");
}

#[tokio::test]
async fn token_policy_ssh_key_registration_obeys_it_too() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password-pol").await;
    let keys = tempfile::tempdir().unwrap();
    let folder = alice.uuid("/personal-files").await;
    let register = |session: &Session, body: Value| {
        let session = session.clone();
        async move { session.post("/a/auth/keys", &body).await }
    };

    set_policy(&admin, &json!({"MaxExpiresIn": DAY, "AutoRefreshNeedsCap": true, "ScopesForOthers": true})).await;
    let laptop = public_key(keys.path(), "laptop");
    refused_by(register(&alice, json!({"PublicKey": laptop, "ExpiresAt": unix_now() + 2 * DAY})).await, "MaxExpiresIn");
    refused_by(register(&alice, json!({"PublicKey": laptop, "AutoRefresh": 3600})).await, "AutoRefreshNeedsCap");
    let body = json!({"PublicKey": laptop, "AutoRefresh": 3600, "ExpiresAt": unix_now() + 12 * 3600});
    let registered = register(&alice, body).await.expect(200).json();
    assert!(registered["Fingerprint"].as_str().unwrap().starts_with("SHA256:"), "{registered}");

    // An admin's key for alice needs a scope.
    let desktop = public_key(keys.path(), "desktop");
    let body = json!({"UserLogin": "alice", "PublicKey": desktop, "ExpiresAt": unix_now() + 3600});
    refused_by(register(&admin, body.clone()).await, "ScopesForOthers");
    let mut scoped = body;
    scoped["Scopes"] = json!([format!("node:{folder}:rw")]);
    register(&admin, scoped).await.expect(200);
    // So does the CLI's (made for alice by someone else).
    public_key(keys.path(), "cli");
    let file = keys.path().join("cli.pub").to_string_lossy().into_owned();
    let add = |extra: &[&str]| {
        let mut args = vec!["user", "key", "add", "-u", "alice", "-f", &file, "-e", "1h"];
        args.extend_from_slice(extra);
        server.cli(&args, None)
    };
    let refused = add(&[]);
    assert!(!refused.status.success(), "{}", String::from_utf8_lossy(&refused.stdout));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("ScopesForOthers"), "{refused:?}");
    crate::support::cli_ok(&add(&["-s", &format!("node:{folder}:r")]));

    // Self-service off: alice registers no key of her own; the admin still may.
    let phone = public_key(keys.path(), "phone");
    set_policy(&admin, &json!({"SelfService": false})).await;
    let body = json!({"PublicKey": phone, "ExpiresAt": unix_now() + 3600});
    register(&alice, body.clone()).await.expect_error(403, "Forbidden");
    let mut for_alice = body;
    for_alice["UserLogin"] = json!("alice");
    register(&admin, for_alice).await.expect(200);
    let listed = alice.post("/a/auth/keys/list", &json!({})).await.expect(200).json();
    assert_eq!(listed["Keys"].as_array().unwrap().len(), 4, "{listed}");
}

#[tokio::test]
async fn token_policy_self_service_off_with_a_per_user_exception() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password-pol").await;
    let bob = server.user(&admin, "bob", "bob-password-pol").await;
    for session in [&alice, &bob] {
        session.upload("/personal-files/doc.txt", "doc").await.expect(201);
    }
    let day = || json!({"ExpiresAt": unix_now() + DAY});
    let document = json!({"Path": "/personal-files/doc.txt"});
    // Open: alice makes her own.
    let before = works(&server, alice.post("/a/auth/token/personal", &day()).await).await;
    let before_token = server.pat("alice", &["-e", "1d", "-l", "made by the CLI"]);

    set_policy(&admin, &json!({"SelfService": false, "SelfServiceUsers": {"Bob": true}})).await;
    let refused = alice.post("/a/auth/token/personal", &day()).await.expect_error(403, "Forbidden");
    assert!(refused.json()["Detail"].as_str().unwrap().contains("turned off"), "{}", refused.text());
    alice.post("/a/auth/token/document", &document).await.expect_error(403, "Forbidden");
    works(&server, bob.post("/a/auth/token/personal", &day()).await).await;
    works(&server, bob.post("/a/auth/token/document", &document).await).await;
    works(&server, admin.post("/a/auth/token/personal", &day()).await).await;
    let mut for_alice = day();
    for_alice["UserLogin"] = json!("alice");
    works(&server, admin.post("/a/auth/token/impersonate", &for_alice).await).await;
    // What alice made before keeps working; she still lists and revokes her own.
    server.bearer(&before_token).get("/a/tree/").await.expect(200);
    assert_eq!(records(&alice, None).await.len(), 3);
    alice.delete(&format!("/a/auth/tokens/{before}")).await.expect(200);

    // The other way round: on for everyone but alice (named in any case).
    set_policy(&admin, &json!({"SelfService": true, "SelfServiceUsers": {"ALICE": false}})).await;
    alice.post("/a/auth/token/personal", &day()).await.expect_error(403, "Forbidden");
    works(&server, bob.post("/a/auth/token/personal", &day()).await).await;
    let carol = server.user(&admin, "carol", "carol-password-pol").await;
    works(&server, carol.post("/a/auth/token/personal", &day()).await).await;
    set_policy(&admin, &json!({})).await;
    works(&server, alice.post("/a/auth/token/personal", &day()).await).await;
}

#[tokio::test]
async fn token_policy_flags_tokens_made_before_a_tightening() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password-pol").await;
    let made = |session: &Session, body: Value, path: &'static str| {
        let session = session.clone();
        async move { session.post(path, &body).await.expect(200).json()["Uuid"].as_str().unwrap().to_owned() }
    };
    let personal = "/a/auth/token/personal";
    let long = made(&alice, json!({"ExpiresAt": unix_now() + 90 * DAY}), personal).await;
    let short = made(&alice, json!({"ExpiresAt": unix_now() + 10 * DAY}), personal).await;
    let sliding = made(&alice, json!({"AutoRefresh": 2 * DAY}), personal).await;
    let revoked = made(&alice, json!({"ExpiresAt": unix_now() + 90 * DAY}), personal).await;
    let other = json!({"UserLogin": "alice", "ExpiresAt": unix_now() + DAY});
    let for_alice = made(&admin, other, "/a/auth/token/impersonate").await;
    alice.delete(&format!("/a/auth/tokens/{revoked}")).await.expect(200);
    let flags = || async {
        let all = records(&admin, Some("alice")).await;
        let flag = |uuid: &str| all.iter().find(|t| t["Uuid"] == uuid).unwrap()["BeyondPolicy"].clone();
        [flag(&long), flag(&short), flag(&sliding), flag(&revoked), flag(&for_alice)]
    };
    let none = json!([]);
    assert_eq!(flags().await, [none.clone(), none.clone(), none.clone(), none.clone(), none.clone()]);

    set_policy(
        &admin,
        &json!({"MaxExpiresIn": 30 * DAY, "MaxAutoRefresh": DAY, "AutoRefreshNeedsCap": true, "ScopesForOthers": true}),
    )
    .await;
    let tightened = [
        json!(["MaxExpiresIn"]),
        none.clone(),
        json!(["MaxAutoRefresh", "AutoRefreshNeedsCap"]),
        none.clone(),
        json!(["ScopesForOthers"]),
    ];
    assert_eq!(flags().await, tightened);
    // The owner sees the same flags; the tokens flagged still work.
    let own = records(&alice, None).await;
    assert_eq!(own.iter().find(|t| t["Uuid"] == long).unwrap()["BeyondPolicy"], json!(["MaxExpiresIn"]));
    let token = server.pat("alice", &["-e", "1h", "-s", &format!("node:{}:r", alice.uuid("/personal-files").await)]);
    server.bearer(&token).get("/a/tree/").await.expect(200);

    // Loosened again: no flags.
    set_policy(&admin, &json!({})).await;
    assert_eq!(flags().await, [none.clone(), none.clone(), none.clone(), none.clone(), none]);
}

#[tokio::test]
async fn token_policy_document_tokens_are_shaped_to_fit_a_strict_policy() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password-pol").await;
    alice.upload("/personal-files/report ü #1.txt", "report").await.expect(201);
    alice.upload("/personal-files/other.txt", "other").await.expect(201);
    let document = || async {
        let body = json!({"Path": "/personal-files/report ü #1.txt"});
        let created = alice.post("/a/auth/token/document", &body).await.expect(200).json();
        let token = created["AccessToken"].as_str().unwrap().to_owned();
        let at = unix_now();
        assert_eq!(
            server.bearer(&token).download("/personal-files/report ü #1.txt").await.expect(200).text(),
            "report"
        );
        assert!(server.bearer(&token).download("/personal-files/other.txt").await.status >= 400);
        (record_of(&admin, created["Uuid"].as_str().unwrap()).await, at)
    };
    let near = |value: &Value, expected: i64| value.as_i64().is_some_and(|v| (v - expected).abs() <= 5);

    // Open: 30 minutes of auto refresh, no cap.
    let (open, _) = document().await;
    assert_eq!(open["Type"], "DOCUMENT", "{open}");
    assert_eq!(open["AutoRefreshWindow"], 1800, "{open}");
    assert_eq!(open["MaxExpiresAt"], Value::Null, "{open}");

    // Strict: the window shortened, a cap at MaxExpiresIn, within the policy.
    let strict =
        json!({"MaxExpiresIn": DAY, "MaxAutoRefresh": 600, "AutoRefreshNeedsCap": true, "ScopesForOthers": true});
    set_policy(&admin, &strict).await;
    let (capped, at) = document().await;
    assert_eq!(capped["AutoRefreshWindow"], 600, "{capped}");
    assert!(near(&capped["MaxExpiresAt"], at + DAY), "{capped}");
    assert_eq!(capped["BeyondPolicy"], json!([]), "{capped}");
    assert_eq!(flags_of(&admin, &open).await, json!(["MaxAutoRefresh", "AutoRefreshNeedsCap"]));

    // A cap asked for without a limit: a week; a longer window allowed: still 30 minutes.
    set_policy(&admin, &json!({"AutoRefreshNeedsCap": true, "MaxAutoRefresh": 7200})).await;
    let (week, at) = document().await;
    assert_eq!(week["AutoRefreshWindow"], 1800, "{week}");
    assert!(near(&week["MaxExpiresAt"], at + 7 * DAY), "{week}");
    assert_eq!(week["BeyondPolicy"], json!([]), "{week}");
}

async fn flags_of(admin: &Session, record: &Value) -> Value {
    record_of(admin, record["Uuid"].as_str().unwrap()).await["BeyondPolicy"].clone()
}
