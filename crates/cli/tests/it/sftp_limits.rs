//! The bounds of the SFTP server (docs/sftp.md, "Bounds"), each pushed past by a client
//! that means harm, with a client that does not beside it:
//!
//! - out-of-order writes share one budget per connection: many handles writing ahead
//!   of their files cannot grow the server's memory, and a user holds a bounded number
//!   of connections;
//! - a connection that does not log in is closed after the login grace, handshake
//!   included, and connections not yet logged in are capped per address and in all, so
//!   that they cannot take the file descriptors HTTP needs;
//! - a name that is not UTF-8 is refused by every request that takes a path, never
//!   read as another name.
//!
//! The numbers are those docs/sftp.md promises; [`RawSftp`] speaks raw SFTP over the
//! OpenSSH client's `ssh -s sftp`, for what no SFTP client would send.

use std::io::{BufWriter, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::sftp::Fixture;
use crate::sftp_client::subsystem;
use crate::support::{TestServer, eventually, random_bytes};

/// Authenticated connections one user may hold at once.
const CONNECTIONS_PER_USER: usize = 16;
/// Connections not yet logged in, from one address and in all.
const UNAUTHENTICATED_PER_ADDRESS: usize = 10;
const UNAUTHENTICATED_TOTAL: usize = 100;
/// From accept to authenticated.
const LOGIN_GRACE: Duration = Duration::from_secs(60);

/// The most bytes one write carries (`limits@openssh.com`).
const CHUNK: usize = 255 * 1024;

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

/// `ssh -s sftp` as `login`, its password typed by sshpass.
fn ssh_subsystem(server: &TestServer, login: &str, password: &str) -> Command {
    let mut command = Command::new("sshpass");
    command.arg("-e").env("SSHPASS", password).arg("ssh").args(ssh_options(server.sftp_port()));
    command.args(["-T", "-s"]).arg(format!("{login}@127.0.0.1")).arg("sftp");
    command
}

/// Raw SFTP on one connection, kept open: requests sent as they come, answers read by a
/// thread of their own (so a client that sends much never waits on its own answers).
struct RawSftp {
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    answers: mpsc::Receiver<Answer>,
}

impl RawSftp {
    /// Logs in and exchanges `init`/`version`; `None` when no version came back.
    fn open(server: &TestServer, login: &str, password: &str) -> Option<Self> {
        let mut child = ssh_subsystem(server, login, password)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshpass and ssh (Debian: sshpass, openssh-client)");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = Vec::new();
            let mut chunk = vec![0; 64 * 1024];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                buffer.extend_from_slice(&chunk[..n]);
                let mut at = 0;
                while at + 4 <= buffer.len() {
                    let len = u32::from_be_bytes(buffer[at..at + 4].try_into().unwrap()) as usize;
                    let Some(body) = buffer.get(at + 4..at + 4 + len) else { break };
                    if tx.send(parse_answer(body)).is_err() {
                        return;
                    }
                    at += 4 + len;
                }
                buffer.drain(..at);
            }
        });
        let stdin = Some(BufWriter::with_capacity(1 << 20, child.stdin.take().unwrap()));
        let mut raw = Self { child, stdin, answers };
        raw.send(&init());
        raw.flush();
        match raw.answers.recv_timeout(Duration::from_secs(30)) {
            Ok(answer) if answer.kind == 2 => Some(raw),
            _ => None,
        }
    }

    fn send(&mut self, packet: &[u8]) {
        self.stdin.as_mut().unwrap().write_all(packet).expect("ssh's stdin");
    }

    fn flush(&mut self) {
        self.stdin.as_mut().unwrap().flush().expect("ssh's stdin");
    }

    fn recv(&self) -> Answer {
        self.answers.recv_timeout(Duration::from_secs(60)).expect("an answer within a minute")
    }

    /// Opens `path` for writing; the handle.
    fn create(&mut self, id: u32, path: &[u8]) -> Vec<u8> {
        self.send(&open_for_writing(id, path));
        self.flush();
        let answer = self.recv();
        assert_eq!((answer.kind, answer.id), (FXP_HANDLE, id), "{answer:?}");
        answer.handle
    }
}

