//! WebDAV at `/dav`: authentication (tokens as Basic passwords, the Basic challenge),
//! every class 1 method with awkward names, the node UUID as a property, `Depth:
//! infinity` refused, partial PUT refused, dead properties and locks.
//!
//! The helpers ([`dav`], [`Multistatus`]) serve `dav_scopes` and `dav_peers` too.

use std::collections::BTreeMap;

use reqwest::Method;

use crate::support::{Reply, Session, TestServer, enc, long_name, random_bytes};

/// A WebDAV request on a plain tree path (`/personal-files/a b`), percent-encoded here.
pub async fn dav(session: &Session, verb: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let method = Method::from_bytes(verb.as_bytes()).unwrap();
    let mut request = session.request(method, &format!("/dav{}", enc(path))).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Session::send(request).await
}

/// `PROPFIND` with `allprop` at `depth`, expecting 207.
pub async fn propfind(session: &Session, path: &str, depth: &str) -> Multistatus {
    let reply = dav(session, "PROPFIND", path, &[("Depth", depth)], b"").await.expect(207);
    Multistatus::parse(&reply.text())
}

/// The absolute `Destination` of a COPY or MOVE to a plain tree path.
pub fn destination(server: &TestServer, path: &str) -> String {
    server.url(&format!("/dav{}", enc(path)))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A multistatus answer: for each href (decoded), its properties found (by
/// `{namespace}name`, with their text) and those reported missing.
#[derive(Debug)]
pub struct Multistatus {
    pub found: BTreeMap<String, BTreeMap<String, String>>,
    pub missing: BTreeMap<String, Vec<String>>,
}

impl Multistatus {
    pub fn parse(text: &str) -> Self {
        let document = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not XML ({e}): {text}"));
        let dav = |node: &roxmltree::Node<'_, '_>, name: &str| {
            node.is_element() && node.tag_name().namespace() == Some("DAV:") && node.tag_name().name() == name
        };
        let root = document.root_element();
        assert!(dav(&root, "multistatus"), "{text}");
        let (mut found, mut missing) = (BTreeMap::new(), BTreeMap::new());
        for response in root.children().filter(|n| dav(n, "response")) {
            let href = response.children().find(|n| dav(n, "href")).and_then(|n| n.text()).unwrap();
            let href = percent_decode(href);
            let mut props = BTreeMap::new();
            let mut absent = Vec::new();
            for propstat in response.children().filter(|n| dav(n, "propstat")) {
                let status = propstat.children().find(|n| dav(n, "status")).and_then(|n| n.text()).unwrap();
                let prop = propstat.children().find(|n| dav(n, "prop")).unwrap();
                for property in prop.children().filter(roxmltree::Node::is_element) {
                    let tag = property.tag_name();
                    let key = format!("{{{}}}{}", tag.namespace().unwrap_or(""), tag.name());
                    if status.contains(" 200 ") {
                        let text: String =
                            property.descendants().filter(roxmltree::Node::is_text).filter_map(|n| n.text()).collect();
                        let kids = property.children().filter(roxmltree::Node::is_element);
                        let kids: Vec<String> = kids.map(|n| n.tag_name().name().to_owned()).collect();
                        props.insert(key, if text.is_empty() { kids.join(",") } else { text });
                    } else {
                        absent.push(key);
                    }
                }
            }
            found.insert(href.clone(), props);
            missing.insert(href, absent);
        }
        Self { found, missing }
    }

    /// The hrefs, decoded, in answer order (sorted).
    pub fn hrefs(&self) -> Vec<String> {
        self.found.keys().cloned().collect()
    }

    /// A property of the resource at `href` (decoded).
    pub fn prop(&self, href: &str, key: &str) -> Option<&str> {
        self.found.get(href).and_then(|p| p.get(key)).map(String::as_str)
    }

    /// The names of the members listed below `folder_href` (decoded, ending in `/`).
    pub fn members(&self, folder_href: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .hrefs()
            .into_iter()
            .filter_map(|h| h.strip_prefix(folder_href).map(|n| n.trim_end_matches('/').to_owned()))
            .filter(|n| !n.is_empty())
            .collect();
        names.sort();
        names
    }
}

/// Alice, with a token as her WebDAV password.
async fn alice(server: &TestServer) -> Session {
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    server.basic("alice", &server.pat("alice", &["-a", "1h"]))
}

#[tokio::test]
async fn credentials_are_challenged_with_basic_and_tokens_work_as_passwords() {
    let server = TestServer::start();
    let alice = alice(&server).await;
    let root = dav(&alice, "PROPFIND", "/personal-files", &[("Depth", "0")], b"").await;
    root.expect(207);

    let bob_token = {
        let admin = server.admin().await;
        server.user(&admin, "bob", "bob-password").await;
        server.pat("bob", &["-a", "1h"])
    };
    let refusals = [
        server.anonymous(),
        server.basic("alice", "wrong password"),
        server.basic("alice", &bob_token),
        server.basic("nobody", "x"),
    ];
    for session in &refusals {
        let reply = dav(session, "PROPFIND", "/personal-files", &[("Depth", "0")], b"").await;
        assert_eq!(reply.status, 401, "{}", reply.text());
        assert_eq!(reply.header("WWW-Authenticate").as_deref(), Some("Basic realm=\"cells\""));
    }
    // The password works too, and Bearer with a token.
    dav(&server.basic("alice", "alice-password"), "PROPFIND", "/personal-files", &[("Depth", "0")], b"")
        .await
        .expect(207);
    dav(&server.bearer(&bob_token), "PROPFIND", "/personal-files", &[("Depth", "0")], b"").await.expect(207);
}

#[tokio::test]
async fn options_advertise_class_2_for_finder_and_explorer() {
    let server = TestServer::start();
    let alice = alice(&server).await;
    let reply = dav(&alice, "OPTIONS", "/personal-files", &[], b"").await.expect(200);
    assert_eq!(reply.header("DAV").as_deref(), Some("1, 2"));
    assert_eq!(reply.header("MS-Author-Via").as_deref(), Some("DAV"));
    assert!(reply.header("Allow").unwrap().contains("PROPPATCH"));
}

#[tokio::test]
async fn every_method_works_with_awkward_names() {
    let server = TestServer::start();
    let alice = alice(&server).await;
    let rest = server.login("alice", "alice-password").await;
    let names = ["a b", "100%", "#hash", "what?", "ünïcødé 📁", &long_name()].map(str::to_owned);
    for (i, name) in names.iter().enumerate() {
        let folder = format!("/personal-files/{name}");
        dav(&alice, "MKCOL", &folder, &[], b"").await.expect(201);
        dav(&alice, "MKCOL", &folder, &[], b"").await.expect(405);
        let file = format!("{folder}/{name}");
        let content = random_bytes(1000 + i, i as u64);
        dav(&alice, "PUT", &file, &[], &content).await.expect(201);
        dav(&alice, "PUT", &file, &[], &content).await.expect(204);
        assert_eq!(dav(&alice, "GET", &file, &[], b"").await.expect(200).body, content);
        let head = dav(&alice, "HEAD", &file, &[], b"").await.expect(200);
        assert_eq!(head.header("Content-Length"), Some(content.len().to_string()));
        // The same node through REST: same content, same UUID in the listing.
        assert_eq!(rest.download(&file).await.expect(200).body, content);
        let listing = propfind(&alice, &folder, "1").await;
        assert_eq!(listing.members(&format!("/dav{folder}/")), std::slice::from_ref(name));
        let uuid = listing.prop(&format!("/dav{file}"), "{urn:cells:dav}uuid").unwrap();
        assert_eq!(uuid, rest.uuid(&file).await);
        assert_eq!(listing.prop(&format!("/dav{file}"), "{DAV:}getcontentlength"), Some(&*content.len().to_string()));
        assert_eq!(listing.prop(&format!("/dav{folder}/"), "{DAV:}resourcetype"), Some("collection"));
    }
    let top = propfind(&alice, "/personal-files", "1").await;
    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(top.members("/dav/personal-files/"), expected);
    // A browser gets a folder as a page of links.
    let page = dav(&alice, "GET", "/personal-files", &[], b"").await.expect(200);
    assert!(page.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(page.text().contains("href=\"/dav/personal-files/100%25/\""), "{}", page.text());
    assert!(page.text().contains("#hash/</a>"), "{}", page.text());
    for name in &names {
        let folder = format!("/personal-files/{name}");
        dav(&alice, "DELETE", &folder, &[], b"").await.expect(204);
        dav(&alice, "GET", &format!("{folder}/{name}"), &[], b"").await.expect(404);
        dav(&alice, "DELETE", &folder, &[], b"").await.expect(404);
    }
    assert!(propfind(&alice, "/personal-files", "1").await.members("/dav/personal-files/").is_empty());
}

#[tokio::test]
async fn copy_and_move_follow_the_service_rules() {
    let server = TestServer::start();
    let alice = alice(&server).await;
    let rest = server.login("alice", "alice-password").await;
    dav(&alice, "MKCOL", "/personal-files/src #1", &[], b"").await.expect(201);
    dav(&alice, "PUT", "/personal-files/src #1/f 100%.txt", &[], b"one").await.expect(201);
    let uuid = rest.uuid("/personal-files/src #1/f 100%.txt").await;

    let to = destination(&server, "/personal-files/copy ü");
    dav(&alice, "COPY", "/personal-files/src #1", &[("Destination", &to)], b"").await.expect(201);
    assert_eq!(rest.download("/personal-files/copy ü/f 100%.txt").await.expect(200).text(), "one");
    assert_ne!(rest.uuid("/personal-files/copy ü/f 100%.txt").await, uuid, "a copy is a new node");
    // Overwrite: F refuses, T (the default) replaces.
    let refused = dav(&alice, "COPY", "/personal-files/src #1", &[("Destination", &to), ("Overwrite", "F")], b"").await;
    refused.expect(412);
    dav(&alice, "COPY", "/personal-files/src #1", &[("Destination", &to)], b"").await.expect(204);
    // Depth 0 copies the folder alone.
    let shallow = destination(&server, "/personal-files/shallow");
    dav(&alice, "COPY", "/personal-files/src #1", &[("Destination", &shallow), ("Depth", "0")], b"").await.expect(201);
    assert!(rest.names("/personal-files/shallow").await.is_empty());
    // A missing parent is a conflict.
    let orphan = destination(&server, "/personal-files/missing/x");
    dav(&alice, "COPY", "/personal-files/src #1", &[("Destination", &orphan)], b"").await.expect(409);

    let moved = destination(&server, "/personal-files/moved?.txt");
    dav(&alice, "MOVE", "/personal-files/src #1/f 100%.txt", &[("Destination", &moved)], b"").await.expect(201);
    assert_eq!(rest.uuid("/personal-files/moved?.txt").await, uuid, "a move keeps the UUID");
    dav(&alice, "GET", "/personal-files/src #1/f 100%.txt", &[], b"").await.expect(404);
    let onto_self = destination(&server, "/personal-files/src #1/inside");
    let into_itself = dav(&alice, "MOVE", "/personal-files/src #1", &[("Destination", &onto_self)], b"").await;
    assert!(matches!(into_itself.status, 400 | 403 | 409), "{}", into_itself.status);
    let elsewhere =
        dav(&alice, "MOVE", "/personal-files/moved?.txt", &[("Destination", "http://example.com/x")], b"").await;
    assert_eq!(elsewhere.status, 502);
}

#[tokio::test]
async fn unbounded_and_partial_requests_are_refused_clearly() {
    let server = TestServer::start();
    let alice = alice(&server).await;
    for depth in [Some("infinity"), None] {
        let headers: Vec<(&str, &str)> = depth.iter().map(|d| ("Depth", *d)).collect();
        let reply = dav(&alice, "PROPFIND", "/personal-files", &headers, b"").await.expect(403);
        assert!(reply.text().contains("propfind-finite-depth"), "{}", reply.text());
    }
    // The control: a finite depth answers.
    propfind(&alice, "/personal-files", "1").await;
    let partial = dav(&alice, "PUT", "/personal-files/p", &[("Content-Range", "bytes 0-1/4")], b"ab").await.expect(400);
    assert!(partial.text().contains("Content-Range"), "{}", partial.text());
    dav(&alice, "GET", "/personal-files/p", &[], b"").await.expect(404);
    dav(&alice, "PROPFIND", "/personal-files", &[("Depth", "0")], b"<not xml").await.expect(400);
    dav(&alice, "MKCOL", "/personal-files/with body", &[], b"body").await.expect(415);
}

#[tokio::test]
async fn dead_properties_and_locks_live_in_the_database() {
    let mut server = TestServer::start();
    let alice = alice(&server).await;
    dav(&alice, "PUT", "/personal-files/doc #1.txt", &[], b"v1").await.expect(201);
    let patch = "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop>\
                 <z:color xmlns:z=\"urn:x:z\">blue &amp; <b xmlns=\"urn:y\">bold</b></z:color></D:prop></D:set></D:propertyupdate>";
    dav(&alice, "PROPPATCH", "/personal-files/doc #1.txt", &[], patch.as_bytes()).await.expect(207);
    let lockinfo = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>\
                    <D:locktype><D:write/></D:locktype><D:owner>alice's editor</D:owner></D:lockinfo>";
    let locked =
        dav(&alice, "LOCK", "/personal-files/doc #1.txt", &[("Timeout", "Second-600")], lockinfo.as_bytes()).await;
    let token = locked.expect(200).header("Lock-Token").unwrap();
    let token = token.trim_matches(['<', '>']).to_owned();

    // Both survive a restart: they are in the database.
    server.restart();
    let alice = server.basic("alice", &server.pat("alice", &["-a", "1h"]));
    let found = propfind(&alice, "/personal-files/doc #1.txt", "0").await;
    assert_eq!(found.prop("/dav/personal-files/doc #1.txt", "{urn:x:z}color"), Some("blue & bold"));
    assert!(found.prop("/dav/personal-files/doc #1.txt", "{DAV:}lockdiscovery").unwrap().contains(&token));
    assert_eq!(found.missing["/dav/personal-files/doc #1.txt"], Vec::<String>::new());
    let named = "<D:propfind xmlns:D=\"DAV:\"><D:prop><z:color xmlns:z=\"urn:x:z\"/><z:none xmlns:z=\"urn:x:z\"/></D:prop></D:propfind>";
    let named = dav(&alice, "PROPFIND", "/personal-files/doc #1.txt", &[("Depth", "0")], named.as_bytes()).await;
    let named = Multistatus::parse(&named.expect(207).text());
    assert_eq!(named.missing["/dav/personal-files/doc #1.txt"], ["{urn:x:z}none"]);
    dav(&alice, "PUT", "/personal-files/doc #1.txt", &[], b"v2").await.expect(423);
    dav(&alice, "DELETE", "/personal-files/doc #1.txt", &[], b"").await.expect(423);
    let submit = format!("(<{token}>)");
    dav(&alice, "PUT", "/personal-files/doc #1.txt", &[("If", &submit)], b"v2").await.expect(204);
    dav(&alice, "UNLOCK", "/personal-files/doc #1.txt", &[("Lock-Token", "<urn:uuid:bogus>")], b"").await.expect(409);
    let unlock = format!("<{token}>");
    dav(&alice, "UNLOCK", "/personal-files/doc #1.txt", &[("Lock-Token", &unlock)], b"").await.expect(204);
    dav(&alice, "PUT", "/personal-files/doc #1.txt", &[], b"v3").await.expect(204);
    assert_eq!(dav(&alice, "GET", "/personal-files/doc #1.txt", &[], b"").await.expect(200).text(), "v3");

    // A depth-0 lock on a folder guards its membership, not its members' content.
    dav(&alice, "MKCOL", "/personal-files/box 100%", &[], b"").await.expect(201);
    dav(&alice, "PUT", "/personal-files/box 100%/in", &[], b"1").await.expect(201);
    let locked = dav(&alice, "LOCK", "/personal-files/box 100%", &[("Depth", "0")], lockinfo.as_bytes()).await;
    let token = locked.expect(200).header("Lock-Token").unwrap();
    dav(&alice, "PUT", "/personal-files/box 100%/new", &[], b"2").await.expect(423);
    dav(&alice, "DELETE", "/personal-files/box 100%/in", &[], b"").await.expect(423);
    dav(&alice, "PUT", "/personal-files/box 100%/in", &[], b"3").await.expect(204);
    // The token of the folder's lock, tagged with the folder (untagged, it would have to
    // match the new file, which no lock covers: 412).
    dav(&alice, "PUT", "/personal-files/box 100%/new", &[("If", &format!("({token})"))], b"2").await.expect(412);
    let tagged = format!("<{}> ({token})", server.url("/dav/personal-files/box%20100%25"));
    dav(&alice, "PUT", "/personal-files/box 100%/new", &[("If", &tagged)], b"2").await.expect(201);
}

#[tokio::test]
async fn a_revoked_token_fails_on_the_next_request() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let token = server.pat("alice", &["-a", "1h"]);
    let alice = server.basic("alice", &token);
    dav(&alice, "PUT", "/personal-files/f", &[], b"x").await.expect(201);
    let uuid = crate::tokens::records(&admin, Some("alice")).await[0]["Uuid"].as_str().unwrap().to_owned();
    admin.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    crate::support::eventually("revocation on WebDAV", std::time::Duration::from_secs(2), || async {
        dav(&alice, "GET", "/personal-files/f", &[], b"").await.status == 401
    })
    .await;
    assert_eq!(dav(&alice, "PUT", "/personal-files/g", &[], b"y").await.status, 401);
}

#[tokio::test]
async fn revoking_a_token_ends_its_webdav_download_in_flight() {
    use futures_util::StreamExt;
    const MIB: usize = 1024 * 1024;
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let token = server.pat("alice", &["-e", "1d", "-l", "dav download"]);
    let alice = server.basic("alice", &token);
    let content = random_bytes(48 * MIB, 5);
    dav(&alice, "PUT", "/personal-files/long.bin", &[], &content).await.expect(201);
    let uuid = crate::tokens::record_labelled(&admin, "dav download").await["Uuid"].as_str().unwrap().to_owned();

    // A reader paced at 8 MiB/s (six seconds for the whole file); the token revoked once
    // 4 MiB have arrived.
    let response = alice.request(Method::GET, "/dav/personal-files/long.bin").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let (mut received, mut revoked) = (0usize, false);
    let failure = loop {
        let last = match stream.next().await {
            None => break None,
            Some(Err(err)) => break Some(err),
            Some(Ok(chunk)) => {
                assert!(chunk[..] == content[received..received + chunk.len()], "the bytes at {received} differ");
                received += chunk.len();
                chunk.len()
            }
        };
        if !revoked && received >= 4 * MIB {
            crate::support::cli_ok(&server.cli(&["token", "revoke", &uuid], None));
            revoked = true;
        }
        tokio::time::sleep(std::time::Duration::from_secs_f64(last as f64 / (8 * MIB) as f64)).await;
    };
    assert!(revoked, "the download got past 4 MiB");
    assert!(failure.is_some(), "the download ended without an error after {received} bytes");
    assert!(received < 40 * MIB, "the download went on to {received} bytes after the revocation");
    assert_eq!(dav(&alice, "GET", "/personal-files/long.bin", &[], b"").await.status, 401);
}
