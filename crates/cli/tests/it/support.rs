//! The `TestServer` helper: the real `cells` binary on a free port with a temp data dir,
//! its stderr log in a file beside the data, and clients to talk to it.
//!
//! - [`TestServer`]: start, SIGKILL, restart on the same data, SIGTERM, the admin CLI.
//! - [`Session`]: reqwest with one set of credentials, for ordinary requests.
//! - [`TestServer::raw`]: a bare HTTP/1.1 request over TCP, for targets that a URL
//!   parser would normalise (`..`, `.`, bad percent-encoding).
//! - [`Reply`]: status, headers and body, with assertions on the error shape.
//! - [`eventually`]: polls until something holds; [`within_a_second`]: the one-second
//!   promise of DESIGN.md for a change of access, checked so that load cannot break it.

use std::fs::File;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::parse_raw;
pub use crate::client::{Reply, Session, base64, enc};

pub const ADMIN_PASSWORD: &str = "Adm1n-pässword-7f3a9c";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `cells start`, killed on drop.
pub struct TestServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
    sftp_port: u16,
    admin_password: Option<String>,
    log_level: String,
    storage_url: Option<String>,
    extra_args: Vec<String>,
    /// Where the store is (`--database-url`, `--storage-url`), for `start` and `admin`.
    store_args: Vec<String>,
    env: Vec<(String, String)>,
    stdout: Vec<String>,
    /// With `CELLS_TEST_STORE=postgres`: this server's own schema and bucket.
    _peers: Option<(cells_testkit::PgSchema, cells_testkit::S3Server)>,
    pub client: reqwest::Client,
}

/// Whether the black-box tests run on PostgreSQL and s3s-fs (`CELLS_TEST_STORE=postgres`,
/// the second pass of `scripts/test.sh`) rather than SQLite and a folder.
pub fn on_postgres() -> bool {
    std::env::var("CELLS_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// A fresh schema and bucket, made on a thread of its own (the callers are inside a
/// runtime, which cannot block on another).
fn postgres_peers() -> (cells_testkit::PgSchema, cells_testkit::S3Server) {
    std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let schema = runtime.block_on(cells_testkit::PgSchema::create());
        (schema, cells_testkit::S3Server::start())
    })
    .join()
    .expect("a schema and a bucket")
}

/// Where a node of a cluster keeps its state, shared with the other nodes.
pub struct NodeStore<'a> {
    pub database_url: &'a str,
    pub storage_url: &'a str,
    pub env: &'a [(&'a str, &'a str)],
    /// The local key file every node shares (copied into this node's data folder).
    pub key_file: Option<&'a Path>,
}

impl TestServer {
    /// Starts a server whose admin password is [`ADMIN_PASSWORD`].
    pub fn start() -> Self {
        Self::start_with(Some(ADMIN_PASSWORD), "info")
    }

    /// Starts a server; without a password, the server generates one.
    pub fn start_with(admin_password: Option<&str>, log_level: &str) -> Self {
        Self::start_full(admin_password, log_level, None)
    }

    /// Starts a server that keeps file content at `storage_url`.
    pub fn start_with_storage(storage_url: &str) -> Self {
        Self::start_full(Some(ADMIN_PASSWORD), "info", Some(storage_url))
    }

    /// Starts a server with more arguments to `cells start` (timeouts, proxies).
    pub fn start_with_args(args: &[&str]) -> Self {
        Self::start_full_args(Some(ADMIN_PASSWORD), "info", None, args)
    }

