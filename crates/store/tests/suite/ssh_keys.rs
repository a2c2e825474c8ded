//! SSH key records: found by fingerprint (the one not revoked first) or id, unique among
//! keys not revoked, registered and revoked with a change signal, usage recorded without
//! lowering an expiry, pruned when long dead.

use cells_core::Rights;
use cells_core::expiry::ExpiryModel;
use cells_core::scope::Scope;
use cells_store::{NewKey, Store, StoreError};

use super::{NOW, counter, new_user, personal_root};

const FINGERPRINT: &str = "SHA256:IV3t3pgl1ZtAvdMvjv/f8RcFpxlmALeFlKudhfVC3n0";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOKCr77cUI0MXWTfun9s4ST6Wm0oyH80DeI5XH7avAZU";

fn new_key<'a>(user: cells_core::UserId, login: &'a str, scopes: &'a [Scope]) -> NewKey<'a> {
    NewKey {
        fingerprint: FINGERPRINT,
        public_key: KEY,
        algorithm: "ssh-ed25519",
        label: "laptop «ü» #1 100%",
        user,
        user_login: login,
        scopes,
        expiry: ExpiryModel::AutoRefresh { window: 600, max_expires_at: Some(NOW + 3600) },
        expires_at: NOW + 600,
        created_by: "admin",
    }
}

pub async fn ssh_keys_are_unique_while_not_revoked_and_found_by_fingerprint(store: &Store) {
    let alice = new_user(store, "key.alice").await;
    let bob = new_user(store, "key.bob").await;
    let (_, root) = personal_root(store, alice).await;
    let scopes = [Scope { node: root, rights: Rights::READ }];
    let before = counter(store).await;
    let record = store.insert_key(&new_key(alice, "key.alice", &scopes), NOW).await.expect("insert key");
    assert!(counter(store).await > before, "a registration bumps the change counter");
    assert_eq!(
        (record.label.as_str(), record.fingerprint.as_str(), record.public_key.as_str()),
        ("laptop «ü» #1 100%", FINGERPRINT, KEY)
    );
    assert_eq!(record.scopes, scopes);
    assert_eq!(record.expiry, ExpiryModel::AutoRefresh { window: 600, max_expires_at: Some(NOW + 3600) });

    // The same key again, for anyone, while the first is not revoked: a conflict.
    let again = store.insert_key(&new_key(bob, "key.bob", &[]), NOW).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let found = store.key_by_fingerprint(FINGERPRINT).await.expect("by fingerprint").expect("found");
    assert_eq!(found.id, record.id);
    assert!(store.key_by_fingerprint("SHA256:other").await.expect("by fingerprint").is_none());
    assert_eq!(store.keys_of(alice).await.expect("keys of alice").len(), 1);
    assert!(store.keys_of(bob).await.expect("keys of bob").is_empty());

    // Revoked, it can be registered again; the one not revoked is found first.
    let before = counter(store).await;
    assert!(store.revoke_key(record.id, NOW + 1).await.expect("revoke"));
    assert!(!store.revoke_key(record.id, NOW + 2).await.expect("revoke again"), "revoked once");
    assert!(counter(store).await > before, "a revocation bumps the change counter");
    let revoked = store.key_by_fingerprint(FINGERPRINT).await.expect("by fingerprint").expect("found");
    assert_eq!(revoked.revoked_at, Some(NOW + 1), "a revoked key is still found, so that its refusal is audited");
    let second = store.insert_key(&new_key(bob, "key.bob", &[]), NOW + 3).await.expect("registered again");
    let found = store.key_by_fingerprint(FINGERPRINT).await.expect("by fingerprint").expect("found");
    assert_eq!((found.id, found.revoked_at), (second.id, None));
    assert_eq!(store.all_keys().await.expect("all keys").len(), 2);
}

pub async fn ssh_key_usage_never_lowers_the_expiry_and_old_keys_are_pruned(store: &Store) {
    let alice = new_user(store, "keyuse.alice").await;
    let record = store.insert_key(&new_key(alice, "keyuse.alice", &[]), NOW).await.expect("insert key");
    store.record_key_use(record.id, Some(NOW + 900), NOW + 300, Some("2001:db8::1"), "sftp").await.expect("use");
    store.record_key_use(record.id, Some(NOW + 700), NOW + 100, None, "sftp").await.expect("older use");
    store.record_key_failure(record.id, NOW + 400, "user name is not the owner's login").await.expect("failure");
    let used = store.key_by_id(record.id).await.expect("by id").expect("found");
    assert_eq!(used.expires_at, NOW + 900, "never lowered");
    assert_eq!(used.last_used_via.as_deref(), Some("sftp"));
    assert_eq!(used.last_failure_reason.as_deref(), Some("user name is not the owner's login"));

    assert_eq!(store.prune_keys(NOW + 900).await.expect("prune"), 0, "not yet dead");
    assert_eq!(store.prune_keys(NOW + 901).await.expect("prune"), 1);
    assert!(store.key_by_id(record.id).await.expect("by id").is_none());
}
