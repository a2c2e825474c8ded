//! The web console: its security and cache headers, and two scenarios in a real
//! Chromium driven by playwright-core (`crates/cli/tests/browser/*.mjs`, run with
//! `node`), each against its own server started by the harness. The scripts print one
//! `ok: ...` line per check and a `RESULT {...}` line; this side asserts their exit
//! status, reads the result, and checks through the REST API what the browser did.
//!
//! `scripts/test.sh` installs Chromium and the npm package when they are missing.
//! Screenshots of every page, at 1280 px and 390 px, land in
//! `<target>/console-screenshots/{admin,user}/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{ADMIN_PASSWORD, TestServer};

const CSP: &str = "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'";

fn assert_secure(reply: &crate::support::Reply, what: &str) {
    let header = |name: &str| reply.header(name).unwrap_or_else(|| panic!("{what}: no {name} header"));
    assert_eq!(header("content-security-policy"), CSP, "{what}");
    assert!(!header("content-security-policy").contains("unsafe-inline"), "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
}

#[tokio::test]
async fn console_pages_carry_security_and_cache_headers() {
    let server = TestServer::start();
    let anonymous = server.anonymous();

    let page = anonymous.get("/").await.expect(200);
    assert_secure(&page, "/");
    assert_eq!(page.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(page.header("cache-control").as_deref(), Some("no-cache"));
    assert!(page.text().contains("src=\"/assets/js/app.js\""), "{}", page.text());
    assert!(!page.text().contains("<script>") && !page.text().contains("style="), "nothing inline: {}", page.text());

    for (asset, kind) in [
        ("/assets/style.css", "text/css; charset=utf-8"),
        ("/assets/js/app.js", "text/javascript; charset=utf-8"),
        ("/assets/js/tokens.js", "text/javascript; charset=utf-8"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let reply = anonymous.get(asset).await.expect(200);
        assert_secure(&reply, asset);
        assert_eq!(reply.header("content-type").as_deref(), Some(kind), "{asset}");
        let etag = reply.header("etag").unwrap_or_else(|| panic!("{asset}: no ETag"));
        // Revalidation: the same ETag is a 304 without a body; another one is the file.
        let request = anonymous.request(reqwest::Method::GET, asset).header("If-None-Match", &etag);
        let cached = crate::support::Session::send(request).await.expect(304);
        assert!(cached.body.is_empty(), "{asset}");
        assert_eq!(cached.header("etag"), Some(etag.clone()));
        assert_secure(&cached, asset);
        let request = anonymous.request(reqwest::Method::GET, asset).header("If-None-Match", "\"0000\"");
        crate::support::Session::send(request).await.expect(200);
    }

    // HEAD works; an unknown asset is the usual JSON 404, still with the headers.
    let head = crate::support::Session::send(anonymous.request(reqwest::Method::HEAD, "/assets/js/api.js")).await;
    assert_eq!(head.status, 200);
    let missing = anonymous.get("/assets/js/nope.js").await.expect_error(404, "NotFound");
    assert_secure(&missing, "a missing asset");
    anonymous.get("/assets/../Cargo.toml").await.expect(404);
    anonymous.get("/assets/%2e%2e/Cargo.toml").await.expect(404);

    // The API keeps its own answers: JSON, not the console page.
    let api = anonymous.get("/a/users").await.expect(401);
    api.assert_error_shape();
    anonymous.get("/no-such-page").await.expect_error(404, "NotFound");
}

/// `crates/cli/tests/browser`, with its npm packages installed.
fn browser_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        dir.join("node_modules/playwright-core").is_dir() && Path::new(&chromium).exists(),
        "the browser tests need Chromium ({chromium}) and `npm ci` in {dir:?}: run `bash scripts/test.sh`, which installs both"
    );
    dir
}

fn screenshots() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp: the screenshots go beside it.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("console-screenshots")
}

