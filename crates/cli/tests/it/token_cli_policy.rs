//! The wave-2 token commands of the CLI, each checked on what it did (REST uses of the
//! tokens, REST records, the policy the server answers with), and each mistake refused
//! with exit status 2 and nothing created or changed: `--allow-ip`/`--via`, `token
//! rotate --grace`, `token leaked FILE|-`, `token list --expiring`, `token revoke
//! --beyond-policy`, `token policy`, and the policy that `cells start` writes from its
//! flags and its configuration file.

use std::time::Duration;

use serde_json::json;

use crate::support::{TestServer, cli_ok, cli_usage_error, eventually};
use crate::tokens::{
    assert_refused, is_pat, record, record_after_failure, record_labelled, records, refused_within_a_second,
};

/// The Uuid of the token labelled `label`.
async fn uuid_of(server: &TestServer, label: &str) -> String {
    let admin = server.admin().await;
    record_labelled(&admin, label).await["Uuid"].as_str().unwrap().to_owned()
}

/// The line of `table` that ends with `label`.
fn row<'a>(table: &'a str, label: &str) -> &'a str {
    table.lines().find(|l| l.ends_with(label)).unwrap_or_else(|| panic!("no {label:?} in\n{table}"))
}

/// `cells admin token policy`, as printed.
fn policy_shown(server: &TestServer) -> String {
    cli_ok(&server.cli(&["token", "policy"], None))
}

/// The value printed for `field` by `cells admin token policy`.
fn policy_field(shown: &str, field: &str) -> String {
    let line = shown.lines().find(|l| l.split_whitespace().next() == Some(field));
    let line = line.unwrap_or_else(|| panic!("no {field} in\n{shown}"));
    line[field.len()..].trim().to_owned()
}

#[tokio::test]
async fn token_cli_policy_limits_from_the_cli() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;

    let said = cli_ok(&server.cli(
        &[
            "user",
            "token",
            "-u",
            "alice",
            "-e",
            "1d",
            "-l",
            "from here",
            "--allow-ip",
            "127.0.0.1",
            "--allow-ip",
            "10.1.2.3/8",
            "--via",
            "rest,webdav",
        ],
        None,
    ));
    assert!(said.contains("Only from: 127.0.0.1/32, 10.0.0.0/8"), "{said}");
    assert!(said.contains("Only through: rest, webdav"), "{said}");
    let here: Vec<&str> = said.lines().filter(|l| is_pat(l)).collect();
    assert_eq!(here.len(), 1, "{said}");
    server.bearer(here[0]).get("/a/tree/").await.expect(200);
    let listed = record_labelled(&admin, "from here").await;
    assert_eq!(listed["AllowedIps"], json!(["127.0.0.1/32", "10.0.0.0/8"]), "{listed}");
    assert_eq!(listed["AllowedVia"], json!(["rest", "webdav"]), "{listed}");

    // Outside its limits: refused, though the same token works elsewhere.
    let elsewhere = server.pat("alice", &["-e", "1d", "-l", "elsewhere", "--allow-ip", "192.0.2.0/24"]);
    assert_refused(&server.bearer(&elsewhere).get("/a/tree/").await);
    let sftp_only = server.pat("alice", &["-e", "1d", "-l", "sftp only", "--via", "SFTP"]);
    assert_refused(&server.bearer(&sftp_only).get("/a/tree/").await);
    assert_eq!(record_labelled(&admin, "sftp only").await["AllowedVia"], json!(["sftp"]));

    let table = cli_ok(&server.cli(&["token", "list", "-u", "alice"], None));
    assert!(table.lines().next().unwrap().contains(" LIMITS "), "{table}");
    assert!(row(&table, "from here").contains(" ip=127.0.0.1/32,10.0.0.0/8 via=rest,webdav "), "{table}");
    assert!(row(&table, "sftp only").contains(" via=sftp "), "{table}");

    // Mistakes: status 2, the value named, no token.
    let before = records(&admin, None).await.len();
    for (flag, value) in [
        ("--allow-ip", "10.0.0.0/33"),
        ("--allow-ip", "nope"),
        ("--allow-ip", "10.0.0/8"),
        ("--allow-ip", "127.0.0.1,"),
        ("--via", "ftp"),
        ("--via", "rest,ftps"),
    ] {
        let output = server.cli(&["user", "token", "-u", "alice", "-e", "1d", flag, value], None);
        let err = cli_usage_error(&output);
        assert!(!String::from_utf8_lossy(&output.stdout).contains("cpat_"), "{flag} {value} printed a token");
        let named = value.split(',').any(|part| err.contains(&format!("{part:?}")));
        assert!(named, "{flag} {value}: {err}");
    }
    let many: Vec<String> = (0..65).map(|i| format!("10.0.{i}.0/24")).collect();
    let err = cli_usage_error(
        &server.cli(&["user", "token", "-u", "alice", "-e", "1d", "--allow-ip", &many.join(",")], None),
    );
    assert!(err.contains("64"), "{err}");
    assert_eq!(records(&admin, None).await.len(), before, "a mistake created a token");
}

