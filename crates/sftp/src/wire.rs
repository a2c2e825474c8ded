//! SFTP framing, and the two packets on the hot path coded by hand: `SSH_FXP_WRITE` is
//! read without copying its data, `SSH_FXP_DATA` written with one copy of the content.
//! Every other packet goes through `russh-sftp`'s codec, once [`paths_are_utf8`] has
//! checked the paths it carries: that codec reads a string that is not UTF-8 lossily
//! (each bad byte becomes U+FFFD), which would make `n\xff` and `n\xfe` one name.

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub const FXP_WRITE: u8 = 6;
const FXP_DATA: u8 = 103;
const FXP_EXTENDED: u8 = 200;

/// The extension that renames as POSIX does; its data is two paths.
pub const POSIX_RENAME: &str = "posix-rename@openssh.com";

/// The largest packet a client may send: a 255 KiB write and its header, with room to
/// spare. OpenSSH's own server allows 256 KiB.
pub const MAX_PACKET: usize = 256 * 1024 + 1024;

/// The most bytes one read or write carries (what `limits@openssh.com` announces).
pub const MAX_IO: u32 = 255 * 1024;

/// Splits the next complete packet (without its length) off the front of `buffer`.
///
/// # Errors
/// When the next packet announces a length over [`MAX_PACKET`], or zero.
pub fn next_packet(buffer: &mut BytesMut) -> Result<Option<Bytes>, usize> {
    if buffer.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
    if len == 0 || len > MAX_PACKET {
        return Err(len);
    }
    if buffer.len() < 4 + len {
        buffer.reserve(4 + len - buffer.len());
        return Ok(None);
    }
    buffer.advance(4);
    Ok(Some(buffer.split_to(len).freeze()))
}

