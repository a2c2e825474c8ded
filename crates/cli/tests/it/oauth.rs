//! `POST /oauth2/token`: the password and refresh grants, rotation, locked users, and
//! the 401 of every refused credential.

use std::time::Instant;

use serde_json::json;

use crate::support::{ADMIN_PASSWORD, Reply, TestServer, within_a_second, within_a_second_of};

#[track_caller]
fn oauth_error(reply: &Reply, error: &str) {
    assert_eq!(reply.status, 400, "body: {}", reply.text());
    assert_eq!(reply.json()["error"], error, "body: {}", reply.text());
    reply.assert_error_shape();
}

#[tokio::test]
async fn the_grant_rules() {
    let server = TestServer::start();
    let admin = server.admin().await;
    admin.post("/a/users", &json!({"Login": "carol", "Password": "carol-password"})).await.expect(201);

    let grant = server.login_grant("carol", "carol-password").await;
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 600);
    let access = grant["access_token"].as_str().unwrap();
    let refresh = grant["refresh_token"].as_str().unwrap();
    assert!(!access.is_empty() && !refresh.is_empty() && access != refresh);
    server.bearer(access).get("/a/tree/").await.expect(200);

    // Wrong password, unknown user, locked user: one answer, byte for byte.
    let wrong = server.token_request(&[("grant_type", "password"), ("username", "carol"), ("password", "nope-nope")]);
    let wrong = wrong.await;
    oauth_error(&wrong, "invalid_grant");
    let unknown =
        server.token_request(&[("grant_type", "password"), ("username", "nobody"), ("password", "carol-password")]);
    let unknown = unknown.await;
    assert_eq!(unknown.body, wrong.body);
    admin.patch("/a/users/carol", &json!({"Locked": true})).await.expect(200);
    let locked =
        server.token_request(&[("grant_type", "password"), ("username", "carol"), ("password", "carol-password")]);
    let locked = locked.await;
    assert_eq!(locked.status, 400);
    assert_eq!(locked.body, wrong.body, "a locked user must look like a wrong password");
    admin.patch("/a/users/carol", &json!({"Locked": false})).await.expect(200);

    // Missing fields, other grants, other encodings.
    for form in [
        vec![("grant_type", "password"), ("username", "carol")],
        vec![("grant_type", "password"), ("password", "carol-password")],
        vec![("grant_type", "refresh_token")],
        vec![("username", "carol"), ("password", "carol-password")],
    ] {
        oauth_error(&server.token_request(&form).await, "invalid_request");
    }
    for grant_type in ["client_credentials", "authorization_code", "PASSWORD", ""] {
        let form = [("grant_type", grant_type), ("username", "carol"), ("password", "carol-password")];
        oauth_error(&server.token_request(&form).await, "unsupported_grant_type");
    }
    let as_json = server.client.post(server.url("/oauth2/token")).json(&json!({"grant_type": "password"}));
    oauth_error(&crate::support::Session::send(as_json).await, "invalid_request");
    let get = server.anonymous().get("/oauth2/token").await;
    get.expect_error(405, "MethodNotAllowed");
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let server = TestServer::start();
    let first = server.login_grant("admin", ADMIN_PASSWORD).await;
    let refresh = first["refresh_token"].as_str().unwrap();

    let second = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    let second = second.expect(200).json();
    let (access, next) = (second["access_token"].as_str().unwrap(), second["refresh_token"].as_str().unwrap());
    assert_ne!(next, refresh, "a new refresh token");
    server.bearer(access).get("/a/users").await.expect(200);
    server.bearer(first["access_token"].as_str().unwrap()).get("/a/users").await.expect(200);

    // The new one works once.
    let third = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", next)]).await;
    let third = third.expect(200).json();
    let (third_access, third_next) =
        (third["access_token"].as_str().unwrap(), third["refresh_token"].as_str().unwrap());
    server.bearer(third_access).get("/a/users").await.expect(200);
    // A spent one presented again is theft: the whole login ends, on every token of it.
    let replay = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    oauth_error(&replay, "invalid_grant");
    let after_theft = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", third_next)]).await;
    oauth_error(&after_theft, "invalid_grant");
    within_a_second("the login's access tokens refused after the theft", || async {
        server.bearer(third_access).get("/a/users").await.status == 401
    })
    .await;
    // Another login of the same user is not touched.
    server.login("admin", ADMIN_PASSWORD).await.get("/a/users").await.expect(200);
    let forged = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", "made-up")]).await;
    oauth_error(&forged, "invalid_grant");
}

