//! The server's log: `tracing` lines on standard error, filtered by `CELLS_LOG`, through
//! a writer that masks anything shaped like a personal access token, and the password of
//! any URL (`cells_core::redact`). The code never logs
//! a credential on purpose (logins are redacted where they are logged, headers are never
//! logged); this is the net under it: a token pasted into any field of any line, by any
//! path, still never reaches the log.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Buffers one log line, then writes it masked.
pub struct Redacting {
    line: Vec<u8>,
}

impl Write for Redacting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.line);
        let masked = cells_core::redact::line(&text);
        let result = std::io::stderr().lock().write_all(masked.as_bytes());
        self.line.clear();
        result
    }
}

impl Drop for Redacting {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

pub struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = Redacting;

    fn make_writer(&'a self) -> Self::Writer {
        Redacting { line: Vec::with_capacity(256) }
    }
}

pub fn init() {
    let filter = EnvFilter::try_from_env("CELLS_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // The S3 protocol crate logs whole requests (their Authorization, which holds a
    // token) at debug, and every S3 error answer at error: never let it write. The
    // request log line of `observe` says what happened.
    let filter = match "s3s=off".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingStderr)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}
