//! Moving, inserting, listing and deleting subtrees, next to prefix siblings that must
//! never be touched.

use std::collections::{BTreeSet, HashMap};

use cells_core::{BlobId, NodeId, WorkspaceId};
use cells_store::{Destination, NodeRecord, Store, StoreError};

use super::{NOW, absent, file, folder, new_user, node, personal_root, prefix_siblings, root_record, set};

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

pub async fn move_folder_keeps_uuids_and_rewrites_paths(store: &Store) {
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
    let moved = store.move_node(&a, &Destination::new(&dest, new_path), NOW + 9).await.expect("move");
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
    store.move_node(&moved, &Destination::new(&root, "\u{e9}"), NOW + 10).await.expect("second move");
    assert_moved(store, ws.id, "\u{e9}", &ids).await;

    // Rename in place, to a name that is a prefix-sibling of an existing one.
    let here = node(store, ws.id, "\u{e9}").await;
    store
        .move_node(&here, &Destination::new(&root, "\u{e9}\u{e9}\u{e9} long name \u{1F600}"), NOW + 11)
        .await
        .expect("rename");
    assert_moved(store, ws.id, "\u{e9}\u{e9}\u{e9} long name \u{1F600}", &ids).await;

    // And back to where it was, next to its prefix siblings.
    let here = node(store, ws.id, "\u{e9}\u{e9}\u{e9} long name \u{1F600}").await;
    store.move_node(&here, &Destination::new(&base, "base 100% #/a"), NOW + 12).await.expect("move back");
    assert_moved(store, ws.id, "base 100% #/a", &ids).await;
    for before in &before_siblings {
        assert_eq!(&node(store, ws.id, &before.path).await, before, "{:?} must not move", before.path);
    }

    // Moving a file.
    let f = node(store, ws.id, "base 100% #/a/f.txt").await;
    let moved = store.move_node(&f, &Destination::new(&root, "f #2.txt"), NOW + 13).await.expect("move file");
    assert_eq!((moved.id, moved.path.as_str(), moved.blob), (f.id, "f #2.txt", f.blob));
}

