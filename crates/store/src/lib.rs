//! Persistence of cells: the SQL store and the blob store.
//!
//! [`Store`] holds the tree, users, workspaces, tokens and server keys in one SQL
//! database (SQLite in WAL mode by default; the queries are written in the subset that
//! PostgreSQL shares, with `$N` placeholders, so that a second dialect is a new
//! migrations folder and a new pool, not a redesign). [`Blobs`] holds file content.
//! Nothing here decides who may do what: that is the access service's job.

mod blobs;
mod dav;
mod error;
mod garbage;
mod keys;
mod mtime;
mod nodes;
mod refresh;
mod row;
mod subtrees;
mod tokens;
mod users;
mod workspaces;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use blobs::{BlobReader, BlobWriter, Blobs, CHUNK, INLINE_READ, SMALL_CACHE};
pub use dav::{DeadProperty, LockRecord, PropertyChange};
pub use error::StoreError;
pub use nodes::{NewNode, NodeRecord};
pub use refresh::Redeemed;
pub use subtrees::Destination;
pub use tokens::{NewToken, TokenRecord, TokenType};
pub use users::{NewUser, UserRecord, UserUpdate};
pub use workspaces::{Grant, WorkspaceKind, WorkspaceRecord};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn is_busy(err: &StoreError) -> bool {
    let locked =
        |err: &sqlx::Error| err.as_database_error().is_some_and(|db| db.message().contains("database is locked"));
    match err {
        StoreError::Database(err) | StoreError::Migrate(sqlx::migrate::MigrateError::Execute(err)) => locked(err),
        _ => false,
    }
}

/// Creates the file of a `sqlite://PATH` URL, if missing, readable by this user only
/// (0600): SQLite gives its WAL and shared-memory files the same mode.
fn create_private(url: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || Path::new(path).exists() {
        return Ok(());
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(StoreError::Blob(err)),
    }
}

/// The SQL store. Cheap to clone: it is a handle on a connection pool.
#[derive(Clone)]
pub struct Store {
    pool: sqlx::SqlitePool,
}

impl Store {
    /// Opens (creating if missing) the database at `url` and applies the embedded
    /// migrations. `url` is `sqlite://PATH` or `sqlite::memory:`.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let memory = url.contains(":memory:");
        if !memory {
            create_private(url)?;
            // Switch a new file to WAL and migrate it on one connection first: switching
            // the journal mode does not wait for the busy timeout, so it must not race
            // the pool's other connections, nor (retried) another process starting.
            let mut attempts = 0;
            loop {
                match Self::prepare(&options).await {
                    Err(err) if attempts < 50 && is_busy(&err) => {
                        attempts += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    other => break other?,
                }
            }
        }
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives and dies with its one connection.
            .max_connections(if memory { 1 } else { 8 })
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn prepare(options: &SqliteConnectOptions) -> Result<()> {
        use sqlx::Connection;
        let mut connection = sqlx::SqliteConnection::connect_with(options).await?;
        sqlx::migrate!("migrations/sqlite").run(&mut connection).await?;
        connection.close().await?;
        Ok(())
    }

    /// The default database URL inside a data folder.
    #[must_use]
    pub fn default_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("cells.db").display())
    }

    /// Checks the database answers (for `/healthz`).
    ///
    /// # Errors
    /// When the database does not answer.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Runs SQLite's own consistency check; `ok` when the file is sound.
    ///
    /// # Errors
    /// When the check cannot run.
    pub async fn integrity_check(&self) -> Result<String> {
        let row: (String,) = sqlx::query_as("PRAGMA integrity_check").fetch_one(&self.pool).await?;
        Ok(row.0)
    }

    /// Begins a transaction that reads, then writes. SQLite's default (deferred)
    /// transaction fails at once with `SQLITE_BUSY` ("database is locked") when it tries
    /// to write after another connection committed since its read: the busy timeout does
    /// not apply to an outdated snapshot. `BEGIN IMMEDIATE` takes the write lock first and
    /// waits its turn instead.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Closes the pool, waiting for connections to finish (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
