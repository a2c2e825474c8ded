//! Refresh tokens, server keys, settings, the change counter, and concurrent writers.

use std::collections::BTreeSet;

use cells_core::{BlobId, NodeId, NodeKind, Rights};
use cells_store::{NewNode, Redeemed, Store};

use super::{NOW, counter, file, folder, new_user, node, root_record, set};

pub async fn refresh_tokens_redeem_once(store: &Store) {
    let user = new_user(store, "oauth").await;
    store.insert_refresh_token("h-live", "fam-1", user, NOW, NOW + 60).await.expect("insert");
    store.insert_refresh_token("h-expired", "fam-2", user, NOW - 100, NOW).await.expect("insert");
    store.insert_refresh_token("h-later", "fam-3", user, NOW, NOW + 3600).await.expect("insert");
    store.insert_refresh_token("h-race", "fam-4", user, NOW, NOW + 3600).await.expect("insert");
    let rotate = |old: &'static str, next: &'static str, at| store.rotate_refresh_token(old, next, at, at + 60);

    let family = "fam-1".to_owned();
    assert_eq!(rotate("h-live", "h-live-2", NOW + 59).await.expect("redeem"), Redeemed::Valid { user, family });
    assert!(store.refresh_family_alive("fam-1", NOW + 59).await.expect("alive"), "the successor keeps the login");
    assert_eq!(rotate("h-expired", "x1", NOW).await.expect("redeem"), Redeemed::Unknown, "expires at its time");
    assert_eq!(rotate("h-unknown", "x2", NOW).await.expect("redeem"), Redeemed::Unknown);
    assert_eq!(rotate("H-LATER", "x3", NOW).await.expect("redeem"), Redeemed::Unknown, "hashes match exactly");

    // Used twice: theft. The whole family ends, the successor included.
    assert_eq!(rotate("h-live", "h-live-3", NOW + 59).await.expect("redeem"), Redeemed::Reused { user });
    assert!(!store.refresh_family_alive("fam-1", NOW + 59).await.expect("alive"));
    assert_eq!(rotate("h-live-2", "h-live-4", NOW + 59).await.expect("redeem"), Redeemed::Unknown);

    let (x, y) = tokio::join!(rotate("h-race", "r1", NOW + 1), rotate("h-race", "r2", NOW + 1));
    let results = [x.expect("redeem"), y.expect("redeem")];
    let winners = results.iter().filter(|r| matches!(r, Redeemed::Valid { .. })).count();
    assert_eq!(winners, 1, "a token redeemed twice at once is honoured once: {results:?}");

    // Logout ends a family by any of its tokens; others are untouched.
    assert!(store.end_refresh_family_of("h-later").await.expect("logout"));
    assert!(!store.refresh_family_alive("fam-3", NOW).await.expect("alive"));
    assert!(!store.end_refresh_family_of("h-never").await.expect("logout"));

    store.insert_refresh_token("h-old-1", "fam-5", user, NOW, NOW + 10).await.expect("insert");
    store.insert_refresh_token("h-old-2", "fam-5", user, NOW, NOW + 20).await.expect("insert");
    store.insert_refresh_token("h-stays", "fam-6", user, NOW, NOW + 3600).await.expect("insert");
    let pruned = store.prune_refresh_tokens(NOW + 20).await.expect("prune");
    assert!(pruned >= 2, "{pruned}");
    assert_eq!(store.prune_refresh_tokens(NOW + 20).await.expect("prune"), 0);
    assert!(
        matches!(rotate("h-stays", "h-stays-2", NOW + 21).await.expect("redeem"), Redeemed::Valid { .. }),
        "pruning spares live tokens"
    );
}

pub async fn server_key_first_value_wins(store: &Store) {
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

pub async fn settings_round_trip(store: &Store) {
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

pub async fn change_counter_only_grows(store: &Store) {
    let mut last = counter(store).await;
    let user = new_user(store, "counted").await;
    let ws = store.create_workspace("counted", "Counted", NOW).await.expect("create");
    for step in 0..3 {
        match step {
            0 => store.set_grant(ws.id, user, Rights::READ).await.expect("grant"),
            1 => store.set_setting("k", "v").await.expect("setting"),
            _ => {
                assert!(store.delete_user(user, NOW).await.expect("delete"), "existed");
            }
        }
        let now = counter(store).await;
        assert!(now > last, "step {step} bumps the counter");
        last = now;
    }
}

/// Writers that read before they write (uploads, deletes) run at once without failing:
/// they wait their turn instead of reporting a busy database.
pub async fn concurrent_writes_wait_their_turn(store: &Store) {
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
            store.put_file(&new, NOW).await.map(|(node, created)| (node.id, created, blob))
        })
    };
    let distinct: Vec<_> = (0..16).map(|i| put(format!("f {i} \u{e9}"))).collect();
    let same: Vec<_> = (0..8).map(|_| put("same name %".to_owned())).collect();
    let deletes: Vec<_> = doomed
        .iter()
        .map(|f| {
            let (store, f) = (store.clone(), f.clone());
            tokio::spawn(async move { store.delete_subtree(&f, NOW).await })
        })
        .collect();

    for handle in distinct {
        let (_, created, _) = handle.await.expect("join").expect("concurrent upload of another file");
        assert!(created);
    }
    let mut same_results = Vec::new();
    for handle in same {
        same_results.push(handle.await.expect("join").expect("concurrent upload of the same file"));
    }
    for handle in deletes {
        assert_eq!(handle.await.expect("join").expect("concurrent delete"), 2, "the folder and its file");
    }
    assert_eq!(same_results.iter().filter(|r| r.1).count(), 1, "one upload creates, the others replace");
    let ids: BTreeSet<NodeId> = same_results.iter().map(|r| r.0).collect();
    assert_eq!(ids.len(), 1, "one node, one UUID");
    // Every blob but the last one written goes to the collector.
    let written = set(same_results.iter().map(|r| r.2));
    let last = node(store, ws.id, "same name %").await.blob.expect("a blob");
    assert!(written.contains(&last.to_string()));
    let collectable = set(store.collectable_blobs(NOW, 1000).await.expect("garbage"));
    assert_eq!(collectable.intersection(&written).count(), 7, "the seven replaced blobs, not the last");
    assert!(!collectable.contains(&last.to_string()));
    let (_, total) = store.list_children(root.id, 0, 0).await.expect("list");
    assert_eq!(total, 17);
}
