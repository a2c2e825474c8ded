//! The contract of the store, as a suite that every backend must pass.
//!
//! Each check is an `async fn` taking a `&Store` (or a `&Blobs`) and nothing else, so that
//! another backend (PostgreSQL, S3) runs the very same functions: add a module at the
//! bottom that opens that backend and lists the checks. The SQLite wrappers open a fresh
//! database per test, in a temporary file and in memory (where the pool has a single
//! connection, so a method that asks for a second connection while holding a
//! transaction would hang instead of passing).
//!
//! Names are awkward on purpose: spaces, `%`, `#`, unicode, and siblings that share a
//! prefix (`a`, `ab`, `a0`, `a.b`, `a b`) with the folder being moved or deleted, since
//! the tree selects a subtree by a range of paths.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use cells_core::{BlobId, Login, NodeId, NodeKind, Profile, Rights, UnixTime, UserId, WorkspaceId};
use cells_store::{BlobReader, Blobs, NewNode, NewUser, NodeRecord, Store, StoreError, UserUpdate, WorkspaceKind};
use futures_util::StreamExt;

mod tokens;
use tokens::*;

const NOW: UnixTime = 1_700_000_000;
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";

// ---------------------------------------------------------------------------------------
// Fixtures

async fn new_user(store: &Store, login: &str) -> UserId {
    let login = Login::parse(login).expect("valid login");
    let new = NewUser {
        login: &login,
        display_name: "Zoë O'Brien (ops) #1 100%",
        profile: Profile::Standard,
        password_hash: HASH,
    };
    store.create_user(&new, NOW).await.expect("create user").id
}

async fn personal_root(store: &Store, user: UserId) -> (WorkspaceId, NodeId) {
    let ws = store.personal_workspace(user).await.expect("read workspace").expect("personal workspace exists");
    (ws.id, ws.root)
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_owned() } else { format!("{parent}/{name}") }
}

/// Creates a folder under `parent` (given by record).
async fn folder(store: &Store, parent: &NodeRecord, name: &str) -> NodeRecord {
    let path = join(&parent.path, name);
    let new = NewNode {
        workspace: parent.workspace,
        parent: parent.id,
        path: &path,
        name,
        kind: NodeKind::Collection,
        size: 0,
        blob: None,
    };
    store.create_node(&new, NOW).await.unwrap_or_else(|e| panic!("create folder {path:?}: {e}"))
}

/// Creates a file under `parent` pointing to a (fictitious) blob, returned with the node.
async fn file(store: &Store, parent: &NodeRecord, name: &str) -> (NodeRecord, BlobId) {
    let path = join(&parent.path, name);
    let blob = BlobId::random();
    let new = NewNode {
        workspace: parent.workspace,
        parent: parent.id,
        path: &path,
        name,
        kind: NodeKind::Leaf,
        size: 42,
        blob: Some(blob),
    };
    let (node, created, replaced) =
        store.put_file(&new, NOW).await.unwrap_or_else(|e| panic!("put file {path:?}: {e}"));
    assert!(created, "{path:?} is new");
    assert_eq!(replaced, None);
    (node, blob)
}

async fn node(store: &Store, ws: WorkspaceId, path: &str) -> NodeRecord {
    store.node_by_path(ws, path).await.expect("read node").unwrap_or_else(|| panic!("no node at {path:?}"))
}

async fn root_record(store: &Store, ws: WorkspaceId) -> NodeRecord {
    node(store, ws, "").await
}

async fn absent(store: &Store, ws: WorkspaceId, path: &str) -> bool {
    store.node_by_path(ws, path).await.expect("read node").is_none()
}

async fn counter(store: &Store) -> i64 {
    store.change_counter().await.expect("change counter")
}

fn set(blobs: impl IntoIterator<Item = BlobId>) -> BTreeSet<String> {
    blobs.into_iter().map(|b| b.to_string()).collect()
}

/// The prefix siblings of a folder named `a`, each a file or a folder with one file.
/// Returns their paths (and their descendants' paths) to check they never move.
async fn prefix_siblings(store: &Store, parent: &NodeRecord) -> (Vec<String>, Vec<BlobId>) {
    let mut paths = Vec::new();
    let mut blobs = Vec::new();
    for name in ["ab", "a b", "a.b", "a!", "a-", "a%", "a#"] {
        let f = folder(store, parent, name).await;
        let (inner, blob) = file(store, &f, "inner").await;
        paths.push(f.path);
        paths.push(inner.path);
        blobs.push(blob);
    }
    for name in ["a0", "a1", "A", "a\u{e9}", "aa"] {
        let (f, blob) = file(store, parent, name).await;
        paths.push(f.path);
        blobs.push(blob);
    }
    (paths, blobs)
}

// ---------------------------------------------------------------------------------------
// Schema, users

/// Reopening a database applies no migration twice and keeps what was written.
async fn reopen_keeps_data(url: &str) {
    let first = Store::open(url).await.expect("first open");
    let user = new_user(&first, "persistent.user").await;
    first.set_setting("reopen", "yes").await.expect("setting");
    let before = counter(&first).await;
    first.close().await;

    let second = Store::open(url).await.expect("second open (migrations already applied)");
    assert_eq!(second.integrity_check().await.expect("integrity check"), "ok");
    let found = second.user_by_id(user).await.expect("read user").expect("user survives a reopen");
    assert_eq!(found.login.as_str(), "persistent.user");
    assert!(second.personal_workspace(user).await.expect("read workspace").is_some());
    assert_eq!(second.setting("reopen").await.expect("setting").as_deref(), Some("yes"));
    assert_eq!(counter(&second).await, before);
    second.close().await;

    let third = Store::open(url).await.expect("third open");
    assert_eq!(third.count_users().await.expect("count"), 1);
    third.close().await;
}

async fn fresh_database_is_empty(store: &Store) {
    store.ping().await.expect("ping");
    assert_eq!(store.count_users().await.expect("count"), 0);
    assert!(store.list_users(0, 100).await.expect("list").is_empty());
    assert!(store.list_shared_workspaces().await.expect("list").is_empty());
    assert!(store.user_by_login("admin").await.expect("read").is_none());
    assert!(store.user_by_id(UserId::random()).await.expect("read").is_none());
    assert!(store.node_by_id(NodeId::random()).await.expect("read").is_none());
    assert!(store.workspace_by_id(WorkspaceId::random()).await.expect("read").is_none());
}

