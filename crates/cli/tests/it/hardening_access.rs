//! Issue 6, the access rules: a passage is never content (no copy or document token of
//! it), document tokens obey self-service and name files only, a token has a bounded
//! number of scopes, names are one per Unicode normal form and carry no bidi controls,
//! logins are unique in any letter case, and JSON paths may leave out the leading slash.

use serde_json::json;

use crate::support::{Session, TestServer, cli_ok};

/// The layout of the reproduction in the issue: `reports/2026` and `reports/salaries.csv`
/// (a sibling the token must never see), and `inbox`.
async fn reports(server: &TestServer) -> (Session, String, String) {
    let admin = server.admin().await;
    let _alice = server.user(&admin, "alice", "alice-password").await;
    for folder in ["reports", "reports/2026", "inbox"] {
        admin.mkdir(&format!("/common-files/{folder}")).await.expect(201);
    }
    admin.upload("/common-files/reports/salaries.csv", "secret salaries").await.expect(201);
    admin.upload("/common-files/reports/2026/q1.csv", "q1").await.expect(201);
    let year = admin.uuid("/common-files/reports/2026").await;
    let inbox = admin.uuid("/common-files/inbox").await;
    (admin, year, inbox)
}

#[tokio::test]
async fn a_passage_cannot_be_copied_moved_or_taken_by_a_document_token() {
    let server = TestServer::start();
    let (admin, year, inbox) = reports(&server).await;
    let token = server.pat("alice", &["-a", "1h", "-s", &format!("node:{year}:r"), "-s", &format!("node:{inbox}:rw")]);
    let scoped = server.bearer(&token);

    // The passage shows the way down and nothing else.
    scoped.download("/common-files/reports/salaries.csv").await.expect(404);
    let listed = scoped.names("/common-files/reports").await;
    assert_eq!(listed, ["2026"]);

    // The escape of the issue: copying the passage into the writable inbox.
    let copy =
        scoped.post("/a/tree/copy", &json!({"From": "/common-files/reports", "To": "/common-files/inbox/loot"})).await;
    copy.expect_error(403, "Forbidden");
    scoped.download("/common-files/inbox/loot/salaries.csv").await.expect(404);
    assert!(admin.names("/common-files/inbox").await.is_empty(), "nothing was copied");
    // Nor moved, nor taken whole by a document token, nor as a Cells-style path.
    let moved =
        scoped.post("/a/tree/move", &json!({"From": "/common-files/reports", "To": "/common-files/inbox/r"})).await;
    assert!(matches!(moved.status, 403 | 404), "{}", moved.text());
    let doc = scoped.post("/a/auth/token/document", &json!({"Path": "/common-files/reports"})).await;
    assert_eq!(doc.status, 403, "{}", doc.text());
    let copy =
        scoped.post("/a/tree/copy", &json!({"From": "common-files/reports", "To": "common-files/inbox/loot"})).await;
    copy.expect_error(403, "Forbidden");

    // Control: what the scope covers can be copied into what it may write.
    let copied = scoped
        .post("/a/tree/copy", &json!({"From": "/common-files/reports/2026", "To": "/common-files/inbox/2026"}))
        .await;
    copied.expect(201);
    assert_eq!(scoped.download("/common-files/inbox/2026/q1.csv").await.expect(200).text(), "q1");
    assert_eq!(admin.download("/common-files/reports/salaries.csv").await.expect(200).text(), "secret salaries");
}

#[tokio::test]
async fn document_tokens_are_for_files_and_obey_self_service() {
    let server = TestServer::start();
    let (admin, _, _) = reports(&server).await;
    let alice = server.login("alice", "alice-password").await;
    alice.upload("/personal-files/doc.txt", "my document").await.expect(201);

    // A folder is a 400, with or without self-service.
    alice.post("/a/auth/token/document", &json!({"Path": "/personal-files"})).await.expect_error(400, "BadRequest");
    alice.mkdir("/personal-files/folder").await.expect(201);
    let folder = alice.post("/a/auth/token/document", &json!({"Path": "/personal-files/folder"})).await;
    folder.expect_error(400, "BadRequest");
    let common = alice.post("/a/auth/token/document", &json!({"Path": "/common-files"})).await;
    assert!(matches!(common.status, 400 | 403), "{}", common.text());

    // Control: a file while self-service is on.
    let made = alice.post("/a/auth/token/document", &json!({"Path": "personal-files/doc.txt"})).await.expect(200);
    assert_eq!(made.header("Cache-Control").as_deref(), Some("no-store"));
    let doc = server.bearer(made.json()["AccessToken"].as_str().unwrap());
    assert_eq!(doc.download("/personal-files/doc.txt").await.expect(200).text(), "my document");

    // Self-service off: no more document tokens for standard users (admins still).
    cli_ok(&server.cli(&["token", "self-service", "off"], None));
    let refused = alice.post("/a/auth/token/document", &json!({"Path": "/personal-files/doc.txt"})).await;
    refused.expect_error(403, "Forbidden");
    admin.upload("/common-files/admin.txt", "a").await.expect(201);
    admin.post("/a/auth/token/document", &json!({"Path": "/common-files/admin.txt"})).await.expect(200);
}

