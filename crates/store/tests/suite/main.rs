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

use std::collections::BTreeSet;

use cells_core::{BlobId, Login, NodeId, NodeKind, Profile, UnixTime, UserId, WorkspaceId};
use cells_store::{NewNode, NewUser, NodeRecord, Store};

mod blobs;
mod dav;
mod keys;
mod moves;
mod nodes;
mod ssh_keys;
mod tokens;
mod users;
mod workspaces;
use blobs::*;
use dav::*;
use keys::*;
use moves::*;
use nodes::*;
use ssh_keys::*;
use tokens::*;
use users::*;
use workspaces::*;

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
    let (node, created) = store.put_file(&new, NOW).await.unwrap_or_else(|e| panic!("put file {path:?}: {e}"));
    assert!(created, "{path:?} is new");
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
// Backends

/// Runs each named check on a fresh SQLite file, on a fresh in-memory database, and on
/// a fresh schema of the test PostgreSQL (which must be reachable: see `cells-testkit`).
macro_rules! store_suite {
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
        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    let schema = cells_testkit::PgSchema::create().await;
                    let store = cells_store::Store::open(schema.url()).await.expect("open");
                    assert_eq!(store.dialect(), cells_store::Dialect::Postgres);
                    super::$check(&store).await;
                    // Every transaction ended, also those the check gave up on.
                    let mut open = Vec::new();
                    for _ in 0..20 {
                        open = schema.idle_in_transaction().await;
                        if open.is_empty() {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    assert_eq!(open, Vec::<String>::new(), "transactions left open");
                    store.close().await;
                }
            )*
        }
    };
}

store_suite!(
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
    put_files_commits_a_batch_file_by_file,
    move_folder_keeps_uuids_and_rewrites_paths,
    move_across_workspaces,
    move_onto_taken_name_is_a_conflict,
    copy_subtree_copies_all_or_nothing,
    writes_on_stale_records_change_nothing,
    replacing_writes_delete_the_destination_in_their_transaction,
    subtree_lists_parents_first_and_nothing_else,
    delete_subtree_drops_blobs_and_spares_siblings,
    refresh_tokens_redeem_once,
    server_key_first_value_wins,
    settings_round_trip,
    change_counter_only_grows,
    concurrent_writes_wait_their_turn,
    tokens_are_found_by_hash_and_listed_by_user,
    revoking_bumps_the_change_counter_once,
    usage_never_lowers_the_expiry_and_failures_are_kept,
    pruning_removes_only_long_dead_tokens,
    limits_rotation_leaks_and_activity_round_trip,
    ssh_keys_are_unique_while_not_revoked_and_found_by_fingerprint,
    ssh_key_usage_never_lowers_the_expiry_and_old_keys_are_pruned,
    children_of_lists_every_child_by_name_like_list_children,
    dead_properties_apply_in_order_and_follow_copies,
    locks_conflict_in_the_insert_expire_and_go_with_their_path,
);

#[tokio::test]
async fn sqlite_reopen_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    reopen_keeps_data(&format!("sqlite://{}", dir.path().join("t.db").display())).await;
}

#[tokio::test]
async fn postgres_reopen_keeps_data() {
    let schema = cells_testkit::PgSchema::create().await;
    reopen_keeps_data(schema.url()).await;
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

local_blobs_suite!(
    blobs_round_trip,
    blobs_dropped_writer_leaves_nothing,
    local_blob_files_are_private,
    blobs_delete_and_age,
    large_blobs_cross_parts,
    blobs_at_part_boundaries,
    blobs_sweep_temporary,
    small_blobs_are_served_from_memory,
);

/// Runs each named blob check on a bucket of a fresh `s3s-fs` server.
macro_rules! bucket_blobs_suite {
    ($($check:ident),* $(,)?) => {
        mod bucket_blobs {
            $(
                #[tokio::test]
                async fn $check() {
                    use cells_testkit::{S3Server, ACCESS_KEY, SECRET_KEY};
                    let server = S3Server::start();
                    let blobs = cells_store::Blobs::open_s3_with(&server.storage_url(), ACCESS_KEY, SECRET_KEY)
                        .await
                        .expect("open the bucket");
                    super::$check(&blobs, server.root()).await;
                }
            )*
        }
    };
}

bucket_blobs_suite!(
    blobs_round_trip,
    blobs_delete_and_age,
    large_blobs_cross_parts,
    blobs_at_part_boundaries,
    bucket_dropped_upload_leaves_nothing
);

#[tokio::test]
async fn a_bucket_that_does_not_answer_is_a_clear_error() {
    let port = cells_testkit::free_port();
    let url = format!("s3://cells?endpoint=http://127.0.0.1:{port}&region=us-east-1");
    let err = cells_store::Blobs::open_s3_with(&url, "k", "s").await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("does not answer"), "{err}");
    let server = cells_testkit::S3Server::start();
    let err = cells_store::Blobs::open_s3_with(&server.storage_url(), "k", "wrong secret")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("does not answer"), "wrong credentials are refused: {err}");
}

/// PostgreSQL announces each change of the counters to the processes of its schema, and
/// only to them; SQLite has no feed.
#[tokio::test]
async fn postgres_announces_changes_to_its_own_schema_only() {
    use cells_store::FeedEvent;
    let (one, other) = (cells_testkit::PgSchema::create().await, cells_testkit::PgSchema::create().await);
    let (store, elsewhere) =
        (Store::open(one.url()).await.expect("open"), Store::open(other.url()).await.expect("open"));
    let mut feed = store.change_feed().await.expect("subscribe").expect("a feed on PostgreSQL");
    let mut deaf = elsewhere.change_feed().await.expect("subscribe").expect("a feed on PostgreSQL");
    store.set_setting("x", "1").await.expect("a change");
    let heard = tokio::time::timeout(std::time::Duration::from_secs(5), feed.next()).await.expect("announced");
    let (value, tree) = store.change_counters().await.expect("counters");
    assert_eq!(heard.expect("an event"), FeedEvent::Counters(value, tree));
    let nothing = tokio::time::timeout(std::time::Duration::from_millis(500), deaf.next()).await;
    assert!(nothing.is_err(), "another schema's change was heard: {nothing:?}");
    let sqlite = Store::open("sqlite::memory:").await.expect("open");
    assert!(sqlite.change_feed().await.expect("no error").is_none());
}
