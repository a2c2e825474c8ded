//! S3 at `/io` with real clients, a personal access token as the access key: the
//! `aws` CLI, rclone's S3 remote and boto3 upload a tree (a multipart file among it,
//! awkward names), list it, bring it back byte-identical and delete it; the requests of
//! Cells' Go SDK (virtual-host style, its fixed secret) are replayed with boto3.
//! `s3_refusals` holds each refusal beside its control.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::support::{Session, TestServer, files_under, random_bytes};
use crate::tokens::records;

/// The secret of Cells' SDK (`DefaultS3ApiSecret`): every request is signed with it.
pub const SECRET: &str = "gatewaysecret";

/// A server with alice, her token, and a folder for the clients.
pub struct S3Fixture {
    pub server: TestServer,
    pub admin: Session,
    pub alice: Session,
    pub token: String,
}

impl S3Fixture {
    pub async fn new() -> Self {
        let server = TestServer::start();
        let admin = server.admin().await;
        let alice = server.user(&admin, "alice", "alice-password").await;
        let token = server.pat("alice", &["-e", "1d", "-l", "s3"]);
        Self { server, admin, alice, token }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// A folder of the test's own.
    pub fn dir(&self, name: &str) -> PathBuf {
        let dir = self.server.dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// boto3 runs `steps` (see `s3_client.py`) with `key` as the access key; one answer each.
    pub fn boto3(&self, key: &str, style: &str, steps: &Value) -> Vec<Value> {
        self.boto3_signed(key, SECRET, style, steps)
    }

    pub fn boto3_signed(&self, key: &str, secret: &str, style: &str, steps: &Value) -> Vec<Value> {
        let doc = json!({"endpoint": self.endpoint(), "key": key, "secret": secret, "style": style, "steps": steps});
        let python = std::env::var("CELLS_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/s3_client.py");
        let mut child = Command::new(&python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{python} (scripts/test.sh makes a venv with boto3): {e}"));
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), doc.to_string().as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "boto3 failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        let answers: Vec<Value> = stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(answers.len(), steps.as_array().unwrap().len(), "{stdout}");
        answers
    }

    /// `aws ARGS...` with `key` as the access key and no configuration of the user's.
    pub fn aws(&self, key: &str, args: &[&str]) -> Output {
        let config = self.dir("aws");
        // scripts/test.sh names Debian's (CELLS_TEST_AWS); any `aws` otherwise.
        let aws = std::env::var("CELLS_TEST_AWS").unwrap_or_else(|_| "aws".to_owned());
        Command::new(aws)
            .args(["--endpoint-url", &self.endpoint()])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", config.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", config.join("credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("aws (Debian: awscli)")
    }

    /// `rclone ARGS...` with an S3 remote `cells:` (provider Other, path style).
    pub fn rclone(&self, key: &str, args: &[&str]) -> Output {
        let config = self.dir("rclone").join("rclone.conf");
        std::fs::write(&config, "").unwrap();
        Command::new("rclone")
            .arg("--config")
            .arg(config)
            .args(args)
            .env("RCLONE_CONFIG_CELLS_TYPE", "s3")
            .env("RCLONE_CONFIG_CELLS_PROVIDER", "Other")
            .env("RCLONE_CONFIG_CELLS_ACCESS_KEY_ID", key)
            .env("RCLONE_CONFIG_CELLS_SECRET_ACCESS_KEY", SECRET)
            .env("RCLONE_CONFIG_CELLS_ENDPOINT", self.endpoint())
            .env("RCLONE_CONFIG_CELLS_REGION", "us-east-1")
            .env("RCLONE_CONFIG_CELLS_FORCE_PATH_STYLE", "true")
            // rclone's AWS SDK takes a CA bundle from the environment and then refuses
            // its own transport; the endpoint is plain HTTP on loopback anyway.
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .expect("rclone (Debian: rclone)")
    }
}

/// Asserts that a client command succeeded; returns its stdout.
#[track_caller]
pub fn ok(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{what} failed ({:?}):\n{stdout}\n{stderr}", output.status);
    stdout
}

/// The tree every client sends: a file above the multipart thresholds (aws and boto3
/// 8 MiB, rclone's 5 MiB as set here), an empty file, names with spaces, `%`, `+`, `#`
/// and unicode.
pub fn write_tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let names =
        ["a.txt", "sub dir/b #2.bin", "sub dir/deeper/ü 100%.dat", "plus+sign & more.txt", "empty/zero", "big.bin"];
    for (i, name) in names.iter().enumerate() {
        let len = match *name {
            "empty/zero" => 0,
            "big.bin" => 20 * 1024 * 1024 + 7,
            _ => 1000 * (i + 1),
        };
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, random_bytes(len, i as u64 + 40)).unwrap();
        // Written a while ago: cells keeps whole seconds, and `aws s3 sync` sends again a
        // file whose time is later than the object's (one made in the same second).
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(earlier).unwrap();
    }
    files_under(root)
}

/// The token's `LastUsedVia`, as the admin's list shows it.
pub async fn last_used_via(fx: &S3Fixture, label: &str) -> String {
    let all = records(&fx.admin, Some("alice")).await;
    let record = all.iter().find(|t| t["Label"] == label).unwrap();
    record["LastUsedVia"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn aws_cli_syncs_a_tree_up_lists_it_and_brings_it_back_byte_identical() {
    let fx = S3Fixture::new().await;
    let up = fx.dir("up");
    let sent = write_tree(&up);

    ok("aws s3 sync up", &fx.aws(&fx.token, &["s3", "sync", up.to_str().unwrap(), "s3://io/personal-files/tree/"]));
    assert_eq!(last_used_via(&fx, "s3").await, "s3");
    // The same files, through REST: S3 wrote into the one tree.
    let odd = fx.alice.download("/personal-files/tree/sub dir/deeper/ü 100%.dat").await.expect(200);
    assert_eq!(odd.body, sent["sub dir/deeper/ü 100%.dat"]);
    let big = fx.alice.stat("/personal-files/tree/big.bin").await.expect(200).json();
    assert_eq!(big["Size"], 20 * 1024 * 1024 + 7);

    let listing = ok("aws s3 ls", &fx.aws(&fx.token, &["s3", "ls", "--recursive", "s3://io/personal-files/tree/"]));
    for name in sent.keys() {
        assert!(listing.contains(&format!("personal-files/tree/{name}")), "{name} not in\n{listing}");
    }
    let top = ok("aws s3 ls", &fx.aws(&fx.token, &["s3", "ls", "s3://io/personal-files/tree/"]));
    assert!(top.contains("PRE sub dir/") && top.contains("PRE empty/") && top.contains(" a.txt"), "{top}");
    let buckets = ok("aws s3 ls", &fx.aws(&fx.token, &["s3", "ls"]));
    assert!(buckets.trim_end().ends_with(" io"), "{buckets}");

    let down = fx.dir("down");
    ok(
        "aws s3 cp down",
        &fx.aws(&fx.token, &["s3", "cp", "--recursive", "s3://io/personal-files/tree/", down.to_str().unwrap()]),
    );
    assert_eq!(files_under(&down), sent, "the tree came back different");
    // A second sync sends nothing: sizes and times match.
    let again =
        ok("aws s3 sync", &fx.aws(&fx.token, &["s3", "sync", up.to_str().unwrap(), "s3://io/personal-files/tree/"]));
    assert!(!again.contains("upload:"), "{again}");

    ok("aws s3 rm", &fx.aws(&fx.token, &["s3", "rm", "--recursive", "s3://io/personal-files/tree/"]));
    // (`aws s3 ls` of nothing exits 1, with nothing on either output.)
    let after = fx.aws(&fx.token, &["s3", "ls", "--recursive", "s3://io/personal-files/tree/"]);
    assert_eq!((after.status.code(), &after.stdout[..], &after.stderr[..]), (Some(1), &b""[..], &b""[..]), "{after:?}");
    fx.alice.download("/personal-files/tree/a.txt").await.expect(404);
}

#[tokio::test]
async fn rclone_s3_remote_copies_a_tree_up_and_back_byte_identical() {
    let fx = S3Fixture::new().await;
    let up = fx.dir("up");
    let sent = write_tree(&up);
    let multipart = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"];

    let mut copy = vec!["copy", up.to_str().unwrap(), "cells:io/personal-files/backup"];
    copy.extend_from_slice(&multipart);
    ok("rclone copy up", &fx.rclone(&fx.token, &copy));
    let listed =
        ok("rclone lsf", &fx.rclone(&fx.token, &["lsf", "-R", "--files-only", "cells:io/personal-files/backup"]));
    let listed: std::collections::BTreeSet<&str> = listed.lines().collect();
    assert_eq!(listed, sent.keys().map(String::as_str).collect(), "rclone lists another tree");

    let down = fx.dir("down");
    ok("rclone copy down", &fx.rclone(&fx.token, &["copy", "cells:io/personal-files/backup", down.to_str().unwrap()]));
    assert_eq!(files_under(&down), sent, "the tree came back different");
    // rclone's own check: sizes (and hashes where it has them) on both sides.
    ok("rclone check", &fx.rclone(&fx.token, &["check", up.to_str().unwrap(), "cells:io/personal-files/backup"]));

    let purge = ok("rclone purge", &fx.rclone(&fx.token, &["purge", "-v", "cells:io/personal-files/backup"]));
    let left =
        ok("rclone lsf", &fx.rclone(&fx.token, &["lsf", "-R", "--files-only", "cells:io/personal-files/backup"]));
    assert_eq!(left, "", "files outlived purge: {purge}");
    fx.alice.download("/personal-files/backup/sub dir/deeper/ü 100%.dat").await.expect(404);
    // Folders are real here, and outlive the files deleted in them (docs/s3.md).
    assert_eq!(fx.alice.names("/personal-files/backup").await, ["empty", "sub dir"]);
}

#[tokio::test]
async fn boto3_uploads_lists_downloads_and_deletes_in_both_addressing_styles() {
    let fx = S3Fixture::new().await;
    let up = fx.dir("up");
    let sent = write_tree(&up);
    let down = fx.dir("down");
    for style in ["path", "virtual"] {
        let prefix = format!("personal-files/{style}/");
        let uploads: Vec<Value> = sent
            .keys()
            .map(|name| {
                json!({"op": "upload_file", "params": {
                    "Filename": up.join(name), "Bucket": "io", "Key": format!("{prefix}{name}")}})
            })
            .collect();
        for answer in fx.boto3(&fx.token, style, &Value::Array(uploads)) {
            assert_eq!(answer["ok"], true, "{style}: {answer}");
        }
        // Pages of two: continuation tokens walk the whole tree in key order.
        let mut keys = Vec::new();
        let mut token = None::<String>;
        loop {
            let mut params = json!({"Bucket": "io", "Prefix": prefix, "MaxKeys": 2});
            if let Some(token) = &token {
                params["ContinuationToken"] = json!(token);
            }
            let page = &fx.boto3(&fx.token, style, &json!([{"op": "list_objects_v2", "params": params}]))[0];
            let page = &page["result"];
            keys.extend(
                page["Contents"].as_array().into_iter().flatten().map(|o| o["Key"].as_str().unwrap().to_owned()),
            );
            if page["IsTruncated"] != true {
                break;
            }
            token = Some(page["NextContinuationToken"].as_str().unwrap().to_owned());
        }
        let expected: Vec<String> = sent.keys().map(|name| format!("{prefix}{name}")).collect();
        assert_eq!(keys, expected, "{style}: keys not all listed, or not in order");

        let downloads: Vec<Value> = sent
            .keys()
            .map(|name| {
                let file = down.join(style).join(name);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                json!({"op": "download_file", "params": {"Filename": file, "Bucket": "io", "Key": format!("{prefix}{name}")}})
            })
            .collect();
        for answer in fx.boto3(&fx.token, style, &Value::Array(downloads)) {
            assert_eq!(answer["ok"], true, "{style}: {answer}");
        }
        assert_eq!(files_under(&down.join(style)), sent, "{style}: the tree came back different");

        let objects: Vec<Value> = expected.iter().map(|key| json!({"Key": key})).collect();
        let steps = json!([
            {"op": "delete_objects", "params": {"Bucket": "io", "Delete": {"Objects": objects}}},
            {"op": "list_objects_v2", "params": {"Bucket": "io", "Prefix": prefix}},
        ]);
        let answers = fx.boto3(&fx.token, style, &steps);
        assert_eq!(answers[0]["result"]["Deleted"].as_array().map(Vec::len), Some(sent.len()), "{}", answers[0]);
        assert_eq!(answers[1]["result"]["KeyCount"], 0, "{}", answers[1]);
    }
}

/// What `cec` does through Cells' Go SDK (aws-sdk-go-v2 with a base endpoint: bucket
/// `io` as a virtual host, region us-east-1, the fixed secret), replayed with boto3.
#[tokio::test]
async fn the_requests_of_cells_sdk_replayed() {
    let fx = S3Fixture::new().await;
    fx.alice.mkdir("/personal-files/notes").await.expect(201);
    fx.alice.upload("/personal-files/notes/today.txt", "0123456789").await.expect(201);
    let steps = json!([
        {"op": "list_buckets"},
        {"op": "head_bucket", "params": {"Bucket": "io"}},
        {"op": "get_bucket_location", "params": {"Bucket": "io"}},
        // cec ls: the workspaces, then a folder, one level at a time.
        {"op": "list_objects_v2", "params": {"Bucket": "io", "Delimiter": "/"}},
        {"op": "list_objects_v2", "params": {"Bucket": "io", "Prefix": "personal-files/notes/", "Delimiter": "/"}},
        // cec scp up: a put whose folders do not exist yet.
        {"op": "put_object", "params": {"Bucket": "io", "Key": "personal-files/new/deep/up.txt", "Body": "sent by cec"}},
        {"op": "head_object", "params": {"Bucket": "io", "Key": "personal-files/new/deep/up.txt"}},
        // cec scp down: ranged and conditional reads.
        {"op": "get_object", "params": {"Bucket": "io", "Key": "personal-files/notes/today.txt", "Range": "bytes=2-5"}},
        {"op": "copy_object", "params": {"Bucket": "io", "Key": "personal-files/notes/copy.txt",
            "CopySource": {"Bucket": "io", "Key": "personal-files/notes/today.txt"}}},
        // cec rm.
        {"op": "delete_object", "params": {"Bucket": "io", "Key": "personal-files/notes/today.txt"}},
        {"op": "get_object", "params": {"Bucket": "io", "Key": "personal-files/notes/today.txt"}},
    ]);
    let a = fx.boto3(&fx.token, "virtual", &steps);
    assert!(a.iter().take(10).all(|answer| answer["ok"] == true), "{a:#?}");
    assert_eq!(a[0]["result"]["Buckets"][0]["Name"], "io", "{}", a[0]);
    let roots: Vec<&str> =
        a[3]["result"]["CommonPrefixes"].as_array().unwrap().iter().map(|p| p["Prefix"].as_str().unwrap()).collect();
    assert!(roots.contains(&"personal-files/"), "{roots:?}");
    assert_eq!(a[4]["result"]["Contents"][0]["Key"], "personal-files/notes/today.txt", "{}", a[4]);
    assert_eq!(a[4]["result"]["Contents"][0]["Size"], 10);
    assert_eq!(a[6]["result"]["ContentLength"], 11);
    assert_eq!(a[7]["result"]["Body"], "2345", "{}", a[7]);
    assert_eq!(a[7]["result"]["ContentRange"], "bytes 2-5/10");
    assert_eq!(a[10]["code"], "NoSuchKey", "{}", a[10]);
    assert_eq!(a[10]["status"], 404);
    // Through REST: the folders were made, the copy is there, the original is gone.
    assert_eq!(fx.alice.download("/personal-files/new/deep/up.txt").await.expect(200).text(), "sent by cec");
    assert_eq!(fx.alice.stat("/personal-files/new/deep").await.expect(200).json()["Type"], "COLLECTION");
    assert_eq!(fx.alice.download("/personal-files/notes/copy.txt").await.expect(200).text(), "0123456789");
    fx.alice.download("/personal-files/notes/today.txt").await.expect(404);
    assert_eq!(last_used_via(&fx, "s3").await, "s3");
}

/// Cells' SDK also signs with a login's access token (a JWT) as the access key; after
/// logout it opens nothing.
#[tokio::test]
async fn a_login_access_token_is_an_access_key_too() {
    let fx = S3Fixture::new().await;
    fx.alice.upload("/personal-files/a.txt", "from a login").await.expect(201);
    let grant = fx.server.login_grant("alice", "alice-password").await;
    let access = grant["access_token"].as_str().unwrap();
    let get = json!([{"op": "get_object", "params": {"Bucket": "io", "Key": "personal-files/a.txt"}}]);
    let answer = &fx.boto3(access, "virtual", &get)[0];
    assert_eq!(answer["result"]["Body"], "from a login", "{answer}");
    let refresh = grant["refresh_token"].as_str().unwrap();
    let logout = fx.server.client.post(fx.server.url("/oauth2/revoke")).form(&[("token", refresh)]).send().await;
    assert_eq!(logout.unwrap().status(), 200);
    crate::support::within_a_second("a login ended, over S3", || async {
        let answer = &fx.boto3(access, "virtual", &get)[0];
        answer["ok"] == false && answer["code"] == "InvalidAccessKeyId"
    })
    .await;
}