/// Runs `node SCRIPT` with `env`; asserts success and returns the `RESULT` JSON.
pub fn run_scenario(server: &TestServer, script: &str, env: &[(&str, &str)]) -> Value {
    let dir = browser_dir();
    let output = Command::new("node")
        .arg(script)
        .current_dir(&dir)
        .env("CELLS_URL", server.url(""))
        .env("SCREENSHOT_DIR", screenshots())
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("node (Node.js 20 or later) runs the browser tests: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{}",
        output.status,
        server.log()
    );
    let checks = stdout.lines().filter(|l| l.starts_with("ok: ")).count();
    assert!(checks >= 10, "{script} made only {checks} checks:\n{stdout}");
    let result =
        stdout.lines().find_map(|l| l.strip_prefix("RESULT ")).unwrap_or_else(|| panic!("no RESULT:\n{stdout}"));
    serde_json::from_str(result).unwrap_or_else(|e| panic!("{e}: {result}"))
}

/// The pure formatting functions of the console (relative times, durations, sizes),
/// with node's test runner: no browser, no server.
#[test]
fn console_formats_times_durations_and_sizes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let output = Command::new("node")
        .args(["--experimental-default-type=module", "--test", "format.test.mjs"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("node (Node.js 20 or later) runs the console tests: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("# pass 4") && stdout.contains("# fail 0"), "{stdout}");
}

#[tokio::test]
async fn an_admin_gives_a_user_a_scoped_token_and_revokes_it_in_the_browser() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let folder = "/common-files/Team Ü #1";
    admin.mkdir(folder).await.expect(201);
    admin.upload(&format!("{folder}/inside.txt"), "inside the scope\n").await.expect(201);
    admin.upload("/common-files/outside 100%.txt", "outside\n").await.expect(201);
    let folder_uuid = admin.uuid(folder).await;

    let result = run_scenario(
        &server,
        "admin.mjs",
        &[
            ("CELLS_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("SCOPE_FOLDER", folder),
            ("OUTSIDE_FILE", "/common-files/outside 100%.txt"),
        ],
    );
    assert_eq!(result["inside"], 200, "{result}");
    assert_eq!(result["revoked"], 401, "{result}");

    // What the browser did, as the API tells it.
    let alice = admin.get("/a/users/alice").await.expect(200).json();
    assert_eq!(alice["DisplayName"], "Alice Ünal");
    assert_eq!(alice["Locked"], false, "locked, then unlocked");
    admin.get("/a/users/carol").await.expect(404);
    let tokens = admin.post("/a/auth/tokens", &json!({"ByUser": "alice"})).await.expect(200).json();
    let tokens = tokens["Tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let token = &tokens[0];
    assert_eq!(token["Label"], "Sync Team Ü #1");
    assert_eq!(token["AutoRefreshWindow"], 7200);
    assert!(token["MaxExpiresAt"].as_i64().is_some(), "capped: {token}");
    assert_eq!(token["Scopes"], json!([format!("node:{folder_uuid}:rw")]));
    assert_eq!(token["CreatedBy"], "admin");
    assert_eq!(token["Status"], "revoked");
    // The admin's own token, made in My tokens, read only on their personal files; still
    // active after alice's was revoked.
    let own = admin.post("/a/auth/tokens", &json!({"ByUser": "admin"})).await.expect(200).json();
    let own = own["Tokens"].as_array().unwrap();
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["Label"], "Admin’s own ü #2");
    assert_eq!(own[0]["Scopes"], json!([format!("node:{}:r", admin.uuid("/personal-files").await)]));
    assert_eq!(own[0]["Status"], "active");
    // The token wrote inside its scope before it was revoked.
    assert_eq!(admin.download(&format!("{folder}/written by token.txt")).await.expect(200).text(), "rw scope\n");
    assert!(!admin.names("/common-files").await.contains(&"outside 100%.txt.new".to_owned()));
}

#[tokio::test]
async fn a_user_uploads_and_makes_a_read_only_token_in_the_browser() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let bob = server.user(&admin, "bob", "bob-Pässword-2").await;

    let result = run_scenario(&server, "user.mjs", &[("CELLS_LOGIN", "bob"), ("CELLS_PASSWORD", "bob-Pässword-2")]);

    let folder = "/personal-files/Reports 2026 #1 ü";
    let file = format!("{folder}/q1 report 100% #1.txt");
    assert_eq!(result["uuid"].as_str(), Some(bob.uuid(&file).await.as_str()), "the UUID the page showed");
    assert_eq!(bob.download(&file).await.expect(200).text(), "quarterly figures: ü ✓\n".repeat(2000));
    assert_eq!(bob.names(folder).await, vec!["q1 report 100% #1.txt".to_owned()], "moved and deleted");
    assert_eq!(bob.download("/personal-files/renamed #2.bin").await.expect(200).text(), "chosen\n");
    let tokens = bob.post("/a/auth/tokens", &json!({})).await.expect(200).json();
    let tokens = tokens["Tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["Scopes"], json!([format!("node:{}:r", bob.uuid(folder).await)]));
    assert_eq!(tokens[0]["AutoRefreshWindow"], 0, "hard limit");
    assert_eq!(tokens[0]["Status"], "active");
}

#[tokio::test]
async fn a_user_rotates_limits_and_sees_a_leaked_token_in_the_browser() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let bob = server.user(&admin, "bob", "bob-Pässword-2").await;

    let result = run_scenario(
        &server,
        "life.mjs",
        &[("CELLS_LOGIN", "bob"), ("CELLS_PASSWORD", "bob-Pässword-2"), ("CELLS_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    assert_eq!(result["uses"], 2, "{result}");
    assert_eq!(result["io"], 401, "{result}");

    // What the browser did, as the API tells it: three tokens (the one beyond the policy
    // was not made), each with what the form gave it.
    let tokens = bob.post("/a/auth/tokens", &json!({})).await.expect(200).json();
    let tokens = tokens["Tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    let token = |label: &str| {
        tokens.iter().find(|t| t["Label"] == label).unwrap_or_else(|| panic!("no token {label:?} in {tokens:?}"))
    };
    let rotated = token("Rotate me ü #1");
    assert_eq!(rotated["Status"], "leaked", "{rotated}");
    assert_eq!(rotated["Leaked"]["By"], "127.0.0.1", "{rotated}");
    let rotated_at = rotated["RotatedAt"].as_i64().unwrap_or_else(|| panic!("rotated: {rotated}"));
    assert!(rotated["GraceEndsAt"].as_i64().is_some_and(|ends| ends <= rotated_at + 1), "no grace last: {rotated}");
    let elsewhere = token("Elsewhere only");
    assert_eq!(elsewhere["AllowedIps"], json!(["192.0.2.0/24"]), "{elsewhere}");
    assert_eq!(elsewhere["AllowedVia"], json!([]), "{elsewhere}");
    assert_eq!(elsewhere["BeyondPolicy"], json!(["MaxExpiresIn"]), "{elsewhere}");
    assert_eq!(elsewhere["LastUsedAt"], Value::Null, "refused uses are not uses: {elsewhere}");
    let loopback = token("Loopback, REST only");
    let ips = loopback["AllowedIps"].as_array().unwrap();
    assert!(ips.len() == 2 && ips[0] == "127.0.0.0/8", "{loopback}");
    assert_eq!(loopback["AllowedVia"], json!(["rest"]), "{loopback}");
    assert_eq!(loopback["ExpiresSoon"], true, "{loopback}");
    assert_eq!(loopback["LastUsedIp"], "127.0.0.1", "{loopback}");

    let policy = admin.get("/a/auth/token-policy").await.expect(200).json();
    assert_eq!(policy["MaxExpiresIn"], 7 * 86_400, "{policy}");
    assert_eq!(policy["SelfService"], true, "{policy}");
    assert_eq!(policy["SelfServiceUsers"], json!({"carol": true, "dave": true}), "{policy}");

    // The rotated token wrote before its leak; the REST-only one could not.
    assert_eq!(bob.download("/personal-files/written by the rotated token.txt").await.expect(200).text(), "rotated\n");
    assert!(!bob.names("/personal-files").await.contains(&"via io.txt".to_owned()));
}
