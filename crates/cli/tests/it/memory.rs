//! Bodies stream both ways: a 1 GiB upload and download keep the server's peak memory
//! (`VmHWM`) under 100 MiB, on a folder and on a bucket alike. On a bucket an upload
//! holds up to three parts of 8 MiB whatever the file's size (the one being filled, the
//! one OpenDAL keeps back, the one being sent), so what it may add is 24 MiB more. The
//! test streams too: the content is generated on the fly and the download is checked as
//! it arrives, never held whole. Only one login happens
//! before: each argon2 hash takes 19 MiB, which the allocator may keep resident.

use std::time::Instant;

use crate::support::{TestServer, enc, random_bytes};

const MIB: usize = 1024 * 1024;
const BLOCKS: usize = 1024;
const LIMIT: u64 = 100 * MIB as u64;
/// What streaming a gibibyte may add to the peak (with a bucket: three parts more).
const ADDED: u64 = 32 * MIB as u64;
const ADDED_ON_A_BUCKET: u64 = ADDED + 3 * 8 * MIB as u64;

/// Block `index` of the content: a random MiB with the index in its first 8 bytes, so
/// that a block sent twice, lost or out of order is caught.
fn block(base: &[u8], index: usize) -> Vec<u8> {
    let mut block = base.to_vec();
    block[..8].copy_from_slice(&(index as u64).to_le_bytes());
    block
}

/// Checks `chunk`, found at byte `pos` of the content.
fn check(base: &[u8], pos: usize, chunk: &[u8]) {
    let mut done = 0;
    while done < chunk.len() {
        let at = pos + done;
        let (index, offset) = (at / MIB, at % MIB);
        let len = (MIB - offset).min(chunk.len() - done);
        let piece = &chunk[done..done + len];
        let stamp = (index as u64).to_le_bytes();
        for (i, byte) in piece.iter().enumerate().take(8usize.saturating_sub(offset)) {
            assert_eq!(*byte, stamp[offset + i], "wrong byte at {}", at + i);
        }
        let from = 8usize.saturating_sub(offset).min(len);
        assert!(piece[from..] == base[offset + from..offset + len], "wrong content in block {index}");
        done += len;
    }
}

#[tokio::test]
async fn a_gibibyte_each_way_in_bounded_server_memory() {
    let added = if crate::support::on_postgres() { ADDED_ON_A_BUCKET } else { ADDED };
    let server = TestServer::start();
    let at_start = server.peak_rss();
    // One login only: each argon2 run takes 19 MiB, which the allocator may keep.
    let admin = server.admin().await;
    let before = server.peak_rss();
    let base = random_bytes(MIB, 11);
    let path = "/personal-files/one gibibyte #1 ü.bin";

    let started = Instant::now();
    let source = base.clone();
    let stream = futures_util::stream::iter((0..BLOCKS).map(move |i| Ok::<_, std::io::Error>(block(&source, i))));
    let created = admin.upload(path, reqwest::Body::wrap_stream(stream)).await.expect(201).json();
    assert_eq!(created["Size"], BLOCKS * MIB);
    let uploaded = started.elapsed();
    let after_upload = server.peak_rss();
    assert!(
        after_upload < LIMIT,
        "peak RSS {} MiB after the upload (at start {} MiB, before {} MiB)",
        after_upload / MIB as u64,
        at_start / MIB as u64,
        before / MIB as u64
    );

    let started = Instant::now();
    let mut response = admin.request(reqwest::Method::GET, &format!("/io{}", enc(path))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some((BLOCKS * MIB) as u64));
    let mut received = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        check(&base, received, &chunk);
        received += chunk.len();
    }
    assert_eq!(received, BLOCKS * MIB);
    let downloaded = started.elapsed();

    let peak = server.peak_rss();
    eprintln!(
        "1 GiB up in {uploaded:?}, down in {downloaded:?}; server peak RSS {} MiB (at start {} MiB, before {} MiB, after upload {} MiB)",
        peak / MIB as u64,
        at_start / MIB as u64,
        before / MIB as u64,
        after_upload / MIB as u64
    );
    assert!(peak < LIMIT, "peak RSS {} MiB after the download", peak / MIB as u64);
    // And what streaming a gibibyte added is small: memory does not follow the file size.
    assert!(peak - before < added, "streaming 1 GiB added {} MiB", (peak - before) / MIB as u64);
}
