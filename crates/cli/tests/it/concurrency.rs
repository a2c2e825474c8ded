//! Concurrency: racing moves, uploads into folders that move while they stream, copies
//! cancelled midway or racing a delete of their source, concurrent conditional PUTs,
//! and revocation during a long download or a slow upload.
//!
//! Each test asserts the outcome of every request it races, then ends with
//! [`assert_tree_consistent`]: the tree in the database is sound (every node reachable
//! from its workspace root, paths matching parents, one root per workspace) and, once
//! the blob collector has run, the blob store holds exactly the blobs nodes refer to.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{GENEROUS, Reply, Session, TestServer, cli_ok, enc, eventually, random_bytes};
use crate::tokens::{assert_refused, record_labelled, refused_within_a_second};

const MIB: usize = 1024 * 1024;
const PF: &str = "/personal-files";

/// The rows `sql` selects from the server's database, as JSON objects: through the
/// `sqlite3` CLI (installed by `scripts/test.sh`), opened read-only, or through `psql`
/// on PostgreSQL (the checks are written in SQL both understand).
fn query(server: &TestServer, sql: &str) -> Vec<Value> {
    let output = match server.database_url() {
        Some(url) if url.starts_with("postgres") => Command::new("psql")
            .args(["-X", "-At", url, "-c"])
            .arg(format!("SELECT COALESCE(json_agg(t), '[]'::json) FROM ({sql}) t"))
            .output()
            .expect("psql"),
        _ => Command::new("sqlite3")
            .args(["-readonly", "-json"])
            .arg(server.data().join("cells.db"))
            .arg(sql)
            .output()
            .expect("sqlite3 (scripts/test.sh installs it)"),
    };
    assert!(output.status.success(), "query {sql}: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    if text.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("sqlite3 -json ({e}): {text}"))
}

/// What `sql` selects, described for a failure message, or nothing.
fn faults(server: &TestServer, what: &str, sql: &str) -> Option<String> {
    let rows = query(server, sql);
    (!rows.is_empty()).then(|| format!("{what}: {rows:?}"))
}

/// The published blobs (`blobs/*/*` in the blob folder or bucket) and their sizes.
fn blob_files(server: &TestServer) -> BTreeMap<String, u64> {
    let mut found = BTreeMap::new();
    let Ok(shards) = std::fs::read_dir(server.blob_root().join("blobs")) else { return found };
    for shard in shards.map(Result::unwrap).filter(|s| s.path().is_dir()) {
        for entry in std::fs::read_dir(shard.path()).unwrap().map(Result::unwrap) {
            found.insert(entry.file_name().to_string_lossy().into_owned(), entry.metadata().unwrap().len());
        }
    }
    found
}

/// Temporary files of uploads that have received bytes, and those bytes.
fn uploads_in_flight(server: &TestServer) -> (usize, u64) {
    let Ok(entries) = std::fs::read_dir(server.data().join("blobs").join("tmp")) else { return (0, 0) };
    let sizes: Vec<u64> = entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).collect();
    let receiving = sizes.iter().filter(|len| **len > 0).count();
    (receiving, sizes.iter().sum())
}

/// What is wrong with the tree in the database: nodes whose parent is missing, a file
/// or in another workspace; paths that are not their parent's path, `/`, and their name;
/// workspaces without exactly one root (path `''`, a folder); nodes not reachable from
/// their workspace root; folders with content.
fn tree_faults(server: &TestServer) -> Vec<String> {
    let checks = [
        (
            "nodes whose parent is missing, a file, or in another workspace",
            "SELECT n.uuid, n.path, p.kind, p.workspace <> n.workspace AS elsewhere FROM nodes n \
             LEFT JOIN nodes p ON p.uuid = n.parent \
             WHERE n.parent IS NOT NULL AND (p.uuid IS NULL OR p.kind <> 'COLLECTION' OR p.workspace <> n.workspace)",
        ),
        (
            "nodes whose path is not their parent's path and their name",
            "SELECT n.path, n.name, p.path AS parent_path FROM nodes n JOIN nodes p ON p.uuid = n.parent \
             WHERE n.path <> CASE WHEN p.path = '' THEN n.name ELSE p.path || '/' || n.name END",
        ),
        (
            "workspaces without exactly one root",
            "SELECT * FROM (SELECT w.slug, w.kind, \
               (SELECT COUNT(*) FROM nodes n WHERE n.workspace = w.uuid AND n.parent IS NULL) AS roots, \
               (SELECT COUNT(*) FROM nodes n WHERE n.workspace = w.uuid AND n.path = '') AS empty_paths \
             FROM workspaces w) c WHERE roots <> 1 OR empty_paths <> 1",
        ),
        (
            "roots that are not a folder at path ''",
            "SELECT uuid, path, kind FROM nodes WHERE parent IS NULL AND (path <> '' OR kind <> 'COLLECTION')",
        ),
        ("nodes of no workspace", "SELECT uuid, path FROM nodes WHERE workspace NOT IN (SELECT uuid FROM workspaces)"),
        (
            "nodes not reachable from their workspace root",
            "WITH RECURSIVE reached(uuid) AS (SELECT uuid FROM nodes WHERE parent IS NULL \
               UNION SELECT n.uuid FROM nodes n JOIN reached r ON n.parent = r.uuid) \
             SELECT uuid, path FROM nodes WHERE uuid NOT IN (SELECT uuid FROM reached)",
        ),
        (
            "folders with content, or files with a size and no content",
            "SELECT path, kind, size, blob FROM nodes \
             WHERE (kind = 'COLLECTION' AND blob IS NOT NULL) OR (kind = 'LEAF' AND blob IS NULL AND size <> 0)",
        ),
    ];
    checks.iter().filter_map(|(what, sql)| faults(server, what, sql)).collect()
}

