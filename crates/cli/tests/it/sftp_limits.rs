//! The bounds of the SFTP server (docs/sftp.md), each pushed past by a client that means
//! harm, with a client that does not beside it:
//!
//! - a name that is not UTF-8 is refused by every request that takes a path, never
//!   read as another name.

use std::process::Command;

use crate::sftp::Fixture;
use crate::sftp_client::subsystem;

const FXP_OPEN: u8 = 3;
const FXP_CLOSE: u8 = 4;
const FXP_WRITE: u8 = 6;
const FXP_HANDLE: u8 = 102;
const FXP_STATUS: u8 = 101;
const FX_OK: u32 = 0;
const FX_FAILURE: u32 = 4;
const WRITE_CREATE_TRUNCATE: u32 = 0x1a;

/// One answer of the server.
#[derive(Debug, Clone)]
struct Answer {
    kind: u8,
    id: u32,
    /// For a status: its code and message.
    code: Option<u32>,
    message: String,
    /// For a handle: the handle.
    handle: Vec<u8>,
}

fn take_string(body: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = u32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
    Some((body.get(at + 4..at + 4 + len)?, at + 4 + len))
}

fn parse_answer(body: &[u8]) -> Answer {
    let kind = body[0];
    let id = if kind == 2 { 0 } else { u32::from_be_bytes(body[1..5].try_into().unwrap()) };
    let mut answer = Answer { kind, id, code: None, message: String::new(), handle: Vec::new() };
    if kind == FXP_STATUS {
        answer.code = Some(u32::from_be_bytes(body[5..9].try_into().unwrap()));
        answer.message = take_string(body, 9).map(|(m, _)| String::from_utf8_lossy(m).into_owned()).unwrap_or_default();
    } else if kind == FXP_HANDLE {
        answer.handle = take_string(body, 5).unwrap().0.to_vec();
    }
    answer
}

/// Every complete answer in `bytes`.
fn answers(bytes: &[u8]) -> Vec<Answer> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let Some(body) = bytes.get(at + 4..at + 4 + len) else { break };
        out.push(parse_answer(body));
        at += 4 + len;
    }
    out
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn put_string(out: &mut Vec<u8>, text: &[u8]) {
    out.extend(u32::try_from(text.len()).unwrap().to_be_bytes());
    out.extend_from_slice(text);
}

/// A request of `kind` with `id`, then `strings`, then `tail` (flags, attributes).
fn request(kind: u8, id: u32, strings: &[&[u8]], tail: &[u8]) -> Vec<u8> {
    let mut body = vec![kind];
    body.extend(id.to_be_bytes());
    for s in strings {
        put_string(&mut body, s);
    }
    body.extend_from_slice(tail);
    framed(&body)
}

fn init() -> Vec<u8> {
    framed(&[1, 0, 0, 0, 3])
}

fn open_for_writing(id: u32, path: &[u8]) -> Vec<u8> {
    let mut tail = WRITE_CREATE_TRUNCATE.to_be_bytes().to_vec();
    tail.extend(0_u32.to_be_bytes()); // no attributes
    request(FXP_OPEN, id, &[path], &tail)
}

fn write(id: u32, handle: &[u8], offset: u64, data: &[u8]) -> Vec<u8> {
    let mut body = vec![FXP_WRITE];
    body.extend(id.to_be_bytes());
    put_string(&mut body, handle);
    body.extend(offset.to_be_bytes());
    put_string(&mut body, data);
    framed(&body)
}

fn close(id: u32, handle: &[u8]) -> Vec<u8> {
    request(FXP_CLOSE, id, &[handle], &[])
}

/// `ssh` options that ignore the user's configuration and host keys.
fn ssh_options(port: u16) -> Vec<String> {
    let options = [
        "-F",
        "/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=20",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "BatchMode=no",
    ];
    let mut args: Vec<String> = options.iter().map(|s| (*s).to_owned()).collect();
    args.extend(["-p".to_owned(), port.to_string()]);
    args
}

/// A path with a byte that is not UTF-8, and the name it would read as if replaced.
const NOT_UTF8: &[u8] = b"/personal-files/n\xff.txt";
const REPLACED: &str = "/personal-files/n\u{FFFD}.txt";

