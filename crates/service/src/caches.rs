//! In-memory caches of what every request needs (users, workspaces, grants, recently
//! verified passwords), so the hot path does not query the database for them.
//!
//! Every write that could make an entry stale bumps the database's change counter in
//! the same transaction. This process clears its caches right after its own writes, and
//! a background task polls the counter so that writes by other processes (another
//! server, the CLI) are seen within [`POLL_INTERVAL`]. No entry is trusted by age alone.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use std::sync::Arc;

use cells_core::token::PatHash;
use cells_core::{NodeId, Rights, UserId, WorkspaceId};
use cells_store::{UserRecord, WorkspaceRecord};

/// How often the change counter is polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long a verified password is remembered (it is forgotten at once on any change).
pub const PASSWORD_TTL: Duration = Duration::from_secs(60);

/// A map behind a lock, cleared as a whole.
pub(crate) struct Cache<K, V> {
    map: RwLock<HashMap<K, V>>,
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    fn new() -> Self {
        Self { map: RwLock::new(HashMap::new()) }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.map.read().ok()?.get(key).cloned()
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        if let Ok(mut map) = self.map.write() {
            // A crude bound against unbounded growth: start over when full.
            if map.len() >= 100_000 {
                map.clear();
            }
            map.insert(key, value);
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.map.write() {
            map.clear();
        }
    }
}

pub(crate) struct Caches {
    pub(crate) users: Cache<UserId, Arc<UserRecord>>,
    pub(crate) personal: Cache<UserId, WorkspaceRecord>,
    pub(crate) shared: Cache<String, Option<WorkspaceRecord>>,
    pub(crate) grants: Cache<(WorkspaceId, UserId), Option<Rights>>,
    /// Where each scoped node is (workspace, path). Moves and deletes bump the change
    /// counter, so a scope follows its node.
    pub(crate) scope_nodes: Cache<NodeId, Option<(WorkspaceId, String)>>,
    /// Verified personal access tokens, keyed by their SHA-256.
    pub(crate) tokens: Cache<PatHash, Arc<crate::tokens::LiveToken>>,
    /// Keyed by an HMAC of login and password under a per-process key: the plaintext
    /// is never kept. The value is the user and when the entry was made.
    pub(crate) passwords: Cache<[u8; 32], (UserId, Instant)>,
    pub(crate) counter: std::sync::atomic::AtomicI64,
}

impl Caches {
    pub(crate) fn new(counter: i64) -> Self {
        Self {
            users: Cache::new(),
            personal: Cache::new(),
            shared: Cache::new(),
            grants: Cache::new(),
            scope_nodes: Cache::new(),
            tokens: Cache::new(),
            passwords: Cache::new(),
            counter: std::sync::atomic::AtomicI64::new(counter),
        }
    }

    pub(crate) fn clear(&self) {
        self.users.clear();
        self.personal.clear();
        self.shared.clear();
        self.grants.clear();
        self.scope_nodes.clear();
        self.tokens.clear();
        self.passwords.clear();
    }

    /// Clears everything if the counter moved since last seen.
    pub(crate) fn observe(&self, counter: i64) {
        let previous = self.counter.swap(counter, std::sync::atomic::Ordering::AcqRel);
        if previous != counter {
            self.clear();
        }
    }
}
