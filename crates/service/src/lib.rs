//! The one access service of cells. Every front end (REST, `/io`, WebDAV, SFTP, the
//! console, the CLI) calls [`Cells`] with a [`Principal`] and a path, and asks the same
//! question: may this principal do this on this node? None of them writes SQL or
//! re-implements a permission rule.
//!
//! - [`auth`]: the one entry point [`Cells::authenticate`] for every surface, Basic
//!   passwords, throttling of failures; [`sessions`]: logins (OAuth2 grants, access and
//!   refresh tokens, logout) and [`Cells::check_current`] for streams in flight.
//! - [`tokens`]: personal access tokens: creation, listing, revocation, validation;
//!   [`ssh_keys`]: SSH public keys, credentials shaped like tokens, for SFTP.
//! - [`access`]: what a principal may do where (the rules, in one place), with the
//!   narrowing of token scopes.
//! - [`tree`] and [`content`]: the namespace and file content, checked by `access`.
//! - [`dav`]: WebDAV dead properties and locks, kept in the database.
//! - [`users`] and [`workspaces`]: administration, behind an [`Admin`] capability.
//! - [`sftp`]: the SFTP host key, and uploads that keep part of the file they replace.
//! - [`migrate`]: moving an install to other engines; [`progress`]: how it and the blob
//!   collector tell how far they got.

pub mod access;
pub mod auth;
mod caches;
mod collector;
mod commits;
pub mod content;
pub mod dav;
mod error;
pub mod keyed;
mod limiter;
pub mod migrate;
pub mod multipart;
pub mod passwords;
mod principal;
pub mod progress;
pub mod secrets;
pub mod sessions;
pub mod sftp;
pub mod ssh_keys;
pub mod tokens;
pub mod tree;
mod upkeep;
pub mod users;
pub mod workspaces;

use std::path::PathBuf;
use std::sync::Arc;

use cells_store::{Blobs, Store};

pub use caches::POLL_INTERVAL;
pub use cells_store::{BlobReader, Dialect, Grant, NodeRecord, UserRecord, WorkspaceKind, WorkspaceRecord};
pub use cells_store::{KeyRecord, TokenRecord, TokenType};
pub use collector::{Collected, GRACE as BLOB_GRACE};
pub use content::{ReadRange, Upload};
pub use error::{Result, ServiceError};
pub use principal::{Admin, Principal, Via};
pub use ssh_keys::KeySpec;
pub use tokens::{TokenSpec, Usage};
pub use tree::{Existing, NodeView};

/// The default database URL inside a data folder.
#[must_use]
pub fn default_database_url(data_dir: &std::path::Path) -> String {
    Store::default_url(data_dir)
}

/// Where file content goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// A local folder.
    Folder(PathBuf),
    /// An S3-compatible bucket: `s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION`.
    Bucket(String),
}

impl Storage {
    /// Opens the blob store this names.
    ///
    /// # Errors
    /// When the folder cannot be made or the bucket does not answer.
    pub async fn open(&self) -> std::io::Result<Blobs> {
        match self {
            Self::Folder(dir) => Blobs::open(dir),
            Self::Bucket(url) => Blobs::open_s3(url).await,
        }
    }
}

/// Where the service keeps its state.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `sqlite://...` or `postgres://...`
    pub database_url: String,
    /// Where blobs go.
    pub storage: Storage,
    /// The local key file (see [`secrets`]): created if missing.
    pub key_file: PathBuf,
}

/// The service: a cheap handle shared by every front end.
#[derive(Clone)]
pub struct Cells {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    blobs: Blobs,
    caches: caches::Caches,
    keys: auth::Keys,
    local: secrets::LocalKey,
    usage_writes: tokens::UsageWrites,
    audit_writes: tokens::UsageWrites,
    activity: tokens::Activity,
    limiter: limiter::FailureLimiter,
    /// Whether PostgreSQL's change feed is up (then polling is only a safety net).
    listening: std::sync::atomic::AtomicBool,
    commits: commits::Commits,
}

