//! The README tour, driven by the real `curl`, as a user would type it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{ADMIN_PASSWORD, TestServer, enc, random_bytes};

/// One curl run: status, headers and body.
struct Curl {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Curl {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    #[track_caller]
    fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "curl answer: {}", String::from_utf8_lossy(&self.body));
        self
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    }
}

struct Tour<'a> {
    server: &'a TestServer,
    scratch: PathBuf,
    runs: usize,
}

impl Tour<'_> {
    /// `curl -sS ARGS URL`; the body goes to a file, the headers to another.
    fn curl(&mut self, args: &[&str], target: &str) -> Curl {
        self.runs += 1;
        let body_file = self.scratch.join(format!("body-{}", self.runs));
        let head_file = self.scratch.join(format!("head-{}", self.runs));
        let output = Command::new("curl")
            .args(["-sS", "--noproxy", "*", "-o"])
            .arg(&body_file)
            .arg("-D")
            .arg(&head_file)
            .args(["-w", "%{http_code}"])
            .args(args)
            .arg(self.server.url(target))
            .output()
            .expect("curl runs");
        assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
        let status = String::from_utf8_lossy(&output.stdout).trim().parse().expect("an HTTP status");
        let body = std::fs::read(&body_file).unwrap_or_default();
        let headers = std::fs::read_to_string(&head_file).unwrap_or_default();
        Curl { status, headers, body }
    }

    fn login(&mut self, login: &str, password: &str) -> String {
        let user = format!("username={login}");
        let pass = format!("password={password}");
        let args = ["-d", "grant_type=password", "--data-urlencode", &user, "--data-urlencode", &pass];
        let grant = self.curl(&args, "/oauth2/token").expect(200).json();
        assert_eq!(grant["token_type"], "Bearer");
        assert_eq!(grant["expires_in"], 600);
        grant["access_token"].as_str().unwrap().to_owned()
    }

    fn json(&mut self, method: &str, token: &str, target: &str, body: &Value) -> Curl {
        let auth = format!("Authorization: Bearer {token}");
        let body = body.to_string();
        let args = ["-X", method, "-H", &auth, "-H", "Content-Type: application/json", "--data-binary", &body];
        self.curl(&args, target)
    }

    fn get(&mut self, token: &str, target: &str, extra: &[&str]) -> Curl {
        let auth = format!("Authorization: Bearer {token}");
        let mut args = vec!["-H", auth.as_str()];
        args.extend_from_slice(extra);
        self.curl(&args, target)
    }

    fn upload(&mut self, token: &str, path: &str, file: &Path) -> Curl {
        let auth = format!("Authorization: Bearer {token}");
        let file = file.to_str().unwrap();
        self.curl(&["-H", &auth, "-T", file], &format!("/io{}", enc(path)))
    }
}