pub async fn move_across_workspaces(store: &Store) {
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
    let moved = store.move_node(&a, &Destination::new(&into, "inbox/a"), NOW + 1).await.expect("move across");
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

pub async fn move_onto_taken_name_is_a_conflict(store: &Store) {
    let ws = store.create_workspace("clash", "Clash", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let (ids, _, _) = folder_a(store, &root).await;
    let other = folder(store, &root, "taken #").await;
    let (taken_file, _) = file(store, &other, "f.txt").await;
    let a = node(store, ws.id, "a").await;

    for target in ["taken #", "ab", "a0"] {
        match store.move_node(&a, &Destination::new(&root, target), NOW + 1).await {
            Err(StoreError::Conflict(what)) => assert!(what.contains("name"), "names the field: {what}"),
            other => panic!("expected a conflict moving onto {target:?}, got {other:?}"),
        }
    }
    // Nothing moved, not even part of the subtree.
    assert_moved(store, ws.id, "a", &ids).await;
    assert_eq!(node(store, ws.id, "taken #/f.txt").await.id, taken_file.id);
    assert_eq!(node(store, ws.id, "taken #").await.id, other.id);
}

pub async fn copy_subtree_copies_all_or_nothing(store: &Store) {
    let ws = store.create_workspace("copies", "Copies", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let base = folder(store, &root, "base").await;
    let (ids, siblings, blobs) = folder_a(store, &base).await;
    let dest = folder(store, &root, "dest \u{2713}").await;
    let a = node(store, ws.id, "base/a").await;

    let copy = store.copy_subtree(&a, &Destination::new(&dest, "dest \u{2713}/copie #1"), NOW + 5).await;
    let copy = copy.expect("copy");
    assert_ne!(copy.id, a.id);
    assert_eq!(
        (copy.path.as_str(), copy.name.as_str(), copy.parent),
        ("dest \u{2713}/copie #1", "copie #1", Some(dest.id))
    );
    // Every node has its copy, with a new id, the same blob, and a parent that is the
    // copy of its own parent.
    let copied = store.subtree(&copy).await.expect("subtree");
    assert_eq!(copied.len(), ids.len());
    for (rel, id) in &ids {
        let original = store.node_by_id(*id).await.expect("read").expect("source stays");
        let path =
            if rel.is_empty() { "dest \u{2713}/copie #1".to_owned() } else { format!("dest \u{2713}/copie #1/{rel}") };
        let twin = node(store, ws.id, &path).await;
        assert_ne!(twin.id, original.id, "{rel:?} gets a new UUID");
        assert_eq!((twin.kind, twin.size, twin.blob), (original.kind, original.size, original.blob), "{rel:?}");
        assert_ne!(twin.etag, original.etag);
        if !rel.is_empty() {
            let parent_path = path.rsplit_once('/').map_or("", |(p, _)| p);
            assert_eq!(twin.parent, Some(node(store, ws.id, parent_path).await.id), "parent of {rel:?}");
        }
    }
    assert_moved(store, ws.id, "base/a", &ids).await;
    for blob in &blobs {
        assert!(store.blob_in_use(*blob).await.expect("in use"));
    }
    // Prefix siblings of the source (`base/ab`, `base/a0`, ...) are not copied.
    assert!(!siblings.is_empty());
    let whole = store.subtree(&root).await.expect("subtree").len();
    assert_eq!(whole, 1 + 2 + siblings.len() + 2 * ids.len(), "root, base, dest, siblings, a and its copy");

    // A clash inserts nothing.
    let before = store.subtree(&root).await.expect("subtree").len();
    let clash = store.copy_subtree(&a, &Destination::new(&dest, "dest \u{2713}/copie #1"), NOW + 6).await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert_eq!(store.subtree(&root).await.expect("subtree").len(), before);
    // Into itself: refused, whatever the caller checked.
    let inner = node(store, ws.id, "base/a/sous dossier #1 100%").await;
    let cycle = store.copy_subtree(&a, &Destination::new(&inner, "base/a/sous dossier #1 100%/x"), NOW).await;
    assert!(matches!(cycle, Err(StoreError::Cycle)), "{cycle:?}");
}

/// A move, copy or delete decided on a node or a folder that has moved since is refused
/// inside the write transaction, and changes nothing: two crossing moves cannot make a
/// cycle, nothing is created at a path that is gone.
pub async fn writes_on_stale_records_change_nothing(store: &Store) {
    let ws = store.create_workspace("stale", "Stale", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let x = folder(store, &root, "x").await;
    let y = folder(store, &root, "y").await;
    // Two moves read x and y, then cross: x into y, y into x.
    store.move_node(&x, &Destination::new(&y, "y/x"), NOW).await.expect("first move");
    let crossing = store.move_node(&y, &Destination::new(&x, "x/y"), NOW).await;
    assert!(matches!(crossing, Err(StoreError::Moved)), "{crossing:?}");
    assert_eq!(node(store, ws.id, "y").await.parent, Some(root.id), "y stays reachable from the root");
    assert_eq!(node(store, ws.id, "y/x").await.id, x.id);

    // A file created, copied or deleted under a stale record of its folder.
    let new = cells_store::NewNode {
        workspace: ws.id,
        parent: x.id,
        path: "x/f",
        name: "f",
        kind: cells_core::NodeKind::Leaf,
        size: 0,
        blob: None,
    };
    assert!(matches!(store.put_file(&new, NOW).await, Err(StoreError::Moved)));
    assert!(matches!(store.create_node(&new, NOW).await, Err(StoreError::Moved)));
    assert!(absent(store, ws.id, "x/f").await);
    let moved_x = node(store, ws.id, "y/x").await;
    let new_at = cells_store::NewNode { path: "y/x/f", ..new };
    store.put_file(&new_at, NOW).await.expect("at the new path");
    assert!(matches!(store.delete_subtree(&x, NOW).await, Err(StoreError::Moved)));
    let copy = store.copy_subtree(&x, &Destination::new(&root, "copy"), NOW).await;
    assert!(matches!(copy, Err(StoreError::Moved)), "{copy:?}");
    assert_eq!(store.delete_subtree(&moved_x, NOW).await.expect("delete"), 2);
}

pub async fn subtree_lists_parents_first_and_nothing_else(store: &Store) {
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

pub async fn delete_subtree_drops_blobs_and_spares_siblings(store: &Store) {
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
    assert_eq!(store.delete_subtree(&f, NOW).await.expect("delete file"), 1);
    assert!(store.node_by_id(f.id).await.expect("read").is_none());
    let garbage = store.collectable_blobs(NOW, 100).await.expect("garbage");
    assert_eq!(garbage, vec![f.blob.expect("a file has a blob")], "its blob goes to the collector");

    assert_eq!(store.delete_subtree(&a, NOW).await.expect("delete folder"), ids.len() as u64 - 1);
    assert_eq!(set(store.collectable_blobs(NOW, 100).await.expect("garbage")), set(blobs));
    assert!(store.collectable_blobs(NOW - 1, 100).await.expect("garbage").is_empty(), "not before they were dropped");
    for id in ids.values() {
        assert!(store.node_by_id(*id).await.expect("read").is_none());
    }
    for before in &sibling_records {
        assert_eq!(&node(store, ws.id, &before.path).await, before, "{:?} must survive", before.path);
    }
    let (children, total) = store.list_children(root.id, 0, 100).await.expect("list");
    assert_eq!(usize::try_from(total).expect("small"), children.len());
    assert!(children.iter().all(|c| c.name != "a"));

    // Deleting what is already gone says so.
    assert!(matches!(store.delete_subtree(&a, NOW).await, Err(StoreError::Vanished)));
    let empty = folder(store, &root, "vide").await;
    assert_eq!(store.delete_subtree(&empty, NOW).await.expect("delete empty"), 1);
}

/// A move or copy that replaces the node at its destination deletes that node (and its
/// subtree, whose blobs go to the collector) in its own transaction. Refused (the node
/// to replace moved, or holds the source), it changes nothing: the destination stays.
pub async fn replacing_writes_delete_the_destination_in_their_transaction(store: &Store) {
    let ws = store.create_workspace("replace", "Replace", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let (src, _) = file(store, &root, "src").await;
    let (old, old_blob) = file(store, &root, "old").await;

    let moved = store.move_node(&src, &Destination::new(&root, "old").replacing(&old), NOW + 1).await.expect("move");
    assert_eq!((moved.id, moved.path.as_str()), (src.id, "old"), "the moved node keeps its UUID");
    assert!(store.node_by_id(old.id).await.expect("read").is_none(), "the replaced node is gone");
    assert!(absent(store, ws.id, "src").await);
    assert_eq!(store.collectable_blobs(NOW + 1, 100).await.expect("garbage"), vec![old_blob]);

    // A copy over a folder replaces the folder and what is inside.
    let dir = folder(store, &root, "dir").await;
    let (inner, inner_blob) = file(store, &dir, "inner").await;
    let copy = store.copy_subtree(&moved, &Destination::new(&root, "dir").replacing(&dir), NOW + 2).await;
    let copy = copy.expect("copy");
    assert_eq!((copy.path.as_str(), copy.kind, copy.blob), ("dir", moved.kind, moved.blob));
    assert!(store.node_by_id(inner.id).await.expect("read").is_none());
    assert!(set(store.collectable_blobs(NOW + 2, 100).await.expect("garbage")).contains(&inner_blob.to_string()));
    assert_eq!(node(store, ws.id, "old").await.id, moved.id, "a copy leaves its source");

    // A stale record of the node to replace: nothing happens.
    let (other, _) = file(store, &root, "other").await;
    let stale = node(store, ws.id, "dir").await;
    store.move_node(&stale, &Destination::new(&root, "dir2"), NOW + 3).await.expect("rename");
    let refused = store.move_node(&other, &Destination::new(&root, "dir").replacing(&stale), NOW + 4).await;
    assert!(matches!(refused, Err(StoreError::Moved)), "{refused:?}");
    assert_eq!(node(store, ws.id, "other").await.id, other.id, "the source stays");
    assert_eq!(node(store, ws.id, "dir2").await.id, stale.id, "what was to be replaced stays");
    // Replacing a folder by something inside it: refused, and both stay.
    let parent = folder(store, &root, "p").await;
    let (child, _) = file(store, &parent, "c").await;
    let cycle = store.move_node(&child, &Destination::new(&root, "p").replacing(&parent), NOW + 5).await;
    assert!(matches!(cycle, Err(StoreError::Cycle)), "{cycle:?}");
    assert_eq!(node(store, ws.id, "p/c").await.id, child.id);
}