#[tokio::test]
async fn token_cli_policy_rotate_keeps_the_old_secret_for_the_grace() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let old = server.pat("alice", &["-e", "1d", "-l", "to rotate #1", "--via", "rest"]);
    let uuid = uuid_of(&server, "to rotate #1").await;
    server.bearer(&old).get("/a/tree/").await.expect(200);

    // -q: the new token and a newline, nothing else.
    let output = server.cli(&["token", "rotate", &uuid, "--grace", "8s", "-q"], None);
    let printed = cli_ok(&output);
    assert!(printed.ends_with('\n') && is_pat(printed.trim_end()), "{printed:?}");
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    let new = printed.trim_end().to_owned();
    assert_ne!(new, old);
    // During the grace both work; after it only the new one, on the same record.
    server.bearer(&old).get("/a/tree/").await.expect(200);
    server.bearer(&new).get("/a/tree/").await.expect(200);
    let rotated = record(&admin, &uuid).await;
    assert_eq!(rotated["AllowedVia"], json!(["rest"]), "limits kept: {rotated}");
    assert_eq!(rotated["Label"], "to rotate #1");
    let (at, ends) = (rotated["RotatedAt"].as_i64().unwrap(), rotated["GraceEndsAt"].as_i64().unwrap());
    assert_eq!(ends - at, 8, "{rotated}");
    let old_session = server.bearer(&old);
    eventually("the old secret refused after its grace", Duration::from_secs(20), || async {
        old_session.get("/a/tree/").await.status == 401
    })
    .await;
    assert_refused(&old_session.get("/a/tree/").await);
    server.bearer(&new).get("/a/tree/").await.expect(200);
    record_after_failure(&admin, &uuid, |r| r.contains("rotated")).await;

    // Without -q and without a grace: the old secret stops at once; one token printed.
    let said = cli_ok(&server.cli(&["token", "rotate", &uuid], None));
    let printed: Vec<&str> = said.lines().filter(|l| is_pat(l)).collect();
    assert_eq!(printed.len(), 1, "{said}");
    assert!(said.contains(&uuid) && said.contains("alice") && said.contains("stopped working"), "{said}");
    assert!(said.to_lowercase().contains("secret"), "{said}");
    refused_within_a_second(&server.bearer(&new), "/a/tree/", "a secret rotated without grace").await;
    let newest = printed[0].to_owned();
    server.bearer(&newest).get("/a/tree/").await.expect(200);
    let said = cli_ok(&server.cli(&["token", "rotate", &uuid, "--grace", "0", "-q"], None));
    let latest = said.trim_end().to_owned();
    assert!(is_pat(&latest), "{said}");
    refused_within_a_second(&server.bearer(&newest), "/a/tree/", "a secret rotated with --grace 0").await;
    let with_grace = cli_ok(&server.cli(&["token", "rotate", &uuid, "--grace", "1h"], None));
    assert!(with_grace.contains("keeps working until"), "{with_grace}");
    let latest = with_grace.lines().find(|l| is_pat(l)).unwrap().to_owned();

    // Mistakes: status 2, and the token as it was.
    let before = record(&admin, &uuid).await;
    let revoked = server.pat("alice", &["-e", "1d", "-l", "revoked before"]);
    let revoked_uuid = uuid_of(&server, "revoked before").await;
    cli_ok(&server.cli(&["token", "revoke", &revoked_uuid], None));
    for args in [
        &["token", "rotate", &uuid, "--grace", "0s"][..],
        &["token", "rotate", &uuid, "--grace", "31d"],
        &["token", "rotate", &uuid, "--grace", "1.5h"],
        &["token", "rotate", &uuid, "--grace", "-1h"],
        &["token", "rotate", "not-a-uuid"],
        &["token", "rotate", "0b7e3c1a-9d4f-4e2b-8c6a-5f4e3d2c1b0a"],
        &["token", "rotate", &revoked_uuid],
    ] {
        let output = server.cli(args, None);
        cli_usage_error(&output);
        assert!(!String::from_utf8_lossy(&output.stdout).contains("cpat_"), "{args:?} printed a token");
    }
    let err = cli_usage_error(&server.cli(&["token", "rotate", &revoked_uuid], None));
    assert!(err.contains("revoked"), "{err}");
    assert_eq!(record(&admin, &uuid).await["RotatedAt"], before["RotatedAt"]);
    server.bearer(&latest).get("/a/tree/").await.expect(200);
    assert_refused(&server.bearer(&revoked).get("/a/tree/").await);
}

