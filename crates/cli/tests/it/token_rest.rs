//! Token management over REST (`/a/auth/token*`): the request fields and their mistakes,
//! impersonation, who lists and revokes what, document tokens, self-service, and what a
//! scoped token may not do.

use serde_json::{Value, json};

use crate::support::{Session, TestServer, cli_ok, within_a_second};
use crate::tokens::{is_pat, record, records};

const FIELDS: [&str; 26] = [
    "Uuid",
    "Type",
    "Label",
    "UserUuid",
    "UserLogin",
    "Scopes",
    "AutoRefreshWindow",
    "ExpiresAt",
    "MaxExpiresAt",
    "CreatedBy",
    "CreatedAt",
    "UpdatedAt",
    "LastUsedAt",
    "LastUsedIp",
    "LastUsedVia",
    "RevokedAt",
    "LastFailureAt",
    "LastFailureReason",
    "Status",
    "AllowedIps",
    "AllowedVia",
    "RotatedAt",
    "GraceEndsAt",
    "Leaked",
    "BeyondPolicy",
    "ExpiresSoon",
];

fn now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// `POST /a/auth/token/personal`: the token and its Uuid.
async fn personal(session: &Session, body: &Value) -> (String, String) {
    let created = session.post("/a/auth/token/personal", body).await.expect(200).json();
    let token = created["AccessToken"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    assert!(is_pat(&token), "{created}");
    (token, created["Uuid"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn personal_tokens_and_their_fields() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let alice_uuid = admin.get("/a/users/alice").await.expect(200).json()["Uuid"].as_str().unwrap().to_owned();

    let label = "Büro #3 100% ✓ \"quoted\"";
    let (token, uuid) = personal(&alice, &json!({"Label": label, "AutoRefresh": 3600})).await;
    server.bearer(&token).upload("/personal-files/via rest ü.txt", "rest").await.expect(201);
    let listed = records(&alice, None).await;
    assert_eq!(listed.len(), 1);
    let mine = &listed[0];
    let keys: Vec<&str> = mine.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = FIELDS.to_vec();
    expected.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, expected, "{mine}");
    assert_eq!(mine["Uuid"], uuid.as_str());
    assert_eq!(mine["Type"], "PERSONAL");
    assert_eq!(mine["Label"], label);
    assert_eq!(mine["UserUuid"], alice_uuid.as_str());
    assert_eq!(mine["UserLogin"], "alice");
    assert_eq!(mine["CreatedBy"], "alice");
    assert_eq!(mine["Scopes"], json!([]));
    assert_eq!(mine["AutoRefreshWindow"], 3600);
    assert_eq!(mine["MaxExpiresAt"], Value::Null);
    assert_eq!(mine["Status"], "active");
    assert_eq!(mine["RevokedAt"], Value::Null);
    let created_at = mine["CreatedAt"].as_i64().unwrap();
    assert!((now() - created_at).abs() <= 5, "{mine}");
    assert!(mine["ExpiresAt"].as_i64().unwrap() >= created_at + 3600, "{mine}");

    // ExpiresAt as a number, as a string; both fields: capped auto refresh.
    let at = now() + 7200;
    for (body, window, max) in [
        (json!({"ExpiresAt": at}), 0, Value::Null),
        (json!({"ExpiresAt": at.to_string(), "Label": "string"}), 0, Value::Null),
        (json!({"ExpiresAt": 0, "AutoRefresh": "600"}), 600, Value::Null),
        (json!({"AutoRefresh": 600, "ExpiresAt": at}), 600, json!(at)),
    ] {
        let (token, uuid) = personal(&alice, &body).await;
        server.basic("alice", &token).get("/a/tree/").await.expect(200);
        let listed = record(&admin, &uuid).await;
        assert_eq!(listed["AutoRefreshWindow"], window, "{body}: {listed}");
        assert_eq!(listed["MaxExpiresAt"], max, "{body}: {listed}");
        if window == 0 {
            assert_eq!(listed["ExpiresAt"], at, "{body}: {listed}");
        }
    }

    // Mistakes: a 400 with the error body, and no token.
    let random = "0b7e3c1a-9d4f-4e2b-8c6a-5f4e3d2c1b0a";
    for body in [
        json!({}),
        json!({"Label": "neither"}),
        json!({"ExpiresAt": 0}),
        json!({"ExpiresAt": now() - 60}),
        json!({"ExpiresAt": "tomorrow"}),
        json!({"ExpiresAt": 1.5e9}),
        json!({"AutoRefresh": -5}),
        json!({"AutoRefresh": 0}),
        json!({"AutoRefresh": 60, "Scopes": ["node:nope:rw"]}),
        json!({"AutoRefresh": 60, "Scopes": [format!("node:{random}:r")]}),
        json!({"AutoRefresh": 60, "Scopes": [format!("node:{random}:x")]}),
        json!({"AutoRefresh": 60, "Scopes": "not a list"}),
        json!({"AutoRefresh": 60, "Expires": now() + 60}),
        json!({"AutoRefresh": 60, "UserLogin": "alice"}),
        json!({"AutoRefresh": 60, "Label": "x".repeat(129)}),
        json!({"AutoRefresh": 60, "Label": "line\nbreak"}),
    ] {
        alice.post("/a/auth/token/personal", &body).await.expect_error(400, "BadRequest");
    }
    let reply = server
        .bearer(&token)
        .request(reqwest::Method::POST, "/a/auth/token/personal")
        .header("Content-Type", "application/json")
        .body("{\"AutoRefresh\": 60,");
    crate::support::Session::send(reply).await.expect(400).assert_error_shape();
    assert_eq!(records(&alice, None).await.len(), 5);
}

#[tokio::test]
async fn impersonation_listing_and_revocation_rights() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let bob = server.user(&admin, "bob", "bob-password").await;

    let body = json!({"UserLogin": "bob", "AutoRefresh": 600, "Label": "for bob ü"});
    let made = admin.post("/a/auth/token/impersonate", &body).await.expect(200).json();
    let bobs = server.bearer(made["AccessToken"].as_str().unwrap());
    bobs.upload("/personal-files/bob #1.txt", "bob").await.expect(201);
    assert_eq!(bob.download("/personal-files/bob #1.txt").await.expect(200).text(), "bob");
    let listed = record(&admin, made["Uuid"].as_str().unwrap()).await;
    assert_eq!(listed["UserLogin"], "bob");
    assert_eq!(listed["CreatedBy"], "admin");
    assert_eq!(listed["Label"], "for bob ü");

    let for_alice = json!({"UserLogin": "alice", "ExpiresAt": now() + 600});
    alice.post("/a/auth/token/impersonate", &for_alice).await.expect_error(403, "Forbidden");
    alice
        .post("/a/auth/token/impersonate", &json!({"UserLogin": "bob", "AutoRefresh": 60}))
        .await
        .expect_error(403, "Forbidden");
    admin
        .post("/a/auth/token/impersonate", &json!({"UserLogin": "nobody", "AutoRefresh": 60}))
        .await
        .expect_error(404, "NotFound");
    admin.post("/a/auth/token/impersonate", &json!({"AutoRefresh": 60})).await.expect_error(400, "BadRequest");
    admin.post("/a/auth/token/impersonate", &json!({"UserLogin": "alice"})).await.expect_error(400, "BadRequest");
    let (alice_token, alice_uuid) = personal(&alice, &json!({"AutoRefresh": 600, "Label": "alice's own"})).await;
    let (_, admin_uuid) = personal(&admin, &json!({"AutoRefresh": 600})).await;

    // Listing: admins see anyone's, users their own.
    let everyone = records(&admin, None).await;
    assert_eq!(everyone.len(), 3, "{everyone:?}");
    let owners: Vec<&str> = everyone.iter().map(|t| t["UserLogin"].as_str().unwrap()).collect();
    for login in ["alice", "bob", "admin"] {
        assert!(owners.contains(&login), "{owners:?}");
    }
    let of_bob = records(&admin, Some("bob")).await;
    assert_eq!(of_bob.len(), 1);
    assert_eq!(of_bob[0]["Uuid"], made["Uuid"]);
    assert_eq!(records(&admin, Some("")).await.len(), 3);
    let own = records(&alice, None).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["Uuid"], alice_uuid.as_str());
    assert_eq!(records(&alice, Some("alice")).await.len(), 1);
    // Logins are unique without regard to case, so this is alice asking for her own.
    assert_eq!(records(&alice, Some("ALICE")).await.len(), 1);
    alice.post("/a/auth/tokens", &json!({"ByUser": "bob"})).await.expect_error(403, "Forbidden");
    alice.post("/a/auth/tokens", &json!({"ByUser": "admin"})).await.expect_error(403, "Forbidden");
    admin.post("/a/auth/tokens", &json!({"ByUser": "nobody"})).await.expect_error(404, "NotFound");
    admin.post("/a/auth/tokens", &json!({"User": "bob"})).await.expect_error(400, "BadRequest");
    server.anonymous().post("/a/auth/tokens", &json!({})).await.expect_error(401, "Unauthorized");

    // Revoking: someone else's is not found for a user; an admin revokes anyone's.
    bob.delete(&format!("/a/auth/tokens/{alice_uuid}")).await.expect_error(404, "NotFound");
    bob.delete(&format!("/a/auth/tokens/{admin_uuid}")).await.expect_error(404, "NotFound");
    bob.delete("/a/auth/tokens/not-a-uuid").await.expect_error(400, "BadRequest");
    bob.delete("/a/auth/tokens/0b7e3c1a-9d4f-4e2b-8c6a-5f4e3d2c1b0a").await.expect_error(404, "NotFound");
    server.bearer(&alice_token).get("/a/tree/").await.expect(200);
    assert_eq!(record(&admin, &alice_uuid).await["Status"], "active");
    let answer = admin.delete(&format!("/a/auth/tokens/{alice_uuid}")).await.expect(200).json();
    assert_eq!(answer["Success"], true);
    assert!(answer["Message"].as_str().is_some_and(|m| m.contains(&alice_uuid)), "{answer}");
    let again = alice.delete(&format!("/a/auth/tokens/{alice_uuid}")).await.expect(200).json();
    assert_eq!(again["Success"], true);
    assert_eq!(record(&admin, &alice_uuid).await["Status"], "revoked");
    let bobs_uuid = made["Uuid"].as_str().unwrap();
    assert_eq!(bob.delete(&format!("/a/auth/tokens/{bobs_uuid}")).await.expect(200).json()["Success"], true);
    within_a_second("bob's token revoked", || async { bobs.get("/a/tree/").await.status == 401 }).await;
}