#[tokio::test]
async fn bad_credentials_are_one_401() {
    let server = TestServer::start();
    let grant = server.login_grant("admin", ADMIN_PASSWORD).await;
    let access = grant["access_token"].as_str().unwrap().to_owned();
    let mut tampered = access.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    // Seven refused credentials on four routes: 28 failures, under the 30 per minute
    // after which an address is throttled (429).
    let sessions = [
        server.anonymous(),
        server.bearer("not-a-token"),
        server.bearer(""),
        server.bearer(&tampered),
        server.bearer(grant["refresh_token"].as_str().unwrap()),
        server.basic("admin", "wrong-password"),
        server.basic("nobody", ADMIN_PASSWORD),
        server.basic("", ""),
    ];
    for session in sessions {
        for target in ["/a/users", "/a/tree/", "/io/common-files/x", "/a/nodes/00000000-0000-0000-0000-000000000000"] {
            let reply = session.get(target).await.expect_error(401, "Unauthorized");
            assert_eq!(reply.header("WWW-Authenticate").as_deref(), Some("Bearer error=\"invalid_token\""));
        }
    }
    for header in ["Bearer", "Basic !!!", "Basic YWRtaW4=", "Digest abc", "bearer"] {
        let reply = server.raw("GET", "/a/tree/", &[("Authorization", header)], b"");
        reply.expect_error(401, "Unauthorized");
    }
    // A token in the query string is not a credential.
    let query = format!("/a/tree/?access_token={access}");
    assert_eq!(server.anonymous().get(&query).await.status, 401);
    // Basic with the right password works, and so does the bearer token.
    server.basic("admin", ADMIN_PASSWORD).get("/a/users").await.expect(200);
    server.bearer(&access).get("/a/users").await.expect(200);
}

#[tokio::test]
async fn locking_a_user_stops_their_tokens_and_passwords_within_a_second() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let dave = server.user(&admin, "dave", "dave-password").await;
    let dave_basic = server.basic("dave", "dave-password");
    let grant = server.login_grant("dave", "dave-password").await;
    let refresh = grant["refresh_token"].as_str().unwrap();
    dave.get("/a/tree/").await.expect(200);
    dave_basic.get("/a/tree/").await.expect(200);

    admin.patch("/a/users/dave", &json!({"Locked": true})).await.expect(200);
    let locked = Instant::now();
    within_a_second_of(locked, "dave's access token refused", || async { dave.get("/a/tree/").await.status == 401 })
        .await;
    within_a_second_of(locked, "dave's password refused", || async { dave_basic.get("/a/tree/").await.status == 401 })
        .await;
    let refused = server.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    oauth_error(&refused, "invalid_grant");
    let login =
        server.token_request(&[("grant_type", "password"), ("username", "dave"), ("password", "dave-password")]);
    oauth_error(&login.await, "invalid_grant");
    let user = admin.get("/a/users/dave").await.expect(200).json();
    assert_eq!(user["Locked"], true);

    // Unlocked, the same credentials work again.
    admin.patch("/a/users/dave", &json!({"Locked": false})).await.expect(200);
    within_a_second("dave's password accepted", || async { dave_basic.get("/a/tree/").await.status == 200 }).await;
    server.login("dave", "dave-password").await.get("/a/tree/").await.expect(200);

    // A new password retires the old one at once; deleting the user retires everything.
    admin.patch("/a/users/dave", &json!({"Password": "dave-new-password"})).await.expect(200);
    within_a_second("the old password refused", || async { dave_basic.get("/a/tree/").await.status == 401 }).await;
    let fresh = server.login("dave", "dave-new-password").await;
    admin.delete("/a/users/dave").await.expect(204);
    within_a_second("a deleted user's token refused", || async { fresh.get("/a/tree/").await.status == 401 }).await;
    admin.get("/a/users/dave").await.expect_error(404, "NotFound");
}

#[tokio::test]
async fn a_refresh_token_is_redeemed_once_even_concurrently() {
    let server = TestServer::start();
    let grant = server.login_grant("admin", ADMIN_PASSWORD).await;
    let refresh = grant["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let attempts = (0..12).map(|_| server.token_request(&form));
    let replies = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    for reply in replies.iter().filter(|r| r.status != 200) {
        oauth_error(reply, "invalid_grant");
    }
}