impl Drop for RawSftp {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's resident set now, in bytes (`VmRSS`).
fn rss(server: &TestServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

const MIB: u64 = 1024 * 1024;

/// On one connection: `handles` files opened, then 16 MiB written to each from offset 1,
/// so that every byte waits for a first byte that never comes. The answers to the
/// writes, once all came; a server that stops answering for a minute fails the test.
fn write_ahead(server: &TestServer, token: &str, connection: usize, handles: u32) -> Vec<Answer> {
    let mut raw = RawSftp::open(server, "alice", token).expect("a login");
    let opened: Vec<Vec<u8>> =
        (1..=handles).map(|h| raw.create(h, format!("/personal-files/ahead-{connection}-{h}").as_bytes())).collect();
    let per_handle = (16 * MIB as usize).div_ceil(CHUNK);
    // Sent from a thread of its own: were the server to stop reading, the writes would
    // block, and the answers below time out (and kill the client, which ends them).
    let mut stdin = raw.stdin.take().unwrap();
    let handles_sent = opened.clone();
    let sender = std::thread::spawn(move || {
        let data = random_bytes(CHUNK, 7);
        let mut id = 1000;
        for handle in &handles_sent {
            for k in 0..per_handle {
                id += 1;
                if stdin.write_all(&write(id, handle, 1 + (k * CHUNK) as u64, &data)).is_err() {
                    return;
                }
            }
        }
        let _ = stdin.flush();
    });
    let mut answers = Vec::new();
    for _ in 0..opened.len() * per_handle {
        match raw.answers.recv_timeout(Duration::from_secs(60)) {
            Ok(answer) => answers.push(answer),
            Err(_) => {
                drop(raw);
                let _ = sender.join();
                panic!("connection {connection}: no answer for a minute after {} answers", answers.len());
            }
        }
    }
    let _ = sender.join();
    answers
}

#[tokio::test]
async fn out_of_order_writes_share_one_bounded_budget_per_connection() {
    let fx = Fixture::new().await;
    // Warm up: a login, an upload and a download, so the baseline holds what serving takes.
    let content = random_bytes(3 * 1024 * 1024 + 11, 8);
    std::fs::write(fx.dir().join("warm.bin"), &content).unwrap();
    fx.batch("put warm.bin /personal-files/warm.bin\nget /personal-files/warm.bin warm-back.bin\n").expect_ok();
    let (rss_before, peak_before) = (rss(&fx.server), fx.server.peak_rss());

    // Four connections at once, 32 handles each, 16 MiB ahead on every handle: 2 GiB
    // asked to wait in memory.
    let (server, token) = (&fx.server, fx.token.as_str());
    let refused: Vec<Vec<Answer>> = std::thread::scope(|scope| {
        let floods: Vec<_> = (0..4).map(|c| scope.spawn(move || write_ahead(server, token, c, 32))).collect();
        floods.into_iter().map(|f| f.join().unwrap().into_iter().filter(|a| a.code != Some(FX_OK)).collect()).collect()
    });
    let grown = fx.server.peak_rss().saturating_sub(peak_before);
    eprintln!(
        "peak RSS {} MiB before the floods, {} MiB after (RSS {} MiB before)",
        peak_before / MIB,
        fx.server.peak_rss() / MIB,
        rss_before / MIB
    );
    assert!(grown < 200 * MIB, "the server's peak grew by {} MiB", grown / MIB);
    for (c, answers) in refused.iter().enumerate() {
        let budget = answers.iter().find(|a| a.message.contains("out-of-order budget"));
        let budget = budget.unwrap_or_else(|| panic!("connection {c}: no write refused for the budget: {answers:?}"));
        assert_eq!(budget.code, Some(FX_FAILURE), "{budget:?}");
    }
    assert!(fx.server.log().contains("out-of-order budget"), "the refusal is logged");
    for c in 0..4 {
        fx.alice.stat(&format!("/personal-files/ahead-{c}-1")).await.expect(404);
    }

    // Controls: a file written backwards, 4 MiB, within the budget, arrives whole; the
    // OpenSSH client still uploads.
    let backwards = random_bytes(4 * 1024 * 1024 + 5, 9);
    let mut raw = RawSftp::open(&fx.server, "alice", &fx.token).expect("a login");
    let handle = raw.create(1, b"/personal-files/backwards.bin");
    let chunks: Vec<(usize, &[u8])> = backwards.chunks(CHUNK).enumerate().map(|(i, c)| (i * CHUNK, c)).collect();
    for (i, (offset, chunk)) in chunks.iter().rev().enumerate() {
        raw.send(&write(10 + u32::try_from(i).unwrap(), &handle, *offset as u64, chunk));
    }
    raw.send(&close(2, &handle));
    raw.flush();
    for _ in 0..=chunks.len() {
        let answer = raw.recv();
        assert_eq!(answer.code, Some(FX_OK), "{answer:?}");
    }
    drop(raw);
    assert_eq!(fx.alice.download("/personal-files/backwards.bin").await.expect(200).body, backwards);
    std::fs::write(fx.dir().join("after.bin"), &content).unwrap();
    fx.batch("put after.bin /personal-files/after.bin\n").expect_ok();
    assert_eq!(fx.alice.download("/personal-files/after.bin").await.expect(200).body, content);
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_connections() {
    let fx = Fixture::new().await;
    let bob = fx.server.pat("bob", &["-e", "1h"]);
    let mut held: Vec<RawSftp> = (0..CONNECTIONS_PER_USER)
        .map(|i| RawSftp::open(&fx.server, "alice", &fx.token).unwrap_or_else(|| panic!("login {i}")))
        .collect();

    // One more for alice is refused, and told why; bob is not affected.
    let output = ssh_subsystem(&fx.server, "alice", &fx.token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a connection past the cap was served: {said}");
    assert!(said.contains("too many SFTP connections"), "the client is told why: {said}");
    assert!(RawSftp::open(&fx.server, "bob", &bob).is_some(), "bob's login was refused");
    assert!(fx.server.log().contains("too many SFTP connections"), "the refusal is logged");

    // Once one of hers ends, alice logs in again.
    drop(held.pop());
    eventually("a login once a connection ended", Duration::from_secs(10), || async {
        RawSftp::open(&fx.server, "alice", &fx.token).is_some()
    })
    .await;
    // Her connections still work.
    let mut first = held.remove(0);
    first.create(1, b"/personal-files/still.txt");
}

/// The descriptors the server has open.
fn open_fds(server: &TestServer) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.pid())).unwrap().count()
}

/// A TCP connection to the SFTP port from `source` (any 127.x.y.z address is this machine).
async fn connect_from(source: Ipv4Addr, port: u16) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    let stream = socket.connect(SocketAddr::from(([127, 0, 0, 1], port))).await.unwrap().into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// What became of a connection that sent nothing more: what the server wrote before it
/// closed (`Some`), or `None` while it is still open after `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return None;
            }
            Err(_) => return Some(got),
        }
    }
}

