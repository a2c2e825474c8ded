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
///
/// Each cache is bounded by memory: every entry is weighed (its key and value, with
/// what they point to, such as an attacker-chosen 4 KiB path), and a cache that would
/// grow past its budget starts over empty. Entries are cheap to load again; memory
/// that grows with what clients ask for is not.
pub(crate) struct Cache<K, V> {
    inner: RwLock<Generation<K, V>>,
    weigh: fn(&K, &V) -> usize,
    budget: usize,
}

struct Generation<K, V> {
    map: HashMap<K, V>,
    number: u64,
    bytes: usize,
}

/// What an entry of fixed size costs, with the map's own overhead.
fn fixed<K, V>(_: &K, _: &V) -> usize {
    std::mem::size_of::<K>() + std::mem::size_of::<V>() + 32
}

fn weigh_node(key: &(WorkspaceId, String), node: &Option<NodeRecord>) -> usize {
    let record = node.as_ref().map_or(0, |n| n.path.len() + n.name.len() + n.etag.len() + 160);
    key.1.len() + record + 96
}

fn weigh_scope_node(_: &NodeId, place: &Option<(WorkspaceId, String)>) -> usize {
    place.as_ref().map_or(0, |p| p.1.len()) + 96
}

fn weigh_user(_: &UserId, user: &Option<Arc<UserRecord>>) -> usize {
    user.as_ref().map_or(0, |u| u.display_name.len() + u.password_hash.len() + 200) + 64
}

fn weigh_workspace<K>(_: &K, workspace: &Option<WorkspaceRecord>) -> usize {
    workspace.as_ref().map_or(0, |w| w.slug.len() + w.label.len() + 160) + 96
}

/// Budgets, in bytes: generous for what a busy server holds, and a hard bound on what
/// any client can make it hold.
const NODE_BUDGET: usize = 32 << 20;
const SMALL_BUDGET: usize = 8 << 20;

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    fn new() -> Self {
        Self::weighed(fixed::<K, V>, SMALL_BUDGET)
    }

    fn weighed(weigh: fn(&K, &V) -> usize, budget: usize) -> Self {
        Self { inner: RwLock::new(Generation { map: HashMap::new(), number: 0, bytes: 0 }), weigh, budget }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.inner.read().ok()?.map.get(key).cloned()
    }

    /// The current generation: read it before loading what will be inserted.
    pub(crate) fn generation(&self) -> u64 {
        self.inner.read().map_or(u64::MAX, |inner| inner.number)
    }

    /// Keeps `value` unless the cache was cleared since generation `seen`; with
    /// `replace`, over an entry already there, else the entry there wins. Returns the
    /// value to use.
    fn insert_if_current(&self, seen: u64, key: K, value: V, replace: bool) -> V {
        let Ok(mut inner) = self.inner.write() else { return value };
        if inner.number != seen {
            return value;
        }
        let replaced = match inner.map.get(&key) {
            Some(found) if !replace => return found.clone(),
            Some(found) => (self.weigh)(&key, found),
            None => 0,
        };
        inner.bytes = inner.bytes.saturating_sub(replaced);
        let weight = (self.weigh)(&key, &value);
        if inner.bytes.saturating_add(weight) > self.budget {
            inner.map.clear();
            inner.bytes = 0;
        }
        inner.bytes = inner.bytes.saturating_add(weight);
        inner.map.insert(key, value.clone());
        value
    }

    /// Keeps `value` (replacing any entry) unless the cache was cleared since generation
    /// `seen`.
    pub(crate) fn insert(&self, seen: u64, key: K, value: V) {
        self.insert_if_current(seen, key, value, true);
    }

    /// As [`Cache::insert`], but an entry already there wins; returns the value to use.
    pub(crate) fn insert_or_get(&self, seen: u64, key: K, value: V) -> V {
        self.insert_if_current(seen, key, value, false)
    }

    /// Bytes the entries weigh now (for tests of the bound).
    #[cfg(test)]
    fn weight(&self) -> usize {
        self.inner.read().map_or(0, |inner| inner.bytes)
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

    /// Removes the entries of `keys` and starts a new generation (so that no load begun
    /// before, which may have read them as they were, puts them back).
    fn forget<'k>(&self, keys: impl IntoIterator<Item = &'k K>)
    where
        K: 'k,
    {
        if let Ok(mut inner) = self.inner.write() {
            for key in keys {
                if let Some(value) = inner.map.remove(key) {
                    let weight = (self.weigh)(key, &value);
                    inner.bytes = inner.bytes.saturating_sub(weight);
                }
            }
            inner.number = inner.number.wrapping_add(1);
        }
    }

    fn clear(&self) {
        if let Ok(mut inner) = self.inner.write() {
            inner.map.clear();
            inner.bytes = 0;
            inner.number = inner.number.wrapping_add(1);
        }
    }
}

