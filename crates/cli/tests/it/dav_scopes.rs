//! Scopes over WebDAV: a token scoped to one folder cannot create, change, move, copy
//! out of it or list anything outside it, by any method; each refusal sits beside its
//! control (a read-write token on the same folder doing the same thing inside it).
//! Names are awkward on purpose: `#`, `%`, `?`, spaces, unicode, and a prefix sibling.

use crate::dav::{Multistatus, dav, destination, propfind};
use crate::support::{Reply, Session, TestServer};

const LOCKINFO: &[u8] =
    b"<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope>\
<D:locktype><D:write/></D:locktype><D:owner>scoped</D:owner></D:lockinfo>";
const PROPPATCH: &[u8] = b"<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop>\
<t:tag xmlns:t=\"urn:t\">x</t:tag></D:prop></D:set></D:propertyupdate>";

const REPORTS: &str = "/common-files/reports #1";
const OLD: &str = "/common-files/reports #1-old";
const OTHER: &str = "/common-files/other 100%";

struct Fixture {
    server: TestServer,
    admin: Session,
    read: Session,
    write: Session,
}

impl Fixture {
    /// `/common-files`: `reports #1` (`q1?.txt`, `sub ü/deep.txt`), its prefix sibling
    /// `reports #1-old` (`old.txt`) and `other 100%` (`x.txt`); alice with a read token
    /// and a read-write token on `reports #1`, as WebDAV passwords.
    async fn new() -> Self {
        let server = TestServer::start();
        let admin = server.admin().await;
        server.user(&admin, "alice", "alice-password").await;
        for folder in [REPORTS, &format!("{REPORTS}/sub ü"), OLD, OTHER] {
            admin.mkdir(folder).await.expect(201);
        }
        admin.upload(&format!("{REPORTS}/q1?.txt"), "q1").await.expect(201);
        admin.upload(&format!("{REPORTS}/sub ü/deep.txt"), "deep").await.expect(201);
        admin.upload(&format!("{OLD}/old.txt"), "old").await.expect(201);
        admin.upload(&format!("{OTHER}/x.txt"), "x").await.expect(201);
        let reports = admin.uuid(REPORTS).await;
        let token = |rights: &str| server.pat("alice", &["-a", "1h", "-s", &format!("node:{reports}:{rights}")]);
        let (read, write) = (server.basic("alice", &token("r")), server.basic("alice", &token("rw")));
        Self { server, admin, read, write }
    }

    fn to(&self, path: &str) -> String {
        destination(&self.server, path)
    }

    /// The names in a folder, as the admin sees them over REST.
    async fn names(&self, path: &str) -> Vec<String> {
        let mut names = self.admin.names(path).await;
        names.sort();
        names
    }
}

#[track_caller]
fn refused(reply: &Reply, what: &str) {
    assert!(matches!(reply.status, 403 | 404), "{what}: status {} ({})", reply.status, reply.text());
}

#[track_caller]
fn succeeded(reply: &Reply, what: &str) {
    assert!((200..300).contains(&reply.status), "{what}: status {} ({})", reply.status, reply.text());
}

/// A method, a path, headers and a body.
type Case = (&'static str, String, Vec<(&'static str, String)>, &'static [u8]);