#[tokio::test]
async fn token_cli_policy_leaked_reads_stdin_and_files() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let valid = server.pat("alice", &["-e", "1d", "-l", "leaked one"]);
    let revoked = server.pat("alice", &["-e", "1d", "-l", "revoked already"]);
    let other = server.pat("alice", &["-e", "1d", "-l", "not in the report"]);
    cli_ok(&server.cli(&["token", "revoke", &uuid_of(&server, "revoked already").await], None));
    let valid_session = server.bearer(&valid);
    valid_session.get("/a/tree/").await.expect(200);

    // A scanner's JSON: the tokens inside strings, one of them twice, plus lookalikes.
    let blob = json!({
        "findings": [
            {"rule": "cells-pat", "secret": valid, "file": "deploy/ci.yml", "line": 12},
            {"rule": "cells-pat", "match": format!("Authorization: Bearer {revoked}")},
            {"rule": "cells-pat", "match": format!("token={valid}&x=1")},
            {"rule": "lookalike", "match": format!("cpat_{}", "A".repeat(49))},
        ]
    })
    .to_string();
    let output = server.cli(&["token", "leaked", "-"], Some(&blob));
    let said = cli_ok(&output);
    assert_eq!(said, "Revoked 1 token\n");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("cpat_"));
    refused_within_a_second(&valid_session, "/a/tree/", "a token reported leaked by the CLI").await;
    server.bearer(&other).get("/a/tree/").await.expect(200);
    let leaked = record_labelled(&admin, "leaked one").await;
    assert_eq!(leaked["Status"], "leaked", "{leaked}");
    assert_eq!(leaked["Leaked"]["By"], "cli", "{leaked}");
    assert_eq!(record_labelled(&admin, "revoked already").await["Status"], "revoked");
    let table = cli_ok(&server.cli(&["token", "list"], None));
    assert!(row(&table, "leaked one").contains(" leaked "), "{table}");
    assert!(!table.contains("cpat_"), "{table}");

    // The same report again revokes nothing; a log file works too.
    assert_eq!(cli_ok(&server.cli(&["token", "leaked", "-"], Some(&blob))), "Revoked 0 tokens\n");
    let log = server.dir().join("excerpt #1 ü.log");
    std::fs::write(&log, format!("2024-05-01T10:00:00Z GET /a/tree/ 200 auth=\"Bearer {other}\"\n")).unwrap();
    assert_eq!(cli_ok(&server.cli(&["token", "leaked", log.to_str().unwrap()], None)), "Revoked 1 token\n");
    refused_within_a_second(&server.bearer(&other), "/a/tree/", "a token found in a log file").await;
    assert_eq!(cli_ok(&server.cli(&["token", "leaked", "-"], Some("nothing here\n"))), "Revoked 0 tokens\n");

    // A file that cannot be read is a mistake; no argument is one too.
    let missing = server.dir().join("no such file");
    let err = cli_usage_error(&server.cli(&["token", "leaked", missing.to_str().unwrap()], None));
    assert!(err.contains("no such file"), "{err}");
    cli_usage_error(&server.cli(&["token", "leaked"], None));
}

