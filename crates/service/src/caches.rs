//! In-memory caches of what every request needs (users, workspaces, grants, recently
//! verified passwords), so the hot path does not query the database for them.
//!
//! Every write that could make an entry stale bumps one of the database's two change
//! counters in the same transaction (users, grants, tokens, settings; or the tree). This process clears its caches right after its own writes, and
//! a background task polls the counter so that writes by other processes (another
//! server, the CLI) are seen within [`POLL_INTERVAL`]. No entry is trusted by age alone.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use std::sync::Arc;

use cells_core::token::PatHash;
use cells_core::{NodeId, Rights, UserId, WorkspaceId};
use cells_store::{NodeRecord, UserRecord, WorkspaceRecord};

/// How often the change counter is polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long a verified password is remembered (it is forgotten at once on any change).
pub const PASSWORD_TTL: Duration = Duration::from_secs(60);

/// A map behind a lock, cleared as a whole.
///
/// Every clear starts a new generation, and an entry loaded from the database is kept
/// only if no clear happened since the load began: a revocation that lands while a
/// request is reading the old record cannot be undone by that request's insert.
pub(crate) struct Cache<K, V> {
    inner: RwLock<Generation<K, V>>,
}

struct Generation<K, V> {
    map: HashMap<K, V>,
    number: u64,
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    fn new() -> Self {
        Self { inner: RwLock::new(Generation { map: HashMap::new(), number: 0 }) }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.inner.read().ok()?.map.get(key).cloned()
    }

    /// The current generation: read it before loading what will be inserted.
    pub(crate) fn generation(&self) -> u64 {
        self.inner.read().map_or(u64::MAX, |inner| inner.number)
    }

    /// Runs `f` on the map if the cache was not cleared since generation `seen`.
    fn if_current<R>(&self, seen: u64, f: impl FnOnce(&mut HashMap<K, V>) -> R) -> Option<R> {
        let mut inner = self.inner.write().ok()?;
        if inner.number != seen {
            return None;
        }
        // A crude bound against unbounded growth: start over when full.
        if inner.map.len() >= 100_000 {
            inner.map.clear();
        }
        Some(f(&mut inner.map))
    }

    /// Keeps `value` (replacing any entry) unless the cache was cleared since generation
    /// `seen`.
    pub(crate) fn insert(&self, seen: u64, key: K, value: V) {
        self.if_current(seen, |map| map.insert(key, value));
    }

    /// As [`Cache::insert`], but an entry already there wins; returns the value to use.
    pub(crate) fn insert_or_get(&self, seen: u64, key: K, value: V) -> V {
        let fallback = value.clone();
        self.if_current(seen, |map| map.entry(key).or_insert(value).clone()).unwrap_or(fallback)
    }

    /// The cached value, or the loaded one (cached if still current).
    pub(crate) async fn get_or_load<E, F>(&self, key: K, load: F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        if let Some(found) = self.get(&key) {
            return Ok(found);
        }
        let seen = self.generation();
        let value = load.await?;
        self.insert(seen, key, value.clone());
        Ok(value)
    }

    fn clear(&self) {
        if let Ok(mut inner) = self.inner.write() {
            inner.map.clear();
            inner.number = inner.number.wrapping_add(1);
        }
    }
}

pub(crate) struct Caches {
    pub(crate) users: Cache<UserId, Option<Arc<UserRecord>>>,
    pub(crate) personal: Cache<UserId, Option<WorkspaceRecord>>,
    pub(crate) shared: Cache<String, Option<WorkspaceRecord>>,
    pub(crate) grants: Cache<(WorkspaceId, UserId), Option<Rights>>,
    /// Where each scoped node is (workspace, path). Moves and deletes bump the change
    /// counter, so a scope follows its node.
    pub(crate) scope_nodes: Cache<NodeId, Option<(WorkspaceId, String)>>,
    /// Nodes by (workspace, path), present or not.
    pub(crate) nodes: Cache<(WorkspaceId, String), Option<NodeRecord>>,
    /// Verified login access tokens, keyed by their SHA-256: the user and the expiry.
    pub(crate) access_tokens: Cache<[u8; 32], (UserId, i64)>,
    /// Verified personal access tokens, keyed by their SHA-256.
    pub(crate) tokens: Cache<PatHash, Arc<crate::tokens::LiveToken>>,
    /// Keyed by an HMAC of login and password under a per-process key: the plaintext
    /// is never kept. The value is the user and when the entry was made.
    pub(crate) passwords: Cache<[u8; 32], (UserId, Instant)>,
    pub(crate) counter: std::sync::atomic::AtomicI64,
    pub(crate) tree_counter: std::sync::atomic::AtomicI64,
}

impl Caches {
    pub(crate) fn new((counter, tree_counter): (i64, i64)) -> Self {
        Self {
            users: Cache::new(),
            personal: Cache::new(),
            shared: Cache::new(),
            grants: Cache::new(),
            scope_nodes: Cache::new(),
            nodes: Cache::new(),
            tokens: Cache::new(),
            access_tokens: Cache::new(),
            passwords: Cache::new(),
            counter: std::sync::atomic::AtomicI64::new(counter),
            tree_counter: std::sync::atomic::AtomicI64::new(tree_counter),
        }
    }

    pub(crate) fn clear(&self) {
        self.users.clear();
        self.personal.clear();
        self.shared.clear();
        self.grants.clear();
        self.tree_changed();
        self.tokens.clear();
        self.access_tokens.clear();
        self.passwords.clear();
    }

    /// Clears what the tree holds: nodes, and where scoped nodes are.
    pub(crate) fn tree_changed(&self) {
        self.nodes.clear();
        self.scope_nodes.clear();
    }

    /// Clears everything if the main counter moved since last seen, the tree caches if
    /// the tree counter did.
    pub(crate) fn observe(&self, (counter, tree_counter): (i64, i64)) {
        use std::sync::atomic::Ordering;
        if self.counter.swap(counter, Ordering::AcqRel) != counter {
            self.clear();
        }
        if self.tree_counter.swap(tree_counter, Ordering::AcqRel) != tree_counter {
            self.tree_changed();
        }
    }
}
