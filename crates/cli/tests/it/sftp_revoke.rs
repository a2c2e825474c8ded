//! An open SFTP session ends within two seconds of its token being revoked or its user
//! locked, while a session on another credential goes on.

use std::time::Duration;

use serde_json::json;

use crate::sftp::{ALICE_PASSWORD, Fixture};
use crate::sftp_client::Interactive;
use crate::support::{cli_ok, eventually};
use crate::tokens::records;

/// Waits until `session` has ended; returns how long that took. The client learns of a
/// closed connection at its next request, so one is sent every 100 ms.
async fn ended(session: &mut Interactive) -> Duration {
    let started = std::time::Instant::now();
    while !session.exited() {
        assert!(started.elapsed() < Duration::from_secs(10), "the session is still open");
        let _ = session.send("ls /");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// Puts `name` through `session` and waits until REST sees it: the session is alive.
async fn alive(fx: &Fixture, session: &mut Interactive, name: &str) {
    std::fs::write(fx.dir().join(name), name).unwrap();
    session.send(&format!("put {name} /personal-files/{name}")).unwrap();
    let path = format!("/personal-files/{name}");
    eventually(&format!("{name} uploaded"), Duration::from_secs(20), || async {
        fx.alice.stat(&path).await.status == 200
    })
    .await;
}

#[tokio::test]
async fn revoking_the_token_of_an_open_session_ends_it() {
    let fx = Fixture::new().await;
    let doomed = fx.server.pat("alice", &["-e", "1h", "-l", "doomed"]);
    let mut session = Interactive::open(&fx.server, "alice", &doomed, fx.dir());
    let mut control = Interactive::open(&fx.server, "alice", &fx.token, fx.dir());
    alive(&fx, &mut session, "before.txt").await;
    alive(&fx, &mut control, "control-before.txt").await;

    let uuid = records(&fx.admin, None).await.into_iter().find(|t| t["Label"] == "doomed").unwrap()["Uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    cli_ok(&fx.server.cli(&["token", "revoke", &uuid], None));
    let took = ended(&mut session).await;
    assert!(took <= Duration::from_secs(2), "the revoked session lasted {took:?}");
    let (_, said) = session.finish();
    assert!(said.contains("revoked or have expired"), "the client is told why: {said}");
    assert!(!said.contains(&doomed), "{said}");

    // The other session is untouched.
    assert!(!control.exited(), "the control session ended too");
    alive(&fx, &mut control, "control-after.txt").await;
    assert!(fx.server.log().contains("closing an SFTP session"), "the closing is logged");
}

#[tokio::test]
async fn locking_the_user_ends_a_session_opened_with_the_password() {
    let fx = Fixture::new().await;
    let mut session = Interactive::open(&fx.server, "alice", ALICE_PASSWORD, fx.dir());
    alive(&fx, &mut session, "before.txt").await;
    fx.admin.patch("/a/users/alice", &json!({"Locked": true})).await.expect(200);
    let took = ended(&mut session).await;
    assert!(took <= Duration::from_secs(2), "the locked user's session lasted {took:?}");
}
