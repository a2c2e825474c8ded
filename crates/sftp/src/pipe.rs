//! The channel pump: three tasks per SFTP channel, so that a client keeping many
//! requests in flight can never wedge its session.
//!
//! russh's session loop hands channel data to a bounded queue and waits when it is full;
//! while it waits it reads nothing from the socket, window adjustments included. A
//! server that answered one request before reading the next would stop there: its
//! answer waits for window, the window adjustment waits behind the client's next
//! requests, and those wait for the server to read. So:
//!
//! - the **reader** always drains the channel, splits packets and queues them, each
//!   counted in the connection's [`Budget`] (past it the reader waits: the client has
//!   sent far more than it waits answers for, and only its own connection slows);
//! - the **processor** answers requests in order, through [`SftpSession`];
//! - the **writer** sends answers as the client's window allows, several small ones in
//!   one channel message.

use bytes::{Bytes, BytesMut};
use russh::server::Msg;
use russh::{Channel, ChannelMsg};
use tokio::sync::mpsc;

use crate::budget::{Budget, Held};
use crate::session::SftpSession;
use crate::wire;

/// Answers in flight between the processor and the writer.
const ANSWERS: usize = 64;

/// Small answers are gathered up to this size into one channel message.
const GATHER: usize = 64 * 1024;

type Request = (Bytes, Held);

/// Serves SFTP on a channel until the client closes it; its requests count in `budget`,
/// its connection's.
pub async fn run(channel: Channel<Msg>, mut session: SftpSession, budget: Budget) {
    let (mut read_half, write_half) = channel.split();
    let (requests_tx, mut requests) = mpsc::unbounded_channel::<Request>();
    let (answers_tx, mut answers) = mpsc::channel::<Bytes>(ANSWERS);

    let reader = tokio::spawn(async move {
        let mut buffer = BytesMut::with_capacity(64 * 1024);
        while let Some(message) = read_half.wait().await {
            match message {
                ChannelMsg::Data { data } => buffer.extend_from_slice(&data),
                ChannelMsg::Eof | ChannelMsg::Close => break,
                _ => continue,
            }
            loop {
                match wire::next_packet(&mut buffer) {
                    Ok(Some(packet)) => {
                        let Some(held) = budget.hold(packet.len()).await else { return };
                        if requests_tx.send((packet, held)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(len) => {
                        tracing::info!(
                            len,
                            max = wire::MAX_PACKET,
                            "SFTP packet length out of bounds: closing the channel"
                        );
                        return;
                    }
                }
            }
        }
    });

    let writer = tokio::spawn(async move {
        while let Some(first) = answers.recv().await {
            let mut out = first;
            if out.len() < GATHER {
                let mut gathered: Option<BytesMut> = None;
                while let Ok(next) = answers.try_recv() {
                    let buf = gathered.get_or_insert_with(|| BytesMut::from(&out[..]));
                    buf.extend_from_slice(&next);
                    if buf.len() >= GATHER {
                        break;
                    }
                }
                if let Some(buf) = gathered {
                    out = buf.freeze();
                }
            }
            if write_half.data_bytes(out).await.is_err() {
                break;
            }
        }
        let _ = write_half.eof().await;
        let _ = write_half.close().await;
    });

    while let Some((packet, held)) = requests.recv().await {
        // A write kept ahead of its file keeps `held`; any other request gives it back now.
        let answer = session.answer(packet, held).await;
        if answers_tx.send(answer).await.is_err() {
            break;
        }
    }
    drop(answers_tx);
    reader.abort();
    let _ = writer.await;
}