    /// Starts a node of a cluster: its own data folder, the shared database and bucket.
    pub fn start_node(store: &NodeStore<'_>) -> Self {
        let mut server = Self::new_unstarted(Some(ADMIN_PASSWORD), "info", None, &[]);
        server.use_store(store);
        if let Some(key) = store.key_file {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            std::fs::DirBuilder::new().mode(0o700).create(server.data()).expect("the data folder");
            let dest = server.data().join("secret.key");
            std::fs::copy(key, &dest).expect("copy the key file");
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).expect("chmod the key file");
        }
        server.spawn();
        server
    }

    /// Stops (if running) and starts again on the same data folder, with the store moved
    /// to `store` (after `cells admin migrate-store`).
    pub fn restart_on(&mut self, store: &NodeStore<'_>) {
        self.kill9();
        self.storage_url = None;
        self.use_store(store);
        self.spawn();
    }

    /// Points `start` and `admin` at `store`.
    fn use_store(&mut self, store: &NodeStore<'_>) {
        self.store_args =
            vec!["--database-url".into(), store.database_url.into(), "--storage-url".into(), store.storage_url.into()];
        self.env = store.env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    }

    fn start_full(admin_password: Option<&str>, log_level: &str, storage_url: Option<&str>) -> Self {
        Self::start_full_args(admin_password, log_level, storage_url, &[])
    }

    fn start_full_args(
        admin_password: Option<&str>,
        log_level: &str,
        storage_url: Option<&str>,
        args: &[&str],
    ) -> Self {
        let mut server = Self::new_unstarted(admin_password, log_level, storage_url, args);
        server.spawn();
        server
    }

    fn new_unstarted(admin_password: Option<&str>, log_level: &str, storage_url: Option<&str>, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let client = reqwest::Client::builder()
            .no_proxy()
            // Under the server's 30 s wait for a request head: never send on a connection
            // the server is closing.
            .pool_idle_timeout(Duration::from_secs(20))
            .build()
            .expect("a reqwest client");
        let (mut store_args, mut env, mut peers) = (Vec::new(), Vec::new(), None);
        if on_postgres() {
            let (schema, s3) = postgres_peers();
            store_args = vec!["--database-url".to_owned(), schema.url().to_owned()];
            // A test that names its own storage (a tiny disk) keeps it.
            if storage_url.is_none() {
                store_args.extend(["--storage-url".to_owned(), s3.storage_url()]);
            }
            env = s3.env().iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            peers = Some((schema, s3));
        }
        Self {
            dir,
            child: None,
            port: 0,
            sftp_port: 0,
            admin_password: admin_password.map(str::to_owned),
            log_level: log_level.to_owned(),
            storage_url: storage_url.map(str::to_owned),
            extra_args: args.iter().map(|a| (*a).to_owned()).collect(),
            store_args,
            env,
            stdout: Vec::new(),
            _peers: peers,
            client,
        }
    }

    fn spawn(&mut self) {
        let log = File::options().create(true).append(true).open(self.log_path()).expect("the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_cells"));
        command
            .args(["start", "--data"])
            .arg(self.data())
            .args(["--bind", "127.0.0.1:0", "--sftp-bind", "127.0.0.1:0"])
            .args(self.storage_url.iter().flat_map(|url| ["--storage-url", url.as_str()]))
            .args(&self.extra_args)
            .args(&self.store_args)
            .env("CELLS_LOG", &self.log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for name in [
            "CELLS_CONFIG",
            "CELLS_DATA",
            "CELLS_DATABASE_URL",
            "CELLS_STORAGE_URL",
            "CELLS_BIND",
            "CELLS_SFTP_BIND",
            "CELLS_TRUSTED_PROXIES",
            "CELLS_HTTP_HEADER_TIMEOUT",
            "CELLS_HTTP_IDLE_TIMEOUT",
            "CELLS_TOKEN_MAX_EXPIRES_IN",
            "CELLS_TOKEN_MAX_AUTO_REFRESH",
            "CELLS_TOKEN_AUTO_REFRESH_NEEDS_CAP",
            "CELLS_TOKEN_SCOPES_FOR_OTHERS",
            "CELLS_TOKEN_SELF_SERVICE",
        ] {
            command.env_remove(name);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        match &self.admin_password {
            Some(password) => command.env("CELLS_ADMIN_PASSWORD", password),
            None => command.env_remove("CELLS_ADMIN_PASSWORD"),
        };
        let mut child = command.spawn().expect("cells start");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines_tx, lines_rx) = mpsc::channel();
        // Keeps reading to the end, so the server never writes to a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    // The SFTP line comes before the HTTP one, which ends the start.
                    if let Some(port) = line.strip_prefix("cells listening on sftp://127.0.0.1:") {
                        self.sftp_port = port.parse().expect("an SFTP port number");
                    }
                    let port = line.strip_prefix("cells listening on http://127.0.0.1:").map(str::parse::<u16>);
                    self.stdout.push(line);
                    if let Some(port) = port {
                        self.port = port.expect("a port number");
                        return;
                    }
                }
                Err(_) => panic!("the server did not start; stdout: {:?}; log:\n{}", self.stdout, self.log()),
            }
        }
    }

    /// The database URL given to the server, if not the default SQLite file.
    pub fn database_url(&self) -> Option<&str> {
        let at = self.store_args.iter().position(|a| a == "--database-url")?;
        self.store_args.get(at + 1).map(String::as_str)
    }

    /// The folder the blobs are in: `DATA/blobs`, or the folder s3s-fs keeps the
    /// server's bucket in (the same `blobs/ab/ab12…` layout).
    pub fn blob_root(&self) -> PathBuf {
        match &self._peers {
            Some((_, s3)) if self.storage_url.is_none() => s3.root().join(cells_testkit::BUCKET),
            _ => self.data().join("blobs"),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Everything the server wrote to stderr, over all its runs.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The stdout lines read up to the listening line, over all runs.
    pub fn stdout(&self) -> &[String] {
        &self.stdout
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port SFTP listens on (`--sftp-bind 127.0.0.1:0`).
    pub fn sftp_port(&self) -> u16 {
        self.sftp_port
    }

    pub fn url(&self, target: &str) -> String {
        format!("http://127.0.0.1:{}{target}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
        }
    }

    /// Starts again on the same data dir (on a new port).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// SIGTERM; waits at most `limit` for the exit.
    pub fn terminate(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        self.terminate_with("-TERM", limit)
    }

    /// Sends `signal` (`-TERM`, `-INT`) with `kill`; waits at most `limit` for the exit.
    pub fn terminate_with(&mut self, signal: &str, limit: Duration) -> (ExitStatus, Duration) {
        let mut child = self.child.take().expect("a running server");
        let started = Instant::now();
        let sent = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill");
        assert!(sent.success());
        while started.elapsed() < limit {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return (status, started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().expect("SIGKILL after the deadline");
        child.wait().expect("reap");
        panic!("the server did not exit within {limit:?} of SIGTERM; log:\n{}", self.log());
    }

    /// The server's peak resident set size, in bytes (`VmHWM`).
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc/PID/status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("a VmHWM line");
        let kib: u64 = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmHWM in kB");
        kib * 1024
    }

    /// `cells admin --data DIR ARGS...`, with `stdin` fed to it.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cells"))
            .arg("admin")
            .arg("--data")
            .arg(self.data())
            .args(&self.store_args)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("CELLS_DATABASE_URL")
            .env_remove("CELLS_STORAGE_URL")
            .env_remove("CELLS_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cells admin");
        let mut input = child.stdin.take().expect("piped stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
        drop(input);
        child.wait_with_output().expect("cells admin output")
    }

    pub fn anonymous(&self) -> Session {
        Session { client: self.client.clone(), base: self.url(""), auth: None }
    }

    pub fn bearer(&self, token: &str) -> Session {
        Session { auth: Some(format!("Bearer {token}")), ..self.anonymous() }
    }

    pub fn basic(&self, login: &str, password: &str) -> Session {
        let encoded = base64(format!("{login}:{password}").as_bytes());
        Session { auth: Some(format!("Basic {encoded}")), ..self.anonymous() }
    }

    /// `POST /oauth2/token` with the password grant.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Reply {
        let request = self.client.post(self.url("/oauth2/token")).form(form);
        Session::send(request).await
    }

    /// Logs in and returns the whole grant.
    pub async fn login_grant(&self, login: &str, password: &str) -> Value {
        let reply =
            self.token_request(&[("grant_type", "password"), ("username", login), ("password", password)]).await;
        reply.expect(200).json()
    }

    /// Logs in and returns a Bearer session.
    pub async fn login(&self, login: &str, password: &str) -> Session {
        let grant = self.login_grant(login, password).await;
        self.bearer(grant["access_token"].as_str().expect("an access_token"))
    }

    pub async fn admin(&self) -> Session {
        self.login("admin", self.admin_password.as_deref().expect("a known admin password")).await
    }

    /// Creates a standard user through the admin REST API and logs them in.
    pub async fn user(&self, admin: &Session, login: &str, password: &str) -> Session {
        admin.post("/a/users", &json!({"Login": login, "Password": password})).await.expect(201);
        self.login(login, password).await
    }

    /// A bare HTTP/1.1 request; `target` is sent exactly as given.
    pub fn raw(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(60))).expect("read timeout");
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n", self.port);
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("write head");
        stream.write_all(body).expect("write body");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read answer");
        parse_raw(&answer, method == "HEAD").unwrap_or_else(|| panic!("a malformed answer to {method} {target}"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A failing test shows what the server said last (a 500 says only "internal error"
        // to the client; the cause is in the log). Tokens are masked in the log already.
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().filter(|l| !l.contains(" INFO ")).collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!("--- the server's last warnings and errors ---\n{}\n---", tail.join("\n"));
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), different per seed.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A name of exactly 255 bytes, with multi-byte characters and awkward ones.
pub fn long_name() -> String {
    let mut name = String::from("long # % ");
    while name.len() + "é".len() <= 255 {
        name.push('é');
    }
    while name.len() < 255 {
        name.push('x');
    }
    name
}

/// Polls `check` every 50 ms until it holds; panics after `limit`. Returns the time taken.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What DESIGN.md promises for a change of access (revocation, lock, deletion, a password
/// or a grant changed): every node and protocol follows it within one second.
pub const PROMISED: Duration = Duration::from_secs(1);

/// How long [`within_a_second`] waits for a change to show at all: generous, since on a
/// loaded machine the requests that look for it can each take a long time.
pub const GENEROUS: Duration = Duration::from_secs(15);

/// Checks the one-second promise for a change that has just returned, in a way load on
/// the test machine cannot break nor fake; returns the time until the change was seen.
///
/// `check` (a request that tells whether the change shows) is polled with [`eventually`]
/// for up to [`GENEROUS`]. The promise is held to strictly, on what the server did: a
/// check *sent* [`PROMISED`] or more after the change that does not see it fails the test
/// at once, since that request reached the server after the deadline and was still
/// served the old way. Load only delays requests (to after the deadline, where the server
/// must already refuse them), so it cannot fail a server that keeps the promise; a
/// server that takes longer is caught by the checks sent between the deadline and the
/// moment it catches up. The time returned runs to the answer that saw the change, load
/// included: it is printed, and bounded only by [`GENEROUS`].
pub async fn within_a_second<F, Fut>(what: &str, check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within_a_second_of(Instant::now(), what, check).await
}

/// [`within_a_second`] for a change that returned at `changed`, for a second effect of one
/// change (checked after a first one was seen).
pub async fn within_a_second_of<F, Fut>(changed: Instant, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let took = eventually(what, GENEROUS, || {
        let sent = changed.elapsed();
        let seen = check();
        async move {
            let seen = seen.await;
            assert!(seen || sent < PROMISED, "{what}: not seen by a request sent {sent:?} after the change");
            seen
        }
    })
    .await;
    eprintln!("{what}: seen {took:?} after the change");
    took
}

impl TestServer {
    /// `cells admin user token -u LOGIN -q ARGS...`: a new personal access token.
    pub fn pat(&self, login: &str, args: &[&str]) -> String {
        let mut all = vec!["user", "token", "-u", login, "-q"];
        all.extend_from_slice(args);
        let output = self.cli(&all, None);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "cells admin {all:?} failed ({:?}): {err}", output.status);
        String::from_utf8(output.stdout).expect("UTF-8 output").trim_end().to_owned()
    }
}

/// Asserts that `cells admin` succeeded; returns its stdout.
#[track_caller]
pub fn cli_ok(output: &Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cells admin failed ({:?}): {err}", output.status);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts exit status 2 and an `error: ...` line on stderr; returns stderr.
#[track_caller]
pub fn cli_usage_error(output: &Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "stdout: {out}; stderr: {err}");
    assert!(err.starts_with("error: ") || err.contains("\nerror: "), "stderr: {err}");
    err
}

/// The SHA-256 of `text`, as 64 lowercase hex digits (with the system's `sha256sum`).
pub fn sha256_hex(text: &str) -> String {
    let mut child =
        Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("sha256sum (coreutils)");
    child.stdin.take().expect("piped stdin").write_all(text.as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("sha256sum output");
    let hex = String::from_utf8(output.stdout).expect("hex").split_whitespace().next().expect("a digest").to_owned();
    assert_eq!(hex.len(), 64, "{hex}");
    hex
}

/// Every file under `root`, by relative path (sorted), with its content: to compare a
/// tree that went through a peer (rclone) with the one sent.
pub fn files_under(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}