/// What is wrong with the blob store against the database: referenced blobs missing or
/// of another size than their nodes say, and published blobs no node refers to.
fn blob_faults(server: &TestServer) -> Vec<String> {
    let referenced = query(
        server,
        "SELECT blob, MIN(size) AS low, MAX(size) AS high FROM nodes WHERE blob IS NOT NULL GROUP BY blob",
    );
    let files = blob_files(server);
    let mut found = Vec::new();
    let mut wanted = BTreeMap::new();
    for row in &referenced {
        let blob = row["blob"].as_str().unwrap().to_owned();
        if row["low"] != row["high"] {
            found.push(format!("nodes sharing blob {blob} disagree on its size: {row}"));
        }
        let size = row["high"].as_u64().unwrap();
        if files.get(&blob) != Some(&size) {
            found.push(format!("blob {blob} is referenced with size {size}; the store has {:?}", files.get(&blob)));
        }
        wanted.insert(blob, size);
    }
    let orphans: Vec<&String> = files.keys().filter(|blob| !wanted.contains_key(*blob)).collect();
    if !orphans.is_empty() {
        found.push(format!("blobs no node refers to: {orphans:?}"));
    }
    found
}

/// Asserts the tree and the blob store are sound (see [`tree_faults`]); then runs
/// `cells admin blobs collect --grace-secs 0` and asserts that every published blob is
/// referenced by a node, and every referenced blob exists with the size its nodes give
/// (see [`blob_faults`]), and that no upload left a temporary file. Returns the number
/// of nodes.
pub async fn assert_tree_consistent(server: &TestServer) -> usize {
    let tree = tree_faults(server);
    assert!(tree.is_empty(), "the tree is broken:\n{}", tree.join("\n"));
    cli_ok(&server.cli(&["blobs", "collect", "--grace-secs", "0"], None));
    let blobs = blob_faults(server);
    assert!(blobs.is_empty(), "the blob store is out of step, after the collector ran:\n{}", blobs.join("\n"));
    // An upload refused or cut drops its temporary file (its handler may still be
    // unwinding when the test's last answer came).
    eventually("no upload left a temporary file", Duration::from_secs(10), || async {
        uploads_in_flight(server) == (0, 0)
    })
    .await;
    let nodes = query(server, "SELECT COUNT(*) AS n FROM nodes");
    let count = usize::try_from(nodes[0]["n"].as_u64().unwrap()).unwrap();
    eprintln!("tree consistent: {count} nodes, {} blobs", blob_files(server).len());
    count
}

/// How far a streamed request body has got. Once `hurry` is set, the rest goes at once.
#[derive(Default)]
struct Flow {
    sent: AtomicUsize,
    hurry: AtomicBool,
}

impl Flow {
    fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    fn hurry(&self) {
        self.hurry.store(true, Ordering::SeqCst);
    }
}

