//! Two `cells start` processes over one PostgreSQL schema and one s3s-fs bucket
//! (DESIGN.md section 5): whatever one node does, the other sees, through REST, WebDAV
//! and SFTP; a revocation on one is refused on the other within a second, also while
//! the other's change feed reconnects; a node killed mid-upload leaves no partial file.

use std::io::Write;
use std::time::Duration;

use cells_testkit::{PgSchema, S3Server};

use crate::dav::dav;
use crate::sftp_client::sftp_batch;
use crate::support::{NodeStore, TestServer, cli_ok, eventually, random_bytes, within_a_second};
use crate::tokens::record_labelled;

pub struct Cluster {
    pub schema: PgSchema,
    pub s3: S3Server,
    pub a: TestServer,
    pub b: TestServer,
}

impl Cluster {
    /// Node A starts on a fresh schema and bucket; node B starts with A's key file. Each
    /// node's connections carry its name (`application_name`), so that a test can find
    /// them in `pg_stat_activity`.
    pub async fn start() -> Self {
        let schema = PgSchema::create().await;
        let s3 = S3Server::start();
        let (storage, env) = (s3.storage_url(), s3.env());
        let node = |name: &str| format!("{}&application_name={name}-{}", schema.url(), schema.name());
        let a = TestServer::start_node(&NodeStore {
            database_url: &node("node-a"),
            storage_url: &storage,
            env: &env,
            key_file: None,
        });
        let key = a.data().join("secret.key");
        let b = TestServer::start_node(&NodeStore {
            database_url: &node("node-b"),
            storage_url: &storage,
            env: &env,
            key_file: Some(&key),
        });
        Self { schema, s3, a, b }
    }
}

#[tokio::test]
async fn a_token_made_on_one_node_works_on_the_other_and_its_revocation_reaches_it_within_a_second() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let admin_a = a.admin().await;
    a.user(&admin_a, "alice", "alice-pw-3f9e1c").await;
    let token = a.pat("alice", &["-e", "1h", "-l", "roaming"]);

    // At once on the other node, on every front end.
    let rest = b.bearer(&token);
    rest.upload("/personal-files/from-b.txt", "made on b").await.expect(201);
    assert_eq!(a.bearer(&token).download("/personal-files/from-b.txt").await.expect(200).text(), "made on b");
    let webdav = b.basic("alice", &token);
    assert_eq!(dav(&webdav, "GET", "/personal-files/from-b.txt", &[], b"").await.expect(200).text(), "made on b");
    let dir = tempfile::tempdir().unwrap();
    let listing = sftp_batch(b, "alice", &token, dir.path(), "ls /personal-files\n").expect_ok().stdout();
    assert!(listing.contains("from-b.txt"), "{listing}");

    // Revoked on A: refused on B within a second, on REST, /io and WebDAV.
    let control = a.pat("alice", &["-e", "1h", "-l", "control"]);
    let uuid = record_labelled(&admin_a, "roaming").await["Uuid"].as_str().unwrap().to_owned();
    admin_a.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    within_a_second("a token revoked on A is refused on B's /io", || async {
        b.bearer(&token).download("/personal-files/from-b.txt").await.status == 401
    })
    .await;
    assert_eq!(b.bearer(&token).get("/a/workspaces").await.status, 401);
    assert_eq!(dav(&b.basic("alice", &token), "GET", "/personal-files/from-b.txt", &[], b"").await.status, 401);
    sftp_batch(b, "alice", &token, dir.path(), "ls /personal-files\n").expect_failed();
    // Beside it, another token of the same user still works everywhere.
    assert_eq!(b.bearer(&control).download("/personal-files/from-b.txt").await.expect(200).text(), "made on b");
    sftp_batch(b, "alice", &control, dir.path(), "ls /personal-files\n").expect_ok();
}

