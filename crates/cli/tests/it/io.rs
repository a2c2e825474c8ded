//! `/io` content (ranges, conditional requests, replace) and the tree (listings, copy,
//! move, delete), with awkward names.

use reqwest::Method;
use serde_json::json;

use crate::support::{Session, TestServer, cli_ok, enc, long_name, random_bytes};

async fn get_with(session: &Session, path: &str, headers: &[(&str, &str)]) -> crate::support::Reply {
    let mut request = session.request(Method::GET, &format!("/io{}", enc(path)));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Session::send(request).await
}

async fn put_with(
    session: &Session,
    path: &str,
    headers: &[(&str, &str)],
    body: &'static str,
) -> crate::support::Reply {
    let mut request = session.request(Method::PUT, &format!("/io{}", enc(path))).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Session::send(request).await
}

#[tokio::test]
async fn content_ranges_and_conditions() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let name = long_name();
    assert_eq!(name.len(), 255);
    alice.mkdir("/personal-files/ü dir").await.expect(201);
    let path = format!("/personal-files/ü dir/{name}");
    let content = random_bytes(300_000, 7);

    let created = alice.upload(&path, content.clone()).await.expect(201);
    let node = created.json();
    assert_eq!(node["Path"], path.as_str());
    assert_eq!(node["Size"], 300_000);
    let etag = created.header("ETag").unwrap();
    assert_eq!(etag, format!("\"{}\"", node["Etag"].as_str().unwrap()));

    // GET and HEAD: the same headers, HEAD without a body.
    let whole = alice.download(&path).await.expect(200);
    assert!(whole.body == content);
    assert_eq!(whole.header("ETag").as_deref(), Some(etag.as_str()));
    assert_eq!(whole.header("Accept-Ranges").as_deref(), Some("bytes"));
    assert_eq!(whole.header("X-Content-Type-Options").as_deref(), Some("nosniff"), "uploaded content is never sniffed");
    assert_eq!(whole.header("Content-Length").as_deref(), Some("300000"));
    let last_modified = whole.header("Last-Modified").unwrap();
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");
    let head = Session::send(alice.request(Method::HEAD, &format!("/io{}", enc(&path)))).await.expect(200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("Content-Length").as_deref(), Some("300000"));
    assert_eq!(head.header("ETag").as_deref(), Some(etag.as_str()));
    assert_eq!(head.header("Last-Modified"), Some(last_modified.clone()));

    // Ranges: a-b, a-, -n, clipped; past the end is 416.
    for (range, start, end) in
        [("bytes=0-0", 0, 0), ("bytes=1000-270000", 1000, 270_000), ("bytes=299990-", 299_990, 299_999)]
    {
        let part = get_with(&alice, &path, &[("Range", range)]).await.expect(206);
        assert!(part.body == content[start..=end], "{range}");
        assert_eq!(part.header("Content-Range"), Some(format!("bytes {start}-{end}/300000")), "{range}");
        assert_eq!(part.header("Content-Length"), Some((end - start + 1).to_string()));
    }
    let suffix = get_with(&alice, &path, &[("Range", "bytes=-100")]).await.expect(206);
    assert!(suffix.body == content[299_900..]);
    let clipped = get_with(&alice, &path, &[("Range", "bytes=299000-999999")]).await.expect(206);
    assert_eq!(clipped.header("Content-Range").as_deref(), Some("bytes 299000-299999/300000"));
    for past in ["bytes=300000-", "bytes=400000-500000"] {
        let refused = get_with(&alice, &path, &[("Range", past)]).await.expect_error(416, "RangeNotSatisfiable");
        assert_eq!(refused.header("Content-Range").as_deref(), Some("bytes */300000"));
    }

    // Conditional GET.
    let fresh = get_with(&alice, &path, &[("If-None-Match", &etag)]).await.expect(304);
    assert!(fresh.body.is_empty());
    get_with(&alice, &path, &[("If-None-Match", "\"other\"")]).await.expect(200);
    get_with(&alice, &path, &[("If-Match", "\"other\"")]).await.expect_error(412, "PreconditionFailed");
    get_with(&alice, &path, &[("If-Match", &etag)]).await.expect(200);
    let stale = get_with(&alice, &path, &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")]).await.expect(200);
    assert_eq!(stale.body.len(), 300_000, "a stale If-Range gets everything");
    get_with(&alice, &path, &[("Range", "bytes=0-9"), ("If-Range", &etag)]).await.expect(206);

    // Conditional PUT; a replace keeps the Uuid and changes the ETag.
    put_with(&alice, &path, &[("If-Match", "\"other\"")], "no").await.expect_error(412, "PreconditionFailed");
    put_with(&alice, &path, &[("If-None-Match", "*")], "no").await.expect_error(412, "PreconditionFailed");
    let replaced = put_with(&alice, &path, &[("If-Match", &etag)], "second version").await.expect(200);
    let replaced_node = replaced.json();
    assert_eq!(replaced_node["Uuid"], node["Uuid"]);
    assert_eq!(replaced_node["Size"], 14);
    let new_etag = replaced.header("ETag").unwrap();
    assert_ne!(new_etag, etag);
    assert_eq!(alice.download(&path).await.expect(200).text(), "second version");
    get_with(&alice, &path, &[("If-None-Match", &etag)]).await.expect(200);
    put_with(&alice, "/personal-files/ü dir/new", &[("If-None-Match", "*")], "new").await.expect(201);
    put_with(&alice, "/personal-files/ü dir/never", &[("If-Match", "*")], "x").await.expect(412);
    alice.download("/personal-files/ü dir/never").await.expect(404);

    // An empty file; a folder has no content; DELETE.
    alice.upload("/personal-files/empty", Vec::new()).await.expect(201);
    let empty = alice.download("/personal-files/empty").await.expect(200);
    assert!(empty.body.is_empty());
    assert_eq!(empty.header("Content-Length").as_deref(), Some("0"));
    alice.download("/personal-files/ü dir").await.expect_error(409, "Conflict");
    alice.upload("/personal-files/ü dir", "on a folder").await.expect_error(409, "Conflict");
    alice.delete(&format!("/io{}", enc(&path))).await.expect(204);
    alice.download(&path).await.expect_error(404, "NotFound");
    alice.delete(&format!("/io{}", enc(&path))).await.expect_error(404, "NotFound");
}

