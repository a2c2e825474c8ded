//! Scope enforcement: a scoped token reaches its subtrees only (`r`, `w`, `rw`, several
//! adding up), its ancestors as read-only passages that list only the way down, both ends
//! of every move and copy, scopes that follow their node, and never beyond the user.

use serde_json::json;

use crate::support::{Reply, Session, TestServer, cli_usage_error, enc, within_a_second};
use crate::tokens::records;

/// `/common-files` as the admin lays it out: `reports` (`q1.txt`, `sub ü #2/deep 100%.txt`),
/// its prefix sibling `reports-old`, and `other`.
struct Common {
    server: TestServer,
    admin: Session,
    alice: Session,
    reports: String,
    other: String,
    q1: String,
}

impl Common {
    async fn new() -> Self {
        let server = TestServer::start();
        let admin = server.admin().await;
        let alice = server.user(&admin, "alice", "alice-password").await;
        for folder in ["reports", "reports/sub ü #2", "reports-old", "other"] {
            admin.mkdir(&format!("/common-files/{folder}")).await.expect(201);
        }
        admin.upload("/common-files/reports/q1.txt", "q1 numbers").await.expect(201);
        admin.upload("/common-files/reports/sub ü #2/deep 100%.txt", "deep").await.expect(201);
        admin.upload("/common-files/reports-old/old.txt", "old").await.expect(201);
        admin.upload("/common-files/other/x.txt", "x").await.expect(201);
        let reports = admin.uuid("/common-files/reports").await;
        let other = admin.uuid("/common-files/other").await;
        let q1 = admin.uuid("/common-files/reports/q1.txt").await;
        Self { server, admin, alice, reports, other, q1 }
    }