/// The request id of a packet, when it has one (every request but `SSH_FXP_INIT`).
#[must_use]
pub fn request_id(packet: &[u8]) -> u32 {
    match packet {
        [_, a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// An `SSH_FXP_WRITE`, its data a slice of the packet.
#[derive(Debug)]
pub struct Write {
    pub id: u32,
    pub handle: Bytes,
    pub offset: u64,
    pub data: Bytes,
}

fn take_string(packet: &mut Bytes) -> Option<Bytes> {
    if packet.remaining() < 4 {
        return None;
    }
    let len = packet.get_u32() as usize;
    (packet.remaining() >= len).then(|| packet.split_to(len))
}

/// Reads an `SSH_FXP_WRITE` packet (type byte first).
#[must_use]
pub fn parse_write(mut packet: Bytes) -> Option<Write> {
    if packet.remaining() < 5 || packet.get_u8() != FXP_WRITE {
        return None;
    }
    let id = packet.get_u32();
    let handle = take_string(&mut packet)?;
    if packet.remaining() < 8 {
        return None;
    }
    let offset = packet.get_u64();
    let data = take_string(&mut packet)?;
    // Bytes after the data are ignored, as OpenSSH's server does: some clients (rclone's
    // SFTP library) send their whole buffer after a shorter data length.
    Some(Write { id, handle, offset, data })
}

/// How many of the strings after a request's id are paths (SFTP version 3), by type.
fn paths_in(kind: u8) -> usize {
    match kind {
        // open, lstat, setstat, opendir, remove, mkdir, rmdir, realpath, stat, readlink
        3 | 7 | 9 | 11 | 13 | 14 | 15 | 16 | 17 | 19 => 1,
        // rename, symlink
        18 | 20 => 2,
        _ => 0,
    }
}

/// Whether every path in `packet` (a request, type byte first) is UTF-8. A packet too
/// short to hold its paths passes: the codec refuses it as malformed.
#[must_use]
pub fn paths_are_utf8(packet: &[u8]) -> bool {
    let Some((&kind, rest)) = packet.split_first() else { return true };
    let mut rest = Bytes::copy_from_slice(rest.get(4..).unwrap_or_default());
    let count = if kind == FXP_EXTENDED {
        // The extension's name, then, for the one that takes paths, its two paths.
        match take_string(&mut rest) {
            Some(name) if &name[..] == POSIX_RENAME.as_bytes() => 2,
            Some(name) => return std::str::from_utf8(&name).is_ok(),
            None => return true,
        }
    } else {
        paths_in(kind)
    };
    (0..count).map_while(|_| take_string(&mut rest)).all(|path| std::str::from_utf8(&path).is_ok())
}

/// Two strings, as `posix-rename@openssh.com` carries its paths.
#[must_use]
pub fn parse_two_strings(data: &[u8]) -> Option<(String, String)> {
    let mut data = Bytes::copy_from_slice(data);
    let first = take_string(&mut data)?;
    let second = take_string(&mut data)?;
    Some((String::from_utf8(first.to_vec()).ok()?, String::from_utf8(second.to_vec()).ok()?))
}

/// An `SSH_FXP_DATA` answer, with its length.
#[must_use]
pub fn data_packet(id: u32, chunks: &[Bytes]) -> Bytes {
    let len: usize = chunks.iter().map(Bytes::len).sum();
    let mut out = BytesMut::with_capacity(13 + len);
    out.put_u32(u32::try_from(9 + len).unwrap_or(u32::MAX));
    out.put_u8(FXP_DATA);
    out.put_u32(id);
    out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    for chunk in chunks {
        out.put_slice(chunk);
    }
    out.freeze()
}

/// The body of the `limits@openssh.com` answer.
#[must_use]
pub fn limits(max_open_handles: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.put_u64(MAX_PACKET as u64);
    out.put_u64(u64::from(MAX_IO));
    out.put_u64(u64::from(MAX_IO));
    out.put_u64(max_open_handles);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_packet(id: u32, handle: &[u8], offset: u64, data: &[u8]) -> Vec<u8> {
        let mut body = vec![FXP_WRITE];
        body.put_u32(id);
        body.put_u32(handle.len() as u32);
        body.put_slice(handle);
        body.put_u64(offset);
        body.put_u32(data.len() as u32);
        body.put_slice(data);
        let mut framed = Vec::new();
        framed.put_u32(body.len() as u32);
        framed.extend_from_slice(&body);
        framed
    }

    #[test]
    fn packets_split_at_their_length_even_when_they_arrive_in_pieces() {
        let framed = write_packet(9, b"h1", 4096, b"hello");
        let mut buffer = BytesMut::new();
        buffer.put_slice(&framed[..3]);
        assert_eq!(next_packet(&mut buffer), Ok(None));
        buffer.put_slice(&framed[3..10]);
        assert_eq!(next_packet(&mut buffer), Ok(None));
        buffer.put_slice(&framed[10..]);
        buffer.put_slice(&framed);
        let first = next_packet(&mut buffer).ok().flatten().map(|p| parse_write(p).map(|w| (w.id, w.offset)));
        assert_eq!(first, Some(Some((9, 4096))));
        assert!(next_packet(&mut buffer).ok().flatten().is_some());
        assert!(buffer.is_empty());
    }

    #[test]
    fn oversized_and_empty_packets_are_refused() {
        let mut buffer = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 1][..]);
        assert_eq!(next_packet(&mut buffer), Err(0xffff_ffff));
        let mut buffer = BytesMut::from(&[0, 0, 0, 0][..]);
        assert_eq!(next_packet(&mut buffer), Err(0));
    }

    #[test]
    fn a_write_is_read_whole_or_not_at_all() {
        let framed = write_packet(3, b"h7", 10, b"abc");
        let write = parse_write(Bytes::copy_from_slice(&framed[4..])).map(|w| (w.handle, w.offset, w.data));
        assert_eq!(write, Some((Bytes::from_static(b"h7"), 10, Bytes::from_static(b"abc"))));
        for cut in 5..framed.len() - 1 {
            assert!(parse_write(Bytes::copy_from_slice(&framed[4..cut])).is_none(), "cut at {cut}");
        }
        let mut long = framed[4..].to_vec();
        long.extend([0xaa; 7]);
        let write = parse_write(Bytes::from(long)).map(|w| w.data);
        assert_eq!(write, Some(Bytes::from_static(b"abc")), "trailing bytes are ignored");
    }

    #[test]
    fn data_answers_carry_their_lengths() {
        let packet = data_packet(5, &[Bytes::from_static(b"ab"), Bytes::from_static(b"c")]);
        assert_eq!(&packet[..], &[0, 0, 0, 12, FXP_DATA, 0, 0, 0, 5, 0, 0, 0, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn two_strings_parse_and_truncated_ones_do_not() {
        let mut data = Vec::new();
        for s in ["/a", "/b c"] {
            data.put_u32(s.len() as u32);
            data.put_slice(s.as_bytes());
        }
        assert_eq!(parse_two_strings(&data), Some(("/a".to_owned(), "/b c".to_owned())));
        assert_eq!(parse_two_strings(&data[..data.len() - 1]), None);
    }

    fn request(kind: u8, strings: &[&[u8]]) -> Vec<u8> {
        let mut body = vec![kind, 0, 0, 0, 1];
        for s in strings {
            body.put_u32(s.len() as u32);
            body.put_slice(s);
        }
        body
    }

    #[test]
    fn every_path_of_a_request_must_be_utf8() {
        let (good, bad): (&[u8], &[u8]) = ("/a/é \u{FFFD}".as_bytes(), b"/a/n\xff");
        for kind in [3, 7, 9, 11, 13, 14, 15, 16, 17, 19] {
            assert!(paths_are_utf8(&request(kind, &[good])), "{kind}");
            assert!(!paths_are_utf8(&request(kind, &[bad])), "{kind}");
        }
        for kind in [18, 20] {
            assert!(paths_are_utf8(&request(kind, &[good, good])), "{kind}");
            assert!(!paths_are_utf8(&request(kind, &[good, bad])), "{kind}: the second");
            assert!(!paths_are_utf8(&request(kind, &[bad, good])), "{kind}: the first");
        }
        let rename = POSIX_RENAME.as_bytes();
        assert!(paths_are_utf8(&request(FXP_EXTENDED, &[rename, good, good])));
        assert!(!paths_are_utf8(&request(FXP_EXTENDED, &[rename, good, bad])));
        assert!(!paths_are_utf8(&request(FXP_EXTENDED, &[rename, bad, good])));
        assert!(!paths_are_utf8(&request(FXP_EXTENDED, &[b"x\xfe@example.com"])));
        // Handles and data are bytes, not paths.
        assert!(paths_are_utf8(&request(4, &[b"\xff"])));
        assert!(paths_are_utf8(&request(FXP_WRITE, &[b"\xff"])));
        // Truncated: left to the codec.
        assert!(paths_are_utf8(&request(17, &[bad])[..8]));
        assert!(paths_are_utf8(&[]));
    }

    #[test]
    fn request_ids_follow_the_type() {
        assert_eq!(request_id(&[17, 0, 0, 1, 2, 9]), 258);
        assert_eq!(request_id(&[17, 0]), 0);
    }
}