#[tokio::test]
async fn token_cli_policy_list_expiring() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    server.user(&admin, "bob", "bob-password").await;
    server.pat("alice", &["-e", "1h", "-l", "in an hour"]);
    server.pat("alice", &["-a", "2h", "-e", "2h", "-l", "auto two hours"]);
    // An auto refresh without a cap lives as long as it is used: never "expiring".
    server.pat("alice", &["-a", "1h", "-l", "auto uncapped"]);
    server.pat("alice", &["-e", "30d", "-l", "in a month"]);
    server.pat("alice", &["-e", "1s", "-l", "expired"]);
    server.pat("bob", &["-e", "3h", "-l", "bob's soon"]);
    server.pat("alice", &["-e", "1h", "-l", "revoked soon"]);
    cli_ok(&server.cli(&["token", "revoke", &uuid_of(&server, "revoked soon").await], None));
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let labels = |table: &str| -> Vec<String> {
        let mut found: Vec<String> =
            ["in an hour", "auto two hours", "in a month", "expired", "bob's soon", "revoked soon"]
                .into_iter()
                .filter(|l| table.lines().any(|line| line.ends_with(l)))
                .map(str::to_owned)
                .collect();
        found.sort();
        found
    };
    let soon = cli_ok(&server.cli(&["token", "list", "--expiring", "1d"], None));
    assert_eq!(labels(&soon), ["auto two hours", "bob's soon", "in an hour"], "{soon}");
    assert_eq!(soon.lines().count(), 4, "{soon}");
    let alice_soon = cli_ok(&server.cli(&["token", "list", "-u", "alice", "--expiring", "2h30m"], None));
    assert_eq!(labels(&alice_soon), ["auto two hours", "in an hour"], "{alice_soon}");
    let sooner = cli_ok(&server.cli(&["token", "list", "--expiring", "90m"], None));
    assert_eq!(labels(&sooner), ["in an hour"], "{sooner}");
    let all = cli_ok(&server.cli(&["token", "list"], None));
    assert_eq!(all.lines().count(), 8, "{all}");
    assert!(!soon.contains("auto uncapped"), "{soon}");
    for bad in ["0s", "abc", "1.5d", "-1h"] {
        cli_usage_error(&server.cli(&["token", "list", &format!("--expiring={bad}")], None));
    }
}

