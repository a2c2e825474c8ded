//! The smaller WebDAV defects of the review (issue 19, defects 5 to 7), each refusal
//! beside its control: a passage shows no dead properties, a read-only credential can
//! neither keep a lock alive nor end it, and a `Destination` on another host is not
//! applied here.

use crate::dav::{Multistatus, dav, destination, propfind};
use crate::support::{Session, TestServer};

fn proppatch(name: &str, value: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><t:{name} xmlns:t=\"urn:t\">{value}\
         </t:{name}></D:prop></D:set></D:propertyupdate>"
    )
    .into_bytes()
}

const LOCKINFO: &[u8] =
    b"<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>\
<D:locktype><D:write/></D:locktype><D:owner>editor</D:owner></D:lockinfo>";

#[tokio::test]
async fn a_scoped_token_reads_no_dead_property_of_a_passage() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let admin_dav = server.basic("admin", crate::support::ADMIN_PASSWORD);
    for folder in ["/common-files/top #1", "/common-files/top #1/scoped ü"] {
        admin.mkdir(folder).await.expect(201);
    }
    for (path, value) in [("/common-files/top #1", "passage secret"), ("/common-files/top #1/scoped ü", "inside")] {
        dav(&admin_dav, "PROPPATCH", path, &[], &proppatch("note", value)).await.expect(207);
    }
    let scoped_uuid = admin.uuid("/common-files/top #1/scoped ü").await;
    let scoped = server.basic("alice", &server.pat("alice", &["-a", "1h", "-s", &format!("node:{scoped_uuid}:rw")]));
    let whole = server.basic("alice", &server.pat("alice", &["-a", "1h"]));
    let (top, inside) = ("/dav/common-files/top%20%231/", "/dav/common-files/top%20%231/scoped%20%C3%BC/");
    let decoded = |href: &str| href.replace("%20", " ").replace("%23", "#").replace("%C3%BC", "ü");
    let note = "{urn:t}note";

    // The passage, at Depth 0 (allprop and by name) and as a member of its parent.
    let passage = propfind(&scoped, "/common-files/top #1", "0").await;
    assert_eq!(passage.prop(&decoded(top), note), None, "{passage:?}");
    let named = "<D:propfind xmlns:D=\"DAV:\"><D:prop><t:note xmlns:t=\"urn:t\"/></D:prop></D:propfind>";
    let asked = dav(&scoped, "PROPFIND", "/common-files/top #1", &[("Depth", "0")], named.as_bytes()).await;
    let asked = Multistatus::parse(&asked.expect(207).text());
    assert_eq!(asked.missing[&decoded(top)], [note], "{asked:?}");
    let parent = propfind(&scoped, "/common-files", "1").await;
    assert!(parent.found.contains_key(&decoded(top)), "the passage is listed: {parent:?}");
    assert_eq!(parent.prop(&decoded(top), note), None, "{parent:?}");
    // Controls: the scoped folder's own property, at Depth 0 and as a member of the
    // passage; and the same user's unscoped token sees the passage's property.
    let listed = propfind(&scoped, "/common-files/top #1", "1").await;
    assert_eq!(listed.prop(&decoded(inside), note), Some("inside"), "{listed:?}");
    assert_eq!(listed.prop(&decoded(top), note), None);
    let own = propfind(&scoped, "/common-files/top #1/scoped ü", "0").await;
    assert_eq!(own.prop(&decoded(inside), note), Some("inside"));
    let unscoped = propfind(&whole, "/common-files", "1").await;
    assert_eq!(unscoped.prop(&decoded(top), note), Some("passage secret"));
}

/// Alice's `/personal-files/doc.txt`, locked by her read-write token; her read-only
/// token of the same folder; the lock token.
async fn locked_by_alice(server: &TestServer) -> (Session, Session, String) {
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let alice = server.login("alice", "alice-password").await;
    alice.upload("/personal-files/doc.txt", "v1").await.expect(201);
    let root = alice.uuid("/personal-files").await;
    let token = |rights: &str| server.pat("alice", &["-a", "1h", "-s", &format!("node:{root}:{rights}")]);
    let (write, read) = (server.basic("alice", &token("rw")), server.basic("alice", &token("r")));
    let locked = dav(&write, "LOCK", "/personal-files/doc.txt", &[("Timeout", "Second-60")], LOCKINFO).await;
    let lock = locked.expect(200).header("Lock-Token").unwrap().trim_matches(['<', '>']).to_owned();
    (write, read, lock)
}