/// One gate per login and password being checked with argon2 right now: concurrent
/// checks of the same credentials go through it one at a time, so that the second finds
/// the first one's success in the cache instead of hashing again.
#[derive(Default)]
pub(crate) struct PasswordGates(std::sync::Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>);

impl PasswordGates {
    pub(crate) fn gate(&self, key: [u8; 32]) -> Arc<tokio::sync::Mutex<()>> {
        match self.0.lock() {
            Ok(mut gates) => Arc::clone(gates.entry(key).or_default()),
            Err(_) => Arc::default(),
        }
    }

    /// Forgets the gate once no one else holds it.
    pub(crate) fn release(&self, key: [u8; 32], gate: Arc<tokio::sync::Mutex<()>>) {
        if let Ok(mut gates) = self.0.lock()
            && Arc::strong_count(&gate) <= 2
        {
            gates.remove(&key);
        }
    }
}

/// Credentials found valid by this process (hashes of tokens, digests of SSH keys), kept
/// across clears (bounded by count: each entry is 32 bytes): a hint that lets a
/// throttled address still use a credential it was using, without letting it make the
/// server read the database for guesses.
pub(crate) struct InUse<K>(std::sync::Mutex<std::collections::HashSet<K>>);

/// Tokens found valid here, by hash.
pub(crate) type TokensInUse = InUse<PatHash>;

impl<K> Default for InUse<K> {
    fn default() -> Self {
        Self(std::sync::Mutex::new(std::collections::HashSet::new()))
    }
}

impl<K: Eq + Hash> InUse<K> {
    const MAX: usize = 100_000;

    pub(crate) fn insert(&self, hash: K) {
        if let Ok(mut set) = self.0.lock() {
            if set.len() >= Self::MAX {
                set.clear();
            }
            set.insert(hash);
        }
    }

