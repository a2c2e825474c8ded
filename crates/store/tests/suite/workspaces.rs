//! Workspaces and grants: the common workspace, custom workspaces, and the rights
//! granted on them.

use cells_core::{NodeKind, Rights, UserId};
use cells_store::{Store, StoreError, WorkspaceKind};

use super::{NOW, counter, file, folder, new_user, node, personal_root, root_record, set};

pub async fn common_workspace_ensure_is_idempotent(store: &Store) {
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

pub async fn custom_workspaces_create_duplicate_delete(store: &Store) {
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
    assert!(store.delete_workspace(ws.id, NOW).await.expect("delete"), "existed");
    assert_eq!(set(store.collectable_blobs(NOW, 10).await.expect("garbage")), set([b1, b2]));
    assert!(counter(store).await > before);
    assert!(store.workspace_by_id(ws.id).await.expect("read").is_none());
    assert!(store.workspace_by_slug("r-d_2024").await.expect("read").is_none());
    assert!(store.node_by_id(sub.id).await.expect("read").is_none());
    assert!(store.grant_of(ws.id, user).await.expect("read").is_none());
    assert!(!store.delete_workspace(ws.id, NOW).await.expect("delete again"));
    // The slug is free again.
    store.create_workspace("r-d_2024", "again", NOW).await.expect("re-create");

    // Neither a personal nor the common workspace is deleted this way, nor their files.
    let (personal, _) = personal_root(store, user).await;
    let (kept, kept_blob) = file(store, &root_record(store, personal).await, "keep me").await;
    assert!(!store.delete_workspace(personal, NOW).await.expect("delete personal"));
    assert_eq!(node(store, personal, "keep me").await.id, kept.id);
    assert!(store.blob_in_use(kept_blob).await.expect("in use"));
    let common = store.workspace_by_slug("common-files").await.expect("read").expect("common");
    let (kept, _) = file(store, &root_record(store, common.id).await, "shared").await;
    assert!(!store.delete_workspace(common.id, NOW).await.expect("delete common"));
    assert_eq!(node(store, common.id, "shared").await.id, kept.id);
}

pub async fn grants_set_replace_remove(store: &Store) {
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