impl Cells {
    /// Opens the store (applying migrations) and the blob store, and makes sure the
    /// shared workspace exists.
    ///
    /// # Errors
    /// When the database or the blob folder cannot be opened.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        let local = secrets::LocalKey::load_or_create(&config.key_file)?;
        // Said as it is (not as an internal error): these are the operator's settings.
        let store = Store::open(&config.database_url)
            .await
            .map_err(|err| ServiceError::BadRequest(format!("cannot open the database: {err}")))?;
        let blobs = config
            .storage
            .open()
            .await
            .map_err(|err| ServiceError::BadRequest(format!("cannot open the storage: {err}")))?;
        let now = cells_core::now();
        secrets::check_shared(&store, &local, now).await?;
        store.ensure_common_workspace(now).await?;
        let keys = auth::Keys::load(&store, &local, now).await?;
        let counter = store.change_counters().await?;
        Ok(Self {
            inner: Arc::new_cyclic(|inner| Inner {
                store,
                blobs,
                caches: caches::Caches::new(counter),
                keys,
                local,
                usage_writes: tokens::UsageWrites::default(),
                audit_writes: tokens::UsageWrites::default(),
                activity: tokens::Activity::default(),
                limiter: limiter::FailureLimiter::default(),
                listening: std::sync::atomic::AtomicBool::new(false),
                commits: commits::Commits::start(inner.clone()),
            }),
        })
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn blobs(&self) -> &Blobs {
        &self.inner.blobs
    }

    pub(crate) fn caches(&self) -> &caches::Caches {
        &self.inner.caches
    }

    pub(crate) fn keys(&self) -> &auth::Keys {
        &self.inner.keys
    }

    pub(crate) fn local_key(&self) -> &secrets::LocalKey {
        &self.inner.local
    }

    pub(crate) fn limiter(&self) -> &limiter::FailureLimiter {
        &self.inner.limiter
    }

    /// Clears this process's caches after one of its own writes (other processes see
    /// the change counter move), and remembers the counter that write left, read before
    /// the clear: the change feed's or the poll's news of this same write then clears
    /// nothing more (a second clear would reload, from the database, records whose
    /// background audit write has not landed yet). A later change by anyone moves the
    /// counter past it and clears as always.
    pub(crate) async fn changed(&self) {
        match self.store().change_counters().await {
            Ok((counter, _)) => self.inner.caches.cleared_at(counter),
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the change counter: caches cleared all the same");
                self.inner.caches.clear();
            }
        }
    }

    /// Clears this process's tree caches after one of its own writes to the tree.
    pub(crate) fn tree_changed(&self) {
        self.inner.caches.tree_changed();
    }

    /// A node by workspace and path, through the node cache.
    pub(crate) async fn node_at(&self, workspace: cells_core::WorkspaceId, path: &str) -> Result<Option<NodeRecord>> {
        let load = async { Ok::<_, ServiceError>(self.store().node_by_path(workspace, path).await?) };
        self.caches().nodes.get_or_load((workspace, path.to_owned()), load).await
    }

    /// Drops everything this process cached (users, workspaces, grants, verified tokens
    /// and passwords); the next requests read the database again.
    pub fn clear_caches(&self) {
        self.inner.caches.clear();
    }

    /// Checks the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<()> {
        Ok(self.inner.store.ping().await?)
    }

    /// Where file content goes, for messages (no credentials).
    #[must_use]
    pub fn storage(&self) -> String {
        self.inner.blobs.describe()
    }

    /// SQLite's integrity check: `ok` when sound.
    ///
    /// # Errors
    /// When the check cannot run.
    pub async fn integrity_check(&self) -> Result<String> {
        Ok(self.inner.store.integrity_check().await?)
    }

    /// Closes the database cleanly, once the token activity counted in memory is written
    /// (else a graceful stop would lose up to a flush interval of it).
    pub async fn close(&self) {
        self.flush_activity().await;
        self.inner.store.close().await;
    }
}