async fn create_user_makes_personal_workspace(store: &Store) {
    let login = Login::parse("o.brien-2@example.org").expect("login");
    let new =
        NewUser { login: &login, display_name: "Zoë \u{1F600} 100% #1", profile: Profile::Admin, password_hash: HASH };
    let user = store.create_user(&new, NOW).await.expect("create user");
    assert_eq!(user.login, login);
    assert_eq!(user.display_name, "Zoë \u{1F600} 100% #1");
    assert_eq!(user.profile, Profile::Admin);
    assert_eq!(user.password_hash, HASH);
    assert!(!user.locked);
    assert_eq!((user.created_at, user.updated_at), (NOW, NOW));

    let by_login = store.user_by_login("o.brien-2@example.org").await.expect("read").expect("found by login");
    assert_eq!(by_login.id, user.id);
    let by_id = store.user_by_id(user.id).await.expect("read").expect("found by id");
    assert_eq!(by_id.login, login);
    // Logins are compared exactly.
    assert!(store.user_by_login("O.BRIEN-2@example.org").await.expect("read").is_none());

    let ws = store.personal_workspace(user.id).await.expect("read").expect("personal workspace");
    assert_eq!(ws.kind, WorkspaceKind::Personal);
    assert_eq!(ws.slug, "personal-files");
    assert_eq!(ws.owner, Some(user.id));
    assert_eq!(ws.created_at, NOW);
    let root = store.node_by_id(ws.root).await.expect("read").expect("root node");
    assert_eq!(root.path, "");
    assert_eq!(root.kind, NodeKind::Collection);
    assert_eq!(root.parent, None);
    assert_eq!(root.workspace, ws.id);
    assert_eq!(root.blob, None);
    assert_eq!(node(store, ws.id, "").await.id, ws.root);
    assert!(!root.etag.is_empty());
    let (children, total) = store.list_children(ws.root, 0, 100).await.expect("list");
    assert!(children.is_empty());
    assert_eq!(total, 0);
    assert_eq!(store.workspace_by_id(ws.id).await.expect("read").expect("by id").root, ws.root);

    // A personal workspace is never found by slug nor listed as shared.
    assert!(store.workspace_by_slug("personal-files").await.expect("read").is_none());
    assert!(store.list_shared_workspaces().await.expect("list").is_empty());

    // Each user has their own.
    let other = new_user(store, "x_y").await;
    let other_ws = store.personal_workspace(other).await.expect("read").expect("second personal workspace");
    assert_ne!(other_ws.id, ws.id);
    assert_ne!(other_ws.root, ws.root);
    assert_eq!(other_ws.slug, "personal-files");

    let users = store.list_users(0, 10).await.expect("list");
    let logins: Vec<&str> = users.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(logins, ["o.brien-2@example.org", "x_y"]);
    let page: Vec<String> =
        store.list_users(1, 10).await.expect("list").iter().map(|u| u.login.as_str().to_owned()).collect();
    assert_eq!(page, ["x_y"]);
    assert_eq!(store.count_users().await.expect("count"), 2);
}

async fn duplicate_login_is_a_conflict(store: &Store) {
    let first = new_user(store, "dup.login").await;
    let login = Login::parse("dup.login").expect("login");
    let again = NewUser { login: &login, display_name: "other", profile: Profile::Admin, password_hash: HASH };
    match store.create_user(&again, NOW + 1).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("login"), "names the field: {what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The failed attempt left nothing behind.
    assert_eq!(store.count_users().await.expect("count"), 1);
    let kept = store.user_by_login("dup.login").await.expect("read").expect("first user kept");
    assert_eq!(kept.id, first);
    assert_eq!(kept.profile, Profile::Standard);
}

async fn update_and_lock_bump_the_change_counter(store: &Store) {
    let user = new_user(store, "updated").await;
    store.insert_refresh_token("r-before-password", user, NOW, NOW + 3600).await.expect("insert");

    let start = counter(store).await;
    let renamed = UserUpdate { display_name: Some("Ünïcödé 100% #2".to_owned()), ..UserUpdate::default() };
    let after = store.update_user(user, &renamed, NOW + 1).await.expect("update").expect("exists");
    assert_eq!(after.display_name, "Ünïcödé 100% #2");
    assert_eq!(after.updated_at, NOW + 1);
    assert_eq!(after.created_at, NOW);
    assert_eq!(after.profile, Profile::Standard, "fields not given are kept");
    assert!(counter(store).await >= start);

    let before = counter(store).await;
    let password = UserUpdate { password_hash: Some("$argon2id$new".to_owned()), ..UserUpdate::default() };
    let after = store.update_user(user, &password, NOW + 2).await.expect("update").expect("exists");
    assert_eq!(after.password_hash, "$argon2id$new");
    assert_eq!(after.display_name, "Ünïcödé 100% #2");
    assert!(counter(store).await > before, "a password change bumps the counter");
    assert_eq!(
        store.redeem_refresh_token("r-before-password", NOW + 3).await.expect("redeem"),
        None,
        "a password change ends OAuth sessions"
    );

    store.insert_refresh_token("r-before-lock", user, NOW, NOW + 3600).await.expect("insert");
    let before = counter(store).await;
    let lock = UserUpdate { locked: Some(true), ..UserUpdate::default() };
    let after = store.update_user(user, &lock, NOW + 4).await.expect("update").expect("exists");
    assert!(after.locked);
    assert!(counter(store).await > before, "locking bumps the counter");
    assert_eq!(store.redeem_refresh_token("r-before-lock", NOW + 5).await.expect("redeem"), None);

    let before = counter(store).await;
    let unlock = UserUpdate { locked: Some(false), ..UserUpdate::default() };
    assert!(!store.update_user(user, &unlock, NOW + 6).await.expect("update").expect("exists").locked);
    assert!(counter(store).await > before, "unlocking bumps the counter");

    let before = counter(store).await;
    let promote = UserUpdate { profile: Some(Profile::Admin), ..UserUpdate::default() };
    assert_eq!(
        store.update_user(user, &promote, NOW + 7).await.expect("update").expect("exists").profile,
        Profile::Admin
    );
    assert!(counter(store).await > before, "a profile change bumps the counter");

    let nobody = store.update_user(UserId::random(), &lock, NOW).await.expect("update of nobody");
    assert!(nobody.is_none());
}

async fn delete_user_removes_personal_workspace(store: &Store) {
    let user = new_user(store, "leaving").await;
    let stays = new_user(store, "staying").await;
    let (ws, _) = personal_root(store, user).await;
    let root = root_record(store, ws).await;
    let sub = folder(store, &root, "docs 100% #1").await;
    let (_, blob1) = file(store, &root, "a.txt").await;
    let (deep, blob2) = file(store, &sub, "ré sumé.pdf").await;

    let (stays_ws, _) = personal_root(store, stays).await;
    let (stays_file, stays_blob) = file(store, &root_record(store, stays_ws).await, "a.txt").await;

    let team = store.create_workspace("team", "Team", NOW).await.expect("workspace");
    store.set_grant(team.id, user, Rights::READ_WRITE).await.expect("grant");
    store.set_grant(team.id, stays, Rights::READ).await.expect("grant");
    store.insert_refresh_token("leaving-refresh", user, NOW, NOW + 3600).await.expect("refresh");

    let before = counter(store).await;
    let blobs = store.delete_user(user).await.expect("delete").expect("user existed");
    assert_eq!(set(blobs), set([blob1, blob2]));
    assert!(counter(store).await > before, "deleting a user bumps the counter");

    assert!(store.user_by_id(user).await.expect("read").is_none());
    assert!(store.user_by_login("leaving").await.expect("read").is_none());
    assert!(store.personal_workspace(user).await.expect("read").is_none());
    assert!(store.workspace_by_id(ws).await.expect("read").is_none());
    assert!(store.node_by_id(root.id).await.expect("read").is_none());
    assert!(store.node_by_id(deep.id).await.expect("read").is_none());
    assert!(store.grant_of(team.id, user).await.expect("read").is_none());
    let grants = store.grants_on(team.id).await.expect("grants");
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].user, stays);
    assert_eq!(store.redeem_refresh_token("leaving-refresh", NOW + 1).await.expect("redeem"), None);
    assert!(!store.blob_in_use(blob1).await.expect("in use"));

    // The other user is untouched.
    assert_eq!(node(store, stays_ws, "a.txt").await.id, stays_file.id);
    assert!(store.blob_in_use(stays_blob).await.expect("in use"));
    assert_eq!(store.count_users().await.expect("count"), 1);

    assert!(store.delete_user(user).await.expect("delete again").is_none());
    // The login is free again, with a fresh personal workspace.
    let back = new_user(store, "leaving").await;
    assert_ne!(back, user);
    let (back_ws, _) = personal_root(store, back).await;
    assert!(absent(store, back_ws, "a.txt").await);
}