    /// A token of alice's restricted by `scopes`.
    fn scoped(&self, scopes: &[&str]) -> Session {
        let mut args = vec!["-a", "1h"];
        for scope in scopes {
            args.extend(["-s", scope]);
        }
        self.server.bearer(&self.server.pat("alice", &args))
    }
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// Refused: 403 or 404, with the error body.
#[track_caller]
fn refused(reply: &Reply) {
    assert!(matches!(reply.status, 403 | 404), "status {}: {}", reply.status, reply.text());
    reply.assert_error_shape();
}

async fn move_node(session: &Session, from: &str, to: &str) -> Reply {
    session.post("/a/tree/move", &json!({"From": from, "To": to})).await
}

async fn copy_node(session: &Session, from: &str, to: &str) -> Reply {
    session.post("/a/tree/copy", &json!({"From": from, "To": to})).await
}

async fn workspaces(session: &Session) -> Vec<String> {
    let root = session.get("/a/tree/").await.expect(200).json();
    root["Children"].as_array().unwrap().iter().map(|c| c["Path"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_read_scope_reaches_its_subtree_and_nothing_else() {
    let common = Common::new().await;
    let (admin, alice) = (&common.admin, &common.alice);
    let scoped = common.scoped(&[&format!("node:{}:r", common.reports)]);

    // Inside: read and list.
    assert_eq!(scoped.download("/common-files/reports/q1.txt").await.expect(200).text(), "q1 numbers");
    assert_eq!(scoped.download("/common-files/reports/sub ü #2/deep 100%.txt").await.expect(200).text(), "deep");
    assert_eq!(sorted(scoped.names("/common-files/reports").await), ["q1.txt", "sub ü #2"]);
    assert_eq!(scoped.names("/common-files/reports/sub ü #2").await, ["deep 100%.txt"]);
    assert_eq!(scoped.get(&format!("/a/nodes/{}", common.q1)).await.expect(200).json()["Uuid"], common.q1.as_str());

    // Inside, every write is 403.
    scoped.upload("/common-files/reports/q1.txt", "changed").await.expect_error(403, "Forbidden");
    scoped.upload("/common-files/reports/new #1.txt", "new").await.expect_error(403, "Forbidden");
    scoped.mkdir("/common-files/reports/new dir").await.expect_error(403, "Forbidden");
    let rename = move_node(&scoped, "/common-files/reports/q1.txt", "/common-files/reports/q1 renamed.txt").await;
    rename.expect_error(403, "Forbidden");
    copy_node(&scoped, "/common-files/reports/q1.txt", "/common-files/reports/copy.txt")
        .await
        .expect_error(403, "Forbidden");
    scoped.delete(&format!("/a/tree{}", enc("/common-files/reports/q1.txt"))).await.expect_error(403, "Forbidden");
    scoped.delete(&format!("/io{}", enc("/common-files/reports/q1.txt"))).await.expect_error(403, "Forbidden");
    scoped.delete(&format!("/a/tree{}", enc("/common-files/reports/sub ü #2"))).await.expect_error(403, "Forbidden");

    // Above: a read-only passage listing only the way down.
    assert_eq!(scoped.names("/common-files").await, ["reports"]);
    assert_eq!(workspaces(&scoped).await, ["/common-files"]);
    scoped.stat("/common-files").await.expect(200);
    scoped.upload("/common-files/at the top.txt", "x").await.expect_error(403, "Forbidden");
    scoped.mkdir("/common-files/top dir").await.expect_error(403, "Forbidden");

    // Beside, a sibling sharing the prefix, and the personal files: as if absent.
    for path in ["/common-files/other", "/common-files/reports-old", "/common-files/reports-old/old.txt"] {
        scoped.stat(path).await.expect_error(404, "NotFound");
    }
    scoped.get(&format!("/a/tree{}?children=true", enc("/common-files/other"))).await.expect_error(404, "NotFound");
    scoped.download("/common-files/other/x.txt").await.expect_error(404, "NotFound");
    scoped.download("/common-files/reports-old/old.txt").await.expect_error(404, "NotFound");
    refused(&scoped.upload("/common-files/other/x", "x").await);
    refused(&scoped.upload("/common-files/reports-old/y", "y").await);
    scoped.get(&format!("/a/nodes/{}", common.other)).await.expect_error(404, "NotFound");
    scoped.stat("/personal-files").await.expect_error(404, "NotFound");
    refused(&scoped.upload("/personal-files/mine.txt", "mine").await);

    // Out through a move or a copy: refused, nothing changed.
    refused(&move_node(&scoped, "/common-files/reports/q1.txt", "/common-files/other/q1.txt").await);
    refused(&copy_node(&scoped, "/common-files/reports/q1.txt", "/common-files/other/q1.txt").await);
    refused(&copy_node(&scoped, "/common-files/reports/q1.txt", "/personal-files/q1.txt").await);
    refused(&copy_node(&scoped, "/common-files/reports", "/personal-files/reports").await);
    assert_eq!(admin.download("/common-files/reports/q1.txt").await.expect(200).text(), "q1 numbers");
    assert_eq!(admin.names("/common-files/other").await, ["x.txt"]);
    assert_eq!(sorted(admin.names("/common-files/reports").await), ["q1.txt", "sub ü #2"]);
    assert!(alice.names("/personal-files").await.is_empty());

    // The same user without the token sees everything.
    assert_eq!(sorted(alice.names("/common-files").await), ["other", "reports", "reports-old"]);
    assert_eq!(workspaces(alice).await.len(), 2);
}

#[tokio::test]
async fn a_read_write_scope_writes_inside_only_and_checks_both_ends() {
    let common = Common::new().await;
    let admin = &common.admin;
    let scoped = common.scoped(&[&format!("node:{}:rw", common.reports)]);

    scoped.upload("/common-files/reports/new #1 ü.txt", "new").await.expect(201);
    scoped.upload("/common-files/reports/q1.txt", "q1 v2").await.expect(200);
    scoped.mkdir("/common-files/reports/dir 100%").await.expect(201);
    let moved = move_node(&scoped, "/common-files/reports/new #1 ü.txt", "/common-files/reports/dir 100%/moved.txt");
    assert_eq!(moved.await.expect(200).json()["Path"], "/common-files/reports/dir 100%/moved.txt");
    copy_node(&scoped, "/common-files/reports/dir 100%", "/common-files/reports/dir copy").await.expect(201);
    scoped.delete(&format!("/a/tree{}", enc("/common-files/reports/dir copy"))).await.expect(204);
    assert_eq!(admin.download("/common-files/reports/dir 100%/moved.txt").await.expect(200).text(), "new");

    // Outside: nothing, even with rw.
    refused(&scoped.upload("/common-files/other/y.txt", "y").await);
    refused(&scoped.upload("/common-files/reports-old/y.txt", "y").await);
    refused(&scoped.mkdir("/common-files/reports-old/z").await);
    scoped.upload("/common-files/top.txt", "top").await.expect_error(403, "Forbidden");
    refused(&scoped.delete(&format!("/a/tree{}", enc("/common-files/other/x.txt"))).await);

    // Both ends: out of the scope, into it, and the scoped folder itself.
    let q1 = "/common-files/reports/q1.txt";
    for to in [
        "/common-files/other/q1.txt",
        "/common-files/reports-old/q1.txt",
        "/common-files/q1.txt",
        "/personal-files/q1.txt",
    ] {
        refused(&move_node(&scoped, q1, to).await);
        refused(&copy_node(&scoped, q1, to).await);
    }
    refused(&move_node(&scoped, "/common-files/other/x.txt", "/common-files/reports/x.txt").await);
    refused(&copy_node(&scoped, "/common-files/other/x.txt", "/common-files/reports/x.txt").await);
    refused(&copy_node(&scoped, "/common-files/reports-old/old.txt", "/common-files/reports/old.txt").await);
    refused(&move_node(&scoped, "/common-files/reports", "/common-files/reports-renamed").await);
    refused(&move_node(&scoped, "/common-files/reports", "/common-files/other/reports").await);

    assert_eq!(admin.download(q1).await.expect(200).text(), "q1 v2");
    assert_eq!(admin.names("/common-files/other").await, ["x.txt"]);
    assert_eq!(admin.names("/common-files/reports-old").await, ["old.txt"]);
    assert_eq!(sorted(admin.names("/common-files").await), ["other", "reports", "reports-old"]);
    assert!(common.alice.names("/personal-files").await.is_empty());
}

#[tokio::test]
async fn write_only_scopes_and_several_scopes_adding_up() {
    let common = Common::new().await;
    let admin = &common.admin;
    admin.mkdir("/common-files/inbox 📥").await.expect(201);
    admin.upload("/common-files/inbox 📥/already.txt", "there").await.expect(201);
    let inbox = admin.uuid("/common-files/inbox 📥").await;

    let drop_box = common.scoped(&[&format!("node:{inbox}:w")]);
    drop_box.upload("/common-files/inbox 📥/drop #1.txt", "dropped").await.expect(201);
    assert_eq!(admin.download("/common-files/inbox 📥/drop #1.txt").await.expect(200).text(), "dropped");
    drop_box.download("/common-files/inbox 📥/drop #1.txt").await.expect_error(403, "Forbidden");
    drop_box.download("/common-files/inbox 📥/already.txt").await.expect_error(403, "Forbidden");
    let listing = drop_box.get(&format!("/a/tree{}?children=true", enc("/common-files/inbox 📥"))).await;
    listing.expect_error(403, "Forbidden");
    refused(&drop_box.download("/common-files/reports/q1.txt").await);
    refused(&drop_box.upload("/common-files/reports/w.txt", "w").await);

    // r on reports and w on the inbox in one -s, rw on other in another.
    let several =
        common.scoped(&[&format!("node:{}:r, node:{inbox}:w", common.reports), &format!("node:{}:rw", common.other)]);
    assert_eq!(several.download("/common-files/reports/q1.txt").await.expect(200).text(), "q1 numbers");
    several.upload("/common-files/reports/q2.txt", "q2").await.expect_error(403, "Forbidden");
    several.upload("/common-files/inbox 📥/drop #2.txt", "2").await.expect(201);
    several.download("/common-files/inbox 📥/drop #2.txt").await.expect_error(403, "Forbidden");
    several.upload("/common-files/other/y ü.txt", "y").await.expect(201);
    assert_eq!(several.download("/common-files/other/x.txt").await.expect(200).text(), "x");
    several.stat("/common-files/reports-old").await.expect_error(404, "NotFound");
    assert_eq!(sorted(several.names("/common-files").await), ["inbox 📥", "other", "reports"]);
    // Between scopes: readable into writable is allowed, the other way is not.
    copy_node(&several, "/common-files/reports/q1.txt", "/common-files/other/q1 copy.txt").await.expect(201);
    refused(&move_node(&several, "/common-files/reports/q1.txt", "/common-files/other/q1.txt").await);
    refused(&copy_node(&several, "/common-files/inbox 📥/already.txt", "/common-files/other/a.txt").await);
    assert_eq!(admin.download("/common-files/other/q1 copy.txt").await.expect(200).text(), "q1 numbers");
    assert_eq!(admin.download("/common-files/reports/q1.txt").await.expect(200).text(), "q1 numbers");

    let listed = records(admin, Some("alice")).await;
    let mut scopes: Vec<usize> = listed.iter().map(|t| t["Scopes"].as_array().unwrap().len()).collect();
    scopes.sort_unstable();
    assert_eq!(scopes, [1, 3]);
}

#[tokio::test]
async fn a_scope_follows_its_node_and_may_name_one_file() {
    let common = Common::new().await;
    let admin = &common.admin;
    let folder = common.scoped(&[&format!("node:{}:r", common.reports)]);
    let file = common.scoped(&[&format!("node:{}:rw", common.q1)]);
    folder.download("/common-files/reports/q1.txt").await.expect(200);

    // One file: itself, and the way down to it.
    assert_eq!(file.download("/common-files/reports/q1.txt").await.expect(200).text(), "q1 numbers");
    file.upload("/common-files/reports/q1.txt", "q1 by file token").await.expect(200);
    assert_eq!(file.names("/common-files/reports").await, ["q1.txt"]);
    assert_eq!(file.names("/common-files").await, ["reports"]);
    file.download("/common-files/reports/sub ü #2/deep 100%.txt").await.expect_error(404, "NotFound");
    refused(&file.upload("/common-files/reports/beside.txt", "b").await);
    refused(&move_node(&file, "/common-files/reports/q1.txt", "/common-files/reports/q1 moved.txt").await);

    // The admin renames the folder, then moves it under other: the scope follows.
    move_node(admin, "/common-files/reports", "/common-files/reports-2026").await.expect(200);
    within_a_second("the scope follows a rename", || async {
        folder.download("/common-files/reports-2026/q1.txt").await.status == 200
    })
    .await;
    assert_eq!(folder.download("/common-files/reports-2026/q1.txt").await.expect(200).text(), "q1 by file token");
    folder.download("/common-files/reports/q1.txt").await.expect_error(404, "NotFound");
    assert_eq!(folder.names("/common-files").await, ["reports-2026"]);
    assert_eq!(file.download("/common-files/reports-2026/q1.txt").await.expect(200).text(), "q1 by file token");

    move_node(admin, "/common-files/reports-2026", "/common-files/other/archive ü").await.expect(200);
    within_a_second("the scope follows a move", || async {
        folder.download("/common-files/other/archive ü/q1.txt").await.status == 200
    })
    .await;
    assert_eq!(folder.names("/common-files").await, ["other"]);
    assert_eq!(folder.names("/common-files/other").await, ["archive ü"]);
    folder.download("/common-files/other/x.txt").await.expect_error(404, "NotFound");

    // The file itself renamed: its token follows it too.
    move_node(admin, "/common-files/other/archive ü/q1.txt", "/common-files/other/archive ü/Q1 final #1.txt")
        .await
        .expect(200);
    within_a_second("the file scope follows", || async {
        file.download("/common-files/other/archive ü/Q1 final #1.txt").await.status == 200
    })
    .await;
    assert_eq!(file.names("/common-files/other/archive ü").await, ["Q1 final #1.txt"]);

    // Gone: the scope reaches nothing.
    admin.delete(&format!("/io{}", enc("/common-files/other/archive ü/Q1 final #1.txt"))).await.expect(204);
    within_a_second("a deleted node reaches nothing", || async {
        file.stat("/common-files/other").await.status == 404
    })
    .await;
    refused(&file.upload("/common-files/other/archive ü/Q1 final #1.txt", "again").await);
}

#[tokio::test]
async fn a_scope_never_grants_beyond_the_user() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let bob = server.user(&admin, "bob", "bob-password").await;
    admin.post("/a/workspaces", &json!({"Slug": "team-r"})).await.expect(201);
    admin.post("/a/workspaces", &json!({"Slug": "vault"})).await.expect(201);
    let rw = json!({"Rights": "rw"});
    admin.put_json("/a/workspaces/team-r/grants/admin", &rw).await.expect(204);
    admin.put_json("/a/workspaces/vault/grants/admin", &rw).await.expect(204);
    admin.put_json("/a/workspaces/team-r/grants/alice", &json!({"Rights": "r"})).await.expect(204);
    admin.mkdir("/team-r/plans # 1").await.expect(201);
    admin.upload("/team-r/plans # 1/a ü.txt", "plan a").await.expect(201);
    admin.mkdir("/vault/hidden").await.expect(201);
    let plans = admin.uuid("/team-r/plans # 1").await;
    let hidden = admin.uuid("/vault/hidden").await;
    bob.mkdir("/personal-files/bob only").await.expect(201);
    let bobs = bob.uuid("/personal-files/bob only").await;

    // rw asked on what alice may only read: reads, no writes.
    let token = server.bearer(&server.pat("alice", &["-a", "1h", "-s", &format!("node:{plans}:rw")]));
    assert_eq!(token.download("/team-r/plans # 1/a ü.txt").await.expect(200).text(), "plan a");
    token.upload("/team-r/plans # 1/a ü.txt", "changed").await.expect_error(403, "Forbidden");
    token.upload("/team-r/plans # 1/b.txt", "b").await.expect_error(403, "Forbidden");
    token.mkdir("/team-r/plans # 1/sub").await.expect_error(403, "Forbidden");
    token.delete(&format!("/io{}", enc("/team-r/plans # 1/a ü.txt"))).await.expect_error(403, "Forbidden");
    assert_eq!(workspaces(&token).await, ["/team-r"]);

    // Nodes alice cannot reach: no token, from any door.
    let before = records(&admin, None).await.len();
    for node in [&hidden, &bobs] {
        let scopes = json!([format!("node:{node}:r")]);
        let reply = alice.post("/a/auth/token/personal", &json!({"AutoRefresh": 600, "Scopes": scopes})).await;
        let detail = reply.expect_error(400, "BadRequest").json()["Detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(node.as_str()), "{detail}");
        let body = json!({"UserLogin": "alice", "AutoRefresh": 600, "Scopes": scopes});
        admin.post("/a/auth/token/impersonate", &body).await.expect_error(400, "BadRequest");
        let scope = format!("node:{node}:r");
        let output = server.cli(&["user", "token", "-u", "alice", "-e", "1d", "-s", &scope], None);
        let err = cli_usage_error(&output);
        assert!(err.contains(node.as_str()), "{err}");
    }
    // One bad scope among good ones spoils the lot.
    let mixed = json!({"AutoRefresh": 600, "Scopes": [format!("node:{plans}:r"), format!("node:{hidden}:r")]});
    alice.post("/a/auth/token/personal", &mixed).await.expect_error(400, "BadRequest");
    assert_eq!(records(&admin, None).await.len(), before);

    // The scope intersects the user's rights as they are now.
    admin.put_json("/a/workspaces/team-r/grants/alice", &json!({"Rights": "rw"})).await.expect(204);
    within_a_second("alice may write now", || async {
        token.upload("/team-r/plans # 1/b.txt", "b").await.status == 201
    })
    .await;
    admin.delete("/a/workspaces/team-r/grants/alice").await.expect(204);
    within_a_second("alice's grant gone", || async {
        token.download("/team-r/plans # 1/a ü.txt").await.status == 404
    })
    .await;
    assert!(workspaces(&token).await.is_empty());
}
