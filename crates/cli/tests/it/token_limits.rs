//! Where a personal access token may be used from (`AllowedIps`) and through what
//! (`AllowedVia`), on REST, `/io`, WebDAV and SFTP; the mistakes refused at creation;
//! and the `Cells-Token-Expires-At` header of a token about to expire.
//!
//! The HTTP server trusts `X-Forwarded-For` from 127.0.0.1 (`--trusted-proxies`), so a
//! request can come "from" any address; SFTP has only the TCP peer, 127.0.0.1. Every
//! refusal stands beside a control: the same token from an allowed address or through
//! an allowed protocol gets in.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use crate::dav::dav;
use crate::sftp_client::sftp_batch;
use crate::support::{Reply, Session, TestServer, enc};
use crate::tokens::{assert_refused, is_pat, record, record_after_failure, records, unix_now};

const ALICE_PASSWORD: &str = "alice-pässword-limits";
const NOTE: &str = "/personal-files/limits # 100% ü.txt";

/// A server that believes `X-Forwarded-For` from 127.0.0.1, alice, and a file of hers.
struct Fixture {
    server: TestServer,
    admin: Session,
    alice: Session,
    local: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let server = TestServer::start_with_args(&["--trusted-proxies", "127.0.0.1"]);
        let admin = server.admin().await;
        let alice = server.user(&admin, "alice", ALICE_PASSWORD).await;
        alice.upload(NOTE, "a note").await.expect(201);
        Self { server, admin, alice, local: tempfile::tempdir().unwrap() }
    }

    /// `POST /a/auth/token/personal` as alice, expiring in a day unless `body` says.
    async fn token(&self, body: Value) -> (String, String) {
        let mut body = body;
        if body.get("ExpiresAt").is_none() && body.get("AutoRefresh").is_none() {
            body["ExpiresAt"] = json!(unix_now() + 86_400);
        }
        let created = self.alice.post("/a/auth/token/personal", &body).await.expect(200).json();
        let token = created["AccessToken"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
        assert!(is_pat(&token), "{created}");
        (token, created["Uuid"].as_str().unwrap().to_owned())
    }

    /// Whether an SFTP session opens (and lists) as alice with `password`.
    fn sftp_opens(&self, password: &str) -> bool {
        sftp_batch(&self.server, "alice", password, self.local.path(), "ls /personal-files\n").ok()
    }
}

/// A request through `session` that says it comes from `from` (none: the peer itself).
async fn from(session: &Session, method: &str, target: &str, from: Option<&str>) -> Reply {
    let mut request = session.request(Method::from_bytes(method.as_bytes()).unwrap(), target);
    if let Some(address) = from {
        request = request.header("X-Forwarded-For", address);
    }
    if method == "PROPFIND" {
        request = request.header("Depth", "1");
    }
    Session::send(request).await
}

/// REST: the node of the note.
async fn rest(session: &Session, address: Option<&str>) -> Reply {
    from(session, "GET", &format!("/a/tree{}", enc(NOTE)), address).await
}

/// `/io`: the note's content.
async fn io(session: &Session, address: Option<&str>) -> Reply {
    from(session, "GET", &format!("/io{}", enc(NOTE)), address).await
}

