//! Nodes: creating and looking up, listing children, and putting files.

use cells_core::{BlobId, NodeId, NodeKind};
use cells_store::{NewNode, Store, StoreError};

use super::{NOW, absent, file, folder, new_user, node, personal_root, root_record};

pub async fn nodes_create_and_look_up(store: &Store) {
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

pub async fn list_children_orders_and_pages(store: &Store) {
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

pub async fn put_file_creates_then_replaces(store: &Store) {
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
    let (first, created) = store.put_file(&new, NOW).await.expect("put");
    assert!(created);
    assert_eq!((first.kind, first.size, first.blob, first.mtime), (NodeKind::Leaf, 10, Some(first_blob), NOW));
    assert_eq!((first.path.as_str(), first.name.as_str(), first.parent), (path, name, Some(dir.id)));
    assert!(store.blob_in_use(first_blob).await.expect("in use"));

    let second_blob = BlobId::random();
    let update = NewNode { size: 20_000_000_000, blob: Some(second_blob), ..new };
    let (second, created) = store.put_file(&update, NOW + 5).await.expect("replace");
    assert!(!created);
    assert_eq!(
        store.collectable_blobs(NOW + 5, 10).await.expect("garbage"),
        [first_blob],
        "the replaced blob goes to the collector"
    );
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

    // A condition is evaluated on the file there inside the transaction.
    let third = NewNode { blob: Some(BlobId::random()), ..new };
    let refused = store.put_file_if(&third, NOW + 6, &|current| current.is_none()).await;
    assert!(matches!(refused, Err(StoreError::PreconditionFailed)), "{refused:?}");
    assert_eq!(node(store, ws.id, path).await.blob, Some(second_blob), "a failed condition changes nothing");
    let etag = second.etag.clone();
    let (third_node, _) =
        store.put_file_if(&third, NOW + 6, &|current| current.is_some_and(|n| n.etag == etag)).await.expect("if-match");
    assert_eq!(third_node.blob, third.blob);
}

/// A batch of uploads in one transaction: each file is checked on its own (a refused
/// one writes nothing and the others go on), two at one path apply in order, and the
/// tree counter moves once for the batch.
pub async fn put_files_commits_a_batch_file_by_file(store: &Store) {
    use cells_store::PutFile;
    let ws = store.create_workspace("batch", "Batch", NOW).await.expect("create");
    let root = root_record(store, ws.id).await;
    let dir = folder(store, &root, "photos").await;
    let (_, tree_before) = store.change_counters().await.expect("counters");
    let leaf = |path: &'static str, parent: NodeId, blob: BlobId| NewNode {
        workspace: ws.id,
        parent,
        path,
        name: path.rsplit('/').next().unwrap_or(path),
        kind: NodeKind::Leaf,
        size: 4096,
        blob: Some(blob),
    };
    let blobs: Vec<BlobId> = (0..6).map(|_| BlobId::random()).collect();
    let any = |_: Option<&cells_store::NodeRecord>| true;
    let absent_only = |current: Option<&cells_store::NodeRecord>| current.is_none();
    let files = [
        PutFile { node: leaf("photos/a.jpg", dir.id, blobs[0]), condition: &any },
        PutFile { node: leaf("photos/b.jpg", dir.id, blobs[1]), condition: &any },
        // The same path again: applies after the first, which it replaces.
        PutFile { node: leaf("photos/a.jpg", dir.id, blobs[2]), condition: &any },
        // If-None-Match: * on a path the batch already filled.
        PutFile { node: leaf("photos/b.jpg", dir.id, blobs[3]), condition: &absent_only },
        // A parent that does not exist, and a file over a folder.
        PutFile { node: leaf("gone/c.jpg", NodeId::random(), blobs[4]), condition: &any },
        PutFile { node: leaf("photos", root.id, blobs[5]), condition: &any },
    ];
    let done = store.put_files(&files, NOW).await.expect("batch");
    let outcomes: Vec<_> = done.outcomes.iter().map(|o| o.as_ref().map(|(n, created)| (n.blob, *created))).collect();
    assert!(matches!(outcomes[0], Ok((Some(b), true)) if b == blobs[0]), "{outcomes:?}");
    assert!(matches!(outcomes[1], Ok((Some(b), true)) if b == blobs[1]), "{outcomes:?}");
    assert!(matches!(outcomes[2], Ok((Some(b), false)) if b == blobs[2]), "{outcomes:?}");
    assert!(matches!(outcomes[3], Err(StoreError::PreconditionFailed)), "{outcomes:?}");
    assert!(matches!(outcomes[4], Err(StoreError::Vanished)), "{outcomes:?}");
    assert!(matches!(outcomes[5], Err(StoreError::Conflict(_))), "{outcomes:?}");
    assert_eq!(done.tree_counter, tree_before + 1, "one bump for the batch");
    assert_eq!(store.change_counters().await.expect("counters").1, done.tree_counter);

    assert_eq!(node(store, ws.id, "photos/a.jpg").await.blob, Some(blobs[2]));
    assert_eq!(node(store, ws.id, "photos/b.jpg").await.blob, Some(blobs[1]), "the refused one changed nothing");
    assert_eq!(node(store, ws.id, "photos").await.kind, NodeKind::Collection);
    let (children, total) = store.list_children(dir.id, 0, 10).await.expect("list");
    assert_eq!((children.len(), total), (2, 2));
    assert_eq!(store.collectable_blobs(NOW, 10).await.expect("garbage"), [blobs[0]], "the replaced blob");

    // A batch of only refusals changes nothing, and does not move the counter.
    let refused = store.put_files(&files[3..], NOW).await.expect("batch");
    assert!(refused.outcomes.iter().all(Result::is_err));
    assert_eq!(refused.tree_counter, done.tree_counter);
}
