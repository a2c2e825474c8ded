//! Who sees what: personal files are private, common files shared, custom workspaces
//! visible only with a grant (`r` or `rw`), admins included; revocation is immediate.

use serde_json::json;

use crate::support::{Session, TestServer, enc, within_a_second};

async fn workspace_slugs(session: &Session) -> Vec<String> {
    let root = session.get("/a/tree/").await.expect(200).json();
    let children = root["Children"].as_array().unwrap();
    assert_eq!(root["Pagination"]["Total"], children.len());
    children.iter().map(|c| c["Path"].as_str().unwrap().trim_start_matches('/').to_owned()).collect()
}

#[tokio::test]
async fn personal_files_are_private_and_common_files_shared() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let bob = server.user(&admin, "bob", "bob-password").await;

    let secret = alice.upload("/personal-files/diary #1 ü.txt", "alice's secret").await.expect(201).json();
    let secret_uuid = secret["Uuid"].as_str().unwrap();
    // Bob's /personal-files is his own: alice's file is not there, under any name.
    bob.stat("/personal-files/diary #1 ü.txt").await.expect_error(404, "NotFound");
    bob.download("/personal-files/diary #1 ü.txt").await.expect_error(404, "NotFound");
    assert!(bob.names("/personal-files").await.is_empty());
    bob.get(&format!("/a/nodes/{secret_uuid}")).await.expect_error(404, "NotFound");
    admin.get(&format!("/a/nodes/{secret_uuid}")).await.expect_error(404, "NotFound");
    alice.get(&format!("/a/nodes/{secret_uuid}")).await.expect(200);
    // Moving alice's file is impossible for bob: he does not see it.
    let steal = json!({"From": "/personal-files/diary #1 ü.txt", "To": "/common-files/stolen"});
    bob.post("/a/tree/move", &steal).await.expect_error(404, "NotFound");
    bob.stat("/common-files/stolen").await.expect(404);
    // Bob writing the same name writes his own file.
    bob.upload("/personal-files/diary #1 ü.txt", "bob's own").await.expect(201);
    assert_eq!(alice.download("/personal-files/diary #1 ü.txt").await.expect(200).text(), "alice's secret");

    // Common files: everyone reads and writes.
    let shared = alice.upload("/common-files/plan 100%.md", "v1").await.expect(201).json();
    assert_eq!(bob.download("/common-files/plan 100%.md").await.expect(200).text(), "v1");
    let replaced = bob.upload("/common-files/plan 100%.md", "v2 by bob").await.expect(200).json();
    assert_eq!(replaced["Uuid"], shared["Uuid"]);
    assert_eq!(alice.download("/common-files/plan 100%.md").await.expect(200).text(), "v2 by bob");
    assert_eq!(admin.download("/common-files/plan 100%.md").await.expect(200).text(), "v2 by bob");

    let slugs = workspace_slugs(&bob).await;
    assert!(slugs.contains(&"personal-files".to_owned()) && slugs.contains(&"common-files".to_owned()), "{slugs:?}");
}