// ---------------------------------------------------------------------------------------
// Workspaces and grants

async fn common_workspace_ensure_is_idempotent(store: &Store) {
    assert!(store.workspace_by_slug("common-files").await.expect("read").is_none());
    store.ensure_common_workspace(NOW).await.expect("ensure");
    let first = store.workspace_by_slug("common-files").await.expect("read").expect("common workspace");
    assert_eq!(first.kind, WorkspaceKind::Common);
    assert_eq!(first.owner, None);
    assert_eq!(node(store, first.id, "").await.id, first.root);

    store.ensure_common_workspace(NOW + 10).await.expect("ensure again");
    let (a, b) = tokio::join!(store.ensure_common_workspace(NOW + 20), store.ensure_common_workspace(NOW + 20));
    a.expect("concurrent ensure");
    b.expect("concurrent ensure");
    let again = store.workspace_by_slug("common-files").await.expect("read").expect("common workspace");
    assert_eq!((again.id, again.root, again.created_at), (first.id, first.root, NOW));
    let shared = store.list_shared_workspaces().await.expect("list");
    assert_eq!(shared.len(), 1, "exactly one common workspace: {shared:?}");
}

async fn custom_workspaces_create_duplicate_delete(store: &Store) {
    let label = "Projets d'été #1 — 100% \u{1F4C1}";
    let ws = store.create_workspace("r-d_2024", label, NOW).await.expect("create");
    assert_eq!(ws.kind, WorkspaceKind::Custom);
    assert_eq!(ws.slug, "r-d_2024");
    assert_eq!(ws.label, label);
    assert_eq!(ws.owner, None);
    let root = store.node_by_id(ws.root).await.expect("read").expect("root");
    assert_eq!((root.path.as_str(), root.kind, root.workspace), ("", NodeKind::Collection, ws.id));

    match store.create_workspace("r-d_2024", "another", NOW).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("slug"), "names the field: {what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    store.create_workspace("alpha", "Alpha", NOW).await.expect("create");
    store.ensure_common_workspace(NOW).await.expect("common");
    let slugs: Vec<String> = store.list_shared_workspaces().await.expect("list").into_iter().map(|w| w.slug).collect();
    assert_eq!(slugs, ["alpha", "common-files", "r-d_2024"]);
    assert_eq!(store.workspace_by_slug("r-d_2024").await.expect("read").expect("by slug").id, ws.id);
    assert_eq!(store.workspace_by_id(ws.id).await.expect("read").expect("by id").label, label);

    let user = new_user(store, "granted").await;
    store.set_grant(ws.id, user, Rights::READ_WRITE).await.expect("grant");
    let root = root_record(store, ws.id).await;
    let sub = folder(store, &root, "sub #").await;
    let (_, b1) = file(store, &root, "top.bin").await;
    let (_, b2) = file(store, &sub, "deep %.bin").await;

    let before = counter(store).await;
    let blobs = store.delete_workspace(ws.id).await.expect("delete").expect("existed");
    assert_eq!(set(blobs), set([b1, b2]));
    assert!(counter(store).await > before);
    assert!(store.workspace_by_id(ws.id).await.expect("read").is_none());
    assert!(store.workspace_by_slug("r-d_2024").await.expect("read").is_none());
    assert!(store.node_by_id(sub.id).await.expect("read").is_none());
    assert!(store.grant_of(ws.id, user).await.expect("read").is_none());
    assert!(store.delete_workspace(ws.id).await.expect("delete again").is_none());
    // The slug is free again.
    store.create_workspace("r-d_2024", "again", NOW).await.expect("re-create");

    // Neither a personal nor the common workspace is deleted this way, nor their files.
    let (personal, _) = personal_root(store, user).await;
    let (kept, kept_blob) = file(store, &root_record(store, personal).await, "keep me").await;
    assert!(store.delete_workspace(personal).await.expect("delete personal").is_none());
    assert_eq!(node(store, personal, "keep me").await.id, kept.id);
    assert!(store.blob_in_use(kept_blob).await.expect("in use"));
    let common = store.workspace_by_slug("common-files").await.expect("read").expect("common");
    let (kept, _) = file(store, &root_record(store, common.id).await, "shared").await;
    assert!(store.delete_workspace(common.id).await.expect("delete common").is_none());
    assert_eq!(node(store, common.id, "shared").await.id, kept.id);
}

async fn grants_set_replace_remove(store: &Store) {
    let ws = store.create_workspace("granted-ws", "Granted", NOW).await.expect("create");
    let other_ws = store.create_workspace("other-ws", "Other", NOW).await.expect("create");
    let zed = new_user(store, "zed").await;
    let amy = new_user(store, "amy").await;
    assert!(store.grant_of(ws.id, zed).await.expect("read").is_none());
    assert!(store.grants_on(ws.id).await.expect("list").is_empty());

    let before = counter(store).await;
    store.set_grant(ws.id, zed, Rights::READ).await.expect("grant");
    assert!(counter(store).await > before, "a grant bumps the counter");
    assert_eq!(store.grant_of(ws.id, zed).await.expect("read"), Some(Rights::READ));

    store.set_grant(ws.id, zed, Rights::READ_WRITE).await.expect("replace grant");
    assert_eq!(store.grant_of(ws.id, zed).await.expect("read"), Some(Rights::READ_WRITE));
    store.set_grant(ws.id, amy, Rights::READ).await.expect("grant");
    let grants = store.grants_on(ws.id).await.expect("list");
    let seen: Vec<(&str, Rights)> = grants.iter().map(|g| (g.login.as_str(), g.rights)).collect();
    assert_eq!(seen, [("amy", Rights::READ), ("zed", Rights::READ_WRITE)], "one row per user, by login");
    assert_eq!(grants[0].user, amy);
    assert!(store.grants_on(other_ws.id).await.expect("list").is_empty());
    assert!(store.grant_of(other_ws.id, zed).await.expect("read").is_none());

    // Grants are `r` or `rw`: anything else is refused and changes nothing.
    assert!(store.set_grant(ws.id, amy, Rights::WRITE).await.is_err());
    assert!(store.set_grant(ws.id, amy, Rights::NONE).await.is_err());
    assert_eq!(store.grant_of(ws.id, amy).await.expect("read"), Some(Rights::READ));
    // A grant for a user that does not exist is refused.
    assert!(store.set_grant(ws.id, UserId::random(), Rights::READ).await.is_err());
    assert_eq!(store.grants_on(ws.id).await.expect("list").len(), 2);

    let before = counter(store).await;
    assert!(store.remove_grant(ws.id, zed).await.expect("remove"));
    assert!(counter(store).await > before, "removing a grant bumps the counter");
    assert!(store.grant_of(ws.id, zed).await.expect("read").is_none());
    assert!(!store.remove_grant(ws.id, zed).await.expect("remove again"));
    assert_eq!(store.grant_of(ws.id, amy).await.expect("read"), Some(Rights::READ));
}

// ---------------------------------------------------------------------------------------
// Nodes