#[tokio::test]
async fn the_readme_tour_with_curl() {
    let server = TestServer::start();
    let scratch = server.dir().join("curl");
    std::fs::create_dir_all(&scratch).unwrap();
    let mut tour = Tour { server: &server, scratch, runs: 0 };

    // The admin logs in and creates alice; alice logs in.
    let admin = tour.login("admin", ADMIN_PASSWORD);
    let created = tour.json("POST", &admin, "/a/users", &json!({"Login": "alice", "Password": "correct horse"}));
    let created = created.expect(201).json();
    assert_eq!(created["User"]["Login"], "alice");
    assert_eq!(created["User"]["Profile"], "standard");
    assert!(!created.to_string().contains("$argon2"));
    let alice = tour.login("alice", "correct horse");

    // As in the README, alice uses Basic: a folder with a space, then a 10 MiB file
    // named `ç#%` in it.
    let basic = ["-u", "alice:correct horse", "-H", "Content-Type: application/json"];
    let create = [&basic[..], &["-d", r#"{"Path":"/personal-files/a b","Type":"COLLECTION"}"#]].concat();
    let folder = tour.curl(&create, "/a/tree/create").expect(201).json();
    assert_eq!(folder["Path"], "/personal-files/a b");
    assert_eq!(folder["Type"], "COLLECTION");
    let content = random_bytes(10 * 1024 * 1024, 1);
    let source = server.dir().join("source.bin");
    std::fs::write(&source, &content).unwrap();
    let upload = ["-u", "alice:correct horse", "-T", source.to_str().unwrap()];
    let put = tour.curl(&upload, "/io/personal-files/a%20b/%C3%A7%23%25").expect(201);
    let node = put.json();
    assert_eq!(node["Path"], "/personal-files/a b/ç#%");
    assert_eq!(node["Size"], 10 * 1024 * 1024);
    assert_eq!(node["Type"], "LEAF");
    assert_eq!(put.header("ETag"), Some(format!("\"{}\"", node["Etag"].as_str().unwrap())));
    let uuid = node["Uuid"].as_str().unwrap().to_owned();

    // Download: byte-identical; a range: the right slice.
    let file = "/io/personal-files/a%20b/%C3%A7%23%25";
    let whole = tour.get(&alice, file, &[]).expect(200);
    assert_eq!(whole.body.len(), content.len());
    assert!(whole.body == content, "the download differs from the upload");
    assert_eq!(whole.header("Accept-Ranges").as_deref(), Some("bytes"));
    let range = tour.get(&alice, file, &["-r", "1000000-1999999"]).expect(206);
    assert!(range.body == content[1_000_000..2_000_000], "wrong range content");
    assert_eq!(range.header("Content-Range").as_deref(), Some("bytes 1000000-1999999/10485760"));
    let tail = tour.get(&alice, file, &["-H", "Range: bytes=-10"]).expect(206);
    assert!(tail.body == content[content.len() - 10..]);
    let first = tour.curl(&["-u", "alice:correct horse", "-r", "0-99"], file).expect(206);
    assert!(first.body == content[..100]);
    let listing = tour.curl(&["-u", "alice:correct horse"], "/a/tree/personal-files/a%20b?children=true");
    let listing = listing.expect(200).json();
    assert_eq!(listing["Children"][0]["Path"], "/personal-files/a b/ç#%");
    assert_eq!(listing["Pagination"]["Total"], 1);

    // Stat shows the Uuid; it survives a rename, and a move of the parent folder.
    let stat = tour.get(&alice, "/a/tree/personal-files/a%20b/%C3%A7%23%25", &[]).expect(200).json();
    assert_eq!(stat["Uuid"], uuid.as_str());
    let rename = json!({"From": "/personal-files/a b/ç#%", "To": "/personal-files/a b/renamed ü #1.bin"});
    let renamed = tour.json("POST", &alice, "/a/tree/move", &rename).expect(200).json();
    assert_eq!(renamed["Uuid"], uuid.as_str());
    let folder_move = json!({"From": "/personal-files/a b", "To": "/personal-files/moved 100%"});
    let moved = tour.json("POST", &alice, "/a/tree/move", &folder_move).expect(200).json();
    assert_eq!(moved["Uuid"], folder["Uuid"]);
    let by_uuid = tour.get(&alice, &format!("/a/nodes/{uuid}"), &[]).expect(200).json();
    assert_eq!(by_uuid["Path"], "/personal-files/moved 100%/renamed ü #1.bin");
    let moved_file = enc("/personal-files/moved 100%/renamed ü #1.bin");
    let again = tour.get(&alice, &format!("/io{moved_file}"), &[]).expect(200);
    assert!(again.body == content, "the content changed with the move");
    tour.get(&alice, file, &[]).expect(404);

    // Delete works, for the file and then the folder.
    tour.get(&alice, &format!("/io{moved_file}"), &["-X", "DELETE"]).expect(204);
    tour.get(&alice, &format!("/io{moved_file}"), &[]).expect(404);
    tour.get(&alice, &format!("/a/nodes/{uuid}"), &[]).expect(404);
    tour.get(&alice, "/a/tree/personal-files/moved%20100%25", &["-X", "DELETE"]).expect(204);

    // A custom workspace without a grant does not exist for alice.
    let ws = tour.json("POST", &admin, "/a/workspaces", &json!({"Slug": "secret-room", "Label": "Secret"}));
    let ws = ws.expect(201).json();
    assert_eq!(ws["Slug"], "secret-room");
    assert_eq!(ws["Grants"], json!([]));
    tour.get(&alice, "/a/tree/secret-room", &[]).expect(404);
    tour.upload(&alice, "/secret-room/x.txt", &source).expect(404);

    // Bob's files are invisible to alice, even by UUID.
    tour.json("POST", &admin, "/a/users", &json!({"Login": "bob", "Password": "bob-password"})).expect(201);
    let bob = tour.login("bob", "bob-password");
    let small = server.dir().join("small.txt");
    std::fs::write(&small, b"bob's notes\n").unwrap();
    let bobs = tour.upload(&bob, "/personal-files/notes #1.txt", &small).expect(201).json();
    let bobs_uuid = bobs["Uuid"].as_str().unwrap();
    tour.get(&alice, &format!("/a/nodes/{bobs_uuid}"), &[]).expect(404);
    tour.get(&bob, &format!("/a/nodes/{bobs_uuid}"), &[]).expect(200);

    // With an `r` grant, bob may read the workspace but not write to it (Basic auth here).
    let grant = json!({"Rights": "r"});
    tour.json("PUT", &admin, "/a/workspaces/secret-room/grants/bob", &grant).expect(204);
    tour.curl(&["-u", "bob:bob-password"], "/a/tree/secret-room").expect(200);
    let put = tour.curl(&["-u", "bob:bob-password", "-T", small.to_str().unwrap()], "/io/secret-room/x.txt");
    assert_eq!(put.expect(403).json()["Code"], "Forbidden");
}