/// `content` as a request body in `piece`-byte chunks, `pause` apart (until `flow` hurries).
fn slow_body(content: Vec<u8>, piece: usize, pause: Duration, flow: Arc<Flow>) -> reqwest::Body {
    let content = Arc::new(content);
    let stream = futures_util::stream::unfold(0usize, move |offset| {
        let (content, flow) = (content.clone(), flow.clone());
        async move {
            if offset >= content.len() {
                return None;
            }
            if !flow.hurry.load(Ordering::SeqCst) {
                tokio::time::sleep(pause).await;
            }
            let end = (offset + piece).min(content.len());
            flow.sent.store(end, Ordering::SeqCst);
            Some((Ok::<_, std::io::Error>(content[offset..end].to_vec()), end))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

/// `/a/tree{path}`, for DELETE.
fn tree(path: &str) -> String {
    format!("/a/tree{}", enc(path))
}

async fn move_to(session: &Session, from: &str, to: &str) -> Reply {
    session.post("/a/tree/move", &json!({"From": from, "To": to})).await
}

async fn copy_to(session: &Session, from: &str, to: &str) -> Reply {
    session.post("/a/tree/copy", &json!({"From": from, "To": to})).await
}

/// Where node `uuid` is now (its `Path`).
async fn path_of(session: &Session, uuid: &str) -> String {
    let node = session.get(&format!("/a/nodes/{uuid}")).await.expect(200).json();
    node["Path"].as_str().unwrap_or_else(|| panic!("no Path in {node}")).to_owned()
}

// ---------------------------------------------------------------------------------------
// Racing moves.

/// Checks that each folder is where its Uuid says, reachable by listing from the
/// workspace root and holding its file; then moves each back to the top.
async fn settle(alice: &Session, names: &[&str], uuids: &[String]) {
    for (name, uuid) in names.iter().zip(uuids) {
        let path = path_of(alice, uuid).await;
        assert!(path.starts_with(PF) && path.ends_with(&format!("/{name}")), "{name} is at {path}");
        let mut folder = PF.to_owned();
        for part in path[PF.len() + 1..].split('/') {
            assert!(alice.names(&folder).await.iter().any(|n| n == part), "{folder} does not list {part} ({path})");
            folder = format!("{folder}/{part}");
        }
        assert_eq!(alice.download(&format!("{path}/inside.txt")).await.expect(200).text(), *name);
    }
    for (name, uuid) in names.iter().zip(uuids) {
        let path = path_of(alice, uuid).await;
        let top = format!("{PF}/{name}");
        if path != top {
            move_to(alice, &path, &top).await.expect(200);
        }
    }
    let mut listed = alice.names(PF).await;
    listed.sort();
    let mut expected: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

/// Folders at the top of alice's workspace, each holding `inside.txt`, moved into each
/// other by racing requests.
struct Folders<'a> {
    alice: &'a Session,
    names: &'a [&'a str],
    uuids: Vec<String>,
    tally: BTreeMap<u16, usize>,
}

impl Folders<'_> {
    fn top(&self, i: usize) -> String {
        format!("{PF}/{}", self.names[i])
    }

    /// Sends the moves `i` into `j` all at once, from the top where every folder starts.
    /// Every answer is 200, 400 (into itself) or 409 (the destination moved meanwhile);
    /// a folder whose move won is right inside its destination, wherever that went, and
    /// one whose move lost is still at the top. Then [`settle`]. Returns how many won.
    async fn race(&mut self, what: &str, moves: &[(usize, usize)]) -> usize {
        let plans: Vec<(String, String)> =
            moves.iter().map(|&(i, j)| (self.top(i), format!("{}/{}", self.top(j), self.names[i]))).collect();
        let replies = join_all(plans.iter().map(|(from, to)| move_to(self.alice, from, to))).await;
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        for (reply, &(i, j)) in replies.iter().zip(moves) {
            *self.tally.entry(reply.status).or_default() += 1;
            assert!(matches!(reply.status, 200 | 400 | 409), "{what}: {statuses:?}: {}", reply.text());
            let now = path_of(self.alice, &self.uuids[i]).await;
            if reply.status == 200 {
                let inside = format!("/{}/{}", self.names[j], self.names[i]);
                assert!(now.ends_with(&inside), "{what}: {statuses:?}: {} won its move but is at {now}", self.names[i]);
            } else {
                reply.assert_error_shape();
                assert_eq!(now, self.top(i), "{what}: {statuses:?}: {} lost its move", self.names[i]);
            }
        }
        settle(self.alice, self.names, &self.uuids).await;
        statuses.iter().filter(|s| **s == 200).count()
    }
}

#[tokio::test]
async fn racing_moves_of_folders_into_each_other_never_make_a_cycle() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let names = ["a ü", "b #", "c %", "d", "e é"];
    let mut uuids = Vec::new();
    for name in names {
        alice.mkdir(&format!("{PF}/{name}")).await.expect(201);
        alice.upload(&format!("{PF}/{name}/inside.txt"), name).await.expect(201);
        uuids.push(alice.uuid(&format!("{PF}/{name}")).await);
    }
    let mut folders = Folders { alice: &alice, names: &names, uuids, tally: BTreeMap::new() };

    // Two folders crossing: x into y and y into x, at once. Both would be a cycle; the
    // first to commit wins, and the other then finds its destination moved.
    for round in 0..40 {
        let (x, y) = (round % 5, (round + 1 + round / 5) % 5);
        let (x, y) = if x == y { (x, (y + 1) % 5) } else { (x, y) };
        let won = folders.race(&format!("crossing {round}"), &[(x, y), (y, x)]).await;
        assert_eq!(won, 1, "crossing {round}");
    }
    // Three in a ring: a into b, b into c, c into a. All three would be a cycle.
    for round in 0..15 {
        let ring: Vec<(usize, usize)> = (0..3).map(|k| ((k + round) % 3, (k + round + 1) % 3)).collect();
        let won = folders.race(&format!("ring {round}"), &ring).await;
        assert!((1..=2).contains(&won), "ring {round}: {won} won");
    }
    // All five at once, each into another: a graph where every folder has one way out
    // has a cycle, so at most four can win.
    for round in 0..15 {
        let storm: Vec<(usize, usize)> = (0..5).map(|i| (i, (i + 1 + (round * 7 + i * 3) % 4) % 5)).collect();
        let won = folders.race(&format!("storm {round}"), &storm).await;
        assert!((1..=4).contains(&won), "storm {round}: {won} won");
    }
    eprintln!("racing moves: statuses {:?}", folders.tally);
    assert_tree_consistent(&server).await;
}

// ---------------------------------------------------------------------------------------
// Uploads into a folder that moves.

const UPLOADS: usize = 4;

/// [`UPLOADS`] uploads of 4 MiB into one folder, 64 KiB every 100 ms (six seconds each
/// unless hurried), all under way.
struct SlowUploads {
    contents: Vec<Vec<u8>>,
    flows: Vec<Arc<Flow>>,
    tasks: Vec<tokio::task::JoinHandle<Reply>>,
}

impl SlowUploads {
    /// Starts them, and waits until the server is receiving every one.
    async fn start(server: &TestServer, alice: &Session, folder: &str, seed: u64) -> Self {
        let contents: Vec<Vec<u8>> = (0..UPLOADS).map(|i| random_bytes(4 * MIB + i, seed + i as u64)).collect();
        let flows: Vec<Arc<Flow>> = (0..UPLOADS).map(|_| Arc::default()).collect();
        let tasks = contents
            .iter()
            .zip(&flows)
            .enumerate()
            .map(|(i, (content, flow))| {
                let body = slow_body(content.clone(), 64 * 1024, Duration::from_millis(100), flow.clone());
                let target = format!("/io{}", enc(&format!("{folder}/f{i}.bin")));
                tokio::spawn(Session::send(alice.request(Method::PUT, &target).body(body)))
            })
            .collect();
        eventually("every upload is streaming", Duration::from_secs(30), || async {
            uploads_in_flight(server).0 >= UPLOADS
        })
        .await;
        Self { contents, flows, tasks }
    }

    /// Lets the bodies go at once and collects the answers: each is 201 or 409
    /// `Conflict`. Returns the names that landed (201).
    async fn finish(self, what: &str, tally: &mut BTreeMap<u16, usize>) -> (Vec<String>, Vec<Vec<u8>>) {
        let unfinished = self.flows.iter().filter(|f| f.sent() < 4 * MIB).count();
        eprintln!("{what}: {unfinished} of {UPLOADS} uploads were still streaming");
        for flow in &self.flows {
            flow.hurry();
        }
        let mut landed = Vec::new();
        for (i, task) in self.tasks.into_iter().enumerate() {
            let reply = task.await.unwrap();
            *tally.entry(reply.status).or_default() += 1;
            match reply.status {
                201 => landed.push(format!("f{i}.bin")),
                409 => {
                    reply.expect_error(409, "Conflict");
                }
                other => panic!("{what}: upload {i}: {other} {}", reply.text()),
            }
        }
        (landed, self.contents)
    }
}

#[tokio::test]
async fn uploads_into_a_folder_that_moves_land_at_its_new_path_or_fail_with_409() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    alice.mkdir(&format!("{PF}/up ü")).await.expect(201);
    alice.mkdir(&format!("{PF}/outer #")).await.expect(201);
    alice.mkdir(&format!("{PF}/outer #/inner")).await.expect(201);
    // (the folder uploaded into, the folder that moves: itself or one above it, where to)
    let rounds = [
        (format!("{PF}/up ü"), format!("{PF}/up ü"), format!("{PF}/moved ü")),
        (format!("{PF}/outer #/inner"), format!("{PF}/outer #"), format!("{PF}/outer moved #")),
    ];
    let mut tally: BTreeMap<u16, usize> = BTreeMap::new();
    for (round, (folder, moving, to)) in rounds.iter().enumerate() {
        let uploads = SlowUploads::start(&server, &alice, folder, 100 * (round as u64 + 1)).await;
        let moved = move_to(&alice, moving, to).await.expect(200).json();
        assert_eq!(moved["Path"], to.as_str());
        // The old path is taken at once by new, empty folders.
        alice.mkdir(moving).await.expect(201);
        if folder != moving {
            alice.mkdir(folder).await.expect(201);
        }
        let (landed, contents) = uploads.finish(&format!("round {round}, {moving} moved"), &mut tally).await;
        // What landed is at the folder's new path with its content; nothing at the old one.
        let new_folder = folder.replacen(moving.as_str(), to, 1);
        let mut listed = alice.names(&new_folder).await;
        listed.sort();
        assert_eq!(listed, landed, "round {round}: {new_folder}");
        for (i, content) in contents.iter().enumerate() {
            let name = format!("f{i}.bin");
            let old = alice.download(&format!("{folder}/{name}")).await;
            assert_eq!(old.status, 404, "round {round}: {folder}/{name} is served ({} bytes)", old.body.len());
            if landed.contains(&name) {
                assert!(alice.download(&format!("{new_folder}/{name}")).await.expect(200).body == *content);
            }
        }
        assert!(alice.names(folder).await.is_empty(), "round {round}: the new folder at the old path is empty");
    }
    eprintln!("uploads into moving folders: statuses {tally:?}");
    // Control: an upload into the moved folder, once it stays put, works.
    alice.upload(&format!("{PF}/moved ü/after.txt"), "after").await.expect(201);
    assert_tree_consistent(&server).await;
}