#[tokio::test]
async fn listings_are_paged_and_sorted_by_name() {
    let server = TestServer::start();
    let admin = server.admin().await;
    admin.mkdir("/common-files/many").await.expect(201);
    let mut names: Vec<String> =
        (0..23).map(|i| format!("file {i:02} #%ç")).chain(["Zebra".into(), "a b".into(), "ü".into()]).collect();
    for (i, name) in names.iter().enumerate() {
        let path = format!("/common-files/many/{name}");
        if i % 2 == 0 {
            admin.upload(&path, name.clone()).await.expect(201);
        } else {
            admin.post("/a/tree/create", &json!({"Path": path, "Type": "LEAF"})).await.expect(201);
        }
    }
    names.sort();
    assert_eq!(admin.names("/common-files/many").await, names);

    let mut seen = Vec::new();
    for offset in (0..names.len()).step_by(10) {
        let page = admin.get(&format!("/a/tree/common-files/many?children=true&offset={offset}&limit=10")).await;
        let page = page.expect(200).json();
        assert_eq!(page["Node"]["Path"], "/common-files/many");
        assert_eq!(page["Node"]["Type"], "COLLECTION");
        assert_eq!(page["Pagination"]["Total"], names.len());
        assert_eq!(page["Pagination"]["Offset"], offset);
        assert_eq!(page["Pagination"]["Limit"], 10);
        for child in page["Children"].as_array().unwrap() {
            seen.push(child["Path"].as_str().unwrap().trim_start_matches("/common-files/many/").to_owned());
            assert!(child["Uuid"].as_str().is_some_and(|u| u.len() == 36));
            assert!(child["MTime"].as_i64().is_some_and(|t| t > 1_600_000_000));
            assert_eq!(child["Type"], "LEAF");
        }
    }
    assert_eq!(seen, names);
    let beyond = admin.get("/a/tree/common-files/many?children=true&offset=1000").await.expect(200).json();
    assert_eq!(beyond["Children"], json!([]));
    assert_eq!(beyond["Pagination"]["Total"], names.len());
    let max = admin.get("/a/tree/common-files/many?children=true&limit=10000").await.expect(200).json();
    assert_eq!(max["Children"].as_array().unwrap().len(), names.len());
}