/// WebDAV: a PROPFIND of the folder and a GET of the note; both statuses.
async fn webdav(session: &Session, address: Option<&str>) -> (u16, u16) {
    let listed = from(session, "PROPFIND", "/dav/personal-files/", address).await;
    let read = from(session, "GET", &format!("/dav{}", enc(NOTE)), address).await;
    if read.status == 200 {
        assert_eq!(read.text(), "a note");
    }
    if read.status == 401 {
        assert_eq!(read.header("WWW-Authenticate").as_deref(), Some(r#"Basic realm="cells""#));
    }
    (listed.status, read.status)
}

/// The four ways in over HTTP with one token: REST Bearer, REST Basic, `/io`, WebDAV
/// Bearer and Basic; their statuses, from `address`.
async fn http_statuses(server: &TestServer, token: &str, address: Option<&str>) -> [u16; 7] {
    let (bearer, basic) = (server.bearer(token), server.basic("alice", token));
    let (dav_list, dav_get) = webdav(&bearer, address).await;
    let (basic_list, basic_get) = webdav(&basic, address).await;
    [
        rest(&bearer, address).await.status,
        rest(&basic, address).await.status,
        io(&bearer, address).await.status,
        dav_list,
        dav_get,
        basic_list,
        basic_get,
    ]
}

const ALL_IN: [u16; 7] = [200, 200, 200, 207, 200, 207, 200];
const ALL_OUT: [u16; 7] = [401; 7];

#[tokio::test]
async fn an_address_limit_holds_on_rest_io_and_webdav_beside_an_allowed_address() {
    let fx = Fixture::new().await;
    let (token, uuid) =
        fx.token(json!({"Label": "office only", "AllowedIps": ["203.0.113.0/24", "2001:db8::5/32"]})).await;

    // From inside the blocks, IPv4, IPv6 and IPv4-mapped IPv6: every way in works.
    assert_eq!(http_statuses(&fx.server, &token, Some("203.0.113.7")).await, ALL_IN, "from 203.0.113.7");
    assert_eq!(io(&fx.server.bearer(&token), Some("203.0.113.7")).await.text(), "a note");
    assert_eq!(http_statuses(&fx.server, &token, Some("2001:db8:ffff::1")).await, ALL_IN, "from 2001:db8:ffff::1");
    assert_eq!(rest(&fx.server.bearer(&token), Some("::ffff:203.0.113.200")).await.status, 200, "IPv4-mapped");
    // A proxy chain: the last hop that is not a trusted proxy counts, not a forged first.
    let chain = Some("198.51.100.1, 203.0.113.9");
    assert_eq!(rest(&fx.server.bearer(&token), chain).await.status, 200);

    // From outside: the same 401 as a bad token, everywhere.
    for outside in ["198.51.100.9", "203.0.114.1", "2001:db9::1", "::ffff:198.51.100.9"] {
        assert_eq!(http_statuses(&fx.server, &token, Some(outside)).await, ALL_OUT, "from {outside}");
    }
    assert_refused(&rest(&fx.server.bearer(&token), Some("198.51.100.9")).await);
    let forged = Some("203.0.113.9, 198.51.100.1");
    assert_refused(&rest(&fx.server.bearer(&token), forged).await);
    // The proxy itself (no header: the peer 127.0.0.1) is outside the blocks too.
    assert_eq!(http_statuses(&fx.server, &token, None).await, ALL_OUT, "from the peer");
    // And again from inside: a refusal did not spoil the token.
    assert_eq!(rest(&fx.server.bearer(&token), Some("203.0.113.7")).await.status, 200);

    let listed = record_after_failure(&fx.admin, &uuid, |reason| reason == "address").await;
    assert_eq!(listed["AllowedIps"], json!(["203.0.113.0/24", "2001:db8::/32"]), "{listed}");
    assert_eq!(listed["AllowedVia"], json!([]), "{listed}");
    assert_eq!(listed["Status"], "active", "{listed}");
    assert_eq!(listed["LastUsedIp"], "203.0.113.7", "the client's address, not the proxy's: {listed}");
    // The owner sees the same fields.
    let own = records(&fx.alice, None).await;
    assert_eq!(own[0]["AllowedIps"], listed["AllowedIps"]);
    assert_eq!(own[0]["LastFailureReason"], "address");
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_address_opens_nothing() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let body = json!({"ExpiresAt": unix_now() + 3600, "AllowedIps": ["203.0.113.0/24"]});
    let created = admin.post("/a/auth/token/personal", &body).await.expect(200).json();
    let token = created["AccessToken"].as_str().unwrap();
    let bearer = server.bearer(token);
    assert_refused(&from(&bearer, "GET", "/a/workspaces", Some("203.0.113.7")).await);
    // The control: a block holding the real peer.
    let body = json!({"ExpiresAt": unix_now() + 3600, "AllowedIps": ["127.0.0.0/8"]});
    let created = admin.post("/a/auth/token/personal", &body).await.expect(200).json();
    let local = server.bearer(created["AccessToken"].as_str().unwrap());
    from(&local, "GET", "/a/workspaces", Some("198.51.100.9")).await.expect(200);
}

#[tokio::test]
async fn an_address_limit_holds_on_sftp() {
    let fx = Fixture::new().await;
    let (local, local_uuid) = fx.token(json!({"Label": "loopback", "AllowedIps": ["127.0.0.0/8"]})).await;
    let (elsewhere, elsewhere_uuid) = fx.token(json!({"Label": "elsewhere", "AllowedIps": ["192.0.2.0/24"]})).await;
    assert!(fx.sftp_opens(&local), "a token limited to 127.0.0.0/8 opens a session from 127.0.0.1");
    assert!(!fx.sftp_opens(&elsewhere), "a token limited to 192.0.2.0/24 opens no session from 127.0.0.1");
    let refused = record_after_failure(&fx.admin, &elsewhere_uuid, |reason| reason == "address").await;
    assert_eq!(refused["AllowedIps"], json!(["192.0.2.0/24"]));
    assert!(refused["LastUsedAt"].is_null(), "{refused}");
    let used = record(&fx.admin, &local_uuid).await;
    assert!(used["LastFailureReason"].is_null(), "{used}");
    // Over HTTP the same token from 192.0.2.x is let in: the limit is the address alone.
    assert_eq!(rest(&fx.server.bearer(&elsewhere), Some("192.0.2.77")).await.status, 200);
}

#[tokio::test]
async fn a_protocol_limit_lets_a_token_through_its_protocols_only() {
    let fx = Fixture::new().await;
    let bearer = |token: &str| fx.server.bearer(token);

    // SFTP only.
    let (sftp, sftp_uuid) = fx.token(json!({"Label": "sftp only", "AllowedVia": ["sftp"]})).await;
    assert!(fx.sftp_opens(&sftp), "an SFTP-only token opens an SFTP session");
    assert_eq!(http_statuses(&fx.server, &sftp, None).await, ALL_OUT);
    assert_refused(&rest(&bearer(&sftp), None).await);
    assert_refused(&io(&bearer(&sftp), None).await);
    let listed = record_after_failure(&fx.admin, &sftp_uuid, |reason| reason == "protocol").await;
    assert_eq!(listed["AllowedVia"], json!(["sftp"]), "{listed}");
    assert_eq!(listed["AllowedIps"], json!([]), "{listed}");
    assert_eq!(listed["LastUsedVia"], "sftp", "{listed}");

    // /io only.
    let (io_only, io_uuid) = fx.token(json!({"Label": "io only", "AllowedVia": ["io"]})).await;
    let reply = io(&bearer(&io_only), None).await.expect(200);
    assert_eq!(reply.text(), "a note");
    bearer(&io_only).upload("/personal-files/through io.txt", "io").await.expect(201);
    assert_refused(&rest(&bearer(&io_only), None).await);
    assert_eq!(webdav(&bearer(&io_only), None).await, (401, 401));
    assert_eq!(webdav(&fx.server.basic("alice", &io_only), None).await, (401, 401));
    assert!(!fx.sftp_opens(&io_only), "an /io-only token opens no SFTP session");
    let listed = record_after_failure(&fx.admin, &io_uuid, |reason| reason == "protocol").await;
    assert_eq!(listed["AllowedVia"], json!(["io"]));

    // REST and WebDAV (named twice, in another case and order): shown once each, in order.
    let (two, _) = fx.token(json!({"Label": "rest+dav", "AllowedVia": ["WebDAV", "rest", "webdav"]})).await;
    rest(&bearer(&two), None).await.expect(200);
    assert_eq!(webdav(&bearer(&two), None).await, (207, 200));
    assert_eq!(webdav(&fx.server.basic("alice", &two), None).await, (207, 200));
    assert_refused(&io(&bearer(&two), None).await);
    assert!(!fx.sftp_opens(&two));
    let listed = records(&fx.alice, None).await.into_iter().find(|t| t["Label"] == "rest+dav").unwrap();
    assert_eq!(listed["AllowedVia"], json!(["rest", "webdav"]), "{listed}");

    // Both limits: a use must be within each.
    let (both, both_uuid) =
        fx.token(json!({"Label": "both", "AllowedVia": ["io"], "AllowedIps": ["203.0.113.0/24"]})).await;
    io(&bearer(&both), Some("203.0.113.1")).await.expect(200);
    assert_refused(&io(&bearer(&both), Some("198.51.100.1")).await);
    record_after_failure(&fx.admin, &both_uuid, |reason| reason == "address").await;
    assert_refused(&rest(&bearer(&both), Some("203.0.113.1")).await);
    // Refusals are written at most once a minute per reason: another reason shows at once.
    record_after_failure(&fx.admin, &both_uuid, |reason| reason == "protocol").await;

    // An admin's impersonation takes the same limits.
    let body = json!({"UserLogin": "alice", "Label": "from admin", "ExpiresAt": unix_now() + 3600,
                      "AllowedVia": ["webdav"], "AllowedIps": ["2001:db8::/32"]});
    let created = fx.admin.post("/a/auth/token/impersonate", &body).await.expect(200).json();
    let made = created["AccessToken"].as_str().unwrap();
    assert_eq!(webdav(&bearer(made), Some("2001:db8::1")).await, (207, 200));
    assert_eq!(webdav(&bearer(made), Some("198.51.100.1")).await, (401, 401));
    assert_refused(&rest(&bearer(made), Some("2001:db8::1")).await);
    let listed = record(&fx.admin, created["Uuid"].as_str().unwrap()).await;
    assert_eq!((&listed["AllowedVia"], &listed["AllowedIps"]), (&json!(["webdav"]), &json!(["2001:db8::/32"])));
}

#[tokio::test]
async fn bad_limits_are_refused_with_a_clear_message_and_no_token() {
    let fx = Fixture::new().await;
    let expires = unix_now() + 3600;
    let count = || async { records(&fx.admin, None).await.len() };
    let before = count().await;
    let many: Vec<String> = (0..65).map(|i| format!("10.{i}.0.0/16")).collect();
    let cases: [(Value, &str); 9] = [
        (json!({"AllowedIps": ["10.0.0.0/33"]}), "10.0.0.0/33"),
        (json!({"AllowedIps": ["10.0.0.0/8", "not an address"]}), "not an address"),
        (json!({"AllowedIps": ["10.0.0/8"]}), "10.0.0/8"),
        (json!({"AllowedIps": ["fd00::/129"]}), "fd00::/129"),
        (json!({"AllowedIps": [""]}), "not an address"),
        (json!({"AllowedVia": ["ftp"]}), "ftp"),
        (json!({"AllowedVia": ["sftp", "smb"]}), "smb"),
        (json!({"AllowedIps": many}), "64"),
        (json!({"AllowedIps": "10.0.0.0/8"}), "AllowedIps"),
    ];
    for (limits, named) in &cases {
        let mut body = json!({"Label": "never made", "ExpiresAt": expires});
        body.as_object_mut().unwrap().extend(limits.as_object().unwrap().clone());
        for (session, route) in [(&fx.alice, "/a/auth/token/personal"), (&fx.admin, "/a/auth/token/impersonate")] {
            let mut body = body.clone();
            if route.ends_with("impersonate") {
                body["UserLogin"] = json!("alice");
            }
            let reply = session.post(route, &body).await.expect_error(400, "BadRequest");
            let detail = reply.json()["Detail"].as_str().unwrap().to_owned();
            assert!(detail.contains(named), "{route} {limits}: the message names {named:?}: {detail}");
        }
    }
    let refused = fx.alice.post("/a/auth/token/personal", &json!({"ExpiresAt": expires, "AllowedVia": ["ftp"]})).await;
    let detail = refused.json()["Detail"].as_str().unwrap().to_owned();
    for name in ["rest", "io", "webdav", "sftp"] {
        assert!(detail.contains(name), "the message says which protocols there are: {detail}");
    }
    assert_eq!(count().await, before, "no token was made by a refused request");
    assert!(!fx.server.log().contains("cpat_"), "no token in the log");

    // The controls: 64 blocks are allowed, and so is every protocol by name.
    let sixty_four: Vec<String> = (0..64).map(|i| format!("10.{i}.0.0/16")).collect();
    let (token, uuid) =
        fx.token(json!({"AllowedIps": sixty_four, "AllowedVia": ["rest", "io", "webdav", "sftp"]})).await;
    assert_eq!(count().await, before + 1);
    let listed = record(&fx.admin, &uuid).await;
    assert_eq!(listed["AllowedIps"].as_array().unwrap().len(), 64);
    assert_eq!(listed["AllowedVia"], json!(["rest", "io", "webdav", "sftp"]));
    rest(&fx.server.bearer(&token), Some("10.63.255.255")).await.expect(200);
    assert_refused(&rest(&fx.server.bearer(&token), Some("10.64.0.0")).await);
}

/// `Cells-Token-Expires-At` as unix seconds, read by GNU `date` (a parser of its own),
/// after checking its shape is RFC 3339 in UTC.
pub fn expires_header(reply: &Reply) -> Option<i64> {
    let value = reply.header("Cells-Token-Expires-At")?;
    let shape = value.len() == 20
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    assert!(shape, "not RFC 3339: {value:?}");
    let output = Command::new("date").args(["-u", "-d", &value, "+%s"]).output().expect("date (coreutils)");
    assert!(output.status.success(), "date cannot read {value:?}");
    Some(String::from_utf8(output.stdout).unwrap().trim().parse().unwrap())
}

#[tokio::test]
async fn a_token_expiring_within_a_week_says_when_on_every_answer() {
    let fx = Fixture::new().await;
    let now = unix_now();
    let (soon, soon_uuid) = fx.token(json!({"Label": "a day", "ExpiresAt": now + 86_400})).await;
    let (later, _) = fx.token(json!({"Label": "a month", "ExpiresAt": now + 30 * 86_400})).await;
    let (edge_in, _) = fx.token(json!({"ExpiresAt": now + 7 * 86_400 - 120})).await;
    let (edge_out, _) = fx.token(json!({"ExpiresAt": now + 7 * 86_400 + 120})).await;
    let (sliding, _) = fx.token(json!({"Label": "sliding", "AutoRefresh": 3600})).await;

    let expires_at = record(&fx.admin, &soon_uuid).await["ExpiresAt"].as_i64().unwrap();
    assert_eq!(expires_at, now + 86_400);
    let bearer = fx.server.bearer(&soon);
    for reply in [
        rest(&bearer, None).await.expect(200),
        io(&bearer, None).await.expect(200),
        dav(&bearer, "PROPFIND", "/personal-files/", &[("Depth", "0")], b"").await.expect(207),
        dav(&fx.server.basic("alice", &soon), "GET", NOTE, &[], b"").await.expect(200),
    ] {
        assert_eq!(expires_header(&reply), Some(expires_at), "status {}", reply.status);
    }
    // An auto-refresh token in use never lapses: no warning for a 1 h window without a
    // cap; with a cap within the week, the cap.
    let sliding_reply = fx.server.bearer(&sliding).stat(NOTE).await.expect(200);
    assert_eq!(expires_header(&sliding_reply), None, "an uncapped auto-refresh token is not expiring");
    let (capped, _) = fx.token(json!({"AutoRefresh": 3600, "ExpiresAt": now + 2 * 86_400})).await;
    let capped_reply = fx.server.bearer(&capped).stat(NOTE).await.expect(200);
    assert_eq!(expires_header(&capped_reply), Some(now + 2 * 86_400), "a capped one warns of its cap");
    assert!(expires_header(&fx.server.bearer(&edge_in).stat(NOTE).await.expect(200)).is_some());

    // A month away, just over a week away, or not a token: no header.
    for (what, reply) in [
        ("a month", fx.server.bearer(&later).stat(NOTE).await.expect(200)),
        ("a month, /io", io(&fx.server.bearer(&later), None).await.expect(200)),
        ("a month, WebDAV", dav(&fx.server.basic("alice", &later), "GET", NOTE, &[], b"").await.expect(200)),
        ("a week and 2 min", fx.server.bearer(&edge_out).stat(NOTE).await.expect(200)),
        ("a password login", fx.alice.stat(NOTE).await.expect(200)),
        ("the password, Basic", fx.server.basic("alice", ALICE_PASSWORD).stat(NOTE).await.expect(200)),
        ("the password, WebDAV", dav(&fx.server.basic("alice", ALICE_PASSWORD), "GET", NOTE, &[], b"").await),
        ("no credentials", fx.server.anonymous().stat(NOTE).await),
    ] {
        assert_eq!(reply.header("Cells-Token-Expires-At"), None, "{what}");
    }
    // A refused token says nothing of itself.
    let (limited, _) = fx.token(json!({"ExpiresAt": now + 3600, "AllowedVia": ["sftp"]})).await;
    let refused = fx.server.bearer(&limited).stat(NOTE).await;
    assert_refused(&refused);
    assert_eq!(refused.header("Cells-Token-Expires-At"), None);
}

/// A token held to addresses or protocols manages no credentials: otherwise it could
/// make a token (or register a key) without its limits, usable from anywhere. The same
/// user's unlimited token can, beside it.
#[tokio::test]
async fn a_limited_token_cannot_make_an_unlimited_one() {
    let f = Fixture::new().await;
    let expires = unix_now() + 3_600;
    let (limited, _) = f.token(json!({"AllowedIps": ["127.0.0.0/8"]})).await;
    let (via_rest, _) = f.token(json!({"AllowedVia": ["rest"]})).await;
    let (open, _) = f.token(json!({})).await;
    let new = json!({"Label": "escape", "ExpiresAt": expires});
    for token in [&limited, &via_rest] {
        let session = f.server.bearer(token);
        // The token itself works here (a control for the refusals below).
        assert_eq!(rest(&session, None).await.status, 200);
        let refused = session.post("/a/auth/token/personal", &new).await;
        assert_eq!(refused.status, 403, "{}", refused.text());
        assert!(refused.text().contains("addresses or protocols"), "{}", refused.text());
        assert_eq!(session.post("/a/auth/tokens", &json!({})).await.status, 403);
    }
    assert_eq!(f.server.bearer(&open).post("/a/auth/token/personal", &new).await.status, 200);

    // An admin's limited token does not impersonate either; their password does.
    let created = f
        .admin
        .post("/a/auth/token/personal", &json!({"ExpiresAt": expires, "AllowedVia": ["rest"]}))
        .await
        .expect(200)
        .json();
    let admin_limited = f.server.bearer(created["AccessToken"].as_str().unwrap());
    let impersonate = json!({"UserLogin": "alice", "ExpiresAt": expires});
    assert_eq!(admin_limited.post("/a/auth/token/impersonate", &impersonate).await.status, 403);
    assert_eq!(f.admin.post("/a/auth/token/impersonate", &impersonate).await.status, 200);
    let listed = records(&f.admin, Some("alice")).await;
    assert_eq!(listed.iter().filter(|t| t["Label"] == "escape").count(), 1, "only the open token's creation");
}
