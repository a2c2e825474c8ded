//! WebDAV state: the one-row listing of a folder, dead properties (applied in order,
//! following their node, copied onto a copied subtree) and locks (a conflict checked in
//! the same transaction as the insert, expiry, removal below a path).

use cells_core::NodeId;
use cells_store::{LockRecord, PropertyChange, Store};

use super::{NOW, file, folder, new_user, personal_root, prefix_siblings, root_record};

pub async fn children_of_lists_every_child_by_name_like_list_children(store: &Store) {
    let user = new_user(store, "davlist").await;
    let (ws, _) = personal_root(store, user).await;
    let root = root_record(store, ws).await;
    let parent = folder(store, &root, "a").await;
    prefix_siblings(store, &root).await;
    for name in ["z \"quoted\" \\ back", "ü #1 100%", "?x&y", "\u{1F600}", "b"] {
        file(store, &parent, name).await;
    }
    folder(store, &parent, "sub").await;
    let (listed, total) = store.list_children(parent.id, 0, 100).await.expect("list");
    let all = store.children_of(parent.id, 100).await.expect("children_of");
    assert_eq!(all, listed, "the same records in the same order");
    assert_eq!(i64::try_from(all.len()).unwrap_or(0), total);
    assert!(store.children_of(all[0].id, 100).await.expect("a file's children").is_empty());
    let first = store.children_of(parent.id, 2).await.expect("the first two");
    assert_eq!(first, listed[..2], "a limit keeps the first by name");
}

fn set(name: &str, value: &str) -> PropertyChange {
    PropertyChange::Set { namespace: "urn:x".into(), name: name.into(), value: value.as_bytes().to_vec() }
}

pub async fn dead_properties_apply_in_order_and_follow_copies(store: &Store) {
    let user = new_user(store, "davprops").await;
    let (ws, _) = personal_root(store, user).await;
    let root = root_record(store, ws).await;
    let a = folder(store, &root, "a #1").await;
    let (f, _) = file(store, &a, "f").await;
    let changes = [
        set("x", "1"),
        set("y", "<b xmlns=\"urn:b\"/>"),
        PropertyChange::Remove { namespace: "urn:x".into(), name: "x".into() },
        set("x", "2"),
    ];
    store.patch_dav_properties(f.id, &changes).await.expect("patch");
    let mut props = store.dav_properties(f.id).await.expect("read");
    props.sort_by(|p, q| p.name.cmp(&q.name));
    let values: Vec<(&str, &[u8])> = props.iter().map(|p| (p.name.as_str(), p.value.as_slice())).collect();
    assert_eq!(values, [("x", &b"2"[..]), ("y", b"<b xmlns=\"urn:b\"/>")]);
    assert_eq!(store.dav_properties_of_children(a.id).await.expect("children").len(), 2);
    // A copy of the folder (made as the service makes one) gets them too.
    let copy = folder(store, &root, "a #1 copy").await;
    let (copied, _) = file(store, &copy, "f").await;
    store.copy_dav_properties((ws, "a #1"), (ws, "a #1 copy")).await.expect("copy");
    assert_eq!(store.dav_properties(copied.id).await.expect("read copy").len(), 2);
    assert!(store.dav_properties(NodeId::random()).await.expect("none").is_empty());
}

pub async fn locks_conflict_in_the_insert_expire_and_go_with_their_path(store: &Store) {
    let user = new_user(store, "davlocks").await;
    let (ws, _) = personal_root(store, user).await;
    let lock = |token: &str, path: &str, expires_at| LockRecord {
        token: token.into(),
        workspace: ws,
        path: path.into(),
        user,
        owner_xml: Some("<href xmlns=\"DAV:\">me</href>".into()),
        deep: true,
        exclusive: true,
        expires_at,
    };
    let first = lock("urn:uuid:1", "a", NOW + 60);
    assert!(store.insert_dav_lock(&first, NOW, |held| !held.is_empty()).await.expect("insert"));
    assert!(
        !store
            .insert_dav_lock(&lock("urn:uuid:2", "a/b", NOW + 60), NOW, |held| !held.is_empty())
            .await
            .expect("refused")
    );
    assert_eq!(store.dav_locks(ws, NOW).await.expect("locks"), std::slice::from_ref(&first));
    let refreshed = store.refresh_dav_lock("urn:uuid:1", NOW + 600, NOW).await.expect("refresh").expect("live");
    assert_eq!(refreshed.expires_at, NOW + 600);
    assert!(store.dav_locks(ws, NOW + 601).await.expect("later").is_empty(), "expired");
    assert!(store.refresh_dav_lock("urn:uuid:1", NOW + 900, NOW + 601).await.expect("late refresh").is_none());
    // A prefix sibling survives the removal below `a`.
    store.insert_dav_lock(&lock("urn:uuid:3", "ab", NOW + 60), NOW, |_| false).await.expect("sibling");
    store.delete_dav_locks_within(ws, "a").await.expect("delete within");
    let left: Vec<String> = store.dav_locks(ws, NOW).await.expect("left").into_iter().map(|l| l.token).collect();
    assert_eq!(left, ["urn:uuid:3"]);
    assert!(store.delete_dav_lock("urn:uuid:3").await.expect("unlock"));
    assert!(!store.delete_dav_lock("urn:uuid:3").await.expect("twice"));
}