#[tokio::test]
async fn copy_move_and_delete_subtrees() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    alice.mkdir("/personal-files/src %").await.expect(201);
    alice.mkdir("/personal-files/src %/inner #").await.expect(201);
    let deep = alice.upload("/personal-files/src %/inner #/deep ü.txt", "deep").await.expect(201).json();
    let top = alice.upload("/personal-files/src %/top.txt", "top").await.expect(201).json();

    // Copy: new UUIDs everywhere, same content, independent afterwards.
    let copy = json!({"From": "/personal-files/src %", "To": "/common-files/copy %"});
    let copied = alice.post("/a/tree/copy", &copy).await.expect(201).json();
    assert_eq!(copied["Path"], "/common-files/copy %");
    let copied_deep = alice.stat("/common-files/copy %/inner #/deep ü.txt").await.expect(200).json();
    assert_ne!(copied_deep["Uuid"], deep["Uuid"]);
    assert_eq!(alice.download("/common-files/copy %/inner #/deep ü.txt").await.expect(200).text(), "deep");
    alice.upload("/common-files/copy %/top.txt", "changed copy").await.expect(200);
    assert_eq!(alice.download("/personal-files/src %/top.txt").await.expect(200).text(), "top");
    alice.post("/a/tree/copy", &copy).await.expect_error(409, "Conflict");

    // Move: the UUIDs of the folder and its descendants stay; the old paths are gone.
    let mv = json!({"From": "/personal-files/src %", "To": "/personal-files/dst ü"});
    alice.post("/a/tree/move", &mv).await.expect(200);
    let moved_deep = alice.stat("/personal-files/dst ü/inner #/deep ü.txt").await.expect(200).json();
    assert_eq!(moved_deep["Uuid"], deep["Uuid"]);
    assert_eq!(moved_deep["Path"], "/personal-files/dst ü/inner #/deep ü.txt");
    let by_uuid = alice.get(&format!("/a/nodes/{}", top["Uuid"].as_str().unwrap())).await.expect(200).json();
    assert_eq!(by_uuid["Path"], "/personal-files/dst ü/top.txt");
    alice.stat("/personal-files/src %/top.txt").await.expect_error(404, "NotFound");
    alice.post("/a/tree/move", &mv).await.expect_error(404, "NotFound");
    // A prefix sibling is not part of the subtree.
    alice.mkdir("/personal-files/dst").await.expect(201);
    alice.upload("/personal-files/dst/keep", "keep").await.expect(201);
    alice.upload("/personal-files/dst ü2", "sibling").await.expect(201);

    // Into itself: 400; onto an existing name: 409.
    let into = json!({"From": "/personal-files/dst ü", "To": "/personal-files/dst ü/inner #/x"});
    alice.post("/a/tree/move", &into).await.expect_error(400, "BadRequest");
    alice.post("/a/tree/copy", &into).await.expect_error(400, "BadRequest");
    let onto = json!({"From": "/personal-files/dst ü/top.txt", "To": "/personal-files/dst ü/inner #"});
    alice.post("/a/tree/move", &onto).await.expect_error(409, "Conflict");

    // Delete a folder: everything below goes, siblings stay.
    alice.delete(&format!("/a/tree{}", enc("/personal-files/dst ü"))).await.expect(204);
    alice.get(&format!("/a/nodes/{}", deep["Uuid"].as_str().unwrap())).await.expect_error(404, "NotFound");
    alice.download("/personal-files/dst ü/inner #/deep ü.txt").await.expect(404);
    let mut left = alice.names("/personal-files").await;
    left.sort();
    assert_eq!(left, ["dst", "dst ü2"]);
    assert_eq!(alice.download("/personal-files/dst/keep").await.expect(200).text(), "keep");
    // The copy is untouched.
    assert_eq!(alice.download("/common-files/copy %/inner #/deep ü.txt").await.expect(200).text(), "deep");
}

