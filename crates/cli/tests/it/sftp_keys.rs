//! SSH keys as credentials shaped like tokens: OpenSSH's `sftp -i` and rclone's
//! `key_file` log in with a registered key; its scopes narrow what it reaches; a revoked
//! or expired key, another user's key and an unregistered key are refused (and an open
//! session with a revoked key is closed, also from another node); refusals count in the
//! throttle shared with HTTP; registration refuses duplicates, malformed keys and bad
//! scopes. Each refusal stands beside the same step succeeding.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Session, TestServer, cli_ok, cli_usage_error, random_bytes};

/// A key pair made by `ssh-keygen` in `dir`: `NAME` and `NAME.pub`.
struct KeyPair {
    private: PathBuf,
    public: String,
}

impl KeyPair {
    fn new(dir: &Path, name: &str) -> Self {
        Self::of_type(dir, name, "ed25519", &[])
    }

    fn of_type(dir: &Path, name: &str, kind: &str, args: &[&str]) -> Self {
        let private = dir.join(name);
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", &format!("{name}@test")])
            .args(args)
            .arg("-f")
            .arg(&private)
            .output()
            .expect("ssh-keygen (Debian: openssh-client)");
        assert!(made.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&made.stderr));
        let public = std::fs::read_to_string(private.with_extension("pub")).unwrap().trim().to_owned();
        Self { private, public }
    }

    fn pub_file(&self) -> String {
        self.private.with_extension("pub").to_str().unwrap().to_owned()
    }

    /// `SHA256:...` as `ssh-keygen -l` prints it.
    fn fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen").arg("-lf").arg(self.pub_file()).output().unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().nth(1).unwrap().to_owned()
    }

    /// The base64 of the key: what must never be logged.
    fn material(&self) -> &str {
        self.public.split_whitespace().nth(1).unwrap()
    }
}

/// `sftp -i KEY` with nothing else to try: no agent, no password, no other key; with
/// `-b -` for a batch.
fn sftp_command(server: &TestServer, login: &str, key: &KeyPair, cwd: &Path, batch: bool) -> Command {
    sftp_command_with(server, login, key, cwd, batch, &[])
}

/// As [`sftp_command`], with more `-o` options.
fn sftp_command_with(
    server: &TestServer,
    login: &str,
    key: &KeyPair,
    cwd: &Path,
    batch: bool,
    options: &[&str],
) -> Command {
    let mut command = Command::new("sftp");
    command.current_dir(cwd).args(["-F", "/dev/null"]);
    for option in [
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "LogLevel=ERROR",
        "ConnectTimeout=20",
        "BatchMode=yes",
        "IdentitiesOnly=yes",
        "IdentityAgent=none",
        "PreferredAuthentications=publickey",
    ]
    .iter()
    .chain(options)
    {
        command.args(["-o", option]);
    }
    command.arg("-i").arg(&key.private).args(["-P", &server.sftp_port().to_string()]);
    if batch {
        command.args(["-b", "-"]);
    }
    command.arg(format!("{login}@127.0.0.1"));
    command
}

