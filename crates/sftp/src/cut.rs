//! A socket the watch can cut. russh runs each session on a task of its own that the
//! caller cannot abort, and a session told to disconnect still waits for its client to
//! close: a client that never does would keep the task, and its socket, for ever. So the
//! session is given a [`Cuttable`] socket; once its [`Cut`] is dropped, every read and
//! write fails, the session's task ends, and the socket is closed with it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

/// A stream that fails once its [`Cut`] is gone.
pub struct Cuttable<S> {
    inner: S,
    cut: oneshot::Receiver<()>,
    is_cut: bool,
}

/// Cuts its stream when dropped.
pub struct Cut {
    _sender: oneshot::Sender<()>,
}

/// `stream`, and what cuts it.
pub fn cuttable<S>(stream: S) -> (Cuttable<S>, Cut) {
    let (sender, cut) = oneshot::channel();
    (Cuttable { inner: stream, cut, is_cut: false }, Cut { _sender: sender })
}

impl<S> Cuttable<S> {
    /// Whether the stream is cut; if not, `cx` is woken when it is.
    fn cut(&mut self, cx: &mut Context<'_>) -> bool {
        // A oneshot receiver may not be polled again once it is ready.
        if !self.is_cut && Pin::new(&mut self.cut).poll(cx).is_ready() {
            self.is_cut = true;
        }
        self.is_cut
    }
}

fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "the server closed this connection")
}

impl<S: AsyncRead + Unpin> AsyncRead for Cuttable<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.cut(cx) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Cuttable<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.cut(cx) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.cut(cx) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.cut(cx) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_read_waiting_on_a_silent_peer_fails_once_cut() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let (mut stream, cut) = cuttable(ours);
        theirs.write_all(b"hi").await.expect("write");
        let mut buf = [0; 2];
        stream.read_exact(&mut buf).await.expect("read before the cut");
        let reading = tokio::spawn(async move {
            let mut more = [0; 1];
            stream.read(&mut more).await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!reading.is_finished(), "nothing to read yet");
        drop(cut);
        let read = tokio::time::timeout(Duration::from_secs(5), reading).await.expect("woken").expect("joined");
        assert_eq!(read.map_err(|e| e.kind()), Err(io::ErrorKind::ConnectionAborted));
        drop(theirs);
    }

    #[tokio::test]
    async fn writes_fail_once_cut() {
        let (ours, _theirs) = tokio::io::duplex(64);
        let (mut stream, cut) = cuttable(ours);
        stream.write_all(b"fine").await.expect("write before the cut");
        drop(cut);
        assert!(stream.write_all(b"no").await.is_err());
    }
}
