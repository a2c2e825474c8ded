//! Persistence of cells: the SQL store and the blob store.
//!
//! [`Store`] holds the tree, users, workspaces, tokens and server keys in one SQL
//! database: SQLite in WAL mode by default, or PostgreSQL for several processes. The
//! queries are written once, in the subset both share (`$N` placeholders), through
//! sqlx's `Any` driver; each engine has its own migrations folder, and the few
//! expressions that differ come from [`Dialect`]. [`Blobs`] holds file content, in a
//! local folder or an S3-compatible bucket.
//! Nothing here decides who may do what: that is the access service's job.

mod blobs;
mod credentials;
mod dav;
mod error;
mod feed;
mod garbage;
mod keys;
mod listing;
mod migrate;
mod mtime;
mod multipart;
mod nodes;
mod ordered;
mod refresh;
mod row;
mod ssh_keys;
mod subtrees;
mod token_life;
mod tokens;
mod uploads;
mod users;
mod workspaces;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

pub use blobs::{BlobReader, BlobWriter, Blobs, CHUNK, INLINE_READ, SMALL_CACHE};
pub use dav::{DeadProperty, LockRecord, PropertyChange};
pub use error::StoreError;
pub use feed::{ChangeFeed, FeedEvent};
pub use migrate::{Copied, CopyStep};
pub use multipart::{MultipartRecord, PartRecord};
pub use nodes::{NewNode, NodeRecord};
pub use refresh::Redeemed;
pub use ssh_keys::{KeyRecord, NewKey};
pub use subtrees::Destination;
pub use token_life::{ActivityKey, ActivityRow};
pub use tokens::{NewToken, Secret, TokenRecord, TokenType};
pub use uploads::{Condition, PutFile, PutFiles};
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

/// The SQL engine behind a [`Store`]. Queries are written once, in the subset both
/// engines share (`$N` placeholders, `ON CONFLICT`, `RETURNING`); the few expressions
/// that differ come from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect a database URL names, if it is one cells supports.
    #[must_use]
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// The larger of two values (SQLite's two-argument `MAX`).
    pub(crate) fn greatest(self) -> &'static str {
        match self {
            Self::Sqlite => "MAX",
            Self::Postgres => "GREATEST",
        }
    }

    /// A random UUID v4, as text, computed by the database (a copy makes its ids
    /// without a round trip per node).
    pub(crate) fn random_uuid(self) -> &'static str {
        match self {
            Self::Sqlite => {
                "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
                 substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || \
                 substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
            }
            Self::Postgres => "CAST(gen_random_uuid() AS TEXT)",
        }
    }

    /// 32 random hex digits (a fresh entity tag), computed by the database.
    pub(crate) fn random_hex(self) -> &'static str {
        match self {
            Self::Sqlite => "lower(hex(randomblob(16)))",
            Self::Postgres => "replace(CAST(gen_random_uuid() AS TEXT), '-', '')",
        }
    }

    /// The length in bytes of a text column.
    pub(crate) fn byte_length(self, column: &str) -> String {
        match self {
            Self::Sqlite => format!("length(CAST({column} AS BLOB))"),
            Self::Postgres => format!("octet_length({column})"),
        }
    }
}

/// The SQL store. Cheap to clone: it is a handle on a connection pool.
#[derive(Clone)]
pub struct Store {
    pool: sqlx::AnyPool,
    dialect: Dialect,
    /// The URL of a PostgreSQL database, for the change feed's own connection.
    url: Option<std::sync::Arc<str>>,
}

/// The advisory lock that PostgreSQL write transactions take: the single writer that
/// SQLite has by construction (see [`Store::begin_write`]). Its key is per schema, so
/// that several installs (or tests) in one database do not wait for each other.
const WRITE_LOCK: &str =
    "SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext('cells write ' || current_schema()))) AS l";

impl Store {
    /// Opens (creating if missing) the database at `url` and applies the embedded
    /// migrations. `url` is `sqlite://PATH`, `sqlite::memory:` or `postgres://...`.
    ///
    /// # Errors
    /// When the URL names no supported engine, or the database cannot be opened or
    /// migrated.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        match Dialect::of_url(url) {
            Some(Dialect::Sqlite) => Self::open_sqlite(url).await,
            Some(Dialect::Postgres) => Self::open_postgres(url).await,
            None => Err(StoreError::Unsupported),
        }
    }

    async fn open_sqlite(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk (the log synced) before it returns, so an answered
            // write survives a power cut too, not only a crash of the process. Uploads
            // share that sync: they commit in batches (`Store::put_files`).
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let memory = url.contains(":memory:");
        if !memory {
            create_private(url)?;
            // Switch a new file to WAL and migrate it on one connection first: switching
            // the journal mode does not wait for the busy timeout, so it must not race
            // the pool's other connections, nor (retried) another process starting. WAL
            // is kept in the file, so the pool's connections find it set.
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
        let pool = AnyPoolOptions::new()
            // An in-memory database lives and dies with its one connection.
            .max_connections(if memory { 1 } else { 8 })
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    connection
                        .execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL")
                        .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool, dialect: Dialect::Sqlite, url: None })
    }

    async fn prepare(options: &SqliteConnectOptions) -> Result<()> {
        use sqlx::Connection;
        let mut connection = sqlx::SqliteConnection::connect_with(options).await?;
        sqlx::migrate!("migrations/sqlite").run(&mut connection).await?;
        connection.close().await?;
        Ok(())
    }

    async fn open_postgres(url: &str) -> Result<Self> {
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        // The migrator holds an advisory lock while it runs: nodes starting together
        // migrate once.
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool, dialect: Dialect::Postgres, url: Some(url.into()) })
    }

    /// The engine behind this store.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        self.dialect
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

    /// Runs SQLite's own consistency check; `ok` when the file is sound. PostgreSQL
    /// checks its own pages as it reads them: there it is a round trip.
    ///
    /// # Errors
    /// When the check cannot run.
    pub async fn integrity_check(&self) -> Result<String> {
        let query = match self.dialect {
            Dialect::Sqlite => "PRAGMA integrity_check",
            Dialect::Postgres => "SELECT 'ok'",
        };
        let row: (String,) = sqlx::query_as(query).fetch_one(&self.pool).await?;
        Ok(row.0)
    }

    /// Begins a transaction that reads, then writes, with one writer at a time.
    ///
    /// SQLite's default (deferred) transaction fails at once with `SQLITE_BUSY`
    /// ("database is locked") when it tries to write after another connection committed
    /// since its read: the busy timeout does not apply to an outdated snapshot. `BEGIN
    /// IMMEDIATE` takes the write lock first and waits its turn instead.
    ///
    /// PostgreSQL runs transactions side by side; a tree write re-reads the nodes it
    /// was checked against and must not have them change before it commits. A
    /// transaction-scoped advisory lock gives every process on the database the same
    /// single writer as SQLite (reads never wait for it), so each write sees the
    /// committed result of the one before, and the rules proven on SQLite hold as they
    /// are.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.dialect {
            Dialect::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query(WRITE_LOCK).execute(&mut *tx).await?;
                Ok(tx)
            }
        }
    }

    /// Closes the pool, waiting for connections to finish (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
