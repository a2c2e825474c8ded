//! Scoped tokens over SFTP behave as over REST and WebDAV: the subtree is reached with
//! the scope's rights, its ancestors are read-only passages listing only the way down,
//! and every attempt outside is refused (each refusal beside the same token's success).

use crate::sftp_client::{Batch, sftp_batch};
use crate::support::{Session, TestServer};

/// `/common-files` with `reports` (`q1.txt`, `sub ü #2/deep.txt`), the prefix sibling
/// `reports-old`, and `other` (`x.txt`); alice's tokens scoped to `reports`.
struct Common {
    server: TestServer,
    admin: Session,
    reports: String,
    local: tempfile::TempDir,
}

impl Common {
    async fn new() -> Self {
        let server = TestServer::start();
        let admin = server.admin().await;
        server.user(&admin, "alice", "alice-password").await;
        for folder in ["reports", "reports/sub ü #2", "reports-old", "other"] {
            admin.mkdir(&format!("/common-files/{folder}")).await.expect(201);
        }
        admin.upload("/common-files/reports/q1.txt", "q1 numbers").await.expect(201);
        admin.upload("/common-files/reports/sub ü #2/deep.txt", "deep").await.expect(201);
        admin.upload("/common-files/reports-old/old.txt", "old").await.expect(201);
        admin.upload("/common-files/other/x.txt", "x").await.expect(201);
        let reports = admin.uuid("/common-files/reports").await;
        let local = tempfile::tempdir().unwrap();
        std::fs::write(local.path().join("new.txt"), "new content").unwrap();
        Self { server, admin, reports, local }
    }

    fn token(&self, rights: &str) -> String {
        self.server.pat("alice", &["-a", "1h", "-s", &format!("node:{}:{rights}", self.reports)])
    }

    fn run(&self, token: &str, commands: &str) -> Batch {
        sftp_batch(&self.server, "alice", token, self.local.path(), commands)
    }

    #[track_caller]
    fn allowed(&self, token: &str, command: &str) -> Batch {
        self.run(token, &format!("{command}\n")).expect_ok()
    }

    #[track_caller]
    fn refused(&self, token: &str, command: &str) {
        let run = self.run(token, &format!("{command}\n"));
        assert!(!run.ok(), "{command:?} was allowed:\n{}", run.stdout());
    }
}

fn names(listing: &str) -> Vec<String> {
    // `ls -1 DIR` prints paths as given (`/common-files/reports`): keep the last name.
    let mut names: Vec<String> = listing
        .lines()
        .filter(|l| !l.starts_with("sftp>") && !l.is_empty())
        .map(|l| l.trim_end_matches('/').rsplit('/').next().unwrap_or(l).to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_read_scope_reads_its_subtree_and_nothing_else() {
    let common = Common::new().await;
    let token = common.token("r");

    // The way down: `/` shows common-files only, common-files shows reports only.
    assert_eq!(names(&common.allowed(&token, "ls -1 /").stdout()), ["common-files"]);
    assert_eq!(names(&common.allowed(&token, "ls -1 /common-files").stdout()), ["reports"]);
    assert_eq!(names(&common.allowed(&token, "ls -1 /common-files/reports").stdout()), ["q1.txt", "sub ü #2"]);
    common.allowed(&token, "get /common-files/reports/q1.txt got.txt");
    assert_eq!(std::fs::read_to_string(common.local.path().join("got.txt")).unwrap(), "q1 numbers");
    common.allowed(&token, "get \"/common-files/reports/sub ü #2/deep.txt\" deep.txt");

    // Outside: not listed, not read, not even a prefix sibling.
    for command in [
        "ls /personal-files",
        "ls /common-files/other",
        "get /common-files/other/x.txt",
        "ls /common-files/reports-old",
        "get /common-files/reports-old/old.txt",
    ] {
        common.refused(&token, command);
    }
    // Inside, and on the way down: nothing written.
    for command in [
        "put new.txt /common-files/reports/new.txt",
        "put new.txt /common-files/reports/q1.txt",
        "mkdir /common-files/reports/made",
        "rm /common-files/reports/q1.txt",
        "rename /common-files/reports/q1.txt /common-files/reports/q2.txt",
        "rmdir \"/common-files/reports/sub ü #2\"",
        "put new.txt /common-files/new.txt",
        "mkdir /common-files/made",
    ] {
        common.refused(&token, command);
    }
    assert_eq!(common.admin.names("/common-files/reports").await, vec!["q1.txt", "sub ü #2"]);
    assert_eq!(common.admin.download("/common-files/reports/q1.txt").await.expect(200).text(), "q1 numbers");
    common.admin.stat("/common-files/made").await.expect(404);
}

#[tokio::test]
async fn a_read_write_scope_writes_inside_and_renames_check_both_ends() {
    let common = Common::new().await;
    let token = common.token("rw");

    common.allowed(&token, "put new.txt /common-files/reports/new.txt");
    common.allowed(&token, "mkdir /common-files/reports/made");
    common.allowed(&token, "rename /common-files/reports/new.txt \"/common-files/reports/sub ü #2/moved.txt\"");
    assert_eq!(
        common.admin.download("/common-files/reports/sub ü #2/moved.txt").await.expect(200).text(),
        "new content"
    );

    for command in [
        // Out of the scope, into it, and on the passage above it.
        "rename /common-files/reports/q1.txt /common-files/other/q1.txt",
        "rename /common-files/other/x.txt /common-files/reports/x.txt",
        "rename /common-files/reports /common-files/moved-reports",
        "rm /common-files/other/x.txt",
        "rmdir /common-files/reports",
        "put new.txt /common-files/other/new.txt",
        "put new.txt /common-files/reports-old/new.txt",
        "mkdir /common-files/made",
        "mkdir /personal-files/made",
    ] {
        common.refused(&token, command);
    }
    assert_eq!(common.admin.names("/common-files/other").await, vec!["x.txt"]);
    assert_eq!(common.admin.names("/common-files/reports-old").await, vec!["old.txt"]);
    assert_eq!(common.admin.names("/common-files/reports").await, vec!["made", "q1.txt", "sub ü #2"]);
    common.admin.stat("/common-files/made").await.expect(404);

    // The control for the removals: inside the scope they work.
    common.allowed(&token, "rm \"/common-files/reports/sub ü #2/moved.txt\"");
    common.allowed(&token, "rmdir /common-files/reports/made");
}
