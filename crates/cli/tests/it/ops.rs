//! Operations: health, metrics, logs that hold no secret, graceful shutdown, and the
//! first start that prints a generated admin password once.

use std::time::Duration;

use serde_json::json;

use crate::support::{ADMIN_PASSWORD, TestServer, eventually};

#[tokio::test]
async fn health_and_metrics() {
    let server = TestServer::start();
    let health = server.anonymous().get("/healthz").await.expect(200);
    assert_eq!(health.text(), "ok\n");
    let admin = server.admin().await;
    admin.stat("/personal-files/secret-file-name-42").await.expect(404);
    admin.upload("/personal-files/another-name-43", "x").await.expect(201);
    server.anonymous().get("/no/such/route").await.expect(404);

    let metrics = server.anonymous().get("/metrics").await.expect(200);
    assert!(metrics.header("Content-Type").is_some_and(|t| t.starts_with("text/plain")));
    let text = metrics.text();
    let count = |series: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(count(r#"cells_http_requests_total{route="/healthz",method="GET",status="200"}"#) >= 1);
    assert_eq!(count(r#"cells_http_requests_total{route="/oauth2/token",method="POST",status="200"}"#), 1);
    assert_eq!(count(r#"cells_http_requests_total{route="/a/tree/{*path}",method="GET",status="404"}"#), 1);
    assert_eq!(count(r#"cells_http_requests_total{route="/io/{*path}",method="PUT",status="201"}"#), 1);
    let bucket =
        r#"cells_http_request_duration_seconds_bucket{route="/io/{*path}",method="PUT",status="201",le="+Inf"}"#;
    assert_eq!(count(bucket), 1);
    assert!(text.contains("# TYPE cells_http_request_duration_seconds histogram"));
    // Series are per route template: a file name never becomes a label.
    assert!(
        !text.contains("secret-file-name") && !text.contains("another-name") && !text.contains("no/such"),
        "{text}"
    );
}

#[tokio::test]
async fn logs_hold_no_password_and_no_token() {
    let mut server = TestServer::start_with(Some(ADMIN_PASSWORD), "debug");
    let mut secrets = vec![ADMIN_PASSWORD.to_owned()];
    let admin_grant = server.login_grant("admin", ADMIN_PASSWORD).await;
    let admin = server.bearer(admin_grant["access_token"].as_str().unwrap());
    let alice_password = "alice-Sécret-pass-9021";
    let created = admin.post("/a/users", &json!({"Login": "alice", "Password": alice_password})).await.expect(201);
    assert!(!created.text().contains(alice_password));
    let generated = admin.post("/a/users", &json!({"Login": "bob"})).await.expect(201).json();
    let bob_password = generated["GeneratedPassword"].as_str().unwrap().to_owned();
    server.login("bob", &bob_password).await.get("/a/tree/").await.expect(200);
    secrets.extend([alice_password.to_owned(), bob_password]);

    let mut grant = server.login_grant("alice", alice_password).await;
    let mut spent = Vec::new();
    for _ in 0..3 {
        let refresh = grant["refresh_token"].as_str().unwrap().to_owned();
        secrets.push(grant["access_token"].as_str().unwrap().to_owned());
        secrets.push(refresh.clone());
        server.bearer(grant["access_token"].as_str().unwrap()).upload("/personal-files/f", "x").await;
        grant = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await.json();
        spent.push(refresh);
    }
    // Replaying a spent token is refused (it ends the login), and logged as such.
    server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &spent[0])]).await.expect(400);
    secrets.push(grant["access_token"].as_str().unwrap().to_owned());
    secrets.push(grant["refresh_token"].as_str().unwrap().to_owned());
    secrets.extend([admin_grant["access_token"].as_str().unwrap().to_owned()]);
    secrets.extend([admin_grant["refresh_token"].as_str().unwrap().to_owned()]);

    // Failures carry secrets too: a wrong password, a forged token, a new password.
    let wrong = "wrong-Guess-77431";
    let form = [("grant_type", "password"), ("username", "alice"), ("password", wrong)];
    server.token_request(&form).await.expect(400);
    server.basic("alice", wrong).get("/a/tree/").await.expect(401);
    server.basic("alice", alice_password).get("/a/tree/").await.expect(200);
    let forged = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.Zm9yZ2VkLXNpZ25hdHVyZS00Mjc";
    server.bearer(forged).get("/a/tree/").await.expect(401);
    let new_password = "alice-Néw-pass-5511";
    admin.patch("/a/users/alice", &json!({"Password": new_password})).await.expect(200);
    server.cli(&["user", "set-pwd", "-u", "alice", "-p", "-"], Some("alice-Cli-pass-8830\n"));
    secrets.extend([wrong.to_owned(), forged.to_owned(), new_password.to_owned(), "alice-Cli-pass-8830".into()]);

    // A personal access token, used as Bearer and as a Basic password.
    let pat = admin.post("/a/auth/token/personal", &json!({"Label": "log test", "AutoRefresh": 600})).await;
    let pat = pat.expect(200).json()["AccessToken"].as_str().unwrap().to_owned();
    assert!(pat.starts_with("cpat_"));
    server.bearer(&pat).get("/a/tree/").await.expect(200);
    server.basic("admin", &pat).get("/a/tree/").await.expect(200);
    let mut wrong_pat = pat.clone();
    wrong_pat.replace_range(10..11, if &pat[10..11] == "A" { "B" } else { "A" });
    server.bearer(&wrong_pat).get("/a/tree/").await.expect(401);
    secrets.extend([pat, wrong_pat]);

    let (status, _) = server.terminate(Duration::from_secs(10));
    assert!(status.success());
    let log = server.log();
    assert!(log.contains("login refused") && log.contains("request"), "the log is not what this test expects:\n{log}");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the log holds a secret ({} chars)", secret.len());
        // A JWT's signature alone is as good as the token.
        if let Some((_, signature)) = secret.rsplit_once('.') {
            assert!(!log.contains(signature), "the log holds a token signature");
        }
    }
    assert!(!log.contains("$argon2"), "the log holds a password hash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_finish_and_exits_zero() {
    let mut server = TestServer::start();
    let admin = server.admin().await;
    // An upload that takes about 1.5 s; SIGTERM arrives in the middle.
    let chunks = futures_util::stream::unfold(0, |sent| async move {
        if sent == 15 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(vec![b'z'; 64 * 1024]), sent + 1))
    });
    let upload =
        admin.request(reqwest::Method::PUT, "/io/personal-files/in%20flight").body(reqwest::Body::wrap_stream(chunks));
    let upload = tokio::spawn(upload.send());
    let tmp = server.data().join("blobs").join("tmp");
    eventually("the upload has started", Duration::from_secs(10), || async {
        std::fs::read_dir(&tmp).is_ok_and(|mut entries| entries.next().is_some())
    })
    .await;
    let (status, took) = server.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let response = upload.await.unwrap().expect("the request in flight is answered");
    assert_eq!(response.status(), 201);

    // The upload was complete; SIGINT stops the server the same way.
    server.restart();
    let admin = server.admin().await;
    let node = admin.stat("/personal-files/in flight").await.expect(200).json();
    assert_eq!(node["Size"], 15 * 64 * 1024);
    let (status, took) = server.terminate_with("-INT", Duration::from_secs(10));
    assert!(status.success() && took < Duration::from_secs(5), "{status:?} after {took:?}");
}

#[tokio::test]
async fn first_start_prints_a_generated_admin_password_once() {
    let mut server = TestServer::start_with(None, "info");
    let stdout = server.stdout().to_vec();
    let line = stdout.iter().find(|l| l.starts_with("Created the user 'admin' with the password: ")).unwrap();
    let password = line.rsplit(' ').next().unwrap().to_owned();
    assert!(password.len() >= 8, "{line}");
    server.login("admin", &password).await.get("/a/users").await.expect(200);

    server.restart();
    let again = &server.stdout()[stdout.len()..];
    assert!(again.iter().all(|l| !l.contains("password")), "printed again: {again:?}");
    assert!(again.last().unwrap().starts_with("cells listening on http://127.0.0.1:"));
    server.login("admin", &password).await.get("/a/users").await.expect(200);
    assert!(!server.log().contains(&password), "the generated password is in the log");
}

#[tokio::test]
async fn sigterm_does_not_wait_forever_for_a_stalled_client() {
    use std::io::Write;

    let mut server = TestServer::start();
    let auth = crate::support::base64(format!("admin:{ADMIN_PASSWORD}").as_bytes());
    let head = format!(
        "PUT /io/personal-files/stalled HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Length: 1000000\r\n\r\n"
    );
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stalled.write_all(head.as_bytes()).unwrap();
    stalled.write_all(b"a few bytes, then nothing").unwrap();
    // An idle keep-alive connection too.
    let idle = server.anonymous();
    idle.get("/healthz").await.expect(200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, took) = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(server.log().contains("still in flight after the grace period"));
    drop(stalled);
}
