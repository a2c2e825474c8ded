//! SFTP with the OpenSSH client: a login with a token (or the password) as password,
//! put, get, ls, mkdir, rename, rm and rmdir, resumed transfers, refusals of bad
//! credentials, symbolic links and malformed packets, throttling shared with HTTP, kept
//! modification times, deep pipelines, and a host key that is kept.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::sftp_client::{packet, sftp_batch, subsystem};
use crate::support::{Session, TestServer, random_bytes};
use crate::tokens::records;

pub const ALICE_PASSWORD: &str = "alice-pässword-9";

/// A server with alice, her token, and a local folder for the client.
pub struct Fixture {
    pub server: TestServer,
    pub admin: Session,
    pub alice: Session,
    pub token: String,
    pub local: tempfile::TempDir,
}

impl Fixture {
    pub async fn new() -> Self {
        let server = TestServer::start();
        let admin = server.admin().await;
        let alice = server.user(&admin, "alice", ALICE_PASSWORD).await;
        server.user(&admin, "bob", "bob-password-1").await;
        let token = server.pat("alice", &["-a", "1h", "-l", "sftp test"]);
        Self { server, admin, alice, token, local: tempfile::tempdir().unwrap() }
    }

    pub fn dir(&self) -> &Path {
        self.local.path()
    }

    /// A batch as alice with her token.
    pub fn batch(&self, commands: &str) -> crate::sftp_client::Batch {
        sftp_batch(&self.server, "alice", &self.token, self.dir(), commands)
    }
}

#[tokio::test]
async fn openssh_sftp_puts_gets_lists_renames_and_removes() {
    let fx = Fixture::new().await;
    let content = random_bytes(3 * 1024 * 1024 + 17, 1);
    std::fs::write(fx.dir().join("local #1.bin"), &content).unwrap();
    std::fs::write(fx.dir().join("empty"), b"").unwrap();

    let run = fx
        .batch(
            "ls /\n\
             cd /personal-files\n\
             mkdir \"docs ü 100%\"\n\
             put \"local #1.bin\" \"docs ü 100%/report 1.bin\"\n\
             put empty \"docs ü 100%/empty\"\n\
             ls -l \"docs ü 100%\"\n\
             rename \"docs ü 100%/report 1.bin\" \"docs ü 100%/renamed.bin\"\n\
             get \"docs ü 100%/renamed.bin\" back.bin\n\
             pwd\n",
        )
        .expect_ok();
    let out = run.stdout();
    assert!(out.contains("personal-files") && out.contains("common-files"), "{out}");
    assert!(out.contains(&format!(" {} ", content.len())) && out.contains("report 1.bin"), "{out}");
    assert!(out.contains("Remote working directory: /personal-files"), "{out}");
    assert_eq!(std::fs::read(fx.dir().join("back.bin")).unwrap(), content, "the download differs");

    // The same namespace as REST, with the same content.
    let rest = fx.alice.download("/personal-files/docs ü 100%/renamed.bin").await.expect(200);
    assert_eq!(rest.body, content);
    assert_eq!(fx.alice.names("/personal-files/docs ü 100%").await, vec!["empty", "renamed.bin"]);
    fx.alice.stat("/personal-files/docs ü 100%/report 1.bin").await.expect(404);

    // A folder that is not empty stays; rm then rmdir empties it.
    fx.batch("rmdir \"/personal-files/docs ü 100%\"\n").expect_failed();
    fx.alice.stat("/personal-files/docs ü 100%").await.expect(200);
    fx.batch(
        "rm \"/personal-files/docs ü 100%/renamed.bin\"\n\
         rm \"/personal-files/docs ü 100%/empty\"\n\
         rmdir \"/personal-files/docs ü 100%\"\n",
    )
    .expect_ok();
    fx.alice.stat("/personal-files/docs ü 100%").await.expect(404);

    // The token's record says where it was used.
    let token = records(&fx.alice, None).await.into_iter().find(|t| t["Label"] == "sftp test").unwrap();
    assert_eq!(token["LastUsedVia"], "sftp", "{token}");
}