#[tokio::test]
async fn uploads_into_a_folder_deleted_meanwhile_fail_with_409_and_leave_nothing() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let folder = format!("{PF}/doomed ü");
    alice.mkdir(&folder).await.expect(201);
    alice.upload(&format!("{folder}/old.txt"), "old").await.expect(201);
    let uploads = SlowUploads::start(&server, &alice, &folder, 500).await;
    alice.delete(&tree(&folder)).await.expect(204);
    // A new folder of the same name at once: the uploads were for the deleted one.
    alice.mkdir(&folder).await.expect(201);
    let mut tally = BTreeMap::new();
    let (landed, _) = uploads.finish("a folder deleted", &mut tally).await;
    assert!(landed.is_empty(), "uploads landed in a folder that was deleted under them: {landed:?}");
    assert!(alice.names(&folder).await.is_empty(), "the new folder of the same name is empty");
    // Control: an upload into the new folder works.
    alice.upload(&format!("{folder}/new.txt"), "new").await.expect(201);
    assert_eq!(
        assert_tree_consistent(&server).await,
        5,
        "the roots of admin, alice and common-files, the folder, its file"
    );
}

// ---------------------------------------------------------------------------------------
// Copies cancelled midway, and copies racing a delete of their source.

/// Nodes at `name` (top level of alice's workspace) and below, counted in one statement.
fn subtree_size(server: &TestServer, name: &str) -> u64 {
    assert!(!name.contains('\''), "{name}");
    let rows = query(
        server,
        &format!(
            "SELECT COUNT(*) AS n FROM nodes WHERE workspace = (SELECT w.uuid FROM workspaces w \
               JOIN users u ON u.uuid = w.owner WHERE u.login = 'alice' AND w.kind = 'personal') \
             AND (path = '{name}' OR substr(path, 1, length('{name}') + 1) = '{name}' || '/')"
        ),
    );
    rows[0]["n"].as_u64().unwrap()
}

