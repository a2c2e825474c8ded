//! Personal access token records: stored by hash, found by hash or id, revoked with a
//! change signal, usage recorded without lowering an expiry, pruned when long dead.

use cells_core::expiry::ExpiryModel;
use cells_core::limits::Limits;
use cells_core::scope::Scope;
use cells_core::token;
use cells_core::{Rights, TokenId};
use cells_store::{ActivityKey, NewToken, Secret, Store, StoreError, TokenType};

use super::{NOW, counter, new_user, personal_root};

fn hard_limit(expires_at: i64) -> ExpiryModel {
    ExpiryModel::HardLimit { expires_at }
}

pub async fn tokens_are_found_by_hash_and_listed_by_user(store: &Store) {
    let alice = new_user(store, "token.alice").await;
    let bob = new_user(store, "token.bob").await;
    let (_, root) = personal_root(store, alice).await;
    let secret = token::generate();
    let scopes = [Scope { node: root, rights: Rights::READ }];
    let new = NewToken {
        hash: &secret.hash(),
        kind: TokenType::Personal,
        label: "CI «nightly» #1 100%",
        user: alice,
        user_login: "token.alice",
        scopes: &scopes,
        expiry: ExpiryModel::AutoRefresh { window: 600, max_expires_at: Some(NOW + 3600) },
        expires_at: NOW + 600,
        created_by: "admin",
        limits: &Limits::default(),
    };
    let record = store.insert_token(&new, NOW).await.expect("insert token");
    assert_eq!(record.label, "CI «nightly» #1 100%");
    assert_eq!(record.scopes, scopes);
    assert_eq!(record.expiry, ExpiryModel::AutoRefresh { window: 600, max_expires_at: Some(NOW + 3600) });
    assert_eq!((record.expires_at, record.created_at, record.revoked_at), (NOW + 600, NOW, None));

    let found = store.token_by_hash(&secret.hash()).await.expect("by hash").expect("found by hash");
    assert_eq!((found.0.id, found.1), (record.id, cells_store::Secret::Current));
    assert!(store.token_by_hash(&token::generate().hash()).await.expect("by hash").is_none());
    assert_eq!(store.token_by_id(record.id).await.expect("by id").map(|t| t.id), Some(record.id));
    assert!(store.token_by_id(TokenId::random()).await.expect("by id").is_none());

    let other = NewToken { hash: &token::generate().hash(), user: bob, user_login: "token.bob", ..new };
    store.insert_token(&other, NOW).await.expect("bob's token");
    let of_alice = store.tokens_of(alice).await.expect("alice's tokens");
    assert_eq!(of_alice.iter().map(|t| t.id).collect::<Vec<_>>(), vec![record.id]);
    assert_eq!(store.all_tokens().await.expect("all tokens").len(), 2);

    // The same secret twice is refused by the unique hash.
    let again = NewToken { hash: &secret.hash(), ..other };
    assert!(matches!(store.insert_token(&again, NOW).await, Err(StoreError::Conflict(_))));
}

pub async fn revoking_bumps_the_change_counter_once(store: &Store) {
    let alice = new_user(store, "revoke.alice").await;
    let secret = token::generate();
    let new = NewToken {
        hash: &secret.hash(),
        kind: TokenType::Personal,
        label: "x",
        user: alice,
        user_login: "revoke.alice",
        scopes: &[],
        expiry: hard_limit(NOW + 60),
        expires_at: NOW + 60,
        created_by: "cli",
        limits: &Limits::default(),
    };
    let record = store.insert_token(&new, NOW).await.expect("insert");
    let before = counter(store).await;
    assert!(store.revoke_token(record.id, NOW + 1).await.expect("revoke"));
    assert!(counter(store).await > before, "a revocation must signal every process");
    assert!(!store.revoke_token(record.id, NOW + 2).await.expect("revoke again"), "already revoked");
    let revoked = store.token_by_id(record.id).await.expect("read").expect("still listed");
    assert_eq!(revoked.revoked_at, Some(NOW + 1));
}

pub async fn usage_never_lowers_the_expiry_and_failures_are_kept(store: &Store) {
    let alice = new_user(store, "usage.alice").await;
    let new = NewToken {
        hash: &token::generate().hash(),
        kind: TokenType::Document,
        label: "doc",
        user: alice,
        user_login: "usage.alice",
        scopes: &[],
        expiry: ExpiryModel::AutoRefresh { window: 100, max_expires_at: None },
        expires_at: NOW + 100,
        created_by: "usage.alice",
        limits: &Limits::default(),
    };
    let record = store.insert_token(&new, NOW).await.expect("insert");
    store.record_token_use(record.id, Some(NOW + 150), NOW + 50, Some("127.0.0.1"), "io").await.expect("use");
    // A late write from another process with an older bump does not lower it.
    store.record_token_use(record.id, Some(NOW + 120), NOW + 20, Some("::1"), "rest").await.expect("use");
    let used = store.token_by_id(record.id).await.expect("read").expect("exists");
    assert_eq!(used.expires_at, NOW + 150);
    assert_eq!(used.last_used_via.as_deref(), Some("rest"));
    assert_eq!(used.kind, TokenType::Document);
    store.record_token_failure(record.id, NOW + 200, "expired").await.expect("failure");
    let failed = store.token_by_id(record.id).await.expect("read").expect("exists");
    assert_eq!((failed.last_failure_at, failed.last_failure_reason.as_deref()), (Some(NOW + 200), Some("expired")));
}

