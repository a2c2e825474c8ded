//! Real peers for the tests of cells, shared by the store suite and the black-box tests:
//!
//! - [`PgSchema`]: a fresh schema in the PostgreSQL the machine runs (by default
//!   `postgres://postgres@127.0.0.1:5432/test`, or `CELLS_TEST_POSTGRES_URL`), dropped
//!   when the test ends. No PostgreSQL is a failure that says so, never a silent pass.
//! - [`S3Server`]: `s3s-fs` (installed by `scripts/test.sh`) serving one bucket from a
//!   temporary folder on a free loopback port.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The PostgreSQL the tests use, unless `CELLS_TEST_POSTGRES_URL` names another.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The base URL of the test PostgreSQL.
#[must_use]
pub fn postgres_url() -> String {
    std::env::var("CELLS_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

async fn admin_connection() -> sqlx::PgConnection {
    use sqlx::Connection;
    let url = postgres_url();
    match sqlx::PgConnection::connect(&url).await {
        Ok(connection) => connection,
        Err(err) => panic!(
            "no PostgreSQL reachable at {url} ({err}): the PostgreSQL tests need one; \
             start it, or point CELLS_TEST_POSTGRES_URL at one"
        ),
    }
}

/// A schema of its own in the test PostgreSQL: a store opened on [`PgSchema::url`]
/// creates its tables there, apart from every other test.
pub struct PgSchema {
    name: String,
    url: String,
}

impl PgSchema {
    /// Creates a fresh, empty schema.
    ///
    /// # Panics
    /// When no PostgreSQL is reachable: the message says where it was looked for.
    pub async fn create() -> Self {
        use sqlx::Executor;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut connection = admin_connection().await;
        connection.execute(format!("CREATE SCHEMA {name}").as_str()).await.unwrap();
        let base = postgres_url();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{name}&application_name={name}");
        Self { name, url }
    }

    /// A database URL whose connections work in this schema.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the connections of this schema's URL that sit in an open transaction, with
    /// nothing running, last ran: a transaction left open holds its locks (and the
    /// write lock) for as long as it stays so.
    pub async fn idle_in_transaction(&self) -> Vec<String> {
        let query = format!(
            "SELECT query FROM pg_stat_activity WHERE application_name = '{}' AND state LIKE 'idle in transaction%'",
            self.name
        );
        self.texts(&query).await
    }

    /// Runs SQL (one or more statements) in this schema.
    ///
    /// # Panics
    /// When it fails.
    pub async fn execute(&self, sql: &str) {
        use sqlx::{Connection, Executor};
        let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
        connection.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of every row of a query in this schema, as text.
    ///
    /// # Panics
    /// When it fails.
    pub async fn texts(&self, query: &str) -> Vec<String> {
        use sqlx::{Connection, Row};
        let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
        let rows = sqlx::query(query).fetch_all(&mut connection).await.unwrap_or_else(|e| panic!("{query}: {e}"));
        rows.iter().map(|row| row.try_get::<String, _>(0).unwrap_or_else(|e| panic!("{query}: {e}"))).collect()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A runtime of its own: drop may run inside or outside one.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                use sqlx::Executor;
                let mut connection = admin_connection().await;
                // A test that failed may leave a connection of its own in a transaction
                // (its runtime is unwinding): give up rather than wait for it forever.
                let _ = connection.execute("SET lock_timeout = '5s'").await;
                let _ = connection.execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str()).await;
            });
        })
        .join();
    }
}

/// A free TCP port on loopback (free when asked: bind it soon).
///
/// # Panics
/// When no port can be had.
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `s3s-fs` binary: on the `PATH`, or where `cargo install` puts it.
fn s3s_fs() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("s3s-fs"))
        .find(|candidate| candidate.is_file());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let installed = cargo_home.map(|home| home.join("bin/s3s-fs")).filter(|p| p.is_file());
    on_path.or(installed).unwrap_or_else(|| {
        panic!(
            "s3s-fs is not installed: the S3 tests need it (scripts/test.sh installs it: \
             cargo install s3s-fs --version 0.14.1 --features binary --locked)"
        )
    })
}

/// An `s3s-fs` server with one bucket, on a free port, stopped when dropped.
pub struct S3Server {
    child: Child,
    port: u16,
    root: tempfile::TempDir,
}

/// The bucket every [`S3Server`] holds.
pub const BUCKET: &str = "cells";
/// The credentials of every [`S3Server`].
pub const ACCESS_KEY: &str = "cells-test-access";
pub const SECRET_KEY: &str = "cells-test-secret-key";

impl S3Server {
    /// Starts the server and waits until it answers.
    ///
    /// # Panics
    /// When `s3s-fs` is missing or does not start.
    #[must_use]
    pub fn start() -> Self {
        let binary = s3s_fs();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&binary)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(root.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self { child, port, root };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("s3s-fs did not start");
    }

    /// The endpoint, `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The storage URL of the bucket for cells.
    #[must_use]
    pub fn storage_url(&self) -> String {
        format!("s3://{BUCKET}?endpoint={}&region=us-east-1", self.endpoint())
    }

    /// The environment a cells process needs to reach the bucket.
    #[must_use]
    pub fn env(&self) -> [(&'static str, &'static str); 2] {
        [("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)]
    }

    /// The folder the server keeps its buckets in (the bucket is `BUCKET` inside).
    #[must_use]
    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
