//! Tokens under load and under attack: usage written a handful of times for thousands of
//! requests, no token or hash in any log, list or metric (only the hash in the
//! database), and throttling of failures that never slows a token in use.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::json;

use crate::support::{ADMIN_PASSWORD, TestServer, cli_ok, eventually, sha256_hex};
use crate::tokens::{assert_refused, record_after_failure, record_labelled, records};

async fn usage_writes(server: &TestServer) -> u64 {
    let text = server.anonymous().get("/metrics").await.expect(200).text();
    let line = text.lines().find(|l| l.starts_with("cells_token_usage_writes_total "));
    let line = line.unwrap_or_else(|| panic!("no cells_token_usage_writes_total in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn unix_now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

#[tokio::test]
async fn thousands_of_uses_cost_a_handful_of_writes() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    alice.upload("/personal-files/small ü #1.txt", "tiny").await.expect(201);
    let busy = server.bearer(&server.pat("alice", &["-a", "1h", "-l", "busy"]));
    let before = usage_writes(&server).await;
    let started_at = unix_now();
    let started = Instant::now();

    let statuses: Vec<u16> = stream::iter(0..5000)
        .map(|_| {
            let busy = busy.clone();
            async move { busy.get("/a/tree/").await.status }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let took = started.elapsed();
    assert!(statuses.iter().all(|&s| s == 200), "{:?}", statuses.iter().find(|&&s| s != 200));
    assert!(took < Duration::from_secs(55), "5,000 requests took {took:?}: too slow for a meaningful count");
    let written = usage_writes(&server).await - before;
    assert!((1..=3).contains(&written), "5,000 uses took {written} usage writes");

    eventually("the use recorded", Duration::from_secs(5), || async {
        !record_labelled(&admin, "busy").await["LastUsedAt"].is_null()
    })
    .await;
    let listed = record_labelled(&admin, "busy").await;
    let last_used = listed["LastUsedAt"].as_i64().unwrap();
    assert!((started_at..=unix_now()).contains(&last_used), "{listed}");
    assert_eq!(listed["LastUsedVia"], "rest", "{listed}");
    assert_eq!(listed["LastUsedIp"], "127.0.0.1", "{listed}");
    assert_eq!(listed["ExpiresAt"], last_used + 3600, "the expiry bump is written with the use: {listed}");

    // /io is told apart from REST.
    let reader = server.bearer(&server.pat("alice", &["-e", "1h", "-l", "reader"]));
    for _ in 0..200 {
        assert_eq!(reader.download("/personal-files/small ü #1.txt").await.expect(200).text(), "tiny");
    }
    eventually("the /io use recorded", Duration::from_secs(5), || async {
        record_labelled(&admin, "reader").await["LastUsedVia"] == "io"
    })
    .await;
    let written = usage_writes(&server).await - before;
    assert!((2..=4).contains(&written), "{written}");

    // A short window is written more often: every window / 10, at least 1 s apart.
    let short = server.bearer(&server.pat("alice", &["-a", "20s"]));
    let before = usage_writes(&server).await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(4500) {
        short.get("/a/tree/").await.expect(200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let written = usage_writes(&server).await - before;
    assert!((2..=4).contains(&written), "a 20 s window over 4.5 s: {written} writes");
}

#[tokio::test]
async fn no_token_nor_its_hash_leaks() {
    let server = TestServer::start_with(Some(ADMIN_PASSWORD), "debug");
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    server.user(&admin, "bob", "bob-password").await;
    alice.upload("/personal-files/doc ü 100%.txt", "doc").await.expect(201);

    let mut tokens = vec![server.pat("alice", &["-e", "1h", "-l", "quiet"])];
    let verbose = cli_ok(&server.cli(&["user", "token", "-u", "bob", "-a", "1h"], None));
    tokens.push(verbose.lines().find(|l| l.starts_with("cpat_")).unwrap().to_owned());
    let created = [
        alice.post("/a/auth/token/personal", &json!({"AutoRefresh": 600})).await,
        admin.post("/a/auth/token/impersonate", &json!({"UserLogin": "bob", "ExpiresAt": unix_now() + 600})).await,
        alice.post("/a/auth/token/document", &json!({"Path": "/personal-files/doc ü 100%.txt"})).await,
    ];
    for reply in created {
        tokens.push(reply.expect(200).json()["AccessToken"].as_str().unwrap().to_owned());
    }
    let short = server.pat("alice", &["-e", "1s", "-l", "short"]);
    tokens.push(short.clone());

    // Used well and badly: every path that might log a credential.
    for token in &tokens {
        server.bearer(token).get("/a/tree/").await;
        server.bearer(token).download("/personal-files/doc ü 100%.txt").await;
        server.basic("bob", token).get("/a/tree/").await;
        server.anonymous().get(&format!("/a/tree/?access_token={token}")).await;
    }
    let revoked = record_labelled(&admin, "quiet").await["Uuid"].as_str().unwrap().to_owned();
    admin.delete(&format!("/a/auth/tokens/{revoked}")).await.expect(200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_refused(&server.bearer(&tokens[0]).get("/a/tree/").await);
    assert_refused(&server.bearer(&short).get("/a/tree/").await);
    let mut forged = tokens[1].clone().into_bytes();
    forged[30] = if forged[30] == b'Z' { b'Y' } else { b'Z' };
    let forged = String::from_utf8(forged).unwrap();
    assert_refused(&server.bearer(&forged).get("/a/tree/").await);
    assert_eq!(record_after_failure(&admin, &revoked, |r| r == "revoked").await["LastFailureReason"], "revoked");

    let mut seen = String::new();
    seen.push_str(&records(&admin, None).await.iter().map(ToString::to_string).collect::<String>());
    seen.push_str(&records(&alice, None).await.iter().map(ToString::to_string).collect::<String>());
    seen.push_str(&cli_ok(&server.cli(&["token", "list"], None)));
    seen.push_str(&cli_ok(&server.cli(&["token", "list", "-u", "alice"], None)));
    seen.push_str(&server.anonymous().get("/metrics").await.expect(200).text());
    let log = server.log();
    assert!(log.contains("personal access token refused") && log.contains(&revoked), "a quiet log?\n{log}");
    assert!(log.contains("DEBUG"), "not a debug log?\n{log}");
    let dump = std::process::Command::new("sqlite3").arg(server.data().join("cells.db")).arg(".dump").output();
    let dump = String::from_utf8(dump.expect("sqlite3").stdout).unwrap();
    assert!(dump.contains("INSERT INTO tokens VALUES"), "{dump}");
    for token in tokens.iter().chain([&forged]) {
        let hash = sha256_hex(token);
        for (place, text) in [("a list or /metrics", &seen), ("the log", &log)] {
            assert!(!text.contains(token.as_str()), "a token in {place}");
            assert!(!text.contains(&hash) && !text.contains(&hash.to_uppercase()), "a token's hash in {place}");
        }
        assert!(!dump.contains(token.as_str()), "a token in the database");
        if *token != forged {
            assert!(dump.contains(&hash), "the database lacks the hash of a token");
        }
    }
    assert!(!dump.contains(&sha256_hex(&forged)));
}

/// Keep last: it throttles the test's own address (on its own server).
#[tokio::test]
async fn failures_are_throttled_but_tokens_in_use_are_not() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let in_use = server.bearer(&server.pat("alice", &["-a", "1h"]));
    in_use.get("/a/tree/").await.expect(200);
    let unused = server.pat("alice", &["-e", "1h", "-l", "never used"]);
    let revoked = server.pat("alice", &["-e", "1h", "-l", "revoked"]);
    let revoked_uuid = record_labelled(&admin, "revoked").await["Uuid"].as_str().unwrap().to_owned();
    // A revocation clears every cache: the token in use must survive that too.
    admin.delete(&format!("/a/auth/tokens/{revoked_uuid}")).await.expect(200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let password = server.basic("alice", "alice-password");
    password.get("/a/tree/").await.expect(200);

    // 30 failures of every kind within the minute: each a plain 401.
    let started = Instant::now();
    for i in 0..30 {
        let reply = match i % 5 {
            0 => server.bearer(&format!("cpat_not-a-token-{i}")).get("/a/tree/").await,
            1 => server.bearer("eyJhbGciOiJIUzI1NiJ9.e30.bm9wZQ").get("/io/personal-files/x").await,
            2 => server.bearer(&revoked).get("/a/tree/").await,
            3 => server.basic("nobody", "some password").get("/a/tree/").await,
            _ => server.basic("alice", &format!("wrong password #{i}")).get("/a/tree/").await,
        };
        assert_refused(&reply);
    }
    assert!(started.elapsed() < Duration::from_secs(50));

    // The 31st: 429 with Retry-After, for any credential not already verified.
    let throttled = [
        server.bearer("cpat_one-more").get("/a/tree/").await,
        server.bearer(&unused).get("/a/tree/").await,
        server.bearer(&revoked).get("/a/tree/").await,
        server.basic("alice", &unused).get("/io/personal-files/x").await,
        server.basic("alice", "alice-password-typo").get("/a/tree/").await,
    ];
    for reply in throttled {
        assert_eq!(reply.status, 429, "{}", reply.text());
        let wait: u64 = reply.header("Retry-After").expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        reply.assert_error_shape();
    }
    let guess = [("grant_type", "password"), ("username", "alice"), ("password", "alice-guess")];
    assert_eq!(server.token_request(&guess).await.status, 429);

    // What was verified before keeps working: successes are never slowed.
    for _ in 0..20 {
        in_use.get("/a/tree/").await.expect(200);
    }
    in_use.upload("/personal-files/still working ü.txt", "yes").await.expect(201);
    password.get("/a/tree/").await.expect(200);
    alice.get("/a/tree/").await.expect(200);
    server.login("alice", "alice-password").await.get("/a/tree/").await.expect(200);
    assert_eq!(record_labelled(&admin, "never used").await["LastUsedAt"], serde_json::Value::Null);
    server.anonymous().get("/healthz").await.expect(200);
}