/// Runs a batch of `sftp` commands as `login` with `key`.
fn batch(server: &TestServer, login: &str, key: &KeyPair, cwd: &Path, commands: &str) -> Output {
    let mut command = sftp_command(server, login, key, cwd, true);
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("sftp");
    child.stdin.take().unwrap().write_all(commands.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[track_caller]
fn ok(output: Output) -> String {
    let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "sftp failed ({:?})\nstdout:\n{out}\nstderr:\n{err}", output.status);
    out.into_owned()
}

#[track_caller]
fn refused(output: &Output, what: &str) {
    assert!(!output.status.success(), "{what}: sftp succeeded\n{}", String::from_utf8_lossy(&output.stdout));
}

/// Whether `login` with `key` can log in and list `/`.
fn logs_in(server: &TestServer, login: &str, key: &KeyPair, cwd: &Path) -> bool {
    batch(server, login, key, cwd, "ls /\n").status.success()
}

/// A server with alice and bob, and a folder for keys and local files.
struct Fixture {
    server: TestServer,
    admin: Session,
    alice: Session,
    bob: Session,
    local: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let server = TestServer::start();
        let admin = server.admin().await;
        let alice = server.user(&admin, "alice", "alice-password-1").await;
        let bob = server.user(&admin, "bob", "bob-password-1").await;
        Self { server, admin, alice, bob, local: tempfile::tempdir().unwrap() }
    }

    fn dir(&self) -> &Path {
        self.local.path()
    }

    fn key(&self, name: &str) -> KeyPair {
        KeyPair::new(self.dir(), name)
    }

    /// `cells admin user key add -u LOGIN -f KEY.pub ARGS...`; the key's Uuid.
    async fn add(&self, login: &str, key: &KeyPair, args: &[&str]) -> String {
        let mut all = vec!["user", "key", "add", "-u", login, "-f"];
        let file = key.pub_file();
        all.push(&file);
        all.extend_from_slice(args);
        let out = cli_ok(&self.server.cli(&all, None));
        assert!(out.contains(&key.fingerprint()), "the CLI shows the fingerprint: {out}");
        out.split_whitespace().nth(2).unwrap().to_owned()
    }

    fn batch(&self, login: &str, key: &KeyPair, commands: &str) -> Output {
        batch(&self.server, login, key, self.dir(), commands)
    }
}

/// A user's key records, as they list them.
async fn keys(session: &Session) -> Vec<Value> {
    let list = session.post("/a/auth/keys/list", &json!({})).await.expect(200).json();
    list["Keys"].as_array().unwrap_or_else(|| panic!("no Keys in {list}")).clone()
}

async fn key_record(session: &Session, uuid: &str) -> Value {
    keys(session).await.into_iter().find(|k| k["Uuid"] == uuid).unwrap_or_else(|| panic!("no key {uuid}"))
}

#[tokio::test]
async fn sftp_keys_a_registered_key_uploads_and_downloads_and_its_use_is_audited() {
    let fx = Fixture::new().await;
    let laptop = fx.key("laptop");
    let stranger = fx.key("stranger");
    let uuid = fx.add("alice", &laptop, &["-a", "1h", "-l", "laptop ü #1"]).await;

    let content = random_bytes(2 * 1024 * 1024 + 3, 7);
    std::fs::write(fx.dir().join("up.bin"), &content).unwrap();
    let out = ok(fx.batch(
        "alice",
        &laptop,
        "ls /\nput up.bin \"/personal-files/by key ü.bin\"\nget \"/personal-files/by key ü.bin\" back.bin\n",
    ));
    assert!(out.contains("personal-files"), "{out}");
    assert_eq!(std::fs::read(fx.dir().join("back.bin")).unwrap(), content, "the download differs");
    assert_eq!(fx.alice.download("/personal-files/by key ü.bin").await.expect(200).body, content);

    // ECDSA and RSA keys (signed with SHA-2) log in too.
    for (name, kind) in [("ecdsa", "ecdsa"), ("rsa", "rsa")] {
        let key = KeyPair::of_type(fx.dir(), name, kind, &[]);
        fx.add("alice", &key, &["-e", "1h"]).await;
        let out = ok(fx.batch("alice", &key, "ls /personal-files\n"));
        assert!(out.contains("by key"), "{name}: {out}");
        if kind == "rsa" {
            // Not with a SHA-1 signature (`ssh-rsa`), refused as OpenSSH refuses it.
            let options = ["PubkeyAcceptedAlgorithms=ssh-rsa"];
            let mut sha1 = sftp_command_with(&fx.server, "alice", &key, fx.dir(), true, &options);
            let mut child = sha1.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            child.stdin.take().unwrap().write_all(b"ls /\n").unwrap();
            let output = child.wait_with_output().unwrap();
            refused(&output, "an RSA key signing with SHA-1");
            let said = String::from_utf8_lossy(&output.stderr);
            assert!(said.contains("Permission denied"), "refused by the server, not the client: {said}");
        }
    }

    // A key nobody registered is refused, beside the registered one.
    refused(&fx.batch("alice", &stranger, "ls /\n"), "an unregistered key");

    let record = key_record(&fx.alice, &uuid).await;
    assert_eq!(record["Fingerprint"], laptop.fingerprint(), "{record}");
    assert_eq!(record["Algorithm"], "ssh-ed25519", "{record}");
    assert_eq!(record["Label"], "laptop ü #1", "{record}");
    assert_eq!(record["LastUsedVia"], "sftp", "{record}");
    assert_eq!(record["LastUsedIp"], "127.0.0.1", "{record}");
    assert_eq!(record["Status"], "active", "{record}");
    assert!(record.get("PublicKey").is_none(), "a listing carries the fingerprint only: {record}");

    // The log names the key by its fingerprint, never by the key itself.
    let log = fx.server.log();
    assert!(log.contains(&laptop.fingerprint()), "the login is logged with the key's fingerprint");
    assert!(!log.contains(laptop.material()), "the log holds the key itself");
}