#[tokio::test]
async fn document_tokens_are_scoped_to_their_node() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    alice.mkdir("/personal-files/notes ü").await.expect(201);
    alice.upload("/personal-files/notes ü/plan #1 50%.txt", "the plan").await.expect(201);
    alice.upload("/personal-files/notes ü/other.txt", "other").await.expect(201);
    let file = alice.uuid("/personal-files/notes ü/plan #1 50%.txt").await;

    let body = json!({"Path": "/personal-files/notes ü/plan #1 50%.txt"});
    let made = alice.post("/a/auth/token/document", &body).await.expect(200).json();
    let token = made["AccessToken"].as_str().unwrap();
    assert!(is_pat(token), "{made}");
    let listed = record(&admin, made["Uuid"].as_str().unwrap()).await;
    assert_eq!(listed["Type"], "DOCUMENT");
    assert_eq!(listed["AutoRefreshWindow"], 1800);
    assert_eq!(listed["Scopes"], json!([format!("node:{file}:rw")]));
    assert_eq!(listed["UserLogin"], "alice");
    let document = server.bearer(token);
    assert_eq!(document.download("/personal-files/notes ü/plan #1 50%.txt").await.expect(200).text(), "the plan");
    document.upload("/personal-files/notes ü/plan #1 50%.txt", "plan v2").await.expect(200);
    assert_eq!(alice.download("/personal-files/notes ü/plan #1 50%.txt").await.expect(200).text(), "plan v2");
    document.download("/personal-files/notes ü/other.txt").await.expect(404);
    document.upload("/personal-files/notes ü/new.txt", "new").await.expect(403);
    assert_eq!(document.names("/personal-files/notes ü").await, ["plan #1 50%.txt"]);
    document.post("/a/auth/token/document", &json!({"Path": "/personal-files/notes ü"})).await.expect(403);

    // Read-only for the user: a read-only document token.
    admin.post("/a/workspaces", &json!({"Slug": "handbook"})).await.expect(201);
    admin.put_json("/a/workspaces/handbook/grants/admin", &json!({"Rights": "rw"})).await.expect(204);
    admin.put_json("/a/workspaces/handbook/grants/alice", &json!({"Rights": "r"})).await.expect(204);
    admin.upload("/handbook/rules & more.md", "rules").await.expect(201);
    let rules = admin.uuid("/handbook/rules & more.md").await;
    let body = json!({"Path": "/handbook/rules & more.md"});
    let made = alice.post("/a/auth/token/document", &body).await.expect(200).json();
    let listed = record(&admin, made["Uuid"].as_str().unwrap()).await;
    assert_eq!(listed["Scopes"], json!([format!("node:{rules}:r")]));
    let reader = server.bearer(made["AccessToken"].as_str().unwrap());
    assert_eq!(reader.download("/handbook/rules & more.md").await.expect(200).text(), "rules");
    reader.upload("/handbook/rules & more.md", "changed").await.expect_error(403, "Forbidden");

    for (path, status) in
        [("/handbook/none.md", 404), ("/personal-files/../x", 400), ("relative/x", 404), ("/secret-ws/x", 404)]
    {
        assert_eq!(alice.post("/a/auth/token/document", &json!({"Path": path})).await.status, status, "{path}");
    }
    alice
        .post("/a/auth/token/document", &json!({"Path": "/handbook/rules & more.md", "Rights": "rw"}))
        .await
        .expect(400);
}