#[tokio::test]
async fn resumed_transfers_write_and_read_at_offsets() {
    let fx = Fixture::new().await;
    let content = random_bytes(2 * 1024 * 1024 + 5, 2);
    let half = content.len() / 2 + 3;
    std::fs::write(fx.dir().join("big"), &content[..half]).unwrap();
    fx.batch("put big /personal-files/big\n").expect_ok();
    assert_eq!(fx.alice.download("/personal-files/big").await.expect(200).body.len(), half);

    // `reput` opens the file without truncating it and writes from the old size on.
    std::fs::write(fx.dir().join("big"), &content).unwrap();
    fx.batch("reput big /personal-files/big\n").expect_ok();
    assert_eq!(fx.alice.download("/personal-files/big").await.expect(200).body, content);

    // `reget` reads from the local size on.
    std::fs::write(fx.dir().join("partial"), &content[..1000]).unwrap();
    fx.batch("reget /personal-files/big partial\n").expect_ok();
    assert_eq!(std::fs::read(fx.dir().join("partial")).unwrap(), content);
}

/// Runs one command as `login` with `password`; whether it succeeded.
fn logs_in(fx: &Fixture, login: &str, password: &str) -> bool {
    sftp_batch(&fx.server, login, password, fx.dir(), "ls /\n").ok()
}

