//! A token's activity (`GET /a/auth/tokens/{TokenId}/activity`): its uses counted per
//! hour, address and protocol (REST, `/io`, WebDAV, SFTP), for its owner and the admin
//! only; thousands of uses written in a handful of batches whose counts add up; counts
//! written by the upkeep unasked, and kept over a graceful restart; and the gauge of
//! tokens expiring within 7 days.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use reqwest::Method;
use serde_json::{Value, json};

use crate::sftp_client::sftp_batch;
use crate::support::{Session, TestServer, eventually};
use crate::tokens::{record_labelled, unix_now};

/// A metric's value from `/metrics`.
async fn metric(server: &TestServer, name: &str) -> i64 {
    let text = server.anonymous().get("/metrics").await.expect(200).text();
    let prefix = format!("{name} ");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {name} in:\n{text}"));
    line[prefix.len()..].trim().parse().unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// `GET /a/auth/tokens/{uuid}/activity` as `session`: the rows.
async fn activity(session: &Session, uuid: &str) -> Vec<Value> {
    let answer = session.get(&format!("/a/auth/tokens/{uuid}/activity")).await.expect(200).json();
    answer["Activity"].as_array().unwrap_or_else(|| panic!("no Activity in {answer}")).clone()
}

/// The counts by (Ip, Via), summed over the hours (a test may straddle one), after
/// checking each row's hour: a whole hour, not in the future.
fn by_place(rows: &[Value], since: i64) -> BTreeMap<(String, String), i64> {
    let mut counts = BTreeMap::new();
    for row in rows {
        let hour = row["Hour"].as_i64().unwrap_or_else(|| panic!("no Hour: {row}"));
        assert_eq!(hour % 3600, 0, "{row}");
        assert!((since - since % 3600..=unix_now()).contains(&hour), "{row}");
        let key = (row["Ip"].as_str().unwrap().to_owned(), row["Via"].as_str().unwrap().to_owned());
        *counts.entry(key).or_insert(0) += row["Count"].as_i64().unwrap_or_else(|| panic!("no Count: {row}"));
    }
    counts
}

fn local(via: &str, count: i64) -> ((String, String), i64) {
    (("127.0.0.1".to_owned(), via.to_owned()), count)
}

async fn uuid_of(admin: &Session, label: &str) -> String {
    record_labelled(admin, label).await["Uuid"].as_str().unwrap().to_owned()
}

async fn propfind(session: &Session) {
    let method = Method::from_bytes(b"PROPFIND").unwrap();
    let request = session.request(method, "/dav/personal-files").header("Depth", "1");
    Session::send(request).await.expect(207);
}

#[tokio::test]
async fn token_activity_counts_uses_per_address_and_protocol_for_the_owner_and_admin_only() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password-act").await;
    let bob = server.user(&admin, "bob", "bob-password-act").await;
    alice.upload("/personal-files/doc ü #1.txt", "doc").await.expect(201);
    let token = server.pat("alice", &["-e", "1h", "-l", "busy"]);
    server.pat("alice", &["-e", "1h", "-l", "idle"]);
    let uuid = uuid_of(&admin, "busy").await;
    let idle = uuid_of(&admin, "idle").await;
    let since = unix_now();
    let local_dir = tempfile::tempdir().unwrap();

    for _ in 0..5 {
        server.bearer(&token).get("/a/tree/").await.expect(200);
    }
    server.basic("alice", &token).get("/a/tree/personal-files").await.expect(200);
    for _ in 0..3 {
        assert_eq!(server.bearer(&token).download("/personal-files/doc ü #1.txt").await.expect(200).text(), "doc");
    }
    for _ in 0..2 {
        propfind(&server.bearer(&token)).await;
        propfind(&server.basic("alice", &token)).await;
    }
    for _ in 0..2 {
        sftp_batch(&server, "alice", &token, local_dir.path(), "ls /\n").expect_ok();
    }
    // A refusal is no use: bob's name with alice's token.
    server.basic("bob", &token).get("/a/tree/").await.expect(401);

    let expected: BTreeMap<_, _> = [local("rest", 6), local("io", 3), local("webdav", 4), local("sftp", 2)].into();
    assert_eq!(by_place(&activity(&alice, &uuid).await, since), expected);
    assert_eq!(by_place(&activity(&admin, &uuid).await, since), expected, "the admin sees the same");
    assert_eq!(activity(&alice, &idle).await, Vec::<Value>::new(), "an unused token has no activity");

    // Later uses add to the same rows.
    for _ in 0..2 {
        server.bearer(&token).get("/a/tree/").await.expect(200);
    }
    let grown = by_place(&activity(&alice, &uuid).await, since);
    assert_eq!(grown[&("127.0.0.1".to_owned(), "rest".to_owned())], 8, "{grown:?}");

    // Anyone else: as if there were no such token.
    let target = format!("/a/auth/tokens/{uuid}/activity");
    bob.get(&target).await.expect_error(404, "NotFound");
    let bobs = server.pat("bob", &["-e", "1h"]);
    server.bearer(&bobs).get(&target).await.expect_error(404, "NotFound");
    bob.get("/a/auth/tokens/0b7e3c1a-9d4f-4e2b-8c6a-5f4e3d2c1b0a/activity").await.expect_error(404, "NotFound");
    alice.get("/a/auth/tokens/not-a-uuid/activity").await.expect_error(400, "BadRequest");
    server.anonymous().get(&target).await.expect(401);
    // A token narrowed by scopes manages no tokens, not even its owner's.
    let folder = alice.uuid("/personal-files").await;
    let scoped = server.pat("alice", &["-e", "1h", "-s", &format!("node:{folder}:r")]);
    server.bearer(&scoped).get(&target).await.expect(403);
}

