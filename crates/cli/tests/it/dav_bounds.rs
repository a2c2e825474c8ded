//! The bounds of WebDAV request bodies and answers (issue 19, defects 1 and 2): a body
//! nested deeper than any client's is a 400 that leaves the server up, whatever rights
//! the caller has, and a PROPFIND answer cannot grow with names × children past a fixed
//! size. Each refusal sits beside its control: the same request within the bound.

use futures_util::StreamExt;

use crate::dav::{Multistatus, dav};
use crate::support::{Session, TestServer};

const MIB: u64 = 1024 * 1024;

fn nested(depth: usize) -> String {
    format!("{}x{}", "<a>".repeat(depth), "</a>".repeat(depth))
}

fn proppatch(value: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><t:v xmlns:t=\"urn:t\">{value}</t:v>\
         </D:prop></D:set></D:propertyupdate>"
    )
    .into_bytes()
}

fn lockinfo(owner: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>\
         <D:locktype><D:write/></D:locktype><D:owner>{owner}</D:owner></D:lockinfo>"
    )
    .into_bytes()
}

fn propfind_naming(names: impl Iterator<Item = String>) -> Vec<u8> {
    let props: String = names.collect();
    format!("<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop>{props}</D:prop></D:propfind>").into_bytes()
}

/// Alice's `/common-files/deep` with `f.txt`, a read-only token scoped to the folder and
/// a read-write one, as WebDAV passwords.
async fn scoped(server: &TestServer) -> (Session, Session) {
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    admin.mkdir("/common-files/deep").await.expect(201);
    admin.upload("/common-files/deep/f.txt", "f").await.expect(201);
    let folder = admin.uuid("/common-files/deep").await;
    let token = |rights: &str| server.pat("alice", &["-a", "1h", "-s", &format!("node:{folder}:{rights}")]);
    (server.basic("alice", &token("r")), server.basic("alice", &token("rw")))
}

#[tokio::test]
async fn deeply_nested_bodies_are_a_400_and_the_server_stays_up() {
    let server = TestServer::start();
    let (read, write) = scoped(&server).await;
    let file = "/common-files/deep/f.txt";
    // The review's bodies, sent with a read-only token: they are parsed before any rights
    // check, and on the old parser each aborted the whole process.
    let deep_patch = dav(&read, "PROPPATCH", file, &[], &proppatch(&nested(10_000))).await;
    assert_eq!(deep_patch.status, 400, "{}", deep_patch.text());
    assert!(deep_patch.text().contains("deep"), "says why: {}", deep_patch.text());
    let deep_lock = dav(&read, "LOCK", file, &[("Timeout", "Second-60")], &lockinfo(&nested(5_000))).await;
    assert_eq!(deep_lock.status, 400, "{}", deep_lock.text());
    // A body only a little deeper than the bound, with a read-write token, is refused too;
    // the bound is on the body, not on the caller.
    let over = dav(&write, "PROPPATCH", file, &[], &proppatch(&nested(61))).await;
    assert_eq!(over.status, 400, "{}", over.text());
    // Still up (the old server was gone after the first of these).
    server.anonymous().get("/healthz").await.expect(200);

    // Controls: a nested value within the bound is kept and given back whole; a lock
    // with a nested owner is granted.
    dav(&write, "PROPPATCH", file, &[], &proppatch(&nested(20))).await.expect(207);
    let asked = propfind_naming(std::iter::once("<t:v xmlns:t=\"urn:t\"/>".to_owned()));
    let answer = dav(&read, "PROPFIND", file, &[("Depth", "0")], &asked).await.expect(207);
    let text = answer.text();
    assert_eq!(text.matches("<a xmlns=\"\">").count(), 20, "{text}");
    let listing = Multistatus::parse(&text);
    assert_eq!(listing.prop("/dav/common-files/deep/f.txt", "{urn:t}v"), Some("x"));
    let lock = dav(&write, "LOCK", file, &[("Timeout", "Second-60")], &lockinfo(&nested(10))).await.expect(200);
    assert!(lock.text().contains("<D:owner>"), "{}", lock.text());
}

/// `count` empty files in `folder`, a few uploads at a time.
async fn fill(admin: &Session, folder: &str, count: usize) {
    admin.mkdir(folder).await.expect(201);
    futures_util::stream::iter(0..count)
        .map(|i| async move { admin.upload(&format!("{folder}/f{i:05}"), "").await.expect(201) })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
}

#[tokio::test]
async fn propfind_answers_stay_bounded_whatever_names_and_children_ask() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let folder = "/personal-files/many";
    fill(&admin, folder, 400).await;
    let before = server.peak_rss();
    let depth_one = [("Depth", "1")];

    // The review's body: 1 MiB naming 261,000 properties, at Depth 1 on a full folder.
    let flood = propfind_naming(std::iter::repeat_n("<a/>".to_owned(), 261_000));
    assert!(flood.len() > 1_000_000 && flood.len() <= 1024 * 1024);
    let reply = dav(&admin, "PROPFIND", folder, &depth_one, &flood).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.text().contains("nodes"), "{}", reply.text());
    // More distinct names than the bound.
    let names = |n: usize| (0..n).map(|i| format!("<x:p{i} xmlns:x=\"urn:x\"/>"));
    let reply = dav(&admin, "PROPFIND", folder, &depth_one, &propfind_naming(names(257))).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.text().contains("256 properties"), "{}", reply.text());
    // 256 long names, each answered (as missing) for each of 401 resources: 400 MB on the
    // old writer; here the answer stops at its bound with a 507 that says what to do.
    let long = |i: usize| format!("<x:p{i}{} xmlns:x=\"urn:x\"/>", "n".repeat(3_900));
    let heavy = propfind_naming((0..256).map(long));
    let reply = dav(&admin, "PROPFIND", folder, &depth_one, &heavy).await;
    assert_eq!(reply.status, 507, "{}", reply.text());
    assert!(reply.text().contains("fewer properties"), "{}", reply.text());
    let grown = server.peak_rss().saturating_sub(before);
    assert!(grown < 160 * MIB, "the peak grew by {} MiB", grown / MIB);

    // Controls: the same long names at Depth 0, and every name within the bound at Depth 1.
    dav(&admin, "PROPFIND", folder, &[("Depth", "0")], &heavy).await.expect(207);
    let reply = dav(&admin, "PROPFIND", folder, &depth_one, &propfind_naming(names(256))).await.expect(207);
    let listing = Multistatus::parse(&reply.text());
    assert_eq!(listing.members("/dav/personal-files/many/").len(), 400);
    assert_eq!(listing.missing["/dav/personal-files/many/f00000"].len(), 256);
}

#[tokio::test]
async fn a_folder_past_the_children_bound_is_a_507_not_a_partial_listing() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let folder = "/personal-files/huge";
    fill(&admin, folder, 10_000).await;
    // At the bound: every child listed.
    let reply = dav(&admin, "PROPFIND", folder, &[("Depth", "1")], b"").await.expect(207);
    assert_eq!(Multistatus::parse(&reply.text()).members("/dav/personal-files/huge/").len(), 10_000);
    // One more: refused whole, saying where to list it instead, rather than cut short
    // (a sync client would take a cut listing for deletions).
    admin.upload(&format!("{folder}/one more"), "").await.expect(201);
    let reply = dav(&admin, "PROPFIND", folder, &[("Depth", "1")], b"").await;
    assert_eq!(reply.status, 507, "{}", reply.text());
    assert!(reply.text().contains("more than 10000 entries"), "{}", reply.text());
    dav(&admin, "PROPFIND", folder, &[("Depth", "0")], b"").await.expect(207);
}