#[tokio::test]
async fn bad_credentials_are_refused_and_good_ones_pass() {
    let fx = Fixture::new().await;
    let bob_token = fx.server.pat("bob", &["-e", "1h"]);
    let expired = fx.server.pat("alice", &["-e", "1s"]);
    let revoked = fx.server.pat("alice", &["-e", "1h", "-l", "to revoke"]);
    assert!(logs_in(&fx, "alice", &revoked), "the token to revoke works before");
    let uuid = records(&fx.admin, None).await.into_iter().find(|t| t["Label"] == "to revoke").unwrap()["Uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::support::cli_ok(&fx.server.cli(&["token", "revoke", &uuid], None));
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Controls: alice's token and her password, bob's token as bob.
    assert!(logs_in(&fx, "alice", &fx.token));
    assert!(logs_in(&fx, "alice", ALICE_PASSWORD));
    assert!(logs_in(&fx, "bob", &bob_token));

    assert!(!logs_in(&fx, "nobody", &fx.token), "unknown user");
    assert!(!logs_in(&fx, "alice", "cpat_0000000000000000000000000000000000000000000000000"), "a malformed token");
    let mut wrong = fx.token.clone().into_bytes();
    wrong[10] = if wrong[10] == b'A' { b'B' } else { b'A' };
    assert!(!logs_in(&fx, "alice", &String::from_utf8(wrong).unwrap()), "a token with one character changed");
    assert!(!logs_in(&fx, "bob", &fx.token), "alice's token as bob");
    assert!(!logs_in(&fx, "alice", &bob_token), "bob's token as alice");
    assert!(!logs_in(&fx, "bob", ALICE_PASSWORD), "alice's password as bob");
    assert!(!logs_in(&fx, "alice", &expired), "an expired token");
    assert!(!logs_in(&fx, "alice", &revoked), "a revoked token");
    assert!(!logs_in(&fx, "alice", ""), "an empty password");

    // Still serving, and no secret in the log.
    assert!(logs_in(&fx, "alice", &fx.token));
    let log = fx.server.log();
    assert!(log.contains("SFTP login refused"), "the refusals are logged");
    for secret in [&fx.token, &bob_token, &revoked, &expired] {
        assert!(!log.contains(secret.as_str()), "a token is in the log");
    }
    assert!(!log.contains(ALICE_PASSWORD), "a password is in the log");
}

#[tokio::test]
async fn symbolic_links_are_refused_with_a_clear_status() {
    let fx = Fixture::new().await;
    std::fs::write(fx.dir().join("a"), b"a").unwrap();
    let run = fx.batch("put a /personal-files/a\nsymlink /personal-files/a /personal-files/link\n").expect_failed();
    let said = run.stderr().to_lowercase();
    assert!(said.contains("unsupported"), "{said}");
    fx.alice.stat("/personal-files/link").await.expect(404);
    fx.alice.stat("/personal-files/a").await.expect(200);
}

#[tokio::test]
async fn the_host_key_is_kept_across_restarts() {
    let mut fx = Fixture::new().await;
    let scan = |port: u16| {
        let out = Command::new("ssh-keyscan").args(["-t", "ed25519", "-p", &port.to_string(), "127.0.0.1"]).output();
        let out = out.expect("ssh-keyscan (openssh-client)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let key =
            text.lines().find(|l| l.contains("ssh-ed25519")).map(|l| l.split_whitespace().last().unwrap().to_owned());
        key.unwrap_or_else(|| panic!("no ed25519 key in {text:?}"))
    };
    let before = scan(fx.server.sftp_port());
    fx.server.restart();
    assert_eq!(scan(fx.server.sftp_port()), before);
}

#[tokio::test]
async fn malformed_and_oversized_packets_are_refused_without_harm() {
    let fx = Fixture::new().await;
    let mut input = packet::init();
    input.extend(packet::stat(1, b"/personal-files"));
    input.extend(packet::stat(2, b"/personal-files/\xff\xfe"));
    input.extend(packet::raw(17, 3, &[0, 0, 1, 0, b'x']));
    input.extend(packet::raw(99, 4, b"what is this"));
    input.extend(packet::raw(4, 5, &[0, 0, 0, 2, b'4', b'2']));
    input.extend(packet::raw(19, 6, &[0, 0, 0, 1, b'/']));
    input.extend(packet::stat(7, b"/common-files"));
    // A length no packet may have: the channel is closed, nothing after it is read.
    input.extend([0x7f, 0xff, 0xff, 0xff, 17]);
    input.extend(packet::stat(8, b"/common-files"));
    let output = subsystem(&fx.server, "alice", &fx.token, &input);
    let answers = packet::answers(&output.stdout);
    let expected = [
        (2, 0, None),      // version
        (105, 1, None),    // attributes
        (101, 2, Some(4)), // failure: a name that is not UTF-8, never read as another
        (101, 3, Some(5)), // bad message: truncated
        (101, 4, Some(5)), // bad message: unknown type
        (101, 5, Some(4)), // failure: no such handle
        (101, 6, Some(8)), // unsupported: symbolic links
        (105, 7, None),    // attributes
    ];
    assert_eq!(answers, expected, "stderr: {}", String::from_utf8_lossy(&output.stderr));

    // Not SSH at all.
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", fx.server.sftp_port())).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::io::Write::write_all(&mut raw, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x00\x00\xff").unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut raw, &mut answer);
    assert!(answer.starts_with(b"SSH-2.0-"), "{:?}", String::from_utf8_lossy(&answer));

    // Still serving.
    fx.batch("ls /\n").expect_ok();
}

