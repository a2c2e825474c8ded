//! The OpenSSH `sftp` and `ssh` clients against a [`TestServer`], with `sshpass` typing
//! the password (from the environment, never on a command line).
//!
//! - [`sftp_batch`]: a batch of `sftp` commands; each result is in the transcript.
//! - [`Interactive`]: an `sftp` session kept open, fed commands one at a time.
//! - [`subsystem`]: raw SFTP packets over `ssh -s sftp`, for what no client would send.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::support::TestServer;

/// Options that make the clients ignore the user's own configuration and host keys;
/// `port_flag` is `-P` for `sftp`, `-p` for `ssh`.
fn common_options(port_flag: &str, port: u16) -> Vec<String> {
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
        // `-b` turns BatchMode on, which forbids password prompts: the first value wins.
        "-o",
        "BatchMode=no",
    ];
    let mut args: Vec<String> = options.iter().map(|s| (*s).to_owned()).collect();
    args.extend([port_flag.to_owned(), port.to_string()]);
    args
}

fn sshpass(password: &str) -> Command {
    let mut command = Command::new("sshpass");
    command.arg("-e").env("SSHPASS", password);
    command
}

/// What `sftp -b -` did: its exit status and what it printed.
pub struct Batch {
    pub output: Output,
}

impl Batch {
    pub fn ok(&self) -> bool {
        self.output.status.success()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    #[track_caller]
    pub fn expect_ok(self) -> Self {
        assert!(
            self.ok(),
            "sftp failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }

    #[track_caller]
    pub fn expect_failed(self) -> Self {
        assert!(!self.ok(), "sftp succeeded\nstdout:\n{}\nstderr:\n{}", self.stdout(), self.stderr());
        self
    }
}

/// `sftp -b - login@127.0.0.1` from `cwd`, its password typed by sshpass.
fn sftp_command(server: &TestServer, login: &str, password: &str, cwd: &Path) -> Command {
    let mut command = sshpass(password);
    command.arg("sftp").current_dir(cwd).args(common_options("-P", server.sftp_port()));
    command.args(["-b", "-"]).arg(format!("{login}@127.0.0.1"));
    command
}

/// Runs `commands` (one per line; a leading `-` lets one fail without stopping) as
/// `login` with `password`, in the local folder `cwd`.
pub fn sftp_batch(server: &TestServer, login: &str, password: &str, cwd: &Path, commands: &str) -> Batch {
    let mut command = sftp_command(server, login, password, cwd);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sshpass and sftp (Debian: sshpass, openssh-client)");
    child.stdin.take().expect("piped stdin").write_all(commands.as_bytes()).expect("write the batch");
    Batch { output: child.wait_with_output().expect("sftp output") }
}

/// An `sftp` session left open.
pub struct Interactive {
    child: Child,
}

impl Interactive {
    pub fn open(server: &TestServer, login: &str, password: &str, cwd: &Path) -> Self {
        let mut command = sftp_command(server, login, password, cwd);
        let child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sshpass and sftp");
        Self { child }
    }

    /// Sends one command line.
    pub fn send(&mut self, line: &str) -> std::io::Result<()> {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(format!("{line}\n").as_bytes())?;
        stdin.flush()
    }

    /// Whether the client has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }

    /// Everything it printed to stdout and stderr, once exited (or killed).
    pub fn finish(mut self) -> (String, String) {
        drop(self.child.stdin.take());
        if !self.exited() {
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let mut out = String::new();
        let mut err = String::new();
        let _ = self.child.stdout.take().expect("stdout").read_to_string(&mut out);
        let _ = self.child.stderr.take().expect("stderr").read_to_string(&mut err);
        let _ = self.child.wait();
        (out, err)
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `input` (raw SFTP packets, with their lengths) on the `sftp` subsystem as
/// `login`, and returns what came back once the server closed the channel or
/// `input` ended.
pub fn subsystem(server: &TestServer, login: &str, password: &str, input: &[u8]) -> Output {
    let mut command = sshpass(password);
    command.arg("ssh").args(common_options("-p", server.sftp_port()));
    command.args(["-T", "-s"]).arg(format!("{login}@127.0.0.1")).arg("sftp");
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("sshpass and ssh");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        // Keep the channel open a moment so that answers come back before EOF.
        std::thread::sleep(Duration::from_millis(500));
    });
    let output = child.wait_with_output().expect("ssh output");
    let _ = feeder.join();
    output
}

/// SFTP packets as a client writes them.
pub mod packet {
    fn framed(body: Vec<u8>) -> Vec<u8> {
        let mut out = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
        out.extend(body);
        out
    }

    fn string(out: &mut Vec<u8>, text: &[u8]) {
        out.extend(u32::try_from(text.len()).unwrap().to_be_bytes());
        out.extend_from_slice(text);
    }

    pub fn init() -> Vec<u8> {
        framed(vec![1, 0, 0, 0, 3])
    }

    /// `SSH_FXP_STAT` of `path`.
    pub fn stat(id: u32, path: &[u8]) -> Vec<u8> {
        let mut body = vec![17];
        body.extend(id.to_be_bytes());
        string(&mut body, path);
        framed(body)
    }

    /// A packet of `kind` with `id` and then `rest`, as sent.
    pub fn raw(kind: u8, id: u32, rest: &[u8]) -> Vec<u8> {
        let mut body = vec![kind];
        body.extend(id.to_be_bytes());
        body.extend_from_slice(rest);
        framed(body)
    }

    /// The answers in `bytes`: (type, id, status code for a status).
    pub fn answers(bytes: &[u8]) -> Vec<(u8, u32, Option<u32>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 4 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let Some(body) = bytes.get(at + 4..at + 4 + len) else { break };
            let kind = body[0];
            let id = if kind == 2 { 0 } else { u32::from_be_bytes(body[1..5].try_into().unwrap()) };
            let code = (kind == 101).then(|| u32::from_be_bytes(body[5..9].try_into().unwrap()));
            out.push((kind, id, code));
            at += 4 + len;
        }
        out
    }
}