#[tokio::test]
async fn concurrent_writes_serialise_without_errors_or_leaks() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let blobs = server.blob_root().join("blobs");
    let count_blobs = || -> usize {
        let dirs = std::fs::read_dir(&blobs).unwrap().map(|d| d.unwrap().path());
        dirs.map(|d| std::fs::read_dir(d).unwrap().count()).sum()
    };

    // Sixteen uploads to one new name: one creates, the others replace; one blob is left.
    let bodies: Vec<String> = (0..16).map(|i| format!("version {i} ").repeat(10_000)).collect();
    let puts = bodies.iter().map(|body| admin.upload("/common-files/race #1.txt", body.clone()));
    let statuses: Vec<u16> = futures_util::future::join_all(puts).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 15, "{statuses:?}");
    let content = admin.download("/common-files/race #1.txt").await.expect(200).text();
    assert!(bodies.contains(&content), "the content is a mix of uploads");
    assert_eq!(count_blobs(), 16, "replaced blobs wait for the collector");
    cli_ok(&server.cli(&["blobs", "collect", "--grace-secs", "0"], None));
    assert_eq!(count_blobs(), 1, "the collector removes replaced blobs");
    assert_eq!(admin.download("/common-files/race #1.txt").await.expect(200).text(), content);

    // Sixteen uploads to distinct names all succeed.
    let paths: Vec<String> = (0..16).map(|i| format!("/common-files/many {i} ü")).collect();
    let puts = paths.iter().map(|path| admin.upload(path, path.clone()));
    for reply in futures_util::future::join_all(puts).await {
        reply.expect(201);
    }
    assert_eq!(admin.names("/common-files").await.len(), 17);
    assert_eq!(count_blobs(), 17);

    // Eight creations of one folder: one wins, the others are told it exists.
    let creations = (0..8).map(|_| admin.mkdir("/common-files/same dir"));
    let statuses: Vec<u16> = futures_util::future::join_all(creations).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s, 201 | 409)), "{statuses:?}");

    // Deleting everything, then collecting, removes every blob.
    for name in admin.names("/common-files").await {
        admin.delete(&format!("/a/tree{}", enc(&format!("/common-files/{name}")))).await.expect(204);
    }
    cli_ok(&server.cli(&["blobs", "collect", "--grace-secs", "0"], None));
    assert_eq!(count_blobs(), 0);
}

#[tokio::test]
async fn moves_and_copies_keep_every_path_within_the_limit() {
    let server = TestServer::start();
    let admin = server.admin().await;
    // Fifteen folders of 250-byte names and a file: a path of 4031 bytes, within 4096.
    let name = "é".repeat(125);
    let mut deep = String::from("/personal-files");
    for _ in 0..15 {
        deep = format!("{deep}/{name}");
        admin.mkdir(&deep).await.expect(201);
    }
    let file = format!("{deep}/{name}");
    assert_eq!(file.len(), 4031);
    admin.upload(&file, "deep").await.expect(201);
    let other = format!("/personal-files/{}", "x".repeat(250));
    admin.mkdir(&other).await.expect(201);

    // Below `other`, the file would be 4282 bytes long, and no request could name it.
    let top = format!("/personal-files/{name}");
    for route in ["/a/tree/move", "/a/tree/copy"] {
        let body = json!({"From": top, "To": format!("{other}/{name}")});
        admin.post(route, &body).await.expect_error(400, "BadRequest");
    }
    assert_eq!(admin.names(&other).await, Vec::<String>::new());
    assert_eq!(admin.download(&file).await.expect(200).text(), "deep");
    // A shorter destination name fits.
    let body = json!({"From": top, "To": format!("{other}/s")});
    admin.post("/a/tree/move", &body).await.expect(200);
    let moved = format!("{other}/s{}", &file[top.len()..]);
    assert_eq!(admin.download(&moved).await.expect(200).text(), "deep");
}