fn timeout_left(session_answer: &Multistatus) -> i64 {
    let discovery = session_answer.prop("/dav/personal-files/doc.txt", "{DAV:}lockdiscovery").unwrap();
    let at = discovery.find("Second-").unwrap() + "Second-".len();
    discovery[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

#[tokio::test]
async fn a_read_only_token_can_neither_refresh_nor_remove_a_lock() {
    let server = TestServer::start();
    let (write, read, lock) = locked_by_alice(&server).await;
    let doc = "/personal-files/doc.txt";
    let submit = format!("(<{lock}>)");
    let week = [("If", submit.as_str()), ("Timeout", "Second-604800")];
    let refreshed = dav(&read, "LOCK", doc, &week, b"").await;
    assert_eq!(refreshed.status, 403, "{}", refreshed.text());
    let unlocked = dav(&read, "UNLOCK", doc, &[("Lock-Token", &format!("<{lock}>"))], b"").await;
    assert_eq!(unlocked.status, 403, "{}", unlocked.text());
    // The lock is still there, with its minute, and still guards the file.
    let found = propfind(&write, doc, "0").await;
    let left = timeout_left(&found);
    assert!((1..=60).contains(&left), "the lock's timeout: {left} s");
    dav(&write, "PUT", doc, &[], b"v2").await.expect(423);
    // Controls: the read-write token refreshes it and removes it.
    dav(&write, "LOCK", doc, &[("If", submit.as_str()), ("Timeout", "Second-600")], b"").await.expect(200);
    assert!(timeout_left(&propfind(&write, doc, "0").await) > 60);
    dav(&write, "UNLOCK", doc, &[("Lock-Token", &format!("<{lock}>"))], b"").await.expect(204);
    dav(&write, "PUT", doc, &[], b"v2").await.expect(204);
}

#[tokio::test]
async fn a_destination_on_another_host_is_a_502_and_changes_nothing() {
    let server = TestServer::start_with_args(&["--trusted-proxies", "127.0.0.1/32,::1"]);
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let alice = server.basic("alice", &server.pat("alice", &["-a", "1h"]));
    dav(&alice, "PUT", "/personal-files/a.txt", &[], b"a").await.expect(201);
    let elsewhere = [
        "http://evil.example:9999/dav/personal-files/b.txt".to_owned(),
        format!("http://127.0.0.1:{}/dav/personal-files/b.txt", server.port() + 1),
        format!("http://127.0.0.1:{}@evil.example/dav/personal-files/b.txt", server.port()),
    ];
    for verb in ["MOVE", "COPY"] {
        for to in &elsewhere {
            let reply = dav(&alice, verb, "/personal-files/a.txt", &[("Destination", to)], b"").await;
            assert_eq!(reply.status, 502, "{verb} to {to}: {}", reply.text());
        }
        // Through a trusted proxy (every client on loopback is one here), the Destination
        // must name the host the proxy says the client asked for.
        let forwarded =
            [("Destination", "http://files.example/dav/personal-files/b.txt"), ("X-Forwarded-Host", "other.example")];
        dav(&alice, verb, "/personal-files/a.txt", &forwarded, b"").await.expect(502);
    }
    assert_eq!(alice.names("/personal-files").await, ["a.txt"], "nothing was copied or moved");
    // Controls: this server, by its own URL, by a path, and by the host a trusted proxy
    // says the client asked for.
    let own = destination(&server, "/personal-files/b.txt");
    dav(&alice, "COPY", "/personal-files/a.txt", &[("Destination", &own)], b"").await.expect(201);
    dav(&alice, "MOVE", "/personal-files/b.txt", &[("Destination", "/dav/personal-files/c.txt")], b"")
        .await
        .expect(201);
    let proxied =
        [("Destination", "http://files.example/dav/personal-files/d.txt"), ("X-Forwarded-Host", "files.example")];
    dav(&alice, "MOVE", "/personal-files/c.txt", &proxied, b"").await.expect(201);
    let mut names = alice.names("/personal-files").await;
    names.sort();
    assert_eq!(names, ["a.txt", "d.txt"]);
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_host_is_ignored() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let alice = server.basic("alice", &server.pat("alice", &["-a", "1h"]));
    dav(&alice, "PUT", "/personal-files/a.txt", &[], b"a").await.expect(201);
    let proxied =
        [("Destination", "http://files.example/dav/personal-files/b.txt"), ("X-Forwarded-Host", "files.example")];
    dav(&alice, "MOVE", "/personal-files/a.txt", &proxied, b"").await.expect(502);
    assert_eq!(alice.names("/personal-files").await, ["a.txt"]);
}