pub async fn pruning_removes_only_long_dead_tokens(store: &Store) {
    let alice = new_user(store, "prune.alice").await;
    let mut ids = Vec::new();
    for expires_at in [NOW - 10, NOW + 10, NOW + 20] {
        let new = NewToken {
            hash: &token::generate().hash(),
            kind: TokenType::Personal,
            label: "p",
            user: alice,
            user_login: "prune.alice",
            scopes: &[],
            expiry: hard_limit(expires_at),
            expires_at,
            created_by: "cli",
            limits: &Limits::default(),
        };
        ids.push(store.insert_token(&new, NOW - 100).await.expect("insert").id);
    }
    store.revoke_token(ids[2], NOW - 5).await.expect("revoke");
    assert_eq!(store.prune_tokens(NOW).await.expect("prune"), 2, "the expired and the revoked one");
    let left: Vec<_> = store.all_tokens().await.expect("all").into_iter().map(|t| t.id).collect();
    assert_eq!(left, vec![ids[1]]);
}

pub async fn limits_rotation_leaks_and_activity_round_trip(store: &Store) {
    let alice = new_user(store, "life.alice").await;
    let first = token::generate();
    let limits = Limits::parse(&["10.0.0.0/8", "2001:db8::/32"], &["sftp", "rest"]).expect("limits");
    let new = NewToken {
        hash: &first.hash(),
        kind: TokenType::Personal,
        label: "backup",
        user: alice,
        user_login: "life.alice",
        scopes: &[],
        expiry: hard_limit(NOW + 3600),
        expires_at: NOW + 3600,
        created_by: "admin",
        limits: &limits,
    };
    let record = store.insert_token(&new, NOW).await.expect("insert");
    assert_eq!(record.limits, limits, "limits read back as written");

    // Rotation: the new secret is current, the old one previous, with its grace.
    let second = token::generate();
    let before = counter(store).await;
    assert!(store.rotate_token(record.id, &second.hash(), NOW + 60, NOW + 1).await.expect("rotate"));
    assert!(counter(store).await > before, "a rotation must signal every process");
    let by = |s: &token::PatSecret| {
        let hash = s.hash();
        async move { store.token_by_hash(&hash).await.expect("by hash").map(|(r, which)| (r.id, which, r.grace_ends_at)) }
    };
    assert_eq!(by(&second).await, Some((record.id, Secret::Current, Some(NOW + 60))));
    assert_eq!(by(&first).await, Some((record.id, Secret::Previous, Some(NOW + 60))));
    // A second rotation forgets the first secret.
    let third = token::generate();
    assert!(store.rotate_token(record.id, &third.hash(), NOW + 2, NOW + 2).await.expect("rotate again"));
    assert_eq!(by(&first).await, None, "the secret before the previous one is forgotten");
    assert_eq!(by(&second).await.map(|f| f.1), Some(Secret::Previous));

    // A leak report of a previous secret past its grace revokes nothing; of the current
    // one, it revokes once and marks it.
    assert_eq!(store.revoke_leaked(&[second.hash()], NOW + 3, "192.0.2.1").await.expect("leak"), 0);
    assert_eq!(
        store.revoke_leaked(&[third.hash(), token::generate().hash()], NOW + 4, "192.0.2.1").await.expect("leak"),
        1
    );
    assert_eq!(store.revoke_leaked(&[third.hash()], NOW + 5, "192.0.2.1").await.expect("leak again"), 0);
    let leaked = store.token_by_id(record.id).await.expect("read").expect("kept");
    assert_eq!((leaked.revoked_at, leaked.leaked), (Some(NOW + 4), Some((NOW + 4, "192.0.2.1".to_owned()))));
    assert!(!store.rotate_token(record.id, &token::generate().hash(), NOW + 9, NOW + 9).await.expect("rotate revoked"));

    // Activity adds up per (hour, address, protocol), and is pruned by hour.
    let key = |hour, ip: &str, via| ActivityKey { token: record.id, hour, ip: ip.into(), via };
    store.add_token_activity(&[(key(7200, "10.0.0.1", "sftp"), 3), (key(3600, "", "rest"), 1)]).await.expect("add");
    store.add_token_activity(&[(key(7200, "10.0.0.1", "sftp"), 2)]).await.expect("add again");
    let gone = ActivityKey { token: TokenId::random(), hour: 7200, ip: String::new(), via: "io" };
    store.add_token_activity(&[(gone, 1)]).await.expect("a deleted token's counts are dropped");
    let rows = store.token_activity(record.id, 0).await.expect("activity");
    let seen: Vec<_> = rows.iter().map(|r| (r.hour, r.ip.as_str(), r.via.as_str(), r.count)).collect();
    assert_eq!(seen, vec![(7200, "10.0.0.1", "sftp", 5), (3600, "", "rest", 1)]);
    assert_eq!(store.prune_token_activity(7200).await.expect("prune"), 1);
    assert_eq!(store.token_activity(record.id, 0).await.expect("activity").len(), 1);
    assert_eq!(store.count_tokens_expiring(NOW, NOW + 7200).await.expect("count"), 0, "a revoked token is not counted");
}