#[tokio::test]
async fn copies_cancelled_midway_or_racing_a_delete_are_all_or_nothing() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;

    // A tree of 3071 nodes: 4 files, doubled nine times by copies (which share blobs).
    alice.mkdir(&format!("{PF}/t0")).await.expect(201);
    let files: Vec<Vec<u8>> = (0..4).map(|i| random_bytes(100_000 + i, 40 + i as u64)).collect();
    for (i, content) in files.iter().enumerate() {
        alice.upload(&format!("{PF}/t0/f{i}.bin"), content.clone()).await.expect(201);
    }
    for k in 1..=9 {
        alice.mkdir(&format!("{PF}/t{k}")).await.expect(201);
        move_to(&alice, &format!("{PF}/t{}", k - 1), &format!("{PF}/t{k}/x")).await.expect(200);
        copy_to(&alice, &format!("{PF}/t{k}/x"), &format!("{PF}/t{k}/y")).await.expect(201);
    }
    move_to(&alice, &format!("{PF}/t9"), &format!("{PF}/master")).await.expect(200);
    const TREE: u64 = 4 * 512 + 1023;
    assert_eq!(subtree_size(&server, "master"), TREE);
    let deepest = "/y/y/y/y/y/y/y/y/y/f3.bin";

    // Copies abandoned by their client 0 to 250 ms after sending: each is all there or
    // not at all, at any moment.
    let mut complete = 0;
    for (i, delay) in [0, 1, 2, 5, 10, 20, 40, 80, 150, 250].into_iter().enumerate() {
        let request = alice
            .request(Method::POST, "/a/tree/copy")
            .json(&json!({"From": format!("{PF}/master"), "To": format!("{PF}/cut {i}")}));
        let copy = tokio::spawn(request.send());
        tokio::time::sleep(Duration::from_millis(delay)).await;
        copy.abort();
        let size = subtree_size(&server, &format!("cut {i}"));
        assert!(size == 0 || size == TREE, "copy {i} cut after {delay} ms: {size} of {TREE} nodes visible");
    }
    for i in 0..10 {
        let name = format!("cut {i}");
        let size = subtree_size(&server, &name);
        assert!(size == 0 || size == TREE, "copy {i}: {size} of {TREE} nodes visible");
        let stat = alice.stat(&format!("{PF}/{name}")).await;
        if size == TREE {
            complete += 1;
            assert!(alice.download(&format!("{PF}/{name}{deepest}")).await.expect(200).body == files[3]);
        } else {
            assert!(matches!(stat.status, 200 | 404), "{}", stat.status);
        }
    }
    eprintln!("copies cut midway: {complete} of 10 were complete, the others absent");

    // A copy racing a delete of its source: the copy is complete (it came first) or
    // absent (the source was gone), and the delete always succeeds.
    let mut kept = Vec::new();
    let mut tally: BTreeMap<u16, usize> = BTreeMap::new();
    for round in 0..8u64 {
        let src = format!("{PF}/src {round}");
        let dup = format!("dup {round}");
        copy_to(&alice, &format!("{PF}/master"), &src).await.expect(201);
        let unique = random_bytes(200_000, 1000 + round);
        alice.upload(&format!("{src}/unique.bin"), unique.clone()).await.expect(201);
        let pause = |yes: bool| tokio::time::sleep(Duration::from_millis(if yes { round * 3 } else { 0 }));
        let copy = async {
            pause(round % 2 == 1).await;
            copy_to(&alice, &src, &format!("{PF}/{dup}")).await
        };
        let delete = async {
            pause(round % 2 == 0).await;
            alice.delete(&tree(&src)).await
        };
        let (copied, deleted) = tokio::join!(copy, delete);
        deleted.expect(204);
        *tally.entry(copied.status).or_default() += 1;
        let size = subtree_size(&server, &dup);
        match copied.status {
            201 => {
                assert_eq!(size, TREE + 1, "round {round}: the copy is whole");
                kept.push((dup, unique));
            }
            404 | 409 => {
                copied.assert_error_shape();
                assert_eq!(size, 0, "round {round}: a refused copy leaves nothing");
            }
            other => panic!("round {round}: copy {other} {}", copied.text()),
        }
        alice.stat(&src).await.expect(404);
    }
    eprintln!("copy racing a delete of its source: copy statuses {tally:?}");
    assert_tree_consistent(&server).await;
    // What the copies share with their deleted sources survived the collector.
    for (dup, unique) in &kept {
        assert!(alice.download(&format!("{PF}/{dup}/unique.bin")).await.expect(200).body == *unique);
        assert!(alice.download(&format!("{PF}/{dup}{deepest}")).await.expect(200).body == files[3]);
    }
    assert!(alice.download(&format!("{PF}/master/x/x/x/x/x/x/x/x/x/f0.bin")).await.expect(200).body == files[0]);
}

