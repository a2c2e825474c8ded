//! Personal access token records: stored by hash, found by hash or id, revoked with a
//! change signal, usage recorded without lowering an expiry, pruned when long dead.

use cells_core::expiry::ExpiryModel;
use cells_core::scope::Scope;
use cells_core::token;
use cells_core::{Rights, TokenId};
use cells_store::{NewToken, Store, StoreError, TokenType};

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
    };
    let record = store.insert_token(&new, NOW).await.expect("insert token");
    assert_eq!(record.label, "CI «nightly» #1 100%");
    assert_eq!(record.scopes, scopes);
    assert_eq!(record.expiry, ExpiryModel::AutoRefresh { window: 600, max_expires_at: Some(NOW + 3600) });
    assert_eq!((record.expires_at, record.created_at, record.revoked_at), (NOW + 600, NOW, None));

    let found = store.token_by_hash(&secret.hash()).await.expect("by hash").expect("found by hash");
    assert_eq!(found.id, record.id);
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
        };
        ids.push(store.insert_token(&new, NOW - 100).await.expect("insert").id);
    }
    store.revoke_token(ids[2], NOW - 5).await.expect("revoke");
    assert_eq!(store.prune_tokens(NOW).await.expect("prune"), 2, "the expired and the revoked one");
    let left: Vec<_> = store.all_tokens().await.expect("all").into_iter().map(|t| t.id).collect();
    assert_eq!(left, vec![ids[1]]);
}