#[tokio::test]
async fn a_token_has_at_most_64_scopes() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let mut scopes = Vec::new();
    for n in 0..65 {
        admin.mkdir(&format!("/common-files/f{n}")).await.expect(201);
        scopes.push(format!("node:{}:r", admin.uuid(&format!("/common-files/f{n}")).await));
    }
    let body = |scopes: &[String]| json!({"Label": "many", "AutoRefresh": 600, "Scopes": scopes});
    let too_many = admin.post("/a/auth/token/personal", &body(&scopes)).await.expect_error(400, "BadRequest");
    assert!(too_many.text().contains("at most 64 scopes"), "{}", too_many.text());
    // A huge body of repeats is read cheaply and counts once.
    let repeats = vec![scopes[0].clone(); 40_000];
    admin.post("/a/auth/token/personal", &body(&repeats)).await.expect(200);
    // Control: 64 are fine.
    let made = admin.post("/a/auth/token/personal", &body(&scopes[..64])).await.expect(200);
    let token = server.bearer(made.json()["AccessToken"].as_str().unwrap());
    token.stat("/common-files/f63").await.expect(200);
    token.stat("/common-files/f64").await.expect(404);
    let cli = server.cli(&["user", "token", "-u", "admin", "-a", "1h", "-s", &scopes.join(",")], None);
    assert_eq!(cli.status.code(), Some(2), "{}", String::from_utf8_lossy(&cli.stderr));
}

#[tokio::test]
async fn names_are_one_per_normal_form_and_carry_no_bidi_controls() {
    let server = TestServer::start();
    let admin = server.admin().await;
    // NFC then NFD (as macOS sends it): the same name.
    admin.upload("/common-files/caf\u{e9}.txt", "composed").await.expect(201);
    let replaced = admin.upload("/common-files/cafe\u{301}.txt", "decomposed").await.expect(200);
    assert_eq!(replaced.json()["Path"], "/common-files/caf\u{e9}.txt");
    assert_eq!(admin.names("/common-files").await, ["caf\u{e9}.txt"]);
    let folder =
        admin.post("/a/tree/create", &json!({"Path": "/common-files/cafe\u{301}.txt", "Type": "COLLECTION"})).await;
    folder.expect_error(409, "Conflict");
    // Bidi overrides in a name, a label or a display name.
    admin.upload("/common-files/invoice\u{202e}txt.exe", "x").await.expect_error(400, "BadRequest");
    let label = json!({"Label": "safe\u{202e}evil", "AutoRefresh": 600});
    admin.post("/a/auth/token/personal", &label).await.expect_error(400, "BadRequest");
    let user = json!({"Login": "dora", "Password": "dora-password", "DisplayName": "Dora \u{2067}x"});
    admin.post("/a/users", &user).await.expect_error(400, "BadRequest");
    // Control: right-to-left text itself is a name like any other.
    admin
        .upload(&format!("/common-files/{}", crate::client::enc("\u{5e9}\u{5dc}\u{5d5}\u{5dd}.txt")), "x")
        .await
        .expect(201);
}

#[tokio::test]
async fn logins_are_unique_in_any_letter_case() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let created = admin.post("/a/users", &json!({"Login": "alice"})).await.expect(201);
    assert_eq!(created.header("Cache-Control").as_deref(), Some("no-store"), "it carries a generated password");
    for clash in ["Alice", "ALICE", "aLiCe"] {
        let reply = admin.post("/a/users", &json!({"Login": clash, "Password": "some-password"})).await;
        reply.expect_error(409, "Conflict");
    }
    let cli = server.cli(&["user", "create", "-u", "ADMIN", "-p", "some-password"], None);
    assert_eq!(cli.status.code(), Some(2), "{}", String::from_utf8_lossy(&cli.stderr));
    // A login shaped like a token is refused outright.
    admin
        .post("/a/users", &json!({"Login": "cpat_alice", "Password": "some-password"}))
        .await
        .expect_error(400, "BadRequest");
    // Control: another name is fine.
    admin.post("/a/users", &json!({"Login": "alice2", "Password": "some-password"})).await.expect(201);
}

#[tokio::test]
async fn json_paths_may_leave_out_the_leading_slash() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let made = admin.post("/a/tree/create", &json!({"Path": "personal-files/report", "Type": "COLLECTION"})).await;
    assert_eq!(made.expect(201).json()["Path"], "/personal-files/report", "answers carry the slash");
    admin.upload("/personal-files/report/a.txt", "a").await.expect(201);
    let copied =
        admin.post("/a/tree/copy", &json!({"From": "personal-files/report/a.txt", "To": "personal-files/b.txt"})).await;
    assert_eq!(copied.expect(201).json()["Path"], "/personal-files/b.txt");
    admin
        .post("/a/tree/move", &json!({"From": "/personal-files/b.txt", "To": "personal-files/c.txt"}))
        .await
        .expect(200);
    assert_eq!(admin.download("/personal-files/c.txt").await.expect(200).text(), "a");
    let made = admin.post("/a/auth/token/document", &json!({"Path": "personal-files/c.txt"})).await;
    made.expect(200);
}