#[tokio::test]
async fn a_read_scope_refuses_every_write_method_that_a_write_scope_allows() {
    let f = Fixture::new().await;
    let q1 = format!("{REPORTS}/q1?.txt");
    let cases: Vec<Case> = vec![
        ("PUT", format!("{REPORTS}/new #2.txt"), vec![], b"new"),
        ("PUT", q1.clone(), vec![], b"changed"),
        ("MKCOL", format!("{REPORTS}/dir 100%"), vec![], b""),
        ("PROPPATCH", q1.clone(), vec![], PROPPATCH),
        ("LOCK", q1.clone(), vec![("Timeout", "Second-60".into()), ("Depth", "0".into())], LOCKINFO),
        ("COPY", q1.clone(), vec![("Destination", f.to(&format!("{REPORTS}/copy?.txt")))], b""),
        (
            "MOVE",
            format!("{REPORTS}/sub ü/deep.txt"),
            vec![("Destination", f.to(&format!("{REPORTS}/moved ü.txt")))],
            b"",
        ),
        ("DELETE", format!("{REPORTS}/copy?.txt"), vec![], b""),
    ];
    for (method, path, headers, body) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = dav(&f.read, method, path, &headers, body).await;
        assert_eq!(reply.status, 403, "read scope {method} {path}: {}", reply.text());
        let control = dav(&f.write, method, path, &headers, body).await;
        succeeded(&control, &format!("write scope {method} {path}"));
    }
    // The read scope still reads, inside.
    assert_eq!(dav(&f.read, "GET", &q1, &[], b"").await.expect(200).text(), "changed");
    let listing = propfind(&f.read, REPORTS, "1").await;
    assert_eq!(
        listing.members(&format!("/dav{REPORTS}/")),
        ["dir 100%", "moved ü.txt", "new #2.txt", "q1?.txt", "sub ü"]
    );
}

#[tokio::test]
async fn propfind_at_every_depth_shows_only_the_way_down() {
    let f = Fixture::new().await;
    for scoped in [&f.read, &f.write] {
        let root = propfind(scoped, "/", "1").await;
        assert_eq!(root.hrefs(), ["/dav/", "/dav/common-files/"]);
        let passage = propfind(scoped, "/common-files", "1").await;
        assert_eq!(passage.members("/dav/common-files/"), ["reports #1"]);
        for hidden in [OLD, OTHER, "/personal-files", &format!("{OTHER}/x.txt"), &format!("{OLD}/old.txt")] {
            for depth in ["0", "1"] {
                let reply = dav(scoped, "PROPFIND", hidden, &[("Depth", depth)], b"").await;
                assert_eq!(reply.status, 404, "PROPFIND {hidden} at depth {depth}");
            }
            assert_eq!(dav(scoped, "GET", hidden, &[], b"").await.status, 404, "GET {hidden}");
        }
        dav(scoped, "PROPFIND", "/common-files", &[("Depth", "infinity")], b"").await.expect(403);
    }
    // The same user without scopes sees all three (the control).
    let alice = f.server.basic("alice", "alice-password");
    let all = propfind(&alice, "/common-files", "1").await;
    assert_eq!(all.members("/dav/common-files/"), ["other 100%", "reports #1", "reports #1-old"]);
    assert_eq!(
        Multistatus::parse(&dav(&alice, "PROPFIND", "/", &[("Depth", "1")], b"").await.expect(207).text())
            .hrefs()
            .len(),
        3
    );
}