#[tokio::test]
async fn self_service_and_what_scoped_tokens_may_not_do() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let body = json!({"AutoRefresh": 600});

    cli_ok(&server.cli(&["token", "self-service", "off"], None));
    within_a_second("self-service off", || async { alice.post("/a/auth/token/personal", &body).await.status == 403 })
        .await;
    alice.post("/a/auth/token/personal", &body).await.expect_error(403, "Forbidden");
    personal(&admin, &body).await;
    let impersonated = json!({"UserLogin": "alice", "AutoRefresh": 600});
    admin.post("/a/auth/token/impersonate", &impersonated).await.expect(200);
    server.pat("alice", &["-e", "1h"]);
    cli_ok(&server.cli(&["token", "self-service", "on"], None));
    within_a_second("self-service on", || async { alice.post("/a/auth/token/personal", &body).await.status == 200 })
        .await;

    // A scoped token manages no token and administers nothing, even an admin's.
    alice.mkdir("/personal-files/scoped").await.expect(201);
    let folder = alice.uuid("/personal-files/scoped").await;
    let scoped = json!({"AutoRefresh": 600, "Scopes": [format!("node:{folder}:rw")]});
    let (token, uuid) = personal(&alice, &scoped).await;
    let scoped_alice = server.bearer(&token);
    scoped_alice.upload("/personal-files/scoped/in.txt", "in").await.expect(201);
    scoped_alice.post("/a/auth/token/personal", &body).await.expect_error(403, "Forbidden");
    scoped_alice.post("/a/auth/tokens", &json!({})).await.expect_error(403, "Forbidden");
    scoped_alice.delete(&format!("/a/auth/tokens/{uuid}")).await.expect_error(403, "Forbidden");
    let document = json!({"Path": "/personal-files/scoped/in.txt"});
    scoped_alice.post("/a/auth/token/document", &document).await.expect_error(403, "Forbidden");
    assert_eq!(record(&admin, &uuid).await["Status"], "active");

    admin.upload("/common-files/admin area", "x").await.expect(201);
    let admin_folder = admin.uuid("/common-files/admin area").await;
    let admin_scoped = server.pat("admin", &["-a", "1h", "-s", &format!("node:{admin_folder}:rw")]);
    let scoped_admin = server.bearer(&admin_scoped);
    scoped_admin.download("/common-files/admin area").await.expect(200);
    let before = records(&admin, None).await.len();
    let forbidden = [
        scoped_admin.get("/a/users").await,
        scoped_admin.post("/a/users", &json!({"Login": "eve", "Password": "eve-password"})).await,
        scoped_admin.patch("/a/users/alice", &json!({"Locked": true})).await,
        scoped_admin.get("/a/workspaces").await,
        scoped_admin.post("/a/workspaces", &json!({"Slug": "sneaky"})).await,
        scoped_admin.post("/a/auth/token/impersonate", &json!({"UserLogin": "alice", "AutoRefresh": 60})).await,
        scoped_admin.post("/a/auth/tokens", &json!({"ByUser": "alice"})).await,
        scoped_admin.delete(&format!("/a/auth/tokens/{uuid}")).await,
    ];
    for reply in forbidden {
        reply.expect_error(403, "Forbidden");
    }
    assert_eq!(records(&admin, None).await.len(), before);
    admin.get("/a/users/eve").await.expect(404);
    admin.get("/a/workspaces/sneaky").await.expect(404);
    scoped_alice.get("/a/tree/").await.expect(200);
}