// ---------------------------------------------------------------------------------------
// Concurrent conditional PUTs.

/// A PUT of `content` with one condition header, its body streamed over about 240 ms so
/// that racing PUTs overlap.
async fn put_if(session: &Session, path: &str, condition: (&str, &str), content: Vec<u8>) -> Reply {
    let body = slow_body(content, 64 * 1024, Duration::from_millis(30), Arc::default());
    let request = session.request(Method::PUT, &format!("/io{}", enc(path))).header(condition.0, condition.1);
    Session::send(request.body(body)).await
}

/// The one index whose answer is `winner`; every other answer is a 412.
#[track_caller]
fn sole_winner(replies: &[Reply], winner: u16) -> usize {
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    let winners: Vec<usize> = (0..replies.len()).filter(|i| statuses[*i] == winner).collect();
    assert_eq!(winners.len(), 1, "{statuses:?}");
    for reply in replies.iter().filter(|r| r.status != winner) {
        assert_eq!(reply.status, 412, "{statuses:?}: {}", reply.text());
        assert_eq!(reply.json()["Code"], "PreconditionFailed");
    }
    winners[0]
}

#[tokio::test]
async fn concurrent_conditional_puts_have_exactly_one_winner() {
    const RACERS: usize = 16;
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let path = format!("{PF}/race ü #1.bin");

    // Sixteen creations of one new name: one 201, fifteen 412, the winner's content.
    let contents: Vec<Vec<u8>> = (0..RACERS).map(|i| random_bytes(512 * 1024 + i, 60 + i as u64)).collect();
    let puts = contents.iter().map(|c| put_if(&alice, &path, ("If-None-Match", "*"), c.clone()));
    let replies = join_all(puts).await;
    let first = sole_winner(&replies, 201);
    let got = alice.download(&path).await.expect(200);
    assert!(got.body == contents[first], "the content is the winner's ({first})");
    let etag = replies[first].header("ETag").unwrap();
    assert_eq!(got.header("ETag").as_deref(), Some(etag.as_str()));
    let uuid = replies[first].json()["Uuid"].as_str().unwrap().to_owned();

    // Sixteen updates of that version: one 200, fifteen 412, the winner's content.
    let updates: Vec<Vec<u8>> = (0..RACERS).map(|i| random_bytes(512 * 1024 + 100 + i, 80 + i as u64)).collect();
    let puts = updates.iter().map(|c| put_if(&alice, &path, ("If-Match", &etag), c.clone()));
    let replies = join_all(puts).await;
    let second = sole_winner(&replies, 200);
    let got = alice.download(&path).await.expect(200);
    assert!(got.body == updates[second], "the content is the update winner's ({second})");
    let new_etag = replies[second].header("ETag").unwrap();
    assert_ne!(new_etag, etag);
    assert_eq!(got.header("ETag").as_deref(), Some(new_etag.as_str()));
    assert_eq!(replies[second].json()["Uuid"], uuid.as_str(), "a replace keeps the Uuid");

    // The stale version is refused; the current one (the control) is accepted.
    put_if(&alice, &path, ("If-Match", &etag), b"stale".to_vec()).await.expect_error(412, "PreconditionFailed");
    put_if(&alice, &path, ("If-Match", &new_etag), b"current".to_vec()).await.expect(200);
    assert_eq!(alice.download(&path).await.expect(200).text(), "current");
    assert_tree_consistent(&server).await;
}