#[tokio::test]
async fn a_revocation_reaches_a_node_whose_change_feed_was_cut() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let admin_a = a.admin().await;
    let token = a.pat("admin", &["-e", "1h", "-l", "cut"]);
    b.bearer(&token).get("/a/workspaces").await.expect(200);
    // Cut B's subscription (its LISTEN connection), as a restarted or failed-over
    // PostgreSQL would.
    let listener = format!(
        "SELECT CAST(pg_terminate_backend(pid) AS TEXT) FROM pg_stat_activity \
         WHERE application_name = 'node-b-{}' AND query LIKE 'LISTEN%'",
        cluster.schema.name()
    );
    let cut = cluster.schema.texts(&listener).await;
    assert_eq!(cut, ["true"], "B had one LISTEN connection");
    let uuid = record_labelled(&admin_a, "cut").await["Uuid"].as_str().unwrap().to_owned();
    admin_a.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    within_a_second("a revocation reaches a node whose feed was cut", || async {
        b.bearer(&token).get("/a/workspaces").await.status == 401
    })
    .await;
    // B subscribes again by itself.
    let query = format!(
        "SELECT application_name FROM pg_stat_activity WHERE application_name = 'node-b-{}' AND query LIKE 'LISTEN%'",
        cluster.schema.name()
    );
    eventually("B listens again", Duration::from_secs(10), || async { cluster.schema.texts(&query).await.len() == 1 })
        .await;
    let second = a.pat("admin", &["-e", "1h", "-l", "second"]);
    b.bearer(&second).get("/a/workspaces").await.expect(200);
    let uuid = record_labelled(&admin_a, "second").await["Uuid"].as_str().unwrap().to_owned();
    admin_a.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    within_a_second("after the feed is back", || async { b.bearer(&second).get("/a/workspaces").await.status == 401 })
        .await;
}

#[tokio::test]
async fn files_locks_logins_and_the_host_key_are_the_same_on_both_nodes() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let admin_a = a.admin().await;
    a.user(&admin_a, "alice", "alice-pw-3f9e1c").await;
    let token = a.pat("alice", &["-e", "1h"]);

    // Content written on A (small, and larger than a multipart part) is read on B.
    let small = random_bytes(10_000, 1);
    let large = random_bytes(20 * 1024 * 1024 + 3, 2);
    a.bearer(&token).upload("/personal-files/small.bin", small.clone()).await.expect(201);
    a.bearer(&token).upload("/personal-files/large.bin", large.clone()).await.expect(201);
    assert!(b.bearer(&token).download("/personal-files/small.bin").await.expect(200).body == small);
    assert!(b.bearer(&token).download("/personal-files/large.bin").await.expect(200).body == large);
    let dir = tempfile::tempdir().unwrap();
    sftp_batch(b, "alice", &token, dir.path(), "get /personal-files/large.bin large.bin\n").expect_ok();
    assert!(std::fs::read(dir.path().join("large.bin")).unwrap() == large, "SFTP on B reads what A wrote");

    // A WebDAV lock taken on A holds on B.
    let lockinfo = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>\
                    <D:locktype><D:write/></D:locktype><D:owner>alice on a</D:owner></D:lockinfo>";
    let on_a = a.basic("alice", &token);
    let locked = dav(&on_a, "LOCK", "/personal-files/small.bin", &[("Timeout", "Second-600")], lockinfo.as_bytes());
    let lock = locked.await.expect(200).header("Lock-Token").unwrap();
    let on_b = b.basic("alice", &token);
    dav(&on_b, "PUT", "/personal-files/small.bin", &[], b"overwritten on b").await.expect(423);
    dav(&on_b, "DELETE", "/personal-files/small.bin", &[], b"").await.expect(423);
    let submit = format!("({lock})");
    dav(&on_b, "PUT", "/personal-files/small.bin", &[("If", &submit)], b"with the lock").await.expect(204);
    dav(&on_b, "UNLOCK", "/personal-files/small.bin", &[("Lock-Token", &lock)], b"").await.expect(204);
    assert_eq!(a.bearer(&token).download("/personal-files/small.bin").await.expect(200).text(), "with the lock");

    // A login on A is good on B (one signing key), and B shows SFTP clients A's host key.
    let login = a.login("alice", "alice-pw-3f9e1c").await;
    let on_b = crate::client::Session { base: b.url(""), ..login };
    assert_eq!(on_b.download("/personal-files/small.bin").await.expect(200).text(), "with the lock");
    assert_eq!(host_key(a), host_key(b));
}