async fn nodes_create_and_look_up(store: &Store) {
    let user = new_user(store, "tree").await;
    let (ws, root_id) = personal_root(store, user).await;
    let root = root_record(store, ws).await;
    let long = "l".repeat(250);
    for name in ["ré sumé #1 100%", "\u{1F600} emoji", "?query&x=1", "tab\u{a0}nbsp", long.as_str(), "COLLECTION"] {
        let f = folder(store, &root, name).await;
        assert_eq!(f.name, name);
        assert_eq!(f.path, name);
        assert_eq!(f.parent, Some(root_id));
        assert_eq!(f.workspace, ws);
        assert_eq!(f.kind, NodeKind::Collection);
        assert_eq!(f.mtime, NOW);
        assert_eq!(node(store, ws, name).await, f);
        assert_eq!(store.node_by_id(f.id).await.expect("read").expect("by id"), f);
    }
    let parent = node(store, ws, "ré sumé #1 100%").await;
    let child = folder(store, &parent, "enfant %2F").await;
    assert_eq!(child.path, "ré sumé #1 100%/enfant %2F");
    assert_eq!(child.parent, Some(parent.id));
    // Paths are exact: no percent-decoding, no case folding, no unicode normalisation.
    assert!(absent(store, ws, "ré sumé #1 100%/enfant /").await);
    assert!(absent(store, ws, "RÉ SUMÉ #1 100%").await);
    assert!(absent(store, ws, "re\u{301} sume\u{301} #1 100%").await);

    let clash = NewNode {
        workspace: ws,
        parent: root_id,
        path: "ré sumé #1 100%",
        name: "ré sumé #1 100%",
        kind: NodeKind::Leaf,
        size: 1,
        blob: Some(BlobId::random()),
    };
    match store.create_node(&clash, NOW).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("name"), "names the field: {what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let orphan = NewNode {
        workspace: ws,
        parent: NodeId::random(),
        path: "orphan",
        name: "orphan",
        kind: NodeKind::Collection,
        size: 0,
        blob: None,
    };
    assert!(matches!(store.create_node(&orphan, NOW).await, Err(StoreError::Vanished)), "a missing parent is Vanished");
    assert!(absent(store, ws, "orphan").await);

    // The same path in another workspace is another node.
    let other = new_user(store, "tree2").await;
    let (other_ws, _) = personal_root(store, other).await;
    assert!(absent(store, other_ws, "ré sumé #1 100%").await);
    let twin = folder(store, &root_record(store, other_ws).await, "ré sumé #1 100%").await;
    assert_ne!(twin.id, parent.id);
}

async fn list_children_orders_and_pages(store: &Store) {
    let ws = store.create_workspace("listing", "Listing", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let mut names: Vec<String> =
        ["b", "B", "a", "a b", "a.b", "ab", "a0", "a#", "a%", "\u{e9}t\u{e9}", "z", "\u{1F600}", "10", "9", "_x"]
            .into_iter()
            .map(str::to_owned)
            .collect();
    for (i, name) in names.iter().enumerate() {
        if i % 2 == 0 {
            folder(store, &root, name).await;
        } else {
            file(store, &root, name).await;
        }
    }
    // Grandchildren are not children.
    let a = node(store, ws.id, "a").await;
    folder(store, &a, "not a child of root").await;

    // By name, comparing bytes (UTF-8 order is code point order).
    names.sort();
    let (all, total) = store.list_children(root.id, 0, 1000).await.expect("list");
    let got: Vec<&str> = all.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(got, names);
    assert_eq!(total, i64::try_from(names.len()).expect("small"));
    assert!(all.iter().all(|n| n.parent == Some(root.id)));

    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let (page, page_total) = store.list_children(root.id, offset, 4).await.expect("page");
        assert_eq!(page_total, total, "the total does not depend on the page");
        assert!(page.len() <= 4);
        if page.is_empty() {
            break;
        }
        offset += i64::try_from(page.len()).expect("small");
        paged.extend(page.into_iter().map(|n| n.name));
    }
    assert_eq!(paged, names);
    let (beyond, beyond_total) = store.list_children(root.id, 1000, 10).await.expect("beyond");
    assert!(beyond.is_empty());
    assert_eq!(beyond_total, total);

    let (one, _) = store.list_children(a.id, 0, 10).await.expect("list");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].path, "a/not a child of root");
    let (none, zero) = store.list_children(NodeId::random(), 0, 10).await.expect("unknown parent");
    assert!(none.is_empty());
    assert_eq!(zero, 0);
}

