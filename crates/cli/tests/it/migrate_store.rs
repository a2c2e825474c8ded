//! `cells admin migrate-store`: a single-node install on SQLite and a local folder moves
//! to PostgreSQL and S3 (docs/deploy.md), and everything comes along: users, passwords,
//! tokens, files with their UUIDs, WebDAV properties. A destination in use is refused.

use std::time::Duration;

use cells_testkit::{PgSchema, S3Server};

use crate::dav::{dav, propfind};
use crate::support::{ADMIN_PASSWORD, NodeStore, TestServer, cli_ok, cli_usage_error, random_bytes};

#[tokio::test]
async fn a_sqlite_install_moves_to_postgres_and_s3_with_everything() {
    let mut server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-pw-3f9e1c").await;
    let token = server.pat("alice", &["-e", "30d", "-l", "kept"]);
    let small = random_bytes(5000, 3);
    let large = random_bytes(9 * 1024 * 1024, 4);
    alice.mkdir("/personal-files/docs #1").await.expect(201);
    alice.upload("/personal-files/docs #1/small.bin", small.clone()).await.expect(201);
    alice.upload("/personal-files/large.bin", large.clone()).await.expect(201);
    let folder_uuid = alice.uuid("/personal-files/docs #1").await;
    let patch = "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop>\
                 <z:color xmlns:z=\"urn:x:z\">teal</z:color></D:prop></D:set></D:propertyupdate>";
    let webdav = server.basic("alice", &token);
    dav(&webdav, "PROPPATCH", "/personal-files/large.bin", &[], patch.as_bytes()).await.expect(207);
    server.terminate(Duration::from_secs(20));

    let schema = PgSchema::create().await;
    let s3 = S3Server::start();
    let env = s3.env();
    let args = ["migrate-store", "--to-database-url", schema.url(), "--to-storage-url", &s3.storage_url()];
    let mut migrate = std::process::Command::new(env!("CARGO_BIN_EXE_cells"));
    migrate.arg("admin").arg("--data").arg(server.data()).args(args).envs(env);
    let output = migrate.output().unwrap();
    let said = cli_ok(&output);
    assert!(said.contains("nodes") && said.contains("blobs            2"), "{said}");

    server.restart_on(&NodeStore {
        database_url: schema.url(),
        storage_url: &s3.storage_url(),
        env: &env,
        key_file: None,
    });
    assert!(server.log().contains("postgresql"), "the server runs on PostgreSQL now");
    let alice = server.bearer(&token);
    assert!(alice.download("/personal-files/docs #1/small.bin").await.expect(200).body == small);
    assert!(alice.download("/personal-files/large.bin").await.expect(200).body == large);
    assert_eq!(alice.uuid("/personal-files/docs #1").await, folder_uuid, "UUIDs (and so scopes) are kept");
    let found = propfind(&server.basic("alice", &token), "/personal-files/large.bin", "0").await;
    assert_eq!(found.prop("/dav/personal-files/large.bin", "{urn:x:z}color"), Some("teal"));
    server.login("admin", ADMIN_PASSWORD).await.get("/a/users").await.expect(200);
    let by_password = server.login("alice", "alice-pw-3f9e1c").await;
    assert!(by_password.download("/personal-files/docs #1/small.bin").await.expect(200).body == small);
    // New writes go to the new store.
    alice.upload("/personal-files/after.txt", "after the move").await.expect(201);
    assert_eq!(alice.download("/personal-files/after.txt").await.expect(200).text(), "after the move");

    // Migrating again into a database in use is refused, and changes nothing.
    let output = migrate.output().unwrap();
    let err = cli_usage_error(&output);
    assert!(err.contains("already holds users"), "{err}");
    assert_eq!(alice.download("/personal-files/after.txt").await.expect(200).text(), "after the move");
}

#[tokio::test]
async fn bad_destinations_are_clear_errors() {
    let server = TestServer::start();
    let output = server.cli(&["migrate-store", "--to-database-url", "mysql://x/y"], None);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && err.contains("unsupported database URL"), "{err}");
    let output = server.cli(&["migrate-store", "--to-database-url", "postgres://nobody@127.0.0.1:1/none"], None);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && err.to_lowercase().contains("connect"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn passwords_in_database_urls_are_never_printed() {
    let mut server = TestServer::start();
    server.admin().await;
    server.terminate(Duration::from_secs(20));
    // PostgreSQL here trusts loopback, so any password works: the point is where it shows.
    let schema = PgSchema::create().await;
    let (in_userinfo, in_query) = ("pw-userinfo-91f2", "pw-query-37ab");
    let url = schema.url().replacen("postgres@", &format!("postgres:{in_userinfo}@"), 1) + "&password=" + in_query;
    assert!(url.contains(in_userinfo), "{url}");
    let output = server.cli(&["migrate-store", "--to-database-url", &url], None);
    let said = cli_ok(&output);
    assert!(said.contains("Copied into postgres://postgres:***@") && said.contains("password=***"), "{said}");
    // Refused (the destination is in use now), and a database that does not answer.
    let again = server.cli(&["migrate-store", "--to-database-url", &url], None);
    let unreachable = format!("postgres://nobody:{in_userinfo}@127.0.0.1:1/none?password={in_query}");
    let failed = server.cli(&["migrate-store", "--to-database-url", &unreachable], None);
    let start = std::process::Command::new(env!("CARGO_BIN_EXE_cells"))
        .args(["start", "--bind", "127.0.0.1:0", "--sftp-bind", "127.0.0.1:0", "--database-url", &unreachable])
        .arg("--data")
        .arg(server.dir().join("other"))
        .output()
        .unwrap();
    for output in [&output, &again, &failed, &start] {
        let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!printed.contains(in_userinfo) && !printed.contains(in_query), "a password printed: {printed}");
    }
    assert!(!again.status.success() && !failed.status.success() && !start.status.success());
}
