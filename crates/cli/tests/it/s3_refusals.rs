//! S3 at `/io` refuses what it must, each refusal beside a control that succeeds: a
//! wrong signature, a body that is not the one signed, a bad Content-MD5, a revoked
//! token (within a second), scopes (reads, writes, listings, copies), keys that climb,
//! presigned URLs (and no log line carries one), protocol and address limits; and
//! multipart uploads stay out of the tree until completed, the collector ending the
//! abandoned ones.

use serde_json::{Value, json};

use crate::s3::S3Fixture;
use crate::support::{cli_ok, within_a_second};
use crate::tokens::{record_after_failure, record_labelled};

fn put(key: &str, body: &str) -> Value {
    json!({"op": "put_object", "params": {"Bucket": "io", "Key": key, "Body": body}})
}

fn get(key: &str) -> Value {
    json!({"op": "get_object", "params": {"Bucket": "io", "Key": key}})
}

fn list(prefix: &str) -> Value {
    json!({"op": "list_objects_v2", "params": {"Bucket": "io", "Prefix": prefix, "Delimiter": "/"}})
}

#[track_caller]
fn refused(answer: &Value, status: u16, code: &str) {
    assert_eq!(answer["ok"], false, "not refused: {answer}");
    assert_eq!((answer["status"].as_u64(), answer["code"].as_str()), (Some(u64::from(status)), Some(code)), "{answer}");
}

#[track_caller]
fn succeeded(answer: &Value) -> &Value {
    assert_eq!(answer["ok"], true, "refused: {answer}");
    &answer["result"]
}