#[tokio::test]
async fn names_that_are_not_utf8_are_refused_by_every_request() {
    let fx = Fixture::new().await;
    fx.alice.upload(REPLACED, "the first file").await.expect(201);
    fx.alice.upload("/personal-files/keep.txt", "kept").await.expect(201);
    let before = fx.alice.names("/personal-files").await;

    let no_attrs = 0_u32.to_be_bytes();
    let keep: &[u8] = b"/personal-files/keep.txt";
    let extended = |id: u32, from: &[u8], to: &[u8]| {
        let mut data = Vec::new();
        put_string(&mut data, b"posix-rename@openssh.com");
        put_string(&mut data, from);
        put_string(&mut data, to);
        let mut body = vec![200];
        body.extend(id.to_be_bytes());
        body.extend(data);
        framed(&body)
    };
    let mut input = init();
    input.extend(open_for_writing(1, NOT_UTF8));
    // Were the name read as another, this would replace that file.
    input.extend(write(2, b"1", 0, b"the second file"));
    input.extend(close(3, b"1"));
    let requests: Vec<(u32, Vec<u8>)> = vec![
        (4, request(17, 4, &[NOT_UTF8], &[])),                       // stat
        (5, request(7, 5, &[NOT_UTF8], &[])),                        // lstat
        (6, request(11, 6, &[b"/personal-files/d\xfe"], &[])),       // opendir
        (7, request(14, 7, &[b"/personal-files/d\xfe"], &no_attrs)), // mkdir
        (8, request(15, 8, &[b"/personal-files/d\xfe"], &[])),       // rmdir
        (9, request(13, 9, &[NOT_UTF8], &[])),                       // remove
        (10, request(16, 10, &[NOT_UTF8], &[])),                     // realpath
        (11, request(9, 11, &[NOT_UTF8], &no_attrs)),                // setstat
        (12, request(18, 12, &[keep, NOT_UTF8], &[])),               // rename, to
        (13, request(18, 13, &[NOT_UTF8, keep], &[])),               // rename, from
        (14, request(20, 14, &[NOT_UTF8, keep], &[])),               // symlink
        (15, request(19, 15, &[NOT_UTF8], &[])),                     // readlink
        (16, extended(16, keep, NOT_UTF8)),                          // posix-rename, to
        (17, extended(17, NOT_UTF8, keep)),                          // posix-rename, from
    ];
    for (_, packet) in &requests {
        input.extend(packet);
    }
    let output = subsystem(&fx.server, "alice", &fx.token, &input);
    let got = answers(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let answer = |id: u32| got.iter().find(|a| a.id == id && a.kind != 2).cloned();
    for id in std::iter::once(1).chain(requests.iter().map(|(id, _)| *id)) {
        let a = answer(id).unwrap_or_else(|| panic!("no answer to request {id}: {got:?}; {stderr}"));
        assert_eq!(a.code, Some(FX_FAILURE), "request {id}: {a:?}");
        assert!(a.message.contains("not UTF-8"), "request {id}: {a:?}");
    }
    assert_ne!(answer(3).and_then(|a| a.code), Some(FX_OK), "a file was written: {got:?}");

    // The OpenSSH client sends the bytes as they are; it is refused too.
    std::fs::write(fx.dir().join("second.txt"), "the second file").unwrap();
    let batch = fx.dir().join("batch");
    std::fs::write(&batch, b"put second.txt /personal-files/n\xfe.txt\n").unwrap();
    let run = Command::new("sshpass")
        .arg("-e")
        .env("SSHPASS", &fx.token)
        .arg("sftp")
        .current_dir(fx.dir())
        .args(ssh_options(fx.server.sftp_port()).iter().map(|a| if a == "-p" { "-P" } else { a.as_str() }))
        .arg("-b")
        .arg(&batch)
        .arg("alice@127.0.0.1")
        .output()
        .unwrap();
    assert!(!run.status.success(), "sftp put a name that is not UTF-8: {}", String::from_utf8_lossy(&run.stdout));

    // Nothing changed: the file whose name the bytes would have become is untouched.
    assert_eq!(fx.alice.download(REPLACED).await.expect(200).text(), "the first file");
    assert_eq!(fx.alice.download("/personal-files/keep.txt").await.expect(200).text(), "kept");
    assert_eq!(fx.alice.names("/personal-files").await, before);

    // Control: a UTF-8 name with awkward characters (U+FFFD itself among them) uploads.
    let awkward = "/personal-files/n \u{FFFD} ü 100% #1 \u{1F600}.txt";
    std::fs::write(fx.dir().join("awkward.txt"), "awkward").unwrap();
    fx.batch(&format!("put awkward.txt \"{awkward}\"\n")).expect_ok();
    assert_eq!(fx.alice.download(awkward).await.expect(200).text(), "awkward");
    assert_eq!(fx.alice.download(REPLACED).await.expect(200).text(), "the first file");
}