/// The host key a node shows, as `ssh-keyscan` prints it (type and key).
fn host_key(server: &TestServer) -> String {
    let output = std::process::Command::new("ssh-keyscan")
        .args(["-T", "10", "-p", &server.sftp_port().to_string(), "127.0.0.1"])
        .output()
        .expect("ssh-keyscan (Debian: openssh-client)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let key: Vec<&str> =
        text.lines().filter(|l| !l.starts_with('#')).flat_map(|l| l.split_whitespace().skip(1)).collect();
    assert!(!key.is_empty(), "ssh-keyscan found no key: {}", String::from_utf8_lossy(&output.stderr));
    key.join(" ")
}

#[tokio::test]
async fn a_node_killed_mid_upload_leaves_no_partial_file_on_the_other() {
    let mut cluster = Cluster::start().await;
    let token = cluster.a.pat("admin", &["-e", "1h"]);
    cluster.b.bearer(&token).upload("/personal-files/big.bin", "old content").await.expect(201);

    // Half of a 64 MiB upload (several parts) reaches A, which is then killed.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", cluster.a.port())).unwrap();
    let head = format!(
        "PUT /io/personal-files/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\n\r\n",
        64 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = random_bytes(1024 * 1024, 9);
    for _ in 0..32 {
        stream.write_all(&chunk).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.a.kill9();
    drop(stream);

    let on_b = cluster.b.bearer(&token);
    assert_eq!(on_b.download("/personal-files/big.bin").await.expect(200).text(), "old content");
    let names = on_b.names("/personal-files").await;
    assert_eq!(names, ["big.bin"], "nothing but the old file");
    // The bucket holds the old file's blob only: the unfinished upload is not an object.
    let objects = crate::support::files_under(&cluster.s3.root().join(cells_testkit::BUCKET).join("blobs"));
    assert_eq!(objects.len(), 1, "{:?}", objects.keys().collect::<Vec<_>>());
    // B goes on writing the same path.
    on_b.upload("/personal-files/big.bin", "new content").await.expect(200);
    assert_eq!(on_b.download("/personal-files/big.bin").await.expect(200).text(), "new content");
    cli_ok(&cluster.b.cli(&["blobs", "collect", "--grace-secs", "0"], None));
}

#[tokio::test]
async fn usage_writes_stay_coalesced_across_nodes() {
    let cluster = Cluster::start().await;
    let token = cluster.a.pat("admin", &["-a", "1h", "-l", "busy"]);
    // Count the writes to the tokens table from now on.
    cluster
        .schema
        .execute(
            "CREATE TABLE token_writes (at TIMESTAMPTZ NOT NULL DEFAULT now()); \
             CREATE FUNCTION count_token_write() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN INSERT INTO token_writes DEFAULT VALUES; RETURN NULL; END; $$; \
             CREATE TRIGGER token_writes AFTER UPDATE ON tokens FOR EACH ROW EXECUTE FUNCTION count_token_write();",
        )
        .await;
    let (on_a, on_b) = (cluster.a.bearer(&token), cluster.b.bearer(&token));
    for _ in 0..100 {
        on_a.get("/a/workspaces").await.expect(200);
        on_b.get("/a/workspaces").await.expect(200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes = cluster.schema.texts("SELECT CAST(COUNT(*) AS TEXT) FROM token_writes").await;
    let writes: u32 = writes[0].parse().unwrap();
    assert!((1..=4).contains(&writes), "200 uses on two nodes wrote the token {writes} times");
    let used =
        cluster.schema.texts("SELECT CAST(last_used_at IS NOT NULL AS TEXT) FROM tokens WHERE label = 'busy'").await;
    assert_eq!(used, ["true"]);
}
