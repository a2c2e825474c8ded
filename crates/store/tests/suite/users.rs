//! Schema and users: a fresh database, reopening, creating, updating, locking and
//! deleting users with their personal workspaces.

use cells_core::{Login, NodeId, NodeKind, Profile, Rights, UserId, WorkspaceId};
use cells_store::{NewUser, Store, StoreError, UserUpdate, WorkspaceKind};

use super::{HASH, NOW, absent, counter, file, folder, new_user, node, personal_root, root_record, set};

/// Reopening a database applies no migration twice and keeps what was written.
pub async fn reopen_keeps_data(url: &str) {
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

pub async fn fresh_database_is_empty(store: &Store) {
    store.ping().await.expect("ping");
    assert_eq!(store.count_users().await.expect("count"), 0);
    assert!(store.list_users(0, 100).await.expect("list").is_empty());
    assert!(store.list_shared_workspaces().await.expect("list").is_empty());
    assert!(store.user_by_login("admin").await.expect("read").is_none());
    assert!(store.user_by_id(UserId::random()).await.expect("read").is_none());
    assert!(store.node_by_id(NodeId::random()).await.expect("read").is_none());
    assert!(store.workspace_by_id(WorkspaceId::random()).await.expect("read").is_none());
}

pub async fn create_user_makes_personal_workspace(store: &Store) {
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

pub async fn duplicate_login_is_a_conflict(store: &Store) {
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

pub async fn update_and_lock_bump_the_change_counter(store: &Store) {
    let user = new_user(store, "updated").await;
    store.insert_refresh_token("r-before-password", "r-before-password", user, NOW, NOW + 3600).await.expect("insert");

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
    assert!(
        !store.refresh_family_alive("r-before-password", NOW + 3).await.expect("alive"),
        "a password change ends OAuth sessions"
    );
    assert_eq!(after.session_gen, 1, "and moves the session generation");

    store.insert_refresh_token("r-before-lock", "r-before-lock", user, NOW, NOW + 3600).await.expect("insert");
    let before = counter(store).await;
    let lock = UserUpdate { locked: Some(true), ..UserUpdate::default() };
    let after = store.update_user(user, &lock, NOW + 4).await.expect("update").expect("exists");
    assert!(after.locked);
    assert!(counter(store).await > before, "locking bumps the counter");
    assert!(!store.refresh_family_alive("r-before-lock", NOW + 5).await.expect("alive"));
    assert_eq!(after.session_gen, 2);

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

pub async fn delete_user_removes_personal_workspace(store: &Store) {
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
    store.insert_refresh_token("leaving-refresh", "leaving-refresh", user, NOW, NOW + 3600).await.expect("refresh");

    let before = counter(store).await;
    assert!(store.delete_user(user, NOW).await.expect("delete"), "user existed");
    assert_eq!(set(store.collectable_blobs(NOW, 10).await.expect("garbage")), set([blob1, blob2]));
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
    assert!(!store.refresh_family_alive("leaving-refresh", NOW + 1).await.expect("alive"));
    assert!(!store.blob_in_use(blob1).await.expect("in use"));

    // The other user is untouched.
    assert_eq!(node(store, stays_ws, "a.txt").await.id, stays_file.id);
    assert!(store.blob_in_use(stays_blob).await.expect("in use"));
    assert_eq!(store.count_users().await.expect("count"), 1);

    assert!(!store.delete_user(user, NOW).await.expect("delete again"));
    // The login is free again, with a fresh personal workspace.
    let back = new_user(store, "leaving").await;
    assert_ne!(back, user);
    let (back_ws, _) = personal_root(store, back).await;
    assert!(absent(store, back_ws, "a.txt").await);
}