/// Whether the server has closed `stream` (after what it wrote is read), without waiting.
fn closed_now(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0; 4096];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

/// `/healthz` answers within five seconds.
async fn healthy(server: &TestServer) -> bool {
    let reply = tokio::time::timeout(Duration::from_secs(5), server.client.get(server.url("/healthz")).send()).await;
    matches!(reply, Ok(Ok(r)) if r.status() == 200)
}

#[tokio::test]
async fn connections_that_do_not_log_in_are_capped_and_closed_after_the_grace() {
    let fx = Fixture::new().await;
    let port = fx.server.sftp_port();
    let baseline = open_fds(&fx.server);
    // Room for the connections the caps admit and for serving, not for the flood.
    let limit = baseline + UNAUTHENTICATED_TOTAL + 60;
    let set = Command::new("prlimit")
        .args(["--pid", &fx.server.pid().to_string(), &format!("--nofile={limit}:{limit}")])
        .status()
        .expect("prlimit (util-linux)");
    assert!(set.success());
    let started = Instant::now();

    // From 127.0.0.2: silent connections and one that sends only its banner, up to the
    // address's cap; past it, more are closed at once, before any handshake.
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let mut admitted = Vec::new();
    for _ in 0..UNAUTHENTICATED_PER_ADDRESS {
        admitted.push(connect_from(attacker, port).await);
    }
    admitted[0].write_all(b"SSH-2.0-OpenSSH_9.2p1\r\n").unwrap();
    for i in 0..5 {
        let mut extra = connect_from(attacker, port).await;
        let said = closed_within(&mut extra, Duration::from_secs(3));
        let said = said.unwrap_or_else(|| panic!("connection {i} past the address's cap was kept open"));
        assert!(said.is_empty(), "a refused connection got {:?}", String::from_utf8_lossy(&said));
    }
    // Another address logs in meanwhile.
    fx.batch("ls /\n").expect_ok();

    // From many addresses: far more connections than the server has descriptors.
    let mut flood = Vec::new();
    for host in 3..=45 {
        for _ in 0..UNAUTHENTICATED_PER_ADDRESS {
            flood.push(connect_from(Ipv4Addr::new(127, 0, 0, host), port).await);
        }
    }
    assert!(healthy(&fx.server).await, "/healthz does not answer while SFTP connections wait");
    // Exactly the cap in all is held; the rest were closed at once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut refused = 0;
    for mut stream in flood {
        if closed_now(&mut stream) {
            refused += 1;
        } else {
            admitted.push(stream);
        }
    }
    assert_eq!(admitted.len(), UNAUTHENTICATED_TOTAL, "{refused} refused");
    assert!(fx.server.log().contains("too many SFTP connections not logged in"), "the refusals are logged");
    assert!(healthy(&fx.server).await, "/healthz does not answer");

    // The grace runs from the accept: by its end every one of them is closed, the one
    // that sent its banner too, and their descriptors are free.
    let deadline = LOGIN_GRACE + Duration::from_secs(10);
    for (i, stream) in admitted.iter_mut().enumerate() {
        let left = deadline.saturating_sub(started.elapsed());
        assert!(closed_within(stream, left).is_some(), "connection {i} open {:?} after it came", started.elapsed());
    }
    eprintln!("all closed {:?} after they came", started.elapsed());
    eventually("the descriptors given back", Duration::from_secs(10), || async {
        open_fds(&fx.server) <= baseline + 5
    })
    .await;
    assert!(healthy(&fx.server).await);
    fx.batch("ls /\n").expect_ok();
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