#[tokio::test]
async fn no_method_writes_outside_the_scope_or_on_its_passage() {
    let f = Fixture::new().await;
    let q1 = format!("{REPORTS}/q1?.txt");
    let x = format!("{OTHER}/x.txt");
    for scoped in [&f.read, &f.write] {
        // Beside the scope, and on the read-only passage above it.
        for (method, path, body) in [
            ("PUT", format!("{OTHER}/new.txt"), &b"n"[..]),
            ("PUT", x.clone(), b"changed"),
            ("PUT", format!("{OLD}/new.txt"), b"n"),
            ("PUT", "/common-files/top.txt".to_owned(), b"t"),
            ("PUT", "/personal-files/mine.txt".to_owned(), b"m"),
            ("MKCOL", format!("{OLD}/dir"), b""),
            ("MKCOL", "/common-files/dir".to_owned(), b""),
            ("DELETE", x.clone(), b""),
            ("DELETE", OLD.to_owned(), b""),
            ("PROPPATCH", x.clone(), PROPPATCH),
            ("PROPPATCH", "/common-files".to_owned(), PROPPATCH),
            ("LOCK", x.clone(), LOCKINFO),
            ("LOCK", "/common-files".to_owned(), LOCKINFO),
            ("LOCK", format!("{OTHER}/unmapped"), LOCKINFO),
        ] {
            refused(&dav(scoped, method, &path, &[], body).await, &format!("{method} {path}"));
        }
        // Both ends of every COPY and MOVE.
        for (from, to) in [
            (q1.clone(), format!("{OTHER}/q1.txt")),
            (q1.clone(), format!("{OLD}/q1.txt")),
            (q1.clone(), "/common-files/q1.txt".to_owned()),
            (q1.clone(), "/personal-files/q1.txt".to_owned()),
            (REPORTS.to_owned(), "/personal-files/reports".to_owned()),
            (x.clone(), format!("{REPORTS}/x.txt")),
            (format!("{OLD}/old.txt"), format!("{REPORTS}/old.txt")),
            (REPORTS.to_owned(), format!("{OTHER}/reports")),
        ] {
            for method in ["COPY", "MOVE"] {
                let reply = dav(scoped, method, &from, &[("Destination", &f.to(&to))], b"").await;
                refused(&reply, &format!("{method} {from} -> {to}"));
            }
        }
        // A destination that climbs out with `..`, plain or encoded, is not a path.
        for climb in [
            "/dav/common-files/reports%20%231/..%2Fother%20100%25/y".to_owned(),
            "/dav/common-files/reports%20%231/../other%20100%25/y".into(),
        ] {
            let reply = dav(scoped, "COPY", &q1, &[("Destination", &f.server.url(&climb))], b"").await;
            assert!(matches!(reply.status, 400 | 403 | 404), "COPY to {climb}: {}", reply.status);
        }
    }
    // Nothing changed anywhere outside.
    assert_eq!(f.names(OTHER).await, ["x.txt"]);
    assert_eq!(f.names(OLD).await, ["old.txt"]);
    assert_eq!(f.names("/common-files").await, ["other 100%", "reports #1", "reports #1-old"]);
    assert_eq!(f.admin.download(&x).await.expect(200).text(), "x");
    assert_eq!(f.names(REPORTS).await, ["q1?.txt", "sub ü"]);
    // The control: the write token copies and moves inside its folder.
    let inside = f.to(&format!("{REPORTS}/sub ü/q1 copy.txt"));
    dav(&f.write, "COPY", &q1, &[("Destination", &inside)], b"").await.expect(201);
    let renamed = f.to(&format!("{REPORTS}/sub ü/q1 moved #3.txt"));
    dav(&f.write, "MOVE", &format!("{REPORTS}/sub ü/q1 copy.txt"), &[("Destination", &renamed)], b"").await.expect(201);
    assert_eq!(f.names(&format!("{REPORTS}/sub ü")).await, ["deep.txt", "q1 moved #3.txt"]);
}

#[tokio::test]
async fn a_refused_move_over_an_existing_file_leaves_that_file() {
    let f = Fixture::new().await;
    let (reports, other) = (f.admin.uuid(REPORTS).await, f.admin.uuid(OTHER).await);
    let scopes = ["-a", "1h", "-s", &format!("node:{reports}:r"), "-s", &format!("node:{other}:rw")];
    let mixed = f.server.basic("alice", &f.server.pat("alice", &scopes));
    let onto = f.to(&format!("{OTHER}/x.txt"));
    let reply = dav(&mixed, "MOVE", &format!("{REPORTS}/q1?.txt"), &[("Destination", &onto)], b"").await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(f.admin.download(&format!("{OTHER}/x.txt")).await.expect(200).text(), "x");
    assert_eq!(f.admin.download(&format!("{REPORTS}/q1?.txt")).await.expect(200).text(), "q1");
    // The control: a COPY needs only read at the source, and replaces the file.
    dav(&mixed, "COPY", &format!("{REPORTS}/q1?.txt"), &[("Destination", &onto)], b"").await.expect(204);
    assert_eq!(f.admin.download(&format!("{OTHER}/x.txt")).await.expect(200).text(), "q1");
}