#[tokio::test]
async fn token_cli_policy_from_start_flags() {
    let mut server = TestServer::start_with_args(&["--token-max-expires-in", "30d", "--token-auto-refresh-needs-cap"]);
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    let shown = policy_shown(&server);
    assert_eq!(policy_field(&shown, "MaxExpiresIn"), "30d", "{shown}");
    assert_eq!(policy_field(&shown, "AutoRefreshNeedsCap"), "on", "{shown}");
    assert_eq!(policy_field(&shown, "MaxAutoRefresh"), "none", "{shown}");
    let served = admin.get("/a/auth/token-policy").await.expect(200).json();
    assert_eq!(served["MaxExpiresIn"], 30 * 86_400, "{served}");
    assert_eq!(served["AutoRefreshNeedsCap"], true, "{served}");

    // Creations beyond it are refused with the rule named, and create nothing.
    let before = records(&admin, None).await.len();
    for (args, rule) in [
        (&["-e", "31d"][..], "MaxExpiresIn"),
        (&["-a", "1h"], "AutoRefreshNeedsCap"),
        (&["-a", "1h", "-e", "60d"], "MaxExpiresIn"),
    ] {
        let mut all = vec!["user", "token", "-u", "alice"];
        all.extend_from_slice(args);
        let output = server.cli(&all, None);
        let err = cli_usage_error(&output);
        assert!(err.contains(rule), "{args:?}: {err}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains("cpat_"));
    }
    assert_eq!(records(&admin, None).await.len(), before);
    server.pat("alice", &["-e", "30d", "-l", "within"]);
    server.pat("alice", &["-a", "1h", "-e", "7d", "-l", "capped within"]);

    // Changed from the CLI, then a restart writes what the flags give again, and keeps
    // what they do not.
    cli_ok(&server.cli(&["token", "policy", "--max-expires-in", "none", "--scopes-for-others"], None));
    assert_eq!(policy_field(&policy_shown(&server), "MaxExpiresIn"), "none");
    server.restart();
    let shown = policy_shown(&server);
    assert_eq!(policy_field(&shown, "MaxExpiresIn"), "30d", "{shown}");
    assert_eq!(policy_field(&shown, "ScopesForOthers"), "on", "{shown}");

    // A bad value at start: status 2, and no server.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cells"))
        .args(["start", "--bind", "127.0.0.1:0", "--sftp-bind", "127.0.0.1:0", "--data"])
        .arg(server.dir().join("never"))
        .args(["--token-max-expires-in", "1.5d"])
        .env_remove("CELLS_CONFIG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("--token-max-expires-in"), "{output:?}");
    assert!(!server.dir().join("never").exists());
}

#[tokio::test]
async fn token_cli_policy_from_the_config_file() {
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("cells #1.toml");
    std::fs::write(&file, "[tokens]\nmax_auto_refresh = \"1h\"\nscopes_for_others = true\n").unwrap();
    let path = file.to_str().unwrap();
    let server = TestServer::start_with_args(&["--config", path]);
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let shown = policy_shown(&server);
    assert_eq!(policy_field(&shown, "MaxAutoRefresh"), "1h", "{shown}");
    assert_eq!(policy_field(&shown, "ScopesForOthers"), "on", "{shown}");
    assert_eq!(policy_field(&shown, "MaxExpiresIn"), "none", "{shown}");

    let err = cli_usage_error(&server.cli(&["user", "token", "-u", "alice", "-a", "2h", "-e", "1d"], None));
    assert!(err.contains("MaxAutoRefresh") && err.contains("1h"), "{err}");
    let err = cli_usage_error(&server.cli(&["user", "token", "-u", "alice", "-e", "1d"], None));
    assert!(err.contains("ScopesForOthers"), "{err}");
    alice.mkdir("/personal-files/for the CLI").await.expect(201);
    let folder = alice.uuid("/personal-files/for the CLI").await;
    let scoped = server.pat("alice", &["-e", "1d", "-a", "1h", "-s", &format!("node:{folder}:r"), "-l", "scoped"]);
    server.bearer(&scoped).get("/a/tree/").await.expect(200);
    assert_eq!(records(&admin, None).await.len(), 1);

    // A flag wins over the file.
    let both = TestServer::start_with_args(&["--config", path, "--token-max-auto-refresh", "2h"]);
    let shown = policy_shown(&both);
    assert_eq!(policy_field(&shown, "MaxAutoRefresh"), "2h", "{shown}");
    assert_eq!(policy_field(&shown, "ScopesForOthers"), "on", "{shown}");

    // A bad [tokens] table stops the start, naming the key.
    for (bad, key) in [("max_expires_in = \"1.5d\"", "max_expires_in"), ("max_expire = \"1d\"", "max_expire")] {
        std::fs::write(&file, format!("[tokens]\n{bad}\n")).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_cells"))
            .args(["start", "--bind", "127.0.0.1:0", "--sftp-bind", "127.0.0.1:0", "--config", path, "--data"])
            .arg(config.path().join("never"))
            .output()
            .unwrap();
        assert!(!output.status.success(), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(key), "{bad}: {output:?}");
    }
}

#[tokio::test]
async fn token_cli_policy_shows_and_sets_the_policy() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let bob = server.user(&admin, "bob", "bob-password").await;
    let shown = policy_shown(&server);
    for (field, value) in [
        ("MaxExpiresIn", "none"),
        ("MaxAutoRefresh", "none"),
        ("AutoRefreshNeedsCap", "off"),
        ("ScopesForOthers", "off"),
        ("SelfService", "on"),
        ("SelfServiceUsers", "none"),
    ] {
        assert_eq!(policy_field(&shown, field), value, "{shown}");
    }

    let set = cli_ok(&server.cli(
        &[
            "token",
            "policy",
            "--max-expires-in",
            "7d",
            "--max-auto-refresh",
            "1d12h",
            "--self-service-user",
            "Alice=off",
        ],
        None,
    ));
    assert_eq!(policy_field(&set, "MaxExpiresIn"), "7d", "{set}");
    assert_eq!(policy_field(&set, "MaxAutoRefresh"), "1d12h", "{set}");
    assert_eq!(policy_field(&set, "SelfServiceUsers"), "alice=off", "{set}");
    let served = admin.get("/a/auth/token-policy").await.expect(200).json();
    assert_eq!(served["MaxExpiresIn"], 7 * 86_400, "{served}");
    assert_eq!(served["MaxAutoRefresh"], 129_600, "{served}");
    assert_eq!(served["SelfServiceUsers"], json!({"alice": false}), "{served}");
    let personal = json!({"Label": "mine", "ExpiresAt": crate::tokens::unix_now() + 3600});
    alice.post("/a/auth/token/personal", &personal).await.expect(403);
    bob.post("/a/auth/token/personal", &personal).await.expect(200);

    // Mistakes: status 2, and the policy as it was.
    let before = policy_shown(&server);
    for args in [
        &["--max-expires-in", "1.5d"][..],
        &["--max-expires-in", "0s"],
        &["--max-auto-refresh", "forever"],
        &["--auto-refresh-needs-cap", "maybe"],
        &["--self-service-user", "alice"],
        &["--self-service-user", "alice=maybe"],
        &["--self-service-user", "nobody=on"],
        &["--max-expires-in", "1d", "--self-service-user", "nobody=on"],
    ] {
        let mut all = vec!["token", "policy"];
        all.extend_from_slice(args);
        let err = cli_usage_error(&server.cli(&all, None));
        let value = args.last().unwrap();
        let named = err.contains(value) || err.contains(value.split('=').next().unwrap());
        assert!(named, "{args:?}: {err}");
    }
    assert_eq!(policy_shown(&server), before, "a mistake changed the policy");

    // Booleans: bare flag, on|off; an exception removed; the old self-service command.
    let set = cli_ok(&server.cli(
        &[
            "token",
            "policy",
            "--auto-refresh-needs-cap",
            "--scopes-for-others=on",
            "--self-service-user",
            "alice=default",
        ],
        None,
    ));
    assert_eq!(policy_field(&set, "AutoRefreshNeedsCap"), "on", "{set}");
    assert_eq!(policy_field(&set, "ScopesForOthers"), "on", "{set}");
    assert_eq!(policy_field(&set, "SelfServiceUsers"), "none", "{set}");
    assert_eq!(policy_field(&set, "MaxExpiresIn"), "7d", "fields not given keep their value: {set}");
    alice.post("/a/auth/token/personal", &personal).await.expect(200);
    cli_ok(&server.cli(&["token", "self-service", "off"], None));
    assert_eq!(policy_field(&policy_shown(&server), "SelfService"), "off");
    bob.post("/a/auth/token/personal", &personal).await.expect(403);
    let set =
        cli_ok(&server.cli(&["token", "policy", "--self-service", "on", "--auto-refresh-needs-cap", "off"], None));
    assert_eq!(policy_field(&set, "SelfService"), "on", "{set}");
    assert_eq!(policy_field(&set, "AutoRefreshNeedsCap"), "off", "{set}");
    bob.post("/a/auth/token/personal", &personal).await.expect(200);
}

#[tokio::test]
async fn token_cli_policy_revoke_beyond_policy_after_tightening() {
    let server = TestServer::start();
    let admin = server.admin().await;
    server.user(&admin, "alice", "alice-password").await;
    server.user(&admin, "bob", "bob-password").await;
    let long = server.pat("alice", &["-e", "90d", "-l", "ninety days"]);
    let short = server.pat("alice", &["-e", "1d", "-l", "one day"]);
    let uncapped = server.pat("alice", &["-a", "1h", "-l", "uncapped auto"]);
    let bobs = server.pat("bob", &["-e", "60d", "-l", "bob's sixty"]);
    let gone = server.pat("alice", &["-e", "90d", "-l", "revoked long"]);
    cli_ok(&server.cli(&["token", "revoke", &uuid_of(&server, "revoked long").await], None));

    // Nothing beyond the open policy.
    assert_eq!(
        cli_ok(&server.cli(&["token", "revoke", "--beyond-policy"], None)),
        "Revoked 0 tokens beyond the token policy\n"
    );

    let set = cli_ok(&server.cli(&["token", "policy", "--max-expires-in", "30d", "--auto-refresh-needs-cap"], None));
    assert!(set.contains("3 active token(s)"), "{set}");
    let table = cli_ok(&server.cli(&["token", "list"], None));
    assert!(table.lines().next().unwrap().contains(" BEYOND "), "{table}");
    assert!(row(&table, "ninety days").contains(" MaxExpiresIn "), "{table}");
    assert!(row(&table, "bob's sixty").contains(" MaxExpiresIn "), "{table}");
    assert!(row(&table, "uncapped auto").contains(" AutoRefreshNeedsCap "), "{table}");
    for label in ["one day", "revoked long"] {
        let line = row(&table, label);
        assert!(!line.contains("MaxExpiresIn") && !line.contains("AutoRefreshNeedsCap"), "{table}");
    }
    // The tokens still work until revoked.
    server.bearer(&long).get("/a/tree/").await.expect(200);

    let said = cli_ok(&server.cli(&["token", "revoke", "--beyond-policy"], None));
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 4, "{said}");
    for (label, rule) in
        [("ninety days", "MaxExpiresIn"), ("bob's sixty", "MaxExpiresIn"), ("uncapped auto", "AutoRefreshNeedsCap")]
    {
        let uuid = uuid_of(&server, label).await;
        let line = lines.iter().find(|l| l.contains(&uuid)).unwrap_or_else(|| panic!("no {label} in\n{said}"));
        assert!(line.contains(rule), "{line}");
    }
    assert_eq!(lines[3], "Revoked 3 tokens beyond the token policy");
    assert!(!said.contains("cpat_"), "{said}");
    for token in [&long, &bobs, &uncapped] {
        refused_within_a_second(&server.bearer(token), "/a/tree/", "a token beyond the policy").await;
    }
    server.bearer(&short).get("/a/tree/").await.expect(200);
    assert_refused(&server.bearer(&gone).get("/a/tree/").await);
    let statuses: Vec<(String, String)> = records(&admin, None)
        .await
        .iter()
        .map(|t| (t["Label"].as_str().unwrap().to_owned(), t["Status"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(statuses.iter().filter(|(_, s)| s == "active").count(), 1, "{statuses:?}");
    assert_eq!(
        cli_ok(&server.cli(&["token", "revoke", "--beyond-policy"], None)),
        "Revoked 0 tokens beyond the token policy\n"
    );

    // Neither or both of a Uuid and --beyond-policy: a mistake.
    cli_usage_error(&server.cli(&["token", "revoke"], None));
    let uuid = uuid_of(&server, "one day").await;
    cli_usage_error(&server.cli(&["token", "revoke", &uuid, "--beyond-policy"], None));
    server.bearer(&short).get("/a/tree/").await.expect(200);
    assert_eq!(record(&admin, &uuid).await["Status"], "active");
}
