//! Client mistakes on every route: the right status, the one JSON error body
//! `{Code, Title, Detail}`, and never a 5xx. Requests go over raw TCP so that targets
//! reach the server exactly as written (`..`, `%zz`), which a URL parser would "fix".

use serde_json::json;

use crate::support::{Reply, TestServer};

const JSON: Option<&str> = Some("application/json");
const TEXT: Option<&str> = Some("text/plain");

struct Bad {
    method: &'static str,
    target: String,
    content_type: Option<&'static str>,
    body: String,
    status: u16,
    code: &'static str,
}

fn bad(method: &'static str, target: &str, status: u16, code: &'static str) -> Bad {
    Bad { method, target: target.to_owned(), content_type: None, body: String::new(), status, code }
}

fn bad_json(method: &'static str, target: &str, body: &str, status: u16, code: &'static str) -> Bad {
    Bad { content_type: JSON, body: body.to_owned(), ..bad(method, target, status, code) }
}

fn send(server: &TestServer, auth: &str, method: &str, target: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
    let mut headers = vec![("Authorization", auth)];
    if let Some(content_type) = content_type {
        headers.push(("Content-Type", content_type));
    }
    server.raw(method, target, &headers, body)
}

fn routing_and_administration() -> Vec<Bad> {
    let long_login = "a".repeat(65);
    vec![
        bad("GET", "/nope", 404, "NotFound"),
        bad("GET", "/a/nope", 404, "NotFound"),
        bad("GET", "/a/nodes/", 404, "NotFound"),
        bad("DELETE", "/healthz", 405, "MethodNotAllowed"),
        bad("POST", "/metrics", 405, "MethodNotAllowed"),
        bad("PATCH", "/a/workspaces", 405, "MethodNotAllowed"),
        bad("PUT", "/a/users", 405, "MethodNotAllowed"),
        bad("POST", "/io/common-files/x", 405, "MethodNotAllowed"),
        bad("PATCH", "/io/common-files/x", 405, "MethodNotAllowed"),
        bad("POST", "/a/tree/common-files", 405, "MethodNotAllowed"),
        bad("GET", "/a/tree/move", 405, "MethodNotAllowed"),
        bad("DELETE", "/a/nodes/00000000-0000-0000-0000-000000000000", 405, "MethodNotAllowed"),
        // Users.
        bad_json("POST", "/a/users", "{", 400, "BadRequest"),
        bad_json("POST", "/a/users", "", 400, "BadRequest"),
        bad_json("POST", "/a/users", "null", 400, "BadRequest"),
        bad_json("POST", "/a/users", "[]", 400, "BadRequest"),
        bad_json("POST", "/a/users", "{}", 400, "BadRequest"),
        bad_json("POST", "/a/users", r#"{"Login": 5, "Password": "long-enough"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/users", r#"{"Login": "x1", "Password": "long-enough", "Extra": 1}"#, 400, "BadRequest"),
        bad_json("POST", "/a/users", r#"{"login": "x1", "Password": "long-enough"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/users", r#"{"Login": "a b", "Password": "long-enough"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/users", r#"{"Login": "", "Password": "long-enough"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/users", r#"{"Login": "a:b", "Password": "long-enough"}"#, 400, "BadRequest"),
        bad_json(
            "POST",
            "/a/users",
            &json!({"Login": long_login, "Password": "long-enough"}).to_string(),
            400,
            "BadRequest",
        ),
        bad_json("POST", "/a/users", r#"{"Login": "x1", "Password": "short"}"#, 400, "BadRequest"),
        bad_json(
            "POST",
            "/a/users",
            r#"{"Login": "x1", "Password": "long-enough", "Profile": "root"}"#,
            400,
            "BadRequest",
        ),
        bad_json("POST", "/a/users", r#"{"Login": "x1", "DisplayName": "a\u0007b"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/users", r#"{"Login": "alice", "Password": "long-enough"}"#, 409, "Conflict"),
        Bad { content_type: TEXT, ..bad_json("POST", "/a/users", r#"{"Login": "x1"}"#, 415, "UnsupportedMediaType") },
        Bad { content_type: None, ..bad_json("POST", "/a/users", r#"{"Login": "x1"}"#, 415, "UnsupportedMediaType") },
        bad("GET", "/a/users?limit=abc", 400, "BadRequest"),
        bad("GET", "/a/users?offset=x", 400, "BadRequest"),
        bad("GET", "/a/users?bogus=1", 400, "BadRequest"),
        bad("GET", "/a/users/nobody", 404, "NotFound"),
        bad_json("PATCH", "/a/users/nobody", "{}", 404, "NotFound"),
        bad("DELETE", "/a/users/nobody", 404, "NotFound"),
        bad_json("PATCH", "/a/users/alice", r#"{"Locked": "yes"}"#, 400, "BadRequest"),
        bad_json("PATCH", "/a/users/alice", r#"{"Profile": "root"}"#, 400, "BadRequest"),
        bad_json("PATCH", "/a/users/alice", r#"{"Password": "short"}"#, 400, "BadRequest"),
        bad_json("PATCH", "/a/users/alice", r#"{"Nope": 1}"#, 400, "BadRequest"),
        Bad { content_type: TEXT, ..bad_json("PATCH", "/a/users/alice", "{}", 415, "UnsupportedMediaType") },
        bad_json("PATCH", "/a/users/admin", r#"{"Locked": true}"#, 409, "Conflict"),
        bad("DELETE", "/a/users/admin", 409, "Conflict"),
        // Workspaces and grants.
        bad_json("POST", "/a/workspaces", r#"{"Slug": "Upper"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": "has space"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": "-x"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": ""}"#, 400, "BadRequest"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": "ç"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": 5}"#, 400, "BadRequest"),
        bad_json("POST", "/a/workspaces", r#"{"Label": "no slug"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": "ok", "Owner": "x"}"#, 400, "BadRequest"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": "common-files"}"#, 409, "Conflict"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": "personal-files"}"#, 409, "Conflict"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": "create"}"#, 409, "Conflict"),
        bad_json("POST", "/a/workspaces", r#"{"Slug": "ws"}"#, 409, "Conflict"),
        Bad {
            content_type: TEXT,
            ..bad_json("POST", "/a/workspaces", r#"{"Slug": "t"}"#, 415, "UnsupportedMediaType")
        },
        bad("GET", "/a/workspaces/nope", 404, "NotFound"),
        bad("DELETE", "/a/workspaces/nope", 404, "NotFound"),
        bad("DELETE", "/a/workspaces/common-files", 403, "Forbidden"),
        bad_json("PUT", "/a/workspaces/ws/grants/alice", r#"{"Rights": "x"}"#, 400, "BadRequest"),
        bad_json("PUT", "/a/workspaces/ws/grants/alice", r#"{"Rights": "w"}"#, 400, "BadRequest"),
        bad_json("PUT", "/a/workspaces/ws/grants/alice", r#"{"Rights": ["r"]}"#, 400, "BadRequest"),
        bad_json("PUT", "/a/workspaces/ws/grants/alice", "{}", 400, "BadRequest"),
        bad_json("PUT", "/a/workspaces/ws/grants/alice", r#"{"Rights": "r", "X": 1}"#, 400, "BadRequest"),
        Bad {
            content_type: TEXT,
            ..bad_json("PUT", "/a/workspaces/ws/grants/alice", "{}", 415, "UnsupportedMediaType")
        },
        bad_json("PUT", "/a/workspaces/ws/grants/nobody", r#"{"Rights": "r"}"#, 404, "NotFound"),
        bad_json("PUT", "/a/workspaces/nope/grants/alice", r#"{"Rights": "r"}"#, 404, "NotFound"),
        bad("DELETE", "/a/workspaces/ws/grants/alice", 404, "NotFound"),
        bad("DELETE", "/a/workspaces/ws/grants/nobody", 404, "NotFound"),
    ]
}

fn paths_and_content() -> Vec<Bad> {
    let long_name = "n".repeat(256);
    let long_path = format!("/personal-files/{}", vec!["d".repeat(200); 21].join("/"));
    let mut cases = Vec::new();
    for prefix in ["/a/tree", "/io"] {
        for bad_path in [
            "/personal-files/../x".to_owned(),
            "/personal-files/./x".to_owned(),
            "/personal-files/x/..".to_owned(),
            "/personal-files//x".to_owned(),
            "//personal-files/x".to_owned(),
            "/personal-files/%2e%2e/x".to_owned(),
            "/personal-files/a%00b".to_owned(),
            "/personal-files/a%0Ab".to_owned(),
            "/personal-files/a%0Db".to_owned(),
            "/personal-files/a%7Fb".to_owned(),
            "/personal-files/a%09b".to_owned(),
            format!("/personal-files/{long_name}"),
            long_path.clone(),
            "/personal-files/%zz".to_owned(),
            "/personal-files/%2".to_owned(),
            "/personal-files/%C3".to_owned(),
            "/personal-files/%FF%FE".to_owned(),
        ] {
            let methods: &[&str] = if prefix == "/io" { &["GET", "PUT", "DELETE"] } else { &["GET", "DELETE"] };
            for &method in methods {
                cases.push(bad(method, &format!("{prefix}{bad_path}"), 400, "BadRequest"));
            }
        }
    }
    let uuid = "0b6e3c2a-9a55-4f6b-8d2a-6c0c7b1f9e01";
    cases.extend([
        bad("GET", "/a/tree/nows/x", 404, "NotFound"),
        bad("GET", "/a/tree/personal-files/nothing", 404, "NotFound"),
        bad("GET", "/a/tree/ws", 404, "NotFound"),
        bad("GET", "/a/tree/personal-files?children=true&limit=0", 400, "BadRequest"),
        bad("GET", "/a/tree/personal-files?children=true&limit=10001", 400, "BadRequest"),
        bad("GET", "/a/tree/personal-files?children=true&limit=-5", 400, "BadRequest"),
        bad("GET", "/a/tree/personal-files?children=true&offset=-1", 400, "BadRequest"),
        bad("GET", "/a/tree/personal-files?children=true&limit=abc", 400, "BadRequest"),
        bad("GET", "/a/tree/personal-files?children=true&bogus=1", 400, "BadRequest"),
        bad("GET", "/a/tree/personal-files?children=maybe", 400, "BadRequest"),
        bad("GET", "/a/tree/personal-files?limit=5", 400, "BadRequest"),
        bad("GET", "/a/tree/personal-files/f.txt?children=true", 400, "BadRequest"),
        bad("DELETE", "/a/tree/personal-files", 403, "Forbidden"),
        bad("DELETE", "/a/tree/common-files", 403, "Forbidden"),
        bad("DELETE", "/a/tree/personal-files/nothing", 404, "NotFound"),
        bad("GET", "/a/nodes/not-a-uuid", 400, "BadRequest"),
        bad("GET", "/a/nodes/123", 400, "BadRequest"),
        bad("GET", &format!("/a/nodes/{uuid}"), 404, "NotFound"),
        bad("GET", "/io/personal-files", 409, "Conflict"),
        bad("GET", "/io/personal-files/dir", 409, "Conflict"),
        bad("GET", "/io/nows/x", 404, "NotFound"),
        bad("PUT", "/io/personal-files", 403, "Forbidden"),
        bad("PUT", "/io/common-files", 403, "Forbidden"),
        bad("PUT", "/io/personal-files/missing/x", 409, "Conflict"),
        bad("PUT", "/io/personal-files/f.txt/x", 409, "Conflict"),
        bad("PUT", "/io/personal-files/dir", 409, "Conflict"),
        bad("PUT", "/io/ws/x", 404, "NotFound"),
        bad("DELETE", "/io/personal-files", 403, "Forbidden"),
        bad("DELETE", "/io/personal-files/nothing", 404, "NotFound"),
    ]);
    let create = "/a/tree/create";
    for (body, status, code) in [
        (json!({"Path": "personal-files/", "Type": "LEAF"}), 403, "Forbidden"),
        (json!({"Path": "/personal-files/x", "Type": "FILE"}), 400, "BadRequest"),
        (json!({"Path": "/personal-files/x", "Type": "leaf"}), 400, "BadRequest"),
        (json!({"Path": "/personal-files/x"}), 400, "BadRequest"),
        (json!({"Type": "LEAF"}), 400, "BadRequest"),
        (json!({"Path": 5, "Type": "LEAF"}), 400, "BadRequest"),
        (json!({"Path": "/personal-files/x", "Type": "LEAF", "Size": 1}), 400, "BadRequest"),
        (json!({"Path": "/personal-files/../x", "Type": "LEAF"}), 400, "BadRequest"),
        (json!({"Path": "/personal-files/a\u{0}b", "Type": "LEAF"}), 400, "BadRequest"),
        (json!({"Path": "/personal-files/a\nb", "Type": "LEAF"}), 400, "BadRequest"),
        (json!({"Path": "/personal-files//x", "Type": "LEAF"}), 400, "BadRequest"),
        (json!({"Path": format!("/personal-files/{long_name}"), "Type": "LEAF"}), 400, "BadRequest"),
        (json!({"Path": long_path, "Type": "COLLECTION"}), 400, "BadRequest"),
        (json!({"Path": "/", "Type": "COLLECTION"}), 400, "BadRequest"),
        (json!({"Path": "", "Type": "COLLECTION"}), 400, "BadRequest"),
        (json!({"Path": "/personal-files/missing/x", "Type": "LEAF"}), 409, "Conflict"),
        (json!({"Path": "/personal-files/f.txt", "Type": "LEAF"}), 409, "Conflict"),
        (json!({"Path": "/personal-files/dir", "Type": "COLLECTION"}), 409, "Conflict"),
        (json!({"Path": "/personal-files/f.txt/x", "Type": "LEAF"}), 409, "Conflict"),
        (json!({"Path": "/personal-files", "Type": "COLLECTION"}), 403, "Forbidden"),
        (json!({"Path": "/nows/x", "Type": "LEAF"}), 404, "NotFound"),
    ] {
        cases.push(bad_json("POST", create, &body.to_string(), status, code));
    }
    cases.push(Bad { content_type: TEXT, ..bad_json("POST", create, "{}", 415, "UnsupportedMediaType") });
    for route in ["/a/tree/move", "/a/tree/copy"] {
        for (body, status, code) in [
            (json!({"From": "/personal-files/f.txt"}), 400, "BadRequest"),
            (json!({"To": "/personal-files/y"}), 400, "BadRequest"),
            (json!({"From": "/personal-files/f.txt", "To": "/personal-files/y", "Force": true}), 400, "BadRequest"),
            (json!({"From": "/personal-files/f.txt", "To": "/personal-files/../y"}), 400, "BadRequest"),
            (json!({"From": "/personal-files/f.txt", "To": "relative"}), 403, "Forbidden"),
            (json!({"From": "/personal-files/dir", "To": "/personal-files/dir/sub"}), 400, "BadRequest"),
            (json!({"From": "/personal-files/dir", "To": "/personal-files/dir"}), 400, "BadRequest"),
            (json!({"From": "/personal-files", "To": "/common-files/x"}), 403, "Forbidden"),
            (json!({"From": "/personal-files/nothing", "To": "/personal-files/y"}), 404, "NotFound"),
            (json!({"From": "/nows/x", "To": "/personal-files/y"}), 404, "NotFound"),
            (json!({"From": "/personal-files/f.txt", "To": "/nows/y"}), 404, "NotFound"),
            (json!({"From": "/personal-files/f.txt", "To": "/personal-files/dir"}), 409, "Conflict"),
            (json!({"From": "/personal-files/f.txt", "To": "/personal-files/missing/y"}), 409, "Conflict"),
            (json!({"From": "/personal-files/f.txt", "To": "/personal-files"}), 403, "Forbidden"),
        ] {
            cases.push(bad_json("POST", route, &body.to_string(), status, code));
        }
    }
    cases
}

/// A server with what the cases name: alice, a workspace `ws`, and the admin's
/// `/personal-files/f.txt` and `/personal-files/dir`.
async fn with_fixtures() -> TestServer {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    admin.post("/a/workspaces", &json!({"Slug": "ws"})).await.expect(201);
    admin.upload("/personal-files/f.txt", "0123456789").await.expect(201);
    admin.mkdir("/personal-files/dir").await.expect(201);
    server
}

#[tokio::test]
async fn every_mistake_gets_its_status_and_the_json_error_body() {
    let server = with_fixtures().await;
    let admin = server.admin().await;
    let auth =
        "Basic ".to_owned() + &crate::support::base64(format!("admin:{}", crate::support::ADMIN_PASSWORD).as_bytes());

    let mut failures = Vec::new();
    for case in routing_and_administration().into_iter().chain(paths_and_content()) {
        let reply = send(&server, &auth, case.method, &case.target, case.content_type, case.body.as_bytes());
        let code = serde_json::from_slice::<serde_json::Value>(&reply.body).ok().map(|b| b["Code"].clone());
        let shape = reply.is_error_shape();
        if reply.status != case.status || code != Some(json!(case.code)) || !shape {
            let target: String = case.target.chars().take(80).collect();
            failures.push(format!("{} {target} {}: got {} {}", case.method, case.body, reply.status, reply.text()));
        }
    }
    assert!(failures.is_empty(), "{} mistakes answered wrongly:\n{}", failures.len(), failures.join("\n"));

    // Content errors, and the caller's kind.
    let range = [("Authorization", auth.as_str()), ("Range", "bytes=100-")];
    let refused = server.raw("GET", "/io/personal-files/f.txt", &range, b"").expect_error(416, "RangeNotSatisfiable");
    assert_eq!(refused.header("Content-Range").as_deref(), Some("bytes */10"));
    let if_match = [("Authorization", auth.as_str()), ("If-Match", "\"nope\"")];
    server.raw("GET", "/io/personal-files/f.txt", &if_match, b"").expect_error(412, "PreconditionFailed");
    server.raw("PUT", "/io/personal-files/f.txt", &if_match, b"x").expect_error(412, "PreconditionFailed");
    server.raw("GET", "/a/users", &[], b"").expect_error(401, "Unauthorized");
    let alice = server.basic("alice", "alice-password");
    alice.get("/a/users").await.expect_error(403, "Forbidden");
    // Stat below a file: not found (or a conflict), never a 5xx.
    let below = admin.get("/a/tree/personal-files/f.txt/child").await;
    assert!(matches!(below.status, 404 | 409), "{}", below.status);
    below.assert_error_shape();
    // The oauth endpoint's errors have the same shape.
    let oauth = server.raw("POST", "/oauth2/token", &[("Content-Type", "application/json")], b"{}");
    assert_eq!(oauth.status, 400);
    oauth.assert_error_shape();
    assert_eq!(oauth.json()["error"], "invalid_request");
}

#[tokio::test]
async fn no_client_mistake_is_a_server_error() {
    let server = with_fixtures().await;
    let admin = server.admin().await;
    let token = server.login_grant("admin", crate::support::ADMIN_PASSWORD).await;
    let auth = format!("Bearer {}", token["access_token"].as_str().unwrap());

    let targets = [
        "/",
        "/healthz",
        "/metrics",
        "/oauth2/token",
        "/a/users",
        "/a/users/alice",
        "/a/users/%zz",
        "/a/users/%FF",
        "/a/users?limit=99999999999999999999",
        "/a/workspaces",
        "/a/workspaces/ws",
        "/a/workspaces/ws/grants/alice",
        "/a/workspaces/%FF/grants/%00",
        "/a/tree",
        "/a/tree/",
        "/a/tree/create",
        "/a/tree/move",
        "/a/tree/copy",
        "/a/tree/personal-files/f.txt",
        "/a/tree/personal-files/dir?children=true&offset=9223372036854775807",
        "/a/tree/personal-files/dir?children=true&offset=99999999999999999999",
        "/a/tree/personal-files/a%2Fb",
        "/a/tree/ws/x",
        "/a/tree/personal-files/%",
        "/a/nodes/%FF",
        "/a/nodes/00000000-0000-0000-0000-000000000000",
        "/io/",
        "/io",
        "/io/personal-files/dir/",
        "/io/personal-files/f.txt",
        "/io/personal-files/new%20file",
        "/io/common-files/%E2%82",
        "/io/personal-files/f.txt?x=%",
    ];
    let bodies: [&[u8]; 6] = [
        b"",
        b"{",
        b"null",
        b"[1, 2]",
        br#"{"Path": "/personal-files/z", "Type": "LEAF", "From": "/x", "To": "/y", "Login": "z", "Slug": "z"}"#,
        b"\xff\xfe\x00garbage",
    ];
    // How many answers of each status, to show what the sweep reached.
    let mut seen = std::collections::BTreeMap::<u16, usize>::new();
    for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "FOO"] {
        for target in targets {
            for (i, body) in bodies.iter().enumerate() {
                let content_type = if i % 2 == 0 { JSON } else { Some("application/x-www-form-urlencoded") };
                let reply = send(&server, &auth, method, target, content_type, body);
                *seen.entry(reply.status).or_default() += 1;
                assert!(reply.status < 500, "{method} {target} {body:?}: {} {}", reply.status, reply.text());
                if reply.status >= 400 && method != "HEAD" {
                    assert!(reply.is_error_shape(), "{method} {target}: {} {}", reply.status, reply.text());
                }
            }
        }
    }
    // "Never a 5xx" proves nothing if the requests never reached the routes: every one
    // turned away at the door (a credential gone bad: 401 or 403) or all lost (404). The
    // sweep went through as the admin, and its answers show the routes at work: content
    // served, bodies and types refused, unknown targets and methods told apart.
    assert!(!seen.contains_key(&401) && !seen.contains_key(&403), "turned away at the door: {seen:?}");
    for status in [200, 400, 404, 405, 415] {
        assert!(seen.contains_key(&status), "no {status} in the whole sweep: {seen:?}");
    }
    // The server is still well.
    server.anonymous().get("/healthz").await.expect(200);
    admin.get("/a/users/admin").await.expect(200);
}