#[tokio::test]
async fn grants_decide_and_revocation_is_immediate() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let bob = server.user(&admin, "bob", "bob-password").await;
    admin.post("/a/workspaces", &json!({"Slug": "team-42", "Label": "Team ü"})).await.expect(201);

    // Nobody sees it without a grant: not even the admin who made it.
    for session in [&admin, &alice, &bob] {
        session.stat("/team-42").await.expect_error(404, "NotFound");
        session.upload("/team-42/x.txt", "x").await.expect_error(404, "NotFound");
        session.mkdir("/team-42/dir").await.expect_error(404, "NotFound");
        assert!(!workspace_slugs(session).await.contains(&"team-42".to_owned()));
    }

    // rw for alice: she writes; r for bob: he reads, and every write is 403.
    admin.put_json("/a/workspaces/team-42/grants/alice", &json!({"Rights": "rw"})).await.expect(204);
    admin.put_json("/a/workspaces/team-42/grants/bob", &json!({"Rights": "r"})).await.expect(204);
    let grants = admin.get("/a/workspaces/team-42").await.expect(200).json();
    assert_eq!(grants["Grants"].as_array().unwrap().len(), 2, "{grants}");
    alice.mkdir("/team-42/docs & co").await.expect(201);
    let report = alice.upload("/team-42/docs & co/report #3.txt", "numbers").await.expect(201).json();
    assert!(workspace_slugs(&bob).await.contains(&"team-42".to_owned()));
    assert_eq!(bob.download("/team-42/docs & co/report #3.txt").await.expect(200).text(), "numbers");
    assert_eq!(bob.names("/team-42/docs & co").await, ["report #3.txt"]);
    bob.get(&format!("/a/nodes/{}", report["Uuid"].as_str().unwrap())).await.expect(200);
    bob.upload("/team-42/docs & co/report #3.txt", "changed").await.expect_error(403, "Forbidden");
    bob.upload("/team-42/new.txt", "new").await.expect_error(403, "Forbidden");
    bob.mkdir("/team-42/bob dir").await.expect_error(403, "Forbidden");
    let rename = json!({"From": "/team-42/docs & co/report #3.txt", "To": "/team-42/docs & co/r.txt"});
    bob.post("/a/tree/move", &rename).await.expect_error(403, "Forbidden");
    let out = json!({"From": "/team-42/docs & co/report #3.txt", "To": "/personal-files/r.txt"});
    bob.post("/a/tree/move", &out).await.expect_error(403, "Forbidden");
    bob.upload("/personal-files/mine.txt", "mine").await.expect(201);
    let into = json!({"From": "/personal-files/mine.txt", "To": "/team-42/mine.txt"});
    bob.post("/a/tree/move", &into).await.expect_error(403, "Forbidden");
    bob.delete(&format!("/a/tree{}", enc("/team-42/docs & co"))).await.expect_error(403, "Forbidden");
    bob.delete(&format!("/io{}", enc("/team-42/docs & co/report #3.txt"))).await.expect_error(403, "Forbidden");
    assert_eq!(bob.download("/team-42/docs & co/report #3.txt").await.expect(200).text(), "numbers");
    // Reading is enough to copy out.
    let copy = json!({"From": "/team-42/docs & co", "To": "/personal-files/copied docs"});
    let copied = bob.post("/a/tree/copy", &copy).await.expect(201).json();
    assert_eq!(copied["Path"], "/personal-files/copied docs");
    assert_eq!(bob.download("/personal-files/copied docs/report #3.txt").await.expect(200).text(), "numbers");

    // Across workspaces, a move keeps the UUID.
    let mine = alice.upload("/personal-files/moving.txt", "moving").await.expect(201).json();
    let across = json!({"From": "/personal-files/moving.txt", "To": "/team-42/moved.txt"});
    let moved = alice.post("/a/tree/move", &across).await.expect(200).json();
    assert_eq!(moved["Uuid"], mine["Uuid"]);
    assert_eq!(moved["Path"], "/team-42/moved.txt");
    assert_eq!(bob.download("/team-42/moved.txt").await.expect(200).text(), "moving");

    // Downgrading alice to r is immediate.
    admin.put_json("/a/workspaces/team-42/grants/alice", &json!({"Rights": "r"})).await.expect(204);
    alice.upload("/team-42/after.txt", "late").await.expect_error(403, "Forbidden");

    // Revoking bob: the workspace vanishes for him within a second.
    admin.delete("/a/workspaces/team-42/grants/bob").await.expect(204);
    within_a_second("bob's access revoked", || async { bob.download("/team-42/moved.txt").await.status == 404 }).await;
    bob.stat("/team-42").await.expect_error(404, "NotFound");
    assert!(!workspace_slugs(&bob).await.contains(&"team-42".to_owned()));
    bob.get(&format!("/a/nodes/{}", report["Uuid"].as_str().unwrap())).await.expect_error(404, "NotFound");
    // Revoking twice: no such grant.
    admin.delete("/a/workspaces/team-42/grants/bob").await.expect_error(404, "NotFound");

    // Deleting the workspace takes its content with it.
    admin.delete("/a/workspaces/team-42").await.expect(204);
    alice.stat("/team-42").await.expect_error(404, "NotFound");
    alice.get(&format!("/a/nodes/{}", mine["Uuid"].as_str().unwrap())).await.expect_error(404, "NotFound");
    admin.get("/a/workspaces/team-42").await.expect_error(404, "NotFound");
}

#[tokio::test]
async fn administration_is_for_admins() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let forbidden = [
        alice.get("/a/users").await,
        alice.get("/a/users/admin").await,
        alice.post("/a/users", &json!({"Login": "eve", "Password": "eve-password"})).await,
        alice.patch("/a/users/alice", &json!({"Profile": "admin"})).await,
        alice.delete("/a/users/admin").await,
        alice.get("/a/workspaces").await,
        alice.post("/a/workspaces", &json!({"Slug": "mine"})).await,
        alice.put_json("/a/workspaces/common-files/grants/alice", &json!({"Rights": "rw"})).await,
    ];
    for reply in forbidden {
        reply.expect_error(403, "Forbidden");
    }
    admin.get("/a/users/eve").await.expect_error(404, "NotFound");
    assert_eq!(admin.get("/a/users/alice").await.expect(200).json()["Profile"], "standard");

    // Promoted, alice administers.
    admin.patch("/a/users/alice", &json!({"Profile": "admin", "DisplayName": "Alice Ü"})).await.expect(200);
    let listed = alice.get("/a/users?offset=0&limit=10").await.expect(200).json();
    assert_eq!(listed["Pagination"]["Total"], 2);
    let page = alice.get("/a/users?offset=1&limit=1").await.expect(200).json();
    assert_eq!(page["Users"].as_array().unwrap().len(), 1);
    assert_eq!(page["Pagination"]["Offset"], 1);
    assert!(!listed.to_string().contains("$argon2"), "a password hash leaked: {listed}");
    // An admin cannot lock or delete themself.
    alice.patch("/a/users/alice", &json!({"Locked": true})).await.expect_error(409, "Conflict");
    alice.delete("/a/users/alice").await.expect_error(409, "Conflict");
    // But may lock another admin.
    alice.patch("/a/users/admin", &json!({"Locked": true})).await.expect(200);
    within_a_second("the locked admin refused", || async { admin.get("/a/users").await.status == 401 }).await;
}
