//! Issue 6, bounded cost for every input over HTTP: a request head that never ends, an
//! idle keep-alive connection and a body that stops arriving are all cut off; orphaned
//! blobs are collected; conditional uploads cannot be raced.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{TestServer, cli_ok};

/// Whether the server closed the connection (a read gives 0 bytes or an error) within
/// `limit`; any answer bytes before are read and dropped.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let start = Instant::now();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) if start.elapsed() < limit => return true,
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn slow_or_idle_clients_are_cut_off() {
    let server = TestServer::start_with_args(&["--http-header-timeout", "1s", "--http-idle-timeout", "2s"]);
    let connect = || TcpStream::connect(("127.0.0.1", server.port())).unwrap();

    // A head that never ends (slowloris).
    let mut slow = connect();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(10)), "a partial head is cut off");

    // An idle keep-alive connection after a request.
    let mut idle = connect();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(closed_within(&mut idle, Duration::from_secs(10)), "an idle connection is closed");

    // A body that stops arriving.
    let token = server.pat("admin", &["-a", "1h"]);
    let mut stalled = connect();
    let head = format!(
        "PUT /io/personal-files/stalled.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 1000000\r\n\r\n"
    );
    stalled.write_all(head.as_bytes()).unwrap();
    stalled.write_all(&[7; 1000]).unwrap();
    assert!(closed_within(&mut stalled, Duration::from_secs(10)), "a stalled upload is closed");
    // (Over a fresh connection: a pooled one would itself be closed as idle.)
    let auth = format!("Bearer {token}");
    let listing = server.raw("GET", "/a/tree/personal-files?children=true", &[("Authorization", &auth)], b"");
    assert_eq!(listing.status, 200);
    assert_eq!(listing.json()["Children"].as_array().map(Vec::len), Some(0), "and leaves nothing: {}", listing.text());

    // Control: a client that keeps talking is served.
    let mut live = connect();
    for _ in 0..3 {
        live.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = [0; 12];
        live.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
        let mut rest = [0; 512];
        let _ = live.read(&mut rest).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn blob_files(server: &TestServer) -> Vec<std::path::PathBuf> {
    let root = server.blob_root().join("blobs");
    let mut files = Vec::new();
    for shard in std::fs::read_dir(root).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            files.push(file.unwrap().path());
        }
    }
    files
}

#[tokio::test]
async fn unreferenced_blobs_are_collected_and_referenced_ones_kept() {
    let server = TestServer::start();
    let admin = server.admin().await;
    admin.upload("/personal-files/kept.txt", "kept").await.expect(201);
    admin.upload("/personal-files/deleted.txt", "deleted").await.expect(201);
    admin.upload("/personal-files/replaced.txt", "first").await.expect(201);
    admin.upload("/personal-files/replaced.txt", "second").await.expect(200);
    admin
        .post(
            "/a/tree/copy",
            &serde_json::json!({"From": "/personal-files/kept.txt", "To": "/personal-files/copy.txt"}),
        )
        .await
        .expect(201);
    admin.delete("/io/personal-files/deleted.txt").await.expect(204);
    // A blob no node ever referred to (an upload cut between publishing and committing),
    // written two hours ago.
    let shard = server.blob_root().join("blobs").join("00");
    std::fs::create_dir_all(&shard).unwrap();
    let orphan = shard.join("00aaaaaa-0000-4000-8000-000000000000");
    std::fs::write(&orphan, "orphan").unwrap();
    let touched = std::process::Command::new("touch").args(["-d", "2 hours ago"]).arg(&orphan).status().unwrap();
    assert!(touched.success());
    assert_eq!(blob_files(&server).len(), 5, "kept (shared by its copy), deleted, first, second, orphan");

    // The default grace keeps what was dropped just now, and takes the old orphan.
    let output = cli_ok(&server.cli(&["blobs", "collect"], None));
    assert!(output.contains("0 unreferenced blobs and 1 orphans"), "{output}");
    assert!(!orphan.exists());
    let output = cli_ok(&server.cli(&["blobs", "collect", "--grace-secs", "0"], None));
    assert!(output.contains("2 unreferenced blobs"), "{output}");
    assert_eq!(blob_files(&server).len(), 2, "kept and second");
    for (path, content) in [("kept.txt", "kept"), ("copy.txt", "kept"), ("replaced.txt", "second")] {
        assert_eq!(admin.download(&format!("/personal-files/{path}")).await.expect(200).text(), content);
    }
    // Deleting the original leaves the copy's content.
    admin.delete("/io/personal-files/kept.txt").await.expect(204);
    cli_ok(&server.cli(&["blobs", "collect", "--grace-secs", "0"], None));
    assert_eq!(admin.download("/personal-files/copy.txt").await.expect(200).text(), "kept");
    assert_eq!(blob_files(&server).len(), 2);
}

#[tokio::test]
async fn racing_conditional_uploads_have_one_winner() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let token = server.pat("admin", &["-a", "1h"]);
    let put = |body: String, header: (&'static str, String)| {
        let request = server.client.put(server.url("/io/common-files/once.txt")).bearer_auth(&token);
        async move { request.header(header.0, header.1).body(body).send().await.unwrap().status().as_u16() }
    };
    let bodies: Vec<String> = (0..16).map(|n| format!("writer {n} ").repeat(50_000)).collect();
    let racing = bodies.iter().map(|b| put(b.clone(), ("If-None-Match", "*".to_owned())));
    let statuses = futures_util::future::join_all(racing).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 15, "{statuses:?}");
    let winner = statuses.iter().position(|s| *s == 201).unwrap();
    assert_eq!(admin.download("/common-files/once.txt").await.expect(200).text(), bodies[winner]);

    let etag = admin.download("/common-files/once.txt").await.header("ETag").unwrap();
    let racing = bodies.iter().map(|b| put(b.clone(), ("If-Match", etag.clone())));
    let statuses = futures_util::future::join_all(racing).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 15, "{statuses:?}");
}

/// An answer given before the request's body was read (a refused conditional upload, a
/// bad token) says `Connection: close`: the connection cannot carry another request, and
/// a client that pooled it would fail its next request there (a broken pipe, seen in
/// the race above). An upload read to its end keeps its connection.
#[tokio::test]
async fn an_answer_before_the_body_was_read_closes_the_connection() {
    let server = TestServer::start();
    let token = server.pat("admin", &["-a", "1h"]);
    let body = "x".repeat(1 << 20);
    let put = |auth: &str, header: Option<(&'static str, &'static str)>| {
        let mut request = server.client.put(server.url("/io/common-files/kept.txt")).bearer_auth(auth);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let request = request.body(body.clone());
        async move {
            let response = request.send().await.unwrap();
            let close =
                response.headers().get("connection").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
            (response.status().as_u16(), close)
        }
    };
    assert_eq!(put(&token, None).await, (201, false), "an upload read to its end keeps the connection");
    assert_eq!(put(&token, Some(("If-None-Match", "*"))).await, (412, true));
    assert_eq!(put("cpat_not_a_token", None).await, (401, true));
    let overwrite = put(&token, None).await;
    assert_eq!(overwrite, (200, false), "the control: read to its end");
    // And a GET, which has no body, is never closed by this.
    let response = server.client.get(server.url("/io/common-files/kept.txt")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("connection").is_none());
}