#[tokio::test]
async fn an_upload_is_visible_only_once_closed() {
    let fx = Fixture::new().await;
    let open = |id: u32, name: &[u8]| {
        let mut rest = Vec::new();
        rest.extend(u32::try_from(name.len()).unwrap().to_be_bytes());
        rest.extend_from_slice(name);
        rest.extend(0x1a_u32.to_be_bytes()); // WRITE | CREATE | TRUNCATE
        rest.extend(0_u32.to_be_bytes()); // no attributes
        packet::raw(3, id, &rest)
    };
    let write = |id: u32, offset: u64, data: &[u8]| {
        let mut rest = vec![0, 0, 0, 1, b'1'];
        rest.extend(offset.to_be_bytes());
        rest.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
        rest.extend_from_slice(data);
        packet::raw(6, id, &rest)
    };
    // Written out of order, never closed: nothing appears.
    let mut input = packet::init();
    input.extend(open(1, b"/personal-files/unfinished"));
    input.extend(write(2, 5, b" world"));
    input.extend(write(3, 0, b"hello"));
    let answers = packet::answers(&subsystem(&fx.server, "alice", &fx.token, &input).stdout);
    assert_eq!(answers, [(2, 0, None), (102, 1, None), (101, 2, Some(0)), (101, 3, Some(0))]);
    fx.alice.stat("/personal-files/unfinished").await.expect(404);

    // The same, closed: complete, in order.
    let mut input = packet::init();
    input.extend(open(1, b"/personal-files/finished"));
    input.extend(write(2, 5, b" world"));
    input.extend(write(3, 0, b"hello"));
    input.extend(packet::raw(4, 4, &[0, 0, 0, 1, b'1']));
    let answers = packet::answers(&subsystem(&fx.server, "alice", &fx.token, &input).stdout);
    assert_eq!(answers.last(), Some(&(101, 4, Some(0))), "{answers:?}");
    assert_eq!(fx.alice.download("/personal-files/finished").await.expect(200).text(), "hello world");
}

#[tokio::test]
async fn deep_pipelines_do_not_wedge_a_session() {
    // 512 requests of 255 KiB in flight: 128 MiB asked for at once, four times the
    // server's request queue and far more than any window. A server that stops reading
    // the channel while it answers would hang here.
    let fx = Fixture::new().await;
    let content = random_bytes(40 * 1024 * 1024 + 3, 3);
    std::fs::write(fx.dir().join("deep"), &content).unwrap();
    let mut command = std::process::Command::new("sshpass");
    command.arg("-e").env("SSHPASS", &fx.token).current_dir(fx.dir());
    command.args(["sftp", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]);
    command.args(["-o", "BatchMode=no", "-o", "PubkeyAuthentication=no", "-R", "512", "-B", "261120"]);
    command.args(["-P", &fx.server.sftp_port().to_string(), "-b", "-", "alice@127.0.0.1"]);
    let mut child = command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        b"put deep /personal-files/deep\nget /personal-files/deep deep-back\n",
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(std::fs::read(fx.dir().join("deep-back")).unwrap(), content);
}

#[tokio::test]
async fn put_p_keeps_the_modification_time() {
    let fx = Fixture::new().await;
    let local = fx.dir().join("dated");
    std::fs::write(&local, b"from 2001").unwrap();
    let touched = Command::new("touch").args(["-m", "-d", "2001-09-09 01:46:40 UTC"]).arg(&local).status().unwrap();
    assert!(touched.success());
    fx.batch("put -p dated /personal-files/dated\nput dated /personal-files/undated\n").expect_ok();
    let dated = fx.alice.stat("/personal-files/dated").await.expect(200).json();
    assert_eq!(dated["MTime"], 1_000_000_000, "{dated}");
    let undated = fx.alice.stat("/personal-files/undated").await.expect(200).json();
    assert!(undated["MTime"].as_i64().unwrap() > 1_700_000_000, "{undated}");
    // Modes are accepted and not applied: a client that sets them does not fail.
    fx.batch("chmod 600 /personal-files/undated\n").expect_ok();
}

#[tokio::test]
async fn failures_throttle_sftp_logins_as_they_throttle_http() {
    // The same limiter per address: 30 failures over HTTP, then SFTP logins from the
    // same address pass only with credentials already in use.
    let fx = Fixture::new().await;
    assert!(logs_in(&fx, "alice", &fx.token), "the token is in use before the failures");
    let unused = fx.server.pat("alice", &["-e", "1h", "-l", "never used"]);
    for i in 0..30 {
        let reply = fx.server.basic("alice", &format!("wrong password #{i}")).get("/a/tree/").await;
        assert_eq!(reply.status, 401, "{}", reply.text());
    }
    assert!(!logs_in(&fx, "alice", &unused), "a token never used passes while throttled");
    assert!(logs_in(&fx, "alice", &fx.token), "a token in use is refused while throttled");
    assert!(fx.server.log().contains("SFTP login throttled"), "the throttling is logged");
}