async fn put_file_creates_then_replaces(store: &Store) {
    let ws = store.create_workspace("put", "Put", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let dir = folder(store, &root, "dossier #1").await;
    let path = "dossier #1/rapport final 100% \u{1F4C4}.pdf";
    let name = "rapport final 100% \u{1F4C4}.pdf";
    let first_blob = BlobId::random();
    let new = NewNode {
        workspace: ws.id,
        parent: dir.id,
        path,
        name,
        kind: NodeKind::Leaf,
        size: 10,
        blob: Some(first_blob),
    };
    let (first, created, replaced) = store.put_file(&new, NOW).await.expect("put");
    assert!(created);
    assert_eq!(replaced, None);
    assert_eq!((first.kind, first.size, first.blob, first.mtime), (NodeKind::Leaf, 10, Some(first_blob), NOW));
    assert_eq!((first.path.as_str(), first.name.as_str(), first.parent), (path, name, Some(dir.id)));
    assert!(store.blob_in_use(first_blob).await.expect("in use"));

    let second_blob = BlobId::random();
    let update = NewNode { size: 20_000_000_000, blob: Some(second_blob), ..new };
    let (second, created, replaced) = store.put_file(&update, NOW + 5).await.expect("replace");
    assert!(!created);
    assert_eq!(replaced, Some(first_blob), "the replaced blob is handed back for removal");
    assert_eq!(second.id, first.id, "a replaced file keeps its UUID");
    assert_eq!((second.size, second.blob, second.mtime), (20_000_000_000, Some(second_blob), NOW + 5));
    assert_ne!(second.etag, first.etag, "new content, new entity tag");
    assert!(!store.blob_in_use(first_blob).await.expect("in use"));
    assert!(store.blob_in_use(second_blob).await.expect("in use"));
    let (children, total) = store.list_children(dir.id, 0, 10).await.expect("list");
    assert_eq!((children.len(), total), (1, 1));

    // A file cannot replace a folder.
    let onto_folder = NewNode {
        workspace: ws.id,
        parent: root.id,
        path: "dossier #1",
        name: "dossier #1",
        kind: NodeKind::Leaf,
        size: 1,
        blob: Some(BlobId::random()),
    };
    assert!(matches!(store.put_file(&onto_folder, NOW).await, Err(StoreError::Conflict(_))));
    let still = node(store, ws.id, "dossier #1").await;
    assert_eq!((still.id, still.kind, still.blob), (dir.id, NodeKind::Collection, None));

    // A parent deleted meanwhile.
    let gone = NewNode {
        workspace: ws.id,
        parent: NodeId::random(),
        path: "nowhere/x",
        name: "x",
        kind: NodeKind::Leaf,
        size: 1,
        blob: Some(BlobId::random()),
    };
    assert!(matches!(store.put_file(&gone, NOW).await, Err(StoreError::Vanished)));
}

/// Builds `a` (with a nested tree of awkward names) and its prefix siblings under `base`.
/// Returns the ids of `a`'s subtree by relative path, the sibling paths, and `a`'s blobs.
async fn folder_a(store: &Store, base: &NodeRecord) -> (HashMap<String, NodeId>, Vec<String>, Vec<BlobId>) {
    let a = folder(store, base, "a").await;
    let sub = folder(store, &a, "sous dossier #1 100%").await;
    let deep = folder(store, &sub, "\u{6DF1}\u{3044} \u{1F333}").await;
    let empty = folder(store, &a, "a").await;
    let (f1, b1) = file(store, &a, "f.txt").await;
    let (f2, b2) = file(store, &sub, "%41 #frag ?q").await;
    let (f3, b3) = file(store, &deep, "\u{e9}t\u{e9} 2024.txt").await;
    let (f4, b4) = file(store, &a, "ab").await;
    let strip = |path: &str| path.strip_prefix(&format!("{}/", a.path)).expect("inside a").to_owned();
    let mut ids = HashMap::from([(String::new(), a.id)]);
    for n in [&sub, &deep, &empty, &f1, &f2, &f3, &f4] {
        ids.insert(strip(&n.path), n.id);
    }
    let (siblings, _) = prefix_siblings(store, base).await;
    (ids, siblings, vec![b1, b2, b3, b4])
}

/// Asserts that `ids` (relative path → id) now live under `prefix` in `ws`, and nowhere
/// else, with their parents unchanged.
async fn assert_moved(store: &Store, ws: WorkspaceId, prefix: &str, ids: &HashMap<String, NodeId>) {
    for (rel, id) in ids {
        let expected = if rel.is_empty() { prefix.to_owned() } else { format!("{prefix}/{rel}") };
        let found = store.node_by_id(*id).await.expect("read").unwrap_or_else(|| panic!("{rel:?} vanished"));
        assert_eq!(found.path, expected, "path of {rel:?}");
        assert_eq!(found.workspace, ws, "workspace of {rel:?}");
        assert_eq!(node(store, ws, &expected).await.id, *id, "{expected:?} resolves to the same UUID");
        if !rel.is_empty() {
            let parent_path = expected.rsplit_once('/').map_or("", |(p, _)| p);
            assert_eq!(found.parent, Some(node(store, ws, parent_path).await.id), "parent of {rel:?}");
            assert_eq!(found.name, rel.rsplit('/').next().expect("name"), "name of {rel:?}");
        }
    }
}

async fn move_folder_keeps_uuids_and_rewrites_paths(store: &Store) {
    let ws = store.create_workspace("moves", "Moves", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let base = folder(store, &root, "base 100% #").await;
    let (ids, siblings, _) = folder_a(store, &base).await;
    let dest = folder(store, &root, "dest \u{2713}").await;
    let before_siblings: Vec<NodeRecord> = {
        let mut v = Vec::new();
        for p in &siblings {
            v.push(node(store, ws.id, p).await);
        }
        v
    };
    let total_before = store.subtree(&root).await.expect("subtree").len();

    // Move and rename into another folder.
    let a = node(store, ws.id, "base 100% #/a").await;
    let new_path = "dest \u{2713}/a d\u{e9}plac\u{e9} 100% #";
    let moved = store.move_node(&a, ws.id, dest.id, new_path, NOW + 9).await.expect("move");
    assert_eq!(moved.id, a.id);
    assert_eq!(moved.path, new_path);
    assert_eq!(moved.name, "a d\u{e9}plac\u{e9} 100% #");
    assert_eq!(moved.parent, Some(dest.id));
    assert_eq!(moved.mtime, NOW + 9);
    assert_moved(store, ws.id, new_path, &ids).await;
    assert!(absent(store, ws.id, "base 100% #/a").await);
    assert!(absent(store, ws.id, "base 100% #/a/f.txt").await);
    for before in &before_siblings {
        assert_eq!(&node(store, ws.id, &before.path).await, before, "{:?} must not move", before.path);
    }
    assert_eq!(store.subtree(&root).await.expect("subtree").len(), total_before, "no node lost or duplicated");
    let (children, _) = store.list_children(dest.id, 0, 10).await.expect("list");
    assert_eq!(children.iter().map(|c| c.id).collect::<Vec<_>>(), [a.id]);

    // Move again from a path holding multi-byte characters (the path rewrite must count
    // characters, not bytes) back to the root, under a short name.
    let moved = node(store, ws.id, new_path).await;
    store.move_node(&moved, ws.id, root.id, "\u{e9}", NOW + 10).await.expect("second move");
    assert_moved(store, ws.id, "\u{e9}", &ids).await;

    // Rename in place, to a name that is a prefix-sibling of an existing one.
    let here = node(store, ws.id, "\u{e9}").await;
    store.move_node(&here, ws.id, root.id, "\u{e9}\u{e9}\u{e9} long name \u{1F600}", NOW + 11).await.expect("rename");
    assert_moved(store, ws.id, "\u{e9}\u{e9}\u{e9} long name \u{1F600}", &ids).await;

    // And back to where it was, next to its prefix siblings.
    let here = node(store, ws.id, "\u{e9}\u{e9}\u{e9} long name \u{1F600}").await;
    store.move_node(&here, ws.id, base.id, "base 100% #/a", NOW + 12).await.expect("move back");
    assert_moved(store, ws.id, "base 100% #/a", &ids).await;
    for before in &before_siblings {
        assert_eq!(&node(store, ws.id, &before.path).await, before, "{:?} must not move", before.path);
    }

    // Moving a file.
    let f = node(store, ws.id, "base 100% #/a/f.txt").await;
    let moved = store.move_node(&f, ws.id, root.id, "f #2.txt", NOW + 13).await.expect("move file");
    assert_eq!((moved.id, moved.path.as_str(), moved.blob), (f.id, "f #2.txt", f.blob));
}

async fn move_across_workspaces(store: &Store) {
    let user = new_user(store, "mover").await;
    let (personal, _) = personal_root(store, user).await;
    let team = store.create_workspace("team \u{1F465}", "Team", NOW).await.expect("create");
    let proot = root_record(store, personal).await;
    let troot = root_record(store, team.id).await;
    let (ids, siblings, blobs) = folder_a(store, &proot).await;
    let into = folder(store, &troot, "inbox").await;
    // The same relative paths exist at the destination's old location: they are not
    // touched, since the move rewrites only the source workspace's rows.
    let decoy = folder(store, &troot, "a").await;
    let (decoy_file, _) = file(store, &decoy, "f.txt").await;

    let a = node(store, personal, "a").await;
    let moved = store.move_node(&a, team.id, into.id, "inbox/a", NOW + 1).await.expect("move across");
    assert_eq!((moved.workspace, moved.parent), (team.id, Some(into.id)));
    assert_moved(store, team.id, "inbox/a", &ids).await;
    for (rel, _) in ids.iter().filter(|(rel, _)| !rel.is_empty()) {
        assert!(absent(store, personal, &format!("a/{rel}")).await, "{rel:?} left in the source workspace");
    }
    assert!(absent(store, personal, "a").await);
    for p in &siblings {
        assert_eq!(node(store, personal, p).await.workspace, personal, "{p:?} stays");
    }
    assert_eq!(node(store, team.id, "a/f.txt").await.id, decoy_file.id);
    for blob in blobs {
        assert!(store.blob_in_use(blob).await.expect("in use"), "blobs follow their nodes");
    }
    let moved_tree = store.subtree(&node(store, team.id, "inbox/a").await).await.expect("subtree");
    assert_eq!(moved_tree.len(), ids.len());
    assert!(moved_tree.iter().all(|n| n.workspace == team.id));
}

async fn move_onto_taken_name_is_a_conflict(store: &Store) {
    let ws = store.create_workspace("clash", "Clash", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let (ids, _, _) = folder_a(store, &root).await;
    let other = folder(store, &root, "taken #").await;
    let (taken_file, _) = file(store, &other, "f.txt").await;
    let a = node(store, ws.id, "a").await;

    for target in ["taken #", "ab", "a0"] {
        let parent = root.id;
        match store.move_node(&a, ws.id, parent, target, NOW + 1).await {
            Err(StoreError::Conflict(what)) => assert!(what.contains("name"), "names the field: {what}"),
            other => panic!("expected a conflict moving onto {target:?}, got {other:?}"),
        }
    }
    // Nothing moved, not even part of the subtree.
    assert_moved(store, ws.id, "a", &ids).await;
    assert_eq!(node(store, ws.id, "taken #/f.txt").await.id, taken_file.id);
    assert_eq!(node(store, ws.id, "taken #").await.id, other.id);
}

async fn insert_subtree_inserts_all_or_nothing(store: &Store) {
    let ws = store.create_workspace("copies", "Copies", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let (top, sub, leaf) = (NodeId::random(), NodeId::random(), NodeId::random());
    let blob = BlobId::random();
    let nodes = [
        (
            top,
            NewNode {
                workspace: ws.id,
                parent: root.id,
                path: "copie #1",
                name: "copie #1",
                kind: NodeKind::Collection,
                size: 0,
                blob: None,
            },
        ),
        (
            sub,
            NewNode {
                workspace: ws.id,
                parent: top,
                path: "copie #1/\u{e9}t\u{e9} %",
                name: "\u{e9}t\u{e9} %",
                kind: NodeKind::Collection,
                size: 0,
                blob: None,
            },
        ),
        (
            leaf,
            NewNode {
                workspace: ws.id,
                parent: sub,
                path: "copie #1/\u{e9}t\u{e9} %/x.bin",
                name: "x.bin",
                kind: NodeKind::Leaf,
                size: 7,
                blob: Some(blob),
            },
        ),
    ];
    store.insert_subtree(&nodes, NOW).await.expect("insert subtree");
    assert_eq!(node(store, ws.id, "copie #1").await.id, top);
    let got = node(store, ws.id, "copie #1/\u{e9}t\u{e9} %/x.bin").await;
    assert_eq!((got.id, got.parent, got.size, got.blob), (leaf, Some(sub), 7, Some(blob)));
    assert_eq!(store.subtree(&node(store, ws.id, "copie #1").await).await.expect("subtree").len(), 3);

    // A clash anywhere inserts nothing.
    let (fresh, clash) = (NodeId::random(), NodeId::random());
    let nodes = [
        (
            fresh,
            NewNode {
                workspace: ws.id,
                parent: root.id,
                path: "copie #2",
                name: "copie #2",
                kind: NodeKind::Collection,
                size: 0,
                blob: None,
            },
        ),
        (
            clash,
            NewNode {
                workspace: ws.id,
                parent: root.id,
                path: "copie #1",
                name: "copie #1",
                kind: NodeKind::Collection,
                size: 0,
                blob: None,
            },
        ),
    ];
    assert!(matches!(store.insert_subtree(&nodes, NOW).await, Err(StoreError::Conflict(_))));
    assert!(absent(store, ws.id, "copie #2").await);
    assert!(store.node_by_id(fresh).await.expect("read").is_none());
    store.insert_subtree(&[], NOW).await.expect("an empty copy is fine");
}

async fn subtree_lists_parents_first_and_nothing_else(store: &Store) {
    let ws = store.create_workspace("subtree", "Subtree", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let (ids, siblings, _) = folder_a(store, &root).await;
    let a = node(store, ws.id, "a").await;
    let tree = store.subtree(&a).await.expect("subtree");
    assert_eq!(tree[0].id, a.id, "the node itself comes first");
    let got: BTreeSet<NodeId> = tree.iter().map(|n| n.id).collect();
    let want: BTreeSet<NodeId> = ids.values().copied().collect();
    assert_eq!(got, want, "exactly the node and its descendants, no prefix sibling");
    assert_eq!(tree.len(), ids.len());
    for (i, n) in tree.iter().enumerate().skip(1) {
        let parent = n.parent.expect("descendants have parents");
        assert!(tree[..i].iter().any(|p| p.id == parent), "{:?} comes after its parent", n.path);
    }
    for p in &siblings {
        assert!(tree.iter().all(|n| &n.path != p));
    }

    // A file's subtree is itself; the root's subtree is the whole workspace.
    let f = node(store, ws.id, "a/f.txt").await;
    assert_eq!(store.subtree(&f).await.expect("subtree"), [f]);
    let whole = store.subtree(&root).await.expect("subtree");
    assert_eq!(whole[0].id, root.id);
    assert_eq!(whole.len(), 1 + ids.len() + siblings.len());
}

async fn delete_subtree_returns_blobs_and_spares_siblings(store: &Store) {
    let ws = store.create_workspace("deletes", "Deletes", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let (ids, siblings, blobs) = folder_a(store, &root).await;
    let a = node(store, ws.id, "a").await;
    let sibling_records: Vec<NodeRecord> = {
        let mut v = Vec::new();
        for p in &siblings {
            v.push(node(store, ws.id, p).await);
        }
        v
    };

    // One file first.
    let f = node(store, ws.id, "a/f.txt").await;
    let removed = store.delete_subtree(&f).await.expect("delete file");
    assert_eq!(removed, vec![f.blob.expect("a file has a blob")]);
    assert!(store.node_by_id(f.id).await.expect("read").is_none());

    let removed = store.delete_subtree(&a).await.expect("delete folder");
    let expected: Vec<BlobId> = blobs.into_iter().filter(|b| Some(*b) != f.blob).collect();
    assert_eq!(set(removed), set(expected));
    for id in ids.values() {
        assert!(store.node_by_id(*id).await.expect("read").is_none());
    }
    for before in &sibling_records {
        assert_eq!(&node(store, ws.id, &before.path).await, before, "{:?} must survive", before.path);
    }
    let (children, total) = store.list_children(root.id, 0, 100).await.expect("list");
    assert_eq!(usize::try_from(total).expect("small"), children.len());
    assert!(children.iter().all(|c| c.name != "a"));

    // Deleting what is already gone is a no-op.
    assert!(store.delete_subtree(&a).await.expect("delete again").is_empty());
    // An empty folder returns no blob.
    let empty = folder(store, &root, "vide").await;
    assert!(store.delete_subtree(&empty).await.expect("delete empty").is_empty());
}

// ---------------------------------------------------------------------------------------
// Refresh tokens, keys, settings

async fn refresh_tokens_redeem_once(store: &Store) {
    let user = new_user(store, "oauth").await;
    store.insert_refresh_token("h-live", user, NOW, NOW + 60).await.expect("insert");
    store.insert_refresh_token("h-expired", user, NOW - 100, NOW).await.expect("insert");
    store.insert_refresh_token("h-later", user, NOW, NOW + 3600).await.expect("insert");
    store.insert_refresh_token("h-race", user, NOW, NOW + 3600).await.expect("insert");

    assert_eq!(store.redeem_refresh_token("h-live", NOW + 59).await.expect("redeem"), Some(user));
    assert_eq!(store.redeem_refresh_token("h-live", NOW + 59).await.expect("redeem"), None, "used once");
    assert_eq!(store.redeem_refresh_token("h-expired", NOW).await.expect("redeem"), None, "expires at its time");
    assert_eq!(store.redeem_refresh_token("h-unknown", NOW).await.expect("redeem"), None);
    assert_eq!(store.redeem_refresh_token("H-LATER", NOW).await.expect("redeem"), None, "hashes match exactly");

    let (x, y) =
        tokio::join!(store.redeem_refresh_token("h-race", NOW + 1), store.redeem_refresh_token("h-race", NOW + 1));
    let winners = [x.expect("redeem"), y.expect("redeem")].into_iter().flatten().count();
    assert_eq!(winners, 1, "a token redeemed twice at once is honoured once");

    store.insert_refresh_token("h-old-1", user, NOW, NOW + 10).await.expect("insert");
    store.insert_refresh_token("h-old-2", user, NOW, NOW + 20).await.expect("insert");
    assert_eq!(store.prune_refresh_tokens(NOW + 20).await.expect("prune"), 2);
    assert_eq!(store.prune_refresh_tokens(NOW + 20).await.expect("prune"), 0);
    assert_eq!(
        store.redeem_refresh_token("h-later", NOW + 21).await.expect("redeem"),
        Some(user),
        "pruning spares live tokens"
    );
}

async fn server_key_first_value_wins(store: &Store) {
    let first: Vec<u8> = (0..=255).collect();
    let got = store.server_key_or_insert("signing key \u{1F511}", &first, NOW).await.expect("key");
    assert_eq!(got, first);
    let got = store.server_key_or_insert("signing key \u{1F511}", &[0, 0, 0], NOW + 1).await.expect("key");
    assert_eq!(got, first, "the first value is kept forever");
    let other = store.server_key_or_insert("ssh host key", &[0xff, 0, 0xfe], NOW).await.expect("key");
    assert_eq!(other, [0xff, 0, 0xfe]);
    let (x, y) = tokio::join!(
        store.server_key_or_insert("raced", b"one", NOW),
        store.server_key_or_insert("raced", b"two", NOW)
    );
    let (x, y) = (x.expect("key"), y.expect("key"));
    assert_eq!(x, y, "processes starting at once agree on one key");
    assert!(x == b"one" || x == b"two");
}

async fn settings_round_trip(store: &Store) {
    assert_eq!(store.setting("self-service tokens").await.expect("read"), None);
    let before = counter(store).await;
    store.set_setting("self-service tokens", "off").await.expect("set");
    assert!(counter(store).await > before, "a setting bumps the counter");
    assert_eq!(store.setting("self-service tokens").await.expect("read").as_deref(), Some("off"));
    store.set_setting("self-service tokens", "on \u{2713} 100% #").await.expect("overwrite");
    assert_eq!(store.setting("self-service tokens").await.expect("read").as_deref(), Some("on \u{2713} 100% #"));
    store.set_setting("empty", "").await.expect("set empty");
    assert_eq!(store.setting("empty").await.expect("read").as_deref(), Some(""));
    assert_eq!(store.setting("Self-Service Tokens").await.expect("read"), None);
}

async fn change_counter_only_grows(store: &Store) {
    let mut last = counter(store).await;
    let user = new_user(store, "counted").await;
    let ws = store.create_workspace("counted", "Counted", NOW).await.expect("create");
    for step in 0..3 {
        match step {
            0 => store.set_grant(ws.id, user, Rights::READ).await.expect("grant"),
            1 => store.set_setting("k", "v").await.expect("setting"),
            _ => {
                store.delete_user(user).await.expect("delete").expect("existed");
            }
        }
        let now = counter(store).await;
        assert!(now > last, "step {step} bumps the counter");
        last = now;
    }
}

/// Writers that read before they write (uploads, deletes) run at once without failing:
/// they wait their turn instead of reporting a busy database.
async fn concurrent_writes_wait_their_turn(store: &Store) {
    let ws = store.create_workspace("busy #", "Busy", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let mut doomed = Vec::new();
    for i in 0..6 {
        let f = folder(store, &root, &format!("doomed {i}")).await;
        file(store, &f, "x").await;
        doomed.push(f);
    }
    let put = |name: String| {
        let (store, root) = (store.clone(), root.clone());
        tokio::spawn(async move {
            let blob = BlobId::random();
            let new = NewNode {
                workspace: root.workspace,
                parent: root.id,
                path: &name,
                name: &name,
                kind: NodeKind::Leaf,
                size: 1,
                blob: Some(blob),
            };
            store.put_file(&new, NOW).await.map(|(node, created, replaced)| (node.id, created, replaced, blob))
        })
    };
    let distinct: Vec<_> = (0..16).map(|i| put(format!("f {i} \u{e9}"))).collect();
    let same: Vec<_> = (0..8).map(|_| put("same name %".to_owned())).collect();
    let deletes: Vec<_> = doomed
        .iter()
        .map(|f| {
            let (store, f) = (store.clone(), f.clone());
            tokio::spawn(async move { store.delete_subtree(&f).await })
        })
        .collect();

    for handle in distinct {
        let (_, created, _, _) = handle.await.expect("join").expect("concurrent upload of another file");
        assert!(created);
    }
    let mut same_results = Vec::new();
    for handle in same {
        same_results.push(handle.await.expect("join").expect("concurrent upload of the same file"));
    }
    for handle in deletes {
        assert_eq!(handle.await.expect("join").expect("concurrent delete").len(), 1);
    }
    assert_eq!(same_results.iter().filter(|r| r.1).count(), 1, "one upload creates, the others replace");
    let ids: BTreeSet<NodeId> = same_results.iter().map(|r| r.0).collect();
    assert_eq!(ids.len(), 1, "one node, one UUID");
    // Every blob but the last one written is handed back exactly once.
    let written = set(same_results.iter().map(|r| r.3));
    let replaced = set(same_results.iter().filter_map(|r| r.2));
    assert_eq!(replaced.len(), 7);
    assert!(replaced.is_subset(&written));
    let last = node(store, ws.id, "same name %").await.blob.expect("a blob");
    assert!(!replaced.contains(&last.to_string()));
    let (_, total) = store.list_children(root.id, 0, 0).await.expect("list");
    assert_eq!(total, 17);
}

// ---------------------------------------------------------------------------------------
// Blobs

fn pattern(len: usize) -> Vec<u8> {
    // Not periodic with any chunk size: an off-by-one offset cannot go unnoticed.
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

async fn write_blob(blobs: &Blobs, data: &[u8], piece: usize) -> BlobId {
    let mut writer = blobs.writer().await.expect("writer");
    for chunk in data.chunks(piece.max(1)) {
        writer.write(chunk).await.expect("write");
    }
    assert_eq!(writer.written(), data.len() as u64);
    let (id, len) = writer.finish().await.expect("finish");
    assert_eq!(len, data.len() as u64);
    id
}

async fn read_all(blobs: &Blobs, blob: BlobId, offset: u64, len: u64) -> (Vec<u8>, bool) {
    match blobs.read(blob, offset, len).await.expect("read") {
        BlobReader::Whole(bytes) => (bytes.to_vec(), false),
        BlobReader::Stream(mut stream) => {
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.expect("chunk"));
            }
            (out, true)
        }
    }
}

fn tmp_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(root.join("tmp")).expect("tmp folder").map(|e| e.expect("entry").path()).collect()
}

async fn blobs_round_trip(blobs: &Blobs, root: &std::path::Path) {
    let small = "h\u{e9}llo #1 100% \u{1F600}\n".repeat(100).into_bytes();
    let id = write_blob(blobs, &small, 7).await;
    assert!(tmp_files(root).is_empty(), "a finished blob leaves nothing in tmp");
    let (whole, streamed) = read_all(blobs, id, 0, small.len() as u64).await;
    assert_eq!(whole, small);
    assert!(!streamed, "a small read comes whole");
    let (range, _) = read_all(blobs, id, 13, 100).await;
    assert_eq!(range, small[13..113]);
    let (tail, _) = read_all(blobs, id, small.len() as u64 - 1, 1).await;
    assert_eq!(tail, small[small.len() - 1..]);
    let (nothing, _) = read_all(blobs, id, 5, 0).await;
    assert!(nothing.is_empty());
    assert!(blobs.read(id, 0, small.len() as u64 + 1).await.is_err(), "reading past the end is an error");

    // Large: several chunks, written in pieces that do not divide the chunk size.
    let large = pattern(3 * 256 * 1024 + 12_345);
    let id = write_blob(blobs, &large, 10_007).await;
    let (whole, streamed) = read_all(blobs, id, 0, large.len() as u64).await;
    assert!(streamed, "a large read streams");
    assert_eq!(whole.len(), large.len());
    assert!(whole == large, "streamed bytes are identical");
    for (offset, len) in
        [(1_usize, 256 * 1024), (256 * 1024 - 1, 256 * 1024 + 2), (300_000, 450_000), (0, 256 * 1024 + 1)]
    {
        let (got, _) = read_all(blobs, id, offset as u64, len as u64).await;
        assert!(got == large[offset..offset + len], "range {offset}+{len}");
    }

    // One big write.
    let id2 = write_blob(blobs, &large, large.len()).await;
    assert_ne!(id2, id);
    assert!(read_all(blobs, id2, 0, large.len() as u64).await.0 == large);

    // Empty blob.
    let empty = write_blob(blobs, &[], 1).await;
    assert!(read_all(blobs, empty, 0, 0).await.0.is_empty());
}

async fn blobs_dropped_writer_leaves_nothing(blobs: &Blobs, root: &std::path::Path) {
    let mut writer = blobs.writer().await.expect("writer");
    writer.write(&pattern(300 * 1024)).await.expect("write");
    assert_eq!(tmp_files(root).len(), 1, "the upload is in tmp while it runs");
    drop(writer);
    assert!(tmp_files(root).is_empty(), "a dropped writer removes its temporary file");

    let writer = blobs.writer().await.expect("writer");
    drop(writer);
    assert!(tmp_files(root).is_empty());
}

async fn blobs_copy_and_delete(blobs: &Blobs, _root: &std::path::Path) {
    let data = pattern(256 * 1024 + 3);
    let id = write_blob(blobs, &data, 4096).await;
    let copy = blobs.copy(id).await.expect("copy");
    assert_ne!(copy, id);
    blobs.delete(vec![id]).await.expect("delete");
    assert!(blobs.read(id, 0, 1).await.is_err(), "a deleted blob is gone");
    assert!(read_all(blobs, copy, 0, data.len() as u64).await.0 == data, "the copy outlives its source");

    blobs.delete(vec![id, BlobId::random()]).await.expect("deleting a missing blob is fine");
    blobs.delete(Vec::new()).await.expect("deleting nothing is fine");
    assert!(blobs.copy(BlobId::random()).await.is_err(), "copying a missing blob is an error");
}

async fn blobs_sweep_temporary(blobs: &Blobs, root: &std::path::Path) {
    let kept = write_blob(blobs, b"kept", 2).await;
    let mut stalled = blobs.writer().await.expect("writer");
    stalled.write(b"half an upload").await.expect("write");
    assert_eq!(blobs.sweep_temporary(Duration::from_secs(3600)).await.expect("sweep"), 0, "recent uploads stay");
    assert_eq!(tmp_files(root).len(), 1);
    assert_eq!(blobs.sweep_temporary(Duration::ZERO).await.expect("sweep"), 1);
    assert!(tmp_files(root).is_empty());
    assert!(stalled.finish().await.is_err(), "a swept upload cannot complete");
    assert_eq!(read_all(blobs, kept, 0, 4).await.0, b"kept", "sweeping never touches finished blobs");
    assert_eq!(blobs.sweep_temporary(Duration::ZERO).await.expect("sweep"), 0);
}

// ---------------------------------------------------------------------------------------
// Backends

/// Runs each named check on a fresh SQLite file and on a fresh in-memory database.
macro_rules! sqlite_suite {
    ($($check:ident),* $(,)?) => {
        mod sqlite_file {
            $(
                #[tokio::test]
                async fn $check() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let url = format!("sqlite://{}", dir.path().join("t.db").display());
                    let store = cells_store::Store::open(&url).await.expect("open");
                    super::$check(&store).await;
                    assert_eq!(store.integrity_check().await.expect("integrity check"), "ok");
                    store.close().await;
                }
            )*
        }
        mod sqlite_memory {
            $(
                #[tokio::test]
                async fn $check() {
                    let store = cells_store::Store::open("sqlite::memory:").await.expect("open");
                    // A hang here means a method takes a second connection inside a
                    // transaction; fail instead of waiting forever.
                    tokio::time::timeout(std::time::Duration::from_secs(60), super::$check(&store))
                        .await
                        .expect("check finished in time");
                }
            )*
        }
    };
}

sqlite_suite!(
    fresh_database_is_empty,
    create_user_makes_personal_workspace,
    duplicate_login_is_a_conflict,
    update_and_lock_bump_the_change_counter,
    delete_user_removes_personal_workspace,
    common_workspace_ensure_is_idempotent,
    custom_workspaces_create_duplicate_delete,
    grants_set_replace_remove,
    nodes_create_and_look_up,
    list_children_orders_and_pages,
    put_file_creates_then_replaces,
    move_folder_keeps_uuids_and_rewrites_paths,
    move_across_workspaces,
    move_onto_taken_name_is_a_conflict,
    insert_subtree_inserts_all_or_nothing,
    subtree_lists_parents_first_and_nothing_else,
    delete_subtree_returns_blobs_and_spares_siblings,
    refresh_tokens_redeem_once,
    server_key_first_value_wins,
    settings_round_trip,
    change_counter_only_grows,
    concurrent_writes_wait_their_turn,
    tokens_are_found_by_hash_and_listed_by_user,
    revoking_bumps_the_change_counter_once,
    usage_never_lowers_the_expiry_and_failures_are_kept,
    pruning_removes_only_long_dead_tokens,
);

#[tokio::test]
async fn sqlite_reopen_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    reopen_keeps_data(&format!("sqlite://{}", dir.path().join("t.db").display())).await;
}

#[tokio::test]
async fn sqlite_default_url_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&Store::default_url(dir.path())).await.expect("open default url");
    fresh_database_is_empty(&store).await;
    store.close().await;
    assert!(dir.path().join("cells.db").exists());
}

/// Runs each named blob check on a fresh local blob folder.
macro_rules! local_blobs_suite {
    ($($check:ident),* $(,)?) => {
        mod local_blobs {
            $(
                #[tokio::test]
                async fn $check() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let root = dir.path().join("blobs root #1 \u{e9}");
                    let blobs = cells_store::Blobs::open(&root).expect("open blobs");
                    super::$check(&blobs, &root).await;
                }
            )*
        }
    };
}

local_blobs_suite!(blobs_round_trip, blobs_dropped_writer_leaves_nothing, blobs_copy_and_delete, blobs_sweep_temporary);