#[tokio::test]
async fn sftp_keys_registration_refuses_duplicates_malformed_keys_and_bad_scopes() {
    let fx = Fixture::new().await;
    let key = fx.key("dup");
    let body = |extra: Value| {
        let mut body = json!({"Label": "mine", "PublicKey": key.public, "AutoRefresh": 3600});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let made = fx.alice.post("/a/auth/keys", &body(json!({}))).await.expect(200).json();
    assert_eq!(made["Fingerprint"], key.fingerprint(), "{made}");
    assert!(made["Uuid"].as_str().is_some_and(|u| u.len() == 36), "{made}");

    // The same key again, by anyone, is a 409.
    fx.alice.post("/a/auth/keys", &body(json!({}))).await.expect_error(409, "Conflict");
    fx.bob.post("/a/auth/keys", &body(json!({}))).await.expect_error(409, "Conflict");
    let cli = fx.server.cli(&["user", "key", "add", "-u", "bob", "-f", &key.pub_file(), "-e", "1d"], None);
    assert!(cli_usage_error(&cli).contains("already exists"));

    // Malformed, private, of another algorithm, without expiry: clear 400s.
    let private = std::fs::read_to_string(&key.private).unwrap();
    for (public, says) in [
        ("ssh-ed25519 AAAA-not-base64", "not an OpenSSH public key"),
        ("hello", "not an OpenSSH public key"),
        (private.as_str(), "private key"),
    ] {
        let answer = fx.alice.post("/a/auth/keys", &body(json!({"PublicKey": public}))).await.expect(400).json();
        let detail = answer["Detail"].as_str().unwrap();
        assert!(detail.contains(says), "{public:?}: {detail}");
        assert!(
            !detail.contains(public.trim()) && !detail.contains("b3BlbnNzaC"),
            "the answer repeats the key: {detail}"
        );
    }
    let weak = KeyPair::of_type(fx.dir(), "weak", "rsa", &["-b", "1024"]);
    let answer = fx.alice.post("/a/auth/keys", &body(json!({"PublicKey": weak.public}))).await.expect(400).json();
    assert!(answer["Detail"].as_str().unwrap().contains("too weak"), "{answer}");
    let other = fx.key("other");
    let none = json!({"PublicKey": other.public});
    fx.alice.post("/a/auth/keys", &none).await.expect_error(400, "BadRequest");

    // Scopes are checked as for tokens: an unknown node, or one alice cannot reach.
    let bobs = fx.bob.uuid("/personal-files").await;
    for scope in
        ["node:0b7e3a52-9d1c-4f6e-8a2b-5c4d3e2f1a09:r".to_owned(), format!("node:{bobs}:r"), "node:nope:r".to_owned()]
    {
        let scoped = json!({"PublicKey": other.public, "AutoRefresh": 60, "Scopes": [scope]});
        fx.alice.post("/a/auth/keys", &scoped).await.expect_error(400, "BadRequest");
    }
    let mine = fx.alice.uuid("/personal-files").await;
    let scoped = json!({"PublicKey": other.public, "AutoRefresh": 60, "Scopes": [format!("node:{mine}:r")]});
    fx.alice.post("/a/auth/keys", &scoped).await.expect(200);

    // Not with a scoped token (beside the unscoped session that just registered one).
    let scoped_token = fx.server.pat("alice", &["-e", "1h", "-s", &format!("node:{mine}:rw")]);
    let fourth = fx.key("fourth");
    let body4 = json!({"PublicKey": fourth.public, "AutoRefresh": 60});
    fx.server.bearer(&scoped_token).post("/a/auth/keys", &body4).await.expect_error(403, "Forbidden");
    fx.server.bearer(&scoped_token).post("/a/auth/keys/list", &json!({})).await.expect_error(403, "Forbidden");

    // For another user: admins only.
    let third = fx.key("third");
    let for_bob = json!({"UserLogin": "bob", "PublicKey": third.public, "ExpiresAt": cells_now() + 3600});
    fx.alice.post("/a/auth/keys", &for_bob).await.expect_error(403, "Forbidden");
    fx.admin.post("/a/auth/keys", &for_bob).await.expect(200);
    let bobs_keys = keys(&fx.bob).await;
    assert_eq!(bobs_keys.len(), 1, "{bobs_keys:?}");
    assert_eq!(bobs_keys[0]["CreatedBy"], "admin");
    // Lists: one's own; others' for admins only.
    fx.alice.post("/a/auth/keys/list", &json!({"ByUser": "bob"})).await.expect_error(403, "Forbidden");
    let listed = fx.admin.post("/a/auth/keys/list", &json!({"ByUser": "alice"})).await.expect(200).json();
    assert_eq!(listed["Keys"].as_array().unwrap().len(), 2, "{listed}");

    // Bad bodies and ids are 400s; another user's key is not there for alice.
    fx.alice.post("/a/auth/keys", &json!({"PublicKey": 5, "AutoRefresh": 60})).await.expect_error(400, "BadRequest");
    let unknown = json!({"PublicKey": third.public, "AutoRefresh": 60, "Comment": "x"});
    fx.alice.post("/a/auth/keys", &unknown).await.expect_error(400, "BadRequest");
    fx.alice.delete("/a/auth/keys/not-a-uuid").await.expect_error(400, "BadRequest");
    let bobs_key = bobs_keys[0]["Uuid"].as_str().unwrap();
    fx.alice.delete(&format!("/a/auth/keys/{bobs_key}")).await.expect_error(404, "NotFound");
    assert_eq!(keys(&fx.bob).await[0]["Status"], "active", "alice revoked bob's key");
    let gone = fx.admin.delete(&format!("/a/auth/keys/{bobs_key}")).await.expect(200).json();
    assert_eq!(gone["Success"], true, "{gone}");
    assert_eq!(keys(&fx.bob).await[0]["Status"], "revoked");

    // The CLI refuses a missing file and a bad duration with status 2.
    cli_usage_error(&fx.server.cli(&["user", "key", "add", "-u", "alice", "-f", "/nonexistent.pub", "-e", "1d"], None));
    cli_usage_error(
        &fx.server.cli(&["user", "key", "add", "-u", "alice", "-f", &third.pub_file(), "-e", "1.5d"], None),
    );
}

fn cells_now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

#[tokio::test]
async fn sftp_keys_a_scoped_read_only_key_reads_inside_its_scope_and_nothing_else() {
    let fx = Fixture::new().await;
    for folder in ["reports", "reports-old", "other"] {
        fx.admin.mkdir(&format!("/common-files/{folder}")).await.expect(201);
    }
    fx.admin.upload("/common-files/reports/q1.txt", "q1 numbers").await.expect(201);
    fx.admin.upload("/common-files/other/x.txt", "x").await.expect(201);
    let reports = fx.admin.uuid("/common-files/reports").await;
    let scoped = fx.key("scoped");
    let full = fx.key("full");
    fx.add("alice", &scoped, &["-a", "1h", "-s", &format!("node:{reports}:r")]).await;
    fx.add("alice", &full, &["-e", "1d"]).await;
    std::fs::write(fx.dir().join("new.txt"), "new").unwrap();

    // Inside the scope it reads.
    ok(fx.batch("alice", &scoped, "get /common-files/reports/q1.txt got.txt\n"));
    assert_eq!(std::fs::read_to_string(fx.dir().join("got.txt")).unwrap(), "q1 numbers");
    let listing = ok(fx.batch("alice", &scoped, "ls -1 /common-files\n"));
    assert!(listing.contains("reports") && !listing.contains("other") && !listing.contains("reports-old"), "{listing}");

    // It cannot write there, nor reach outside; the unscoped key of the same user can.
    for command in [
        "put new.txt /common-files/reports/new.txt",
        "rm /common-files/reports/q1.txt",
        "get /common-files/other/x.txt x.txt",
        "ls /common-files/other",
        "ls /personal-files",
    ] {
        refused(&fx.batch("alice", &scoped, &format!("{command}\n")), command);
        ok(fx.batch("alice", &full, &format!("{command}\n")));
    }
}

/// An `sftp` session left open, fed one command at a time.
struct Open {
    child: Child,
}

impl Open {
    fn new(fx: &Fixture, key: &KeyPair) -> Self {
        Self::on(&fx.server, key, fx.dir())
    }

    /// A session as alice on `server`.
    fn on(server: &TestServer, key: &KeyPair, dir: &Path) -> Self {
        let child = sftp_command(server, "alice", key, dir, false)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sftp");
        Self { child }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        let _ = stdin.write_all(format!("{line}\n").as_bytes()).and_then(|()| stdin.flush());
    }

    fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Puts a file through the session and waits until REST sees it.
    async fn alive(&mut self, fx: &Fixture, name: &str) {
        self.alive_as(&fx.alice, fx.dir(), name).await;
    }

    /// As [`Open::alive`], seen by alice's `rest` session, with the local folder `dir`.
    async fn alive_as(&mut self, rest: &Session, dir: &Path, name: &str) {
        std::fs::write(dir.join(name), name).unwrap();
        self.send(&format!("put {name} /personal-files/{name}"));
        let path = format!("/personal-files/{name}");
        crate::support::eventually(&format!("{name} uploaded"), Duration::from_secs(20), || async {
            rest.stat(&path).await.status == 200
        })
        .await;
    }

    /// How long until the session ended (a request every 100 ms shows the closing).
    async fn ended(&mut self) -> Duration {
        let started = std::time::Instant::now();
        while !self.exited() {
            assert!(started.elapsed() < Duration::from_secs(10), "the session is still open");
            self.send("ls /");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        started.elapsed()
    }

    fn stderr(mut self) -> String {
        let _ = self.child.kill();
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        err
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sftp_keys_a_revoked_key_is_refused_and_its_open_session_closed() {
    let fx = Fixture::new().await;
    let doomed = fx.key("doomed");
    let control = fx.key("control");
    let doomed_id = fx.add("alice", &doomed, &["-a", "1h"]).await;
    fx.add("alice", &control, &["-a", "1h"]).await;
    let mut session = Open::new(&fx, &doomed);
    let mut other = Open::new(&fx, &control);
    session.alive(&fx, "before.txt").await;
    other.alive(&fx, "control-before.txt").await;

    let revoked = fx.alice.delete(&format!("/a/auth/keys/{doomed_id}")).await.expect(200).json();
    assert_eq!(revoked["Success"], true, "{revoked}");
    let took = session.ended().await;
    assert!(took <= Duration::from_secs(2), "the session of the revoked key lasted {took:?}");
    assert!(session.stderr().contains("revoked or have expired"), "the client is told why");

    assert!(!other.exited(), "the session of the other key ended too");
    other.alive(&fx, "control-after.txt").await;
    assert!(!logs_in(&fx.server, "alice", &doomed, fx.dir()), "the revoked key logs in");
    assert!(logs_in(&fx.server, "alice", &control, fx.dir()), "the other key no longer logs in");
    let record = key_record(&fx.alice, &doomed_id).await;
    assert_eq!(record["Status"], "revoked", "{record}");
    assert_eq!(record["LastFailureReason"], "revoked", "{record}");

    // Revoked by the CLI too; and a revoked key may be registered again.
    let again = fx.add("alice", &doomed, &["-a", "1h"]).await;
    crate::support::eventually("the key registered again", Duration::from_secs(5), || async {
        logs_in(&fx.server, "alice", &doomed, fx.dir())
    })
    .await;
    cli_ok(&fx.server.cli(&["user", "key", "revoke", &again], None));
    crate::support::eventually("the CLI revocation", Duration::from_secs(5), || async {
        !logs_in(&fx.server, "alice", &doomed, fx.dir())
    })
    .await;
    let listed = cli_ok(&fx.server.cli(&["user", "key", "list", "-u", "alice"], None));
    assert_eq!(listed.matches("revoked").count(), 2, "{listed}");
}

#[tokio::test]
async fn sftp_keys_an_expired_key_and_another_users_key_are_refused() {
    let fx = Fixture::new().await;
    let brief = fx.key("brief");
    let lasting = fx.key("lasting");
    let bobs = fx.key("bobs");
    let brief_id = fx.add("alice", &brief, &["-e", "1s"]).await;
    fx.add("alice", &lasting, &["-e", "1h"]).await;
    fx.add("bob", &bobs, &["-a", "1h"]).await;

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(!logs_in(&fx.server, "alice", &brief, fx.dir()), "the expired key logs in");
    assert!(logs_in(&fx.server, "alice", &lasting, fx.dir()), "the key still valid is refused");
    let record = key_record(&fx.alice, &brief_id).await;
    assert_eq!(record["Status"], "expired", "{record}");
    assert_eq!(record["LastFailureReason"], "expired", "{record}");

    // Bob's key is bob's: not alice's login.
    assert!(!logs_in(&fx.server, "alice", &bobs, fx.dir()), "bob's key logs in as alice");
    assert!(logs_in(&fx.server, "bob", &bobs, fx.dir()), "bob's key does not log in as bob");
    ok(fx.batch("bob", &bobs, "ls /personal-files\n"));
}

#[tokio::test]
async fn sftp_keys_rclone_lists_and_copies_with_a_key_file() {
    let fx = Fixture::new().await;
    let key = fx.key("rclone");
    fx.add("alice", &key, &["-a", "1h"]).await;
    let up = fx.dir().join("up");
    std::fs::create_dir_all(up.join("sub dir")).unwrap();
    std::fs::write(up.join("a.txt"), "a").unwrap();
    std::fs::write(up.join("sub dir/b #2.bin"), random_bytes(300_000, 3)).unwrap();
    let config = fx.dir().join("rclone.conf");
    std::fs::write(&config, "").unwrap();
    let rclone = |args: &[&str]| {
        let output = Command::new("rclone")
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("RCLONE_CONFIG_CELLS_TYPE", "sftp")
            .env("RCLONE_CONFIG_CELLS_HOST", "127.0.0.1")
            .env("RCLONE_CONFIG_CELLS_PORT", fx.server.sftp_port().to_string())
            .env("RCLONE_CONFIG_CELLS_USER", "alice")
            .env("RCLONE_CONFIG_CELLS_KEY_FILE", &key.private)
            .env("RCLONE_CONFIG_CELLS_SHELL_TYPE", "none")
            .output()
            .expect("rclone (Debian: rclone)");
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "rclone {args:?}: {out}\n{}", String::from_utf8_lossy(&output.stderr));
        out
    };
    let listed = rclone(&["lsd", "cells:"]);
    assert!(listed.contains("personal-files") && listed.contains("common-files"), "{listed}");
    rclone(&["copy", up.to_str().unwrap(), "cells:personal-files/backup"]);
    assert_eq!(fx.alice.names("/personal-files/backup").await, vec!["a.txt", "sub dir"]);
    let back = fx.dir().join("back");
    rclone(&["copy", "cells:personal-files/backup", back.to_str().unwrap()]);
    assert_eq!(crate::support::files_under(&back), crate::support::files_under(&up));
}

#[tokio::test]
async fn sftp_keys_a_key_registered_on_one_node_logs_in_on_the_other_and_its_revocation_closes_the_session_there() {
    let cluster = crate::cluster::Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let admin_a = a.admin().await;
    let alice_a = a.user(&admin_a, "alice", "alice-pw-7c2d").await;
    let dir = tempfile::tempdir().unwrap();
    let (doomed, control) = (KeyPair::new(dir.path(), "doomed"), KeyPair::new(dir.path(), "control"));
    for key in [&doomed, &control] {
        cli_ok(&a.cli(&["user", "key", "add", "-u", "alice", "-f", &key.pub_file(), "-a", "1h"], None));
    }
    let mut session = Open::on(b, &doomed, dir.path());
    let mut other = Open::on(b, &control, dir.path());
    session.alive_as(&alice_a, dir.path(), "from-b.txt").await;
    other.alive_as(&alice_a, dir.path(), "control-from-b.txt").await;

    let uuid = keys(&alice_a).await.into_iter().find(|k| k["Fingerprint"] == doomed.fingerprint()).unwrap()["Uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    alice_a.delete(&format!("/a/auth/keys/{uuid}")).await.expect(200);
    let took = session.ended().await;
    assert!(took <= Duration::from_secs(2), "B's session of the key revoked on A lasted {took:?}");
    assert!(!logs_in(b, "alice", &doomed, dir.path()), "the key revoked on A logs in on B");
    assert!(!other.exited(), "B's session of the other key ended too");
    other.alive_as(&alice_a, dir.path(), "control-after.txt").await;
}

#[tokio::test]
async fn sftp_keys_refused_keys_count_in_the_throttle_of_every_surface_and_keys_in_use_still_pass() {
    let fx = Fixture::new().await;
    let (in_use, unused, revoked) = (fx.key("in-use"), fx.key("unused"), fx.key("revoked"));
    fx.add("alice", &in_use, &["-a", "1h"]).await;
    fx.add("alice", &unused, &["-a", "1h"]).await;
    let revoked_id = fx.add("alice", &revoked, &["-a", "1h"]).await;
    assert!(logs_in(&fx.server, "alice", &in_use, fx.dir()), "the key in use");
    fx.alice.delete(&format!("/a/auth/keys/{revoked_id}")).await.expect(200);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 29 failures over HTTP, then the revoked key over SFTP: the 30th, in the same count.
    for i in 0..29 {
        fx.server.bearer(&format!("cpat_not-a-token-{i}")).get("/a/tree/").await.expect(401);
    }
    assert!(!logs_in(&fx.server, "alice", &revoked, fx.dir()), "the revoked key logs in");
    let reply = fx.server.bearer("cpat_one-more").get("/a/tree/").await;
    assert_eq!(reply.status, 429, "the SFTP refusal did not count: {}", reply.text());

    // Over the limit: a key never used here is not even looked up; the key in use passes.
    assert!(!logs_in(&fx.server, "alice", &unused, fx.dir()), "a key not yet in use passes a throttled address");
    assert!(logs_in(&fx.server, "alice", &in_use, fx.dir()), "the key in use is throttled");
}

#[tokio::test]
async fn sftp_keys_an_admin_registers_and_revokes_a_users_key_in_the_console() {
    let fx = Fixture::new().await;
    let key = fx.key("console");
    let fingerprint = key.fingerprint();
    let env = [
        ("CELLS_ADMIN_PASSWORD", crate::support::ADMIN_PASSWORD),
        ("CELLS_LOGIN", "alice"),
        ("PUBLIC_KEY", key.public.as_str()),
        ("FINGERPRINT", fingerprint.as_str()),
    ];
    let result = crate::console::run_scenario(&fx.server, "keys.mjs", &env);
    let uuid = result["uuid"].as_str().unwrap();
    let record = key_record(&fx.alice, uuid).await;
    assert_eq!(
        (record["Label"].as_str(), record["CreatedBy"].as_str()),
        (Some("Laptop Ü #1"), Some("admin")),
        "{record}"
    );
    assert_eq!(record["AutoRefreshWindow"], 7200, "{record}");
    assert_eq!(record["Status"], "revoked", "{record}");
    assert!(!logs_in(&fx.server, "alice", &key, fx.dir()), "the key revoked in the console logs in");
}