    pub(crate) fn contains(&self, hash: &K) -> bool {
        self.0.lock().is_ok_and(|set| set.contains(hash))
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
    /// Verified login access tokens, keyed by their SHA-256.
    pub(crate) access_tokens: Cache<[u8; 32], crate::sessions::VerifiedAccess>,
    /// Verified personal access tokens, keyed by their SHA-256.
    pub(crate) tokens: Cache<PatHash, Arc<crate::tokens::LiveToken>>,
    /// Keyed by an HMAC of login and password under a per-process key: the plaintext
    /// is never kept. The value is the user and when the entry was made.
    pub(crate) passwords: Cache<[u8; 32], (UserId, Instant)>,
    pub(crate) tokens_in_use: TokensInUse,
    /// Registered SSH keys verified here, keyed by the SHA-256 of the key.
    pub(crate) ssh_keys: Cache<[u8; 32], Arc<crate::tokens::LiveKey>>,
    /// SSH keys found valid here, kept across clears as [`TokensInUse`].
    pub(crate) keys_in_use: InUse<[u8; 32]>,
    pub(crate) password_gates: PasswordGates,
    /// Moves on every clear of what authentication depends on (users, tokens, logins).
    epoch: std::sync::atomic::AtomicU64,
    pub(crate) counter: std::sync::atomic::AtomicI64,
    pub(crate) tree_counter: std::sync::atomic::AtomicI64,
}

impl Caches {
    pub(crate) fn new((counter, tree_counter): (i64, i64)) -> Self {
        Self {
            users: Cache::weighed(weigh_user, SMALL_BUDGET),
            personal: Cache::weighed(weigh_workspace, SMALL_BUDGET),
            shared: Cache::weighed(|slug: &String, w| slug.len() + weigh_workspace(slug, w), SMALL_BUDGET),
            grants: Cache::new(),
            scope_nodes: Cache::weighed(weigh_scope_node, SMALL_BUDGET),
            nodes: Cache::weighed(weigh_node, NODE_BUDGET),
            tokens: Cache::new(),
            access_tokens: Cache::new(),
            passwords: Cache::new(),
            tokens_in_use: TokensInUse::default(),
            ssh_keys: Cache::new(),
            keys_in_use: InUse::default(),
            password_gates: PasswordGates::default(),
            epoch: std::sync::atomic::AtomicU64::new(0),
            counter: std::sync::atomic::AtomicI64::new(counter),
            tree_counter: std::sync::atomic::AtomicI64::new(tree_counter),
        }
    }

    /// The current epoch: read it before loading what a principal is built from.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.users.clear();
        self.personal.clear();
        self.shared.clear();
        self.grants.clear();
        self.tree_changed();
        self.tokens.clear();
        self.ssh_keys.clear();
        self.access_tokens.clear();
        self.passwords.clear();
    }

    /// Clears what the tree holds: nodes, and where scoped nodes are.
    pub(crate) fn tree_changed(&self) {
        self.nodes.clear();
        self.scope_nodes.clear();
    }

    /// After a batch of this process's uploads left the tree counter at `counter`: if
    /// the counter was at `counter - 1` when last seen, that batch is the only change
    /// since, and only the nodes at the `changed` paths are forgotten (an upload creates
    /// or rewrites the file at its path and changes no other node, nor where any node
    /// is); otherwise someone else wrote too, and the tree caches are cleared.
    pub(crate) fn own_uploads(&self, counter: i64, changed: &[(WorkspaceId, String)]) {
        use std::sync::atomic::Ordering;
        let seen = self.tree_counter.compare_exchange(counter - 1, counter, Ordering::AcqRel, Ordering::Acquire);
        if seen.is_ok() {
            self.nodes.forget(changed);
        } else {
            self.tree_changed();
        }
    }

    /// Clears everything after a write of this process that left the main counter at
    /// `counter` (read before this call, so what is loaded from now on is at least that
    /// recent).
    pub(crate) fn cleared_at(&self, counter: i64) {
        self.clear();
        self.counter.fetch_max(counter, std::sync::atomic::Ordering::AcqRel);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_stays_within_its_memory_budget_whatever_the_keys() {
        let cache: Cache<(WorkspaceId, String), Option<NodeRecord>> = Cache::weighed(weigh_node, 1 << 20);
        let workspace = WorkspaceId::random();
        // Negative entries for long attacker-chosen paths: 4 KiB each.
        for n in 0..10_000 {
            let seen = cache.generation();
            cache.insert(seen, (workspace, format!("{n:04096}")), None);
            assert!(cache.weight() <= 1 << 20, "{} bytes after {n} entries", cache.weight());
        }
        assert!(cache.weight() > 0);
    }

    #[test]
    fn an_insert_after_a_clear_is_dropped() {
        let cache: Cache<u32, u32> = Cache::new();
        let seen = cache.generation();
        cache.clear();
        cache.insert(seen, 1, 1);
        assert_eq!(cache.get(&1), None);
        let seen = cache.generation();
        cache.insert(seen, 1, 1);
        assert_eq!(cache.get(&1), Some(1));
    }
}