#[tokio::test]
async fn token_activity_thousands_of_uses_are_written_in_a_handful_of_batches_that_add_up() {
    const USES: usize = 2_000;
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password-act").await;
    let busy = server.bearer(&server.pat("alice", &["-a", "1h", "-l", "load"]));
    let uuid = uuid_of(&admin, "load").await;
    let since = unix_now();
    let activity_before = metric(&server, "cells_token_activity_writes_total").await;
    let usage_before = metric(&server, "cells_token_usage_writes_total").await;

    let started = Instant::now();
    let statuses: Vec<u16> = stream::iter(0..USES)
        .map(|i| {
            let busy = busy.clone();
            async move {
                if i % 2 == 0 { busy.get("/a/tree/").await.status } else { busy.stat("/personal-files").await.status }
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let took = started.elapsed();
    assert!(statuses.iter().all(|&s| s == 200), "{:?}", statuses.iter().find(|&&s| s != 200));
    assert!(took < Duration::from_secs(50), "{USES} requests took {took:?}: too slow for a meaningful count");
    eprintln!("{USES} requests in {took:?}");

    let rows = activity(&alice, &uuid).await;
    let total: i64 = rows.iter().map(|r| r["Count"].as_i64().unwrap()).sum();
    assert_eq!(total, i64::try_from(USES).unwrap(), "every use counted once: {rows:?}");
    assert_eq!(by_place(&rows, since).keys().cloned().collect::<Vec<_>>(), [local("rest", 0).0]);
    let activity_writes = metric(&server, "cells_token_activity_writes_total").await - activity_before;
    let usage_writes = metric(&server, "cells_token_usage_writes_total").await - usage_before;
    assert!((1..=3).contains(&activity_writes), "{USES} uses took {activity_writes} activity writes");
    assert!((1..=3).contains(&usage_writes), "{USES} uses took {usage_writes} usage writes");

    // Asked again with nothing new: no write at all.
    let again = activity(&alice, &uuid).await;
    assert_eq!(again.iter().map(|r| r["Count"].as_i64().unwrap()).sum::<i64>(), total);
    assert_eq!(metric(&server, "cells_token_activity_writes_total").await - activity_before, activity_writes);
}

#[tokio::test]
async fn token_activity_is_written_by_the_upkeep_unasked_and_kept_over_a_graceful_restart() {
    let mut server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password-act").await;
    let token = server.pat("alice", &["-e", "1h", "-l", "kept"]);
    let uuid = uuid_of(&admin, "kept").await;
    let since = unix_now();

    // Written within the flush interval (30 s) without anyone asking; a SIGKILL after
    // that loses nothing.
    let before = metric(&server, "cells_token_activity_writes_total").await;
    for _ in 0..3 {
        server.bearer(&token).get("/a/tree/").await.expect(200);
    }
    eventually("the upkeep writes the activity", Duration::from_secs(45), || async {
        metric(&server, "cells_token_activity_writes_total").await > before
    })
    .await;
    server.restart();
    let admin = server.admin().await;
    assert_eq!(by_place(&activity(&admin, &uuid).await, since), [local("rest", 3)].into());

    // Uses not yet written when the server is stopped gracefully are written on the way out.
    for _ in 0..4 {
        server.bearer(&token).get("/a/tree/").await.expect(200);
    }
    let (status, _) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    server.restart();
    let admin = server.admin().await;
    assert_eq!(
        by_place(&activity(&admin, &uuid).await, since),
        [local("rest", 7)].into(),
        "uses counted but not written when SIGTERM came are lost"
    );
}

#[tokio::test]
async fn token_activity_the_gauge_counts_tokens_expiring_within_seven_days() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password-act").await;
    let gauge = || metric(&server, "cells_tokens_expiring_7d");
    let start = gauge().await;

    server.pat("alice", &["-e", "30d", "-l", "a month"]);
    assert_eq!(gauge().await, start, "a token expiring in 30 days is not about to expire");
    server.pat("alice", &["-e", "1d", "-l", "a day"]);
    assert_eq!(gauge().await, start + 1, "a token expiring in a day is");
    server.pat("alice", &["-e", "6d23h", "-l", "just under a week"]);
    assert_eq!(gauge().await, start + 2);
    server.pat("alice", &["-e", "7d1h", "-l", "just over a week"]);
    assert_eq!(gauge().await, start + 2);
    // Auto refresh: counted by its cap, never without one (in use, it never lapses).
    server.pat("alice", &["-a", "1h", "-l", "uncapped"]);
    assert_eq!(gauge().await, start + 2, "an uncapped auto-refresh token is not about to expire");
    server.pat("alice", &["-a", "1h", "-e", "2d", "-l", "capped"]);
    assert_eq!(gauge().await, start + 3, "a capped one is, by its cap");
    let capped = uuid_of(&admin, "capped").await;
    admin.delete(&format!("/a/auth/tokens/{capped}")).await.expect(200);
    assert_eq!(record_labelled(&admin, "uncapped").await["ExpiresSoon"], false);

    // Revoked, it no longer counts; an expired token does not either.
    let day = uuid_of(&admin, "a day").await;
    admin.delete(&format!("/a/auth/tokens/{day}")).await.expect(200);
    assert_eq!(gauge().await, start + 1);
    server.pat("alice", &["-e", "1s", "-l", "a second"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(gauge().await, start + 1);
    let listed = record_labelled(&admin, "just under a week").await;
    assert_eq!(listed["ExpiresSoon"], true, "{listed}");
    assert_eq!(record_labelled(&admin, "a month").await["ExpiresSoon"], false);
    let body = json!({"ByUser": "alice"});
    assert_eq!(admin.post("/a/auth/tokens", &body).await.expect(200).json()["Tokens"].as_array().unwrap().len(), 7);
}