// ---------------------------------------------------------------------------------------
// Revocation during a long download and a slow upload.

#[tokio::test]
async fn revoking_a_token_ends_its_long_download_and_its_slow_upload() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let alice = server.user(&admin, "alice", "alice-password").await;
    let size = 64 * MIB;
    let content = random_bytes(size, 77);
    let path = format!("{PF}/long 64 MiB.bin");
    alice.upload(&path, content.clone()).await.expect(201);

    // A slow reader (4 MiB/s: sixteen seconds for the whole file) with a PAT; the token
    // is revoked with the CLI once 4 MiB have arrived.
    let token = server.pat("alice", &["-e", "1d", "-l", "long download"]);
    let uuid = record_labelled(&admin, "long download").await["Uuid"].as_str().unwrap().to_owned();
    let pat = server.bearer(&token);
    let response = pat.request(Method::GET, &format!("/io{}", enc(&path))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(size as u64));
    let mut stream = response.bytes_stream();
    let (started, mut received, mut revoked) = (Instant::now(), 0usize, None);
    let failure = loop {
        let last = match stream.next().await {
            None => break None,
            Some(Err(err)) => break Some(err),
            Some(Ok(chunk)) => {
                assert!(chunk[..] == content[received..received + chunk.len()], "the bytes at {received} differ");
                received += chunk.len();
                chunk.len()
            }
        };
        if revoked.is_none() && received >= 4 * MIB {
            cli_ok(&server.cli(&["token", "revoke", &uuid], None));
            revoked = Some((Instant::now(), received));
        }
        // Paced per chunk, so that a pause (the CLI call) is never caught up by a burst.
        tokio::time::sleep(Duration::from_secs_f64(last as f64 / (4 * MIB) as f64)).await;
    };
    let (revoked_at, received_then) = revoked.expect("the download got past 4 MiB");
    eprintln!(
        "download: {received} of {size} bytes before it ended, {:?} after it started, {:?} after the revocation, \
         {} bytes later: {failure:?}",
        started.elapsed(),
        revoked_at.elapsed(),
        received - received_then
    );
    assert!(failure.is_some(), "the download ended without an error after {received} bytes");
    assert!(received < 48 * MIB, "the download went on to {received} of {size} bytes after the revocation");
    refused_within_a_second(&pat, &tree(&path), "the revoked token after its download").await;
    assert_refused(&pat.download(&path).await);
    alice.download(&path).await.expect(200);

    // A slow upload with a PAT (64 KiB every 100 ms: 12 MiB would take 19 s), the token
    // revoked over REST once 512 KiB have arrived: the server drops the upload while the
    // body still streams, refuses it, and the file never appears.
    let token = server.pat("alice", &["-e", "1d", "-l", "slow upload"]);
    let uuid = record_labelled(&admin, "slow upload").await["Uuid"].as_str().unwrap().to_owned();
    let pat = server.bearer(&token);
    let target = format!("{PF}/slow up.bin");
    let total = 12 * MIB;
    let flow = Arc::new(Flow::default());
    let body = slow_body(random_bytes(total, 78), 64 * 1024, Duration::from_millis(100), flow.clone());
    let upload = tokio::spawn(pat.request(Method::PUT, &format!("/io{}", enc(&target))).body(body).send());
    eventually("the upload is streaming", Duration::from_secs(30), || async {
        uploads_in_flight(&server).1 >= 512 * 1024
    })
    .await;
    admin.delete(&format!("/a/auth/tokens/{uuid}")).await.expect(200);
    let revoked_at = Instant::now();
    let sent_then = flow.sent();
    eventually("the server drops the revoked upload", GENEROUS, || async { uploads_in_flight(&server) == (0, 0) })
        .await;
    let sent_when_dropped = flow.sent();
    eprintln!(
        "upload: dropped {:?} after the revocation, {sent_when_dropped} of {total} bytes sent ({} after it)",
        revoked_at.elapsed(),
        sent_when_dropped - sent_then
    );
    assert!(sent_when_dropped < total, "the server held the upload to the end of its body");
    flow.hurry();
    match upload.await.unwrap() {
        Ok(response) => assert_eq!(response.status(), 401, "{:?}", response.text().await),
        Err(err) => eprintln!("the upload ended with a transport error: {err}"),
    }
    alice.stat(&target).await.expect_error(404, "NotFound");
    assert!(!alice.names(PF).await.contains(&"slow up.bin".to_owned()));
    refused_within_a_second(&pat, &tree(PF), "the revoked token after its upload").await;
    // Control: the same upload with a live credential works.
    alice.upload(&target, "whole").await.expect(201);
    assert_tree_consistent(&server).await;
}