/// The keys and folder prefixes of a listing answer.
fn listed(answer: &Value) -> Vec<String> {
    let result = succeeded(answer);
    let keys = result["Contents"].as_array().into_iter().flatten().map(|o| &o["Key"]);
    let prefixes = result["CommonPrefixes"].as_array().into_iter().flatten().map(|p| &p["Prefix"]);
    keys.chain(prefixes).map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn signatures_bodies_and_digests_that_do_not_match_are_refused() {
    let fx = S3Fixture::new().await;
    let wrong = fx.boto3_signed(&fx.token, "not-the-secret", "path", &json!([put("personal-files/a.txt", "a")]));
    refused(&wrong[0], 403, "SignatureDoesNotMatch");
    let a = fx.boto3(
        &fx.token,
        "path",
        &json!([
            // The body changed after signing: its hash no longer matches the signed one.
            {"op": "put_object", "tamper": true, "params": {"Bucket": "io", "Key": "personal-files/b.txt", "Body": "bbbb"}},
            // Content-MD5 of the empty body, sent with "hello".
            {"op": "put_object", "params": {"Bucket": "io", "Key": "personal-files/c.txt", "Body": "hello",
                "ContentMD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}},
            // The control: the same token, signed with the fixed secret, its digest right.
            {"op": "put_object", "params": {"Bucket": "io", "Key": "personal-files/a.txt", "Body": "hello",
                "ContentMD5": "XUFAKrxLKna5cZ2REBfFkg=="}},
        ]),
    );
    refused(&a[0], 400, "XAmzContentSHA256Mismatch");
    refused(&a[1], 400, "BadDigest");
    succeeded(&a[2]);
    for lost in ["/personal-files/b.txt", "/personal-files/c.txt"] {
        fx.alice.download(lost).await.expect(404);
    }
    assert_eq!(fx.alice.download("/personal-files/a.txt").await.expect(200).text(), "hello");
    // Nor is a signature of the key's own making a way in: an unknown key is refused.
    let unknown = fx.boto3("cpat_notatokenatall", "path", &json!([list("")]));
    refused(&unknown[0], 403, "InvalidAccessKeyId");
}

#[tokio::test]
async fn a_revoked_token_is_refused_within_a_second() {
    let fx = S3Fixture::new().await;
    succeeded(&fx.boto3(&fx.token, "path", &json!([list("personal-files/")]))[0]);
    let uuid = record_labelled(&fx.admin, "s3").await["Uuid"].as_str().unwrap().to_owned();
    fx.admin.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    within_a_second("a revoked token over S3", || async {
        let answer = &fx.boto3(&fx.token, "path", &json!([list("personal-files/")]))[0];
        answer["ok"] == false && answer["code"] == "InvalidAccessKeyId"
    })
    .await;
    let record = record_after_failure(&fx.admin, &uuid, |reason| reason == "revoked").await;
    assert_eq!(record["LastUsedVia"], "s3", "{record}");
}

#[tokio::test]
async fn scopes_bound_reads_writes_listings_and_copies() {
    let fx = S3Fixture::new().await;
    fx.alice.mkdir("/personal-files/shared").await.expect(201);
    fx.alice.upload("/personal-files/shared/in.txt", "inside").await.expect(201);
    fx.alice.upload("/personal-files/private.txt", "private").await.expect(201);
    let shared = fx.alice.uuid("/personal-files/shared").await;
    let reader = fx.server.pat("alice", &["-e", "1h", "-s", &format!("node:{shared}:r")]);
    let writer = fx.server.pat("alice", &["-e", "1h", "-s", &format!("node:{shared}:rw")]);

    let r = fx.boto3(
        &reader,
        "path",
        &json!([
            get("personal-files/shared/in.txt"),
            list(""),
            list("personal-files/"),
            list("personal-files/shared/"),
            get("personal-files/private.txt"),
            list("personal-files/pri"),
            put("personal-files/shared/new.txt", "no"),
            {"op": "delete_object", "params": {"Bucket": "io", "Key": "personal-files/shared/in.txt"}},
        ]),
    );
    assert_eq!(succeeded(&r[0])["Body"], "inside");
    // The way down to the scope, and nothing beside it.
    assert_eq!(listed(&r[1]), ["personal-files/"]);
    assert_eq!(listed(&r[2]), ["personal-files/shared/"]);
    assert_eq!(listed(&r[3]), ["personal-files/shared/in.txt"]);
    assert_eq!(r[4]["ok"], false, "{}", r[4]);
    assert!(listed(&r[5]).is_empty(), "{}", r[5]);
    refused(&r[6], 403, "AccessDenied");
    refused(&r[7], 403, "AccessDenied");
    fx.alice.download("/personal-files/shared/new.txt").await.expect(404);
    fx.alice.download("/personal-files/shared/in.txt").await.expect(200);

    let copy_out = json!({"op": "copy_object", "params": {"Bucket": "io", "Key": "personal-files/out.txt",
        "CopySource": {"Bucket": "io", "Key": "personal-files/shared/in.txt"}}});
    let copy_in = json!({"op": "copy_object", "params": {"Bucket": "io", "Key": "personal-files/shared/copy.txt",
        "CopySource": {"Bucket": "io", "Key": "personal-files/shared/in.txt"}}});
    let w = fx.boto3(
        &writer,
        "path",
        &json!([
            put("personal-files/shared/new.txt", "yes"),
            put("personal-files/outside.txt", "no"),
            copy_out,
            copy_in,
            // Folders missing inside the scope are made; outside it, not.
            put("personal-files/shared/made/on/the/way.txt", "deep"),
            put("personal-files/made/way.txt", "no"),
        ]),
    );
    succeeded(&w[0]);
    refused(&w[1], 403, "AccessDenied");
    refused(&w[2], 403, "AccessDenied");
    succeeded(&w[3]);
    succeeded(&w[4]);
    refused(&w[5], 403, "AccessDenied");
    assert_eq!(fx.alice.download("/personal-files/shared/made/on/the/way.txt").await.expect(200).text(), "deep");
    fx.alice.stat("/personal-files/made").await.expect(404);
    assert_eq!(fx.alice.download("/personal-files/shared/new.txt").await.expect(200).text(), "yes");
    assert_eq!(fx.alice.download("/personal-files/shared/copy.txt").await.expect(200).text(), "inside");
    fx.alice.download("/personal-files/outside.txt").await.expect(404);
    fx.alice.download("/personal-files/out.txt").await.expect(404);
}

#[tokio::test]
async fn keys_that_climb_or_name_nothing_are_refused() {
    let fx = S3Fixture::new().await;
    let a = fx.boto3(
        &fx.token,
        "path",
        &json!([
            put("personal-files/../etc/passwd", "x"),
            put("personal-files/a/../../b.txt", "x"),
            put("personal-files/./c.txt", "x"),
            put("no-such-workspace/d.txt", "x"),
            put("personal-files/fine.txt", "x"),
        ]),
    );
    for answer in &a[..3] {
        assert_eq!(answer["ok"], false, "{answer}");
        assert_eq!(answer["status"], 400, "{answer}");
    }
    assert_eq!(a[3]["ok"], false, "{}", a[3]);
    succeeded(&a[4]);
    assert_eq!(fx.alice.names("/personal-files").await, ["fine.txt"]);
}

#[tokio::test]
async fn a_presigned_url_is_refused_saying_why_and_is_not_logged() {
    let fx = S3Fixture::new().await;
    fx.alice.upload("/personal-files/a.txt", "a").await.expect(201);
    let url = fx.boto3(
        &fx.token,
        "path",
        &json!([{"op": "presign", "params": {"Bucket": "io", "Key": "personal-files/a.txt"}}]),
    );
    let url = url[0]["result"].as_str().unwrap().to_owned();
    assert!(url.contains("X-Amz-Credential=cpat_"), "{url}");
    let target = url.strip_prefix(&fx.endpoint()).unwrap();
    let answer = fx.server.anonymous().get(target).await.expect(403);
    let body = answer.text();
    assert!(body.contains("<Code>AccessDenied</Code>") && body.contains("presigned"), "{body}");
    // The control: the same token, signed in the header.
    assert_eq!(succeeded(&fx.boto3(&fx.token, "path", &json!([get("personal-files/a.txt")]))[0])["Body"], "a");
    let log = fx.server.log();
    assert!(!log.contains(&fx.token), "the token in the log");
    assert!(!log.contains("X-Amz-Signature"), "a presigned query in the log:\n{log}");
}

#[tokio::test]
async fn protocol_and_address_limits_hold_over_s3() {
    let fx = S3Fixture::new().await;
    let rest_only = fx.server.pat("alice", &["-e", "1h", "--via", "rest", "-l", "rest only"]);
    let s3_only = fx.server.pat("alice", &["-e", "1h", "--via", "s3", "-l", "s3 only"]);
    let elsewhere = fx.server.pat("alice", &["-e", "1h", "--allow-ip", "10.0.0.0/8", "-l", "elsewhere"]);
    let here = fx.server.pat("alice", &["-e", "1h", "--allow-ip", "10.0.0.0/8,127.0.0.0/8", "-l", "here"]);

    refused(&fx.boto3(&rest_only, "path", &json!([list("")]))[0], 403, "InvalidAccessKeyId");
    fx.server.bearer(&rest_only).get("/a/tree/").await.expect(200);
    succeeded(&fx.boto3(&s3_only, "path", &json!([list("")]))[0]);
    assert_eq!(fx.server.bearer(&s3_only).get("/a/tree/").await.status, 401);
    refused(&fx.boto3(&elsewhere, "path", &json!([list("")]))[0], 403, "InvalidAccessKeyId");
    succeeded(&fx.boto3(&here, "path", &json!([list("")]))[0]);

    let uuid = record_labelled(&fx.admin, "elsewhere").await["Uuid"].as_str().unwrap().to_owned();
    record_after_failure(&fx.admin, &uuid, |reason| reason == "address").await;
    assert_eq!(record_labelled(&fx.admin, "s3 only").await["LastUsedVia"], "s3");
}

#[tokio::test]
async fn multipart_parts_stay_out_of_the_tree_and_abandoned_uploads_are_collected() {
    let fx = S3Fixture::new().await;
    let key = "personal-files/mp/big.bin";
    let create = json!({"op": "create_multipart_upload", "params": {"Bucket": "io", "Key": key}});
    let started = fx.boto3(&fx.token, "path", &json!([create, create, create]));
    let ids: Vec<String> = started.iter().map(|a| succeeded(a)["UploadId"].as_str().unwrap().to_owned()).collect();
    let part = |id: &str, number: u32, body: &str| json!({"op": "upload_part", "params": {"Bucket": "io", "Key": key, "UploadId": id, "PartNumber": number, "Body": body}});
    let five_mib = "m".repeat(5 * 1024 * 1024);
    let a = fx.boto3(
        &fx.token,
        "path",
        &json!([
            part(&ids[0], 1, &five_mib),
            part(&ids[0], 2, "tail"),
            part(&ids[1], 1, "small"),
            part(&ids[1], 2, "x"),
            part(&ids[2], 1, "left behind"),
            {"op": "list_parts", "params": {"Bucket": "io", "Key": key, "UploadId": ids[0]}},
            {"op": "list_multipart_uploads", "params": {"Bucket": "io", "Prefix": "personal-files/mp/"}},
            list("personal-files/mp/"),
        ]),
    );
    let etags: Vec<&str> = a[..5].iter().map(|answer| succeeded(answer)["ETag"].as_str().unwrap()).collect();
    let parts = succeeded(&a[5])["Parts"].as_array().unwrap().clone();
    assert_eq!(parts.iter().map(|p| p["Size"].as_u64().unwrap()).collect::<Vec<_>>(), [5 * 1024 * 1024, 4]);
    let uploads = succeeded(&a[6])["Uploads"].as_array().unwrap().clone();
    assert_eq!(uploads.len(), 3, "{uploads:?}");
    // Parts are not files: nothing in the tree until the upload completes.
    assert!(listed(&a[7]).is_empty(), "{}", a[7]);
    fx.alice.download("/personal-files/mp/big.bin").await.expect(404);

    let complete = |id: &str, parts: Value| {
        json!({"op": "complete_multipart_upload", "params": {"Bucket": "io", "Key": key, "UploadId": id,
            "MultipartUpload": {"Parts": parts}}})
    };
    let b = fx.boto3(
        &fx.token,
        "path",
        &json!([
            complete(&ids[1], json!([{"PartNumber": 1, "ETag": etags[2]}, {"PartNumber": 2, "ETag": etags[3]}])),
            complete(&ids[0], json!([{"PartNumber": 1, "ETag": etags[1]}, {"PartNumber": 2, "ETag": etags[1]}])),
            complete(&ids[0], json!([{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": etags[1]}])),
            {"op": "abort_multipart_upload", "params": {"Bucket": "io", "Key": key, "UploadId": ids[1]}},
            {"op": "list_multipart_uploads", "params": {"Bucket": "io"}},
        ]),
    );
    refused(&b[0], 400, "EntityTooSmall");
    refused(&b[1], 400, "InvalidPart");
    succeeded(&b[2]);
    succeeded(&b[3]);
    let left: Vec<&str> =
        succeeded(&b[4])["Uploads"].as_array().unwrap().iter().map(|u| u["UploadId"].as_str().unwrap()).collect();
    assert_eq!(left, [ids[2].as_str()]);
    let file = fx.alice.download("/personal-files/mp/big.bin").await.expect(200);
    assert_eq!(file.body.len(), 5 * 1024 * 1024 + 4);
    assert!(file.body.ends_with(b"mtail"));

    // The collector aborts what was left unfinished (here: at any age).
    let out = cli_ok(&fx.server.cli(&["blobs", "collect", "--abandoned-uploads-secs", "0", "--grace-secs", "0"], None));
    assert!(out.contains("Aborted 1 multipart uploads"), "{out}");
    let c = fx.boto3(
        &fx.token,
        "path",
        &json!([{"op": "list_multipart_uploads", "params": {"Bucket": "io"}}, part(&ids[2], 2, "too late")]),
    );
    assert!(succeeded(&c[0])["Uploads"].as_array().is_none_or(Vec::is_empty), "{}", c[0]);
    refused(&c[1], 404, "NoSuchUpload");
}