/// Runs `sql` on the database of a stopped server (the `sqlite3` CLI).
fn corrupt(server: &TestServer, sql: &str) {
    let done = Command::new("sqlite3").arg(server.data().join("cells.db")).arg(sql).output().unwrap();
    assert!(done.status.success(), "sqlite3 {sql}: {}", String::from_utf8_lossy(&done.stderr));
}

#[tokio::test]
async fn the_consistency_check_catches_a_broken_tree_and_blob_store() {
    let mut server = TestServer::start();
    let admin = server.admin().await;
    admin.mkdir("/common-files/d").await.expect(201);
    admin.mkdir("/common-files/d/e").await.expect(201);
    admin.upload("/common-files/d/e/f.txt", "f").await.expect(201);
    // Control: the sound tree passes.
    assert!(assert_tree_consistent(&server).await >= 5);
    server.kill9();
    // A path that does not follow its parent (and back).
    corrupt(&server, "UPDATE nodes SET path = 'd/f.txt' WHERE name = 'f.txt'");
    let found = tree_faults(&server);
    assert!(found.iter().any(|f| f.contains("path is not their parent's path")), "a stale path not caught: {found:?}");
    corrupt(&server, "UPDATE nodes SET path = 'd/e/f.txt' WHERE name = 'f.txt'");
    assert_eq!(tree_faults(&server), Vec::<String>::new(), "restored");
    // A cycle: d inside its own child e.
    corrupt(&server, "UPDATE nodes SET parent = (SELECT uuid FROM nodes WHERE name = 'e') WHERE name = 'd'");
    let found = tree_faults(&server);
    assert!(
        found.iter().any(|f| f.contains("not reachable from their workspace root")),
        "a cycle not caught: {found:?}"
    );
    // Blobs: a stray file in the store, and a node pointing to a blob that is not there.
    assert_eq!(blob_faults(&server), Vec::<String>::new());
    let stray = server.data().join("blobs").join("blobs").join("00");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("00000000000000000000000000000000"), "stray").unwrap();
    let found = blob_faults(&server);
    assert!(found.iter().any(|f| f.contains("no node refers to")), "a stray blob not caught: {found:?}");
    corrupt(&server, "UPDATE nodes SET blob = '11111111111111111111111111111111' WHERE name = 'f.txt'");
    let found = blob_faults(&server);
    assert!(found.iter().any(|f| f.contains("1111") && f.contains("None")), "a missing blob not caught: {found:?}");
}
