//! Blobs: round trips, ranges, deletes, ages (every backend), and what each backend
//! leaves behind an abandoned upload. Each check takes the store and a folder to
//! inspect: the blob folder itself, or the folder the S3 server keeps its bucket in.

use std::time::Duration;

use cells_core::BlobId;
use cells_store::{BlobReader, Blobs};
use futures_util::StreamExt;

fn pattern(len: usize) -> Vec<u8> {
    // Not periodic with any chunk size: an off-by-one offset cannot go unnoticed.
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

async fn write_blob(blobs: &Blobs, data: &[u8], piece: usize) -> BlobId {
    let mut writer = blobs.writer().await.expect("writer");
    for chunk in data.chunks(piece.max(1)) {
        writer.write(chunk).await.expect("write");
    }
    assert_eq!(writer.written(), data.len() as u64);
    let (id, len) = writer.finish().await.expect("finish");
    assert_eq!(len, data.len() as u64);
    id
}

async fn read_all(blobs: &Blobs, blob: BlobId, offset: u64, len: u64) -> (Vec<u8>, bool) {
    match blobs.read(blob, offset, len).await.expect("read") {
        BlobReader::Whole(bytes) => (bytes.to_vec(), false),
        BlobReader::Stream(mut stream) => {
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.expect("chunk"));
            }
            (out, true)
        }
    }
}

fn tmp_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(root.join("tmp")).expect("tmp folder").map(|e| e.expect("entry").path()).collect()
}

pub async fn blobs_round_trip(blobs: &Blobs, _: &std::path::Path) {
    let small = "h\u{e9}llo #1 100% \u{1F600}\n".repeat(100).into_bytes();
    let id = write_blob(blobs, &small, 7).await;
    let (whole, streamed) = read_all(blobs, id, 0, small.len() as u64).await;
    assert_eq!(whole, small);
    assert!(!streamed, "a small read comes whole");
    let (range, _) = read_all(blobs, id, 13, 100).await;
    assert_eq!(range, small[13..113]);
    let (tail, _) = read_all(blobs, id, small.len() as u64 - 1, 1).await;
    assert_eq!(tail, small[small.len() - 1..]);
    let (nothing, _) = read_all(blobs, id, 5, 0).await;
    assert!(nothing.is_empty());
    assert!(blobs.read(id, 0, small.len() as u64 + 1).await.is_err(), "reading past the end is an error");

    // Large: several chunks, written in pieces that do not divide the chunk size.
    let large = pattern(3 * 256 * 1024 + 12_345);
    let id = write_blob(blobs, &large, 10_007).await;
    let (whole, streamed) = read_all(blobs, id, 0, large.len() as u64).await;
    assert!(streamed, "a large read streams");
    assert_eq!(whole.len(), large.len());
    assert!(whole == large, "streamed bytes are identical");
    for (offset, len) in
        [(1_usize, 256 * 1024), (256 * 1024 - 1, 256 * 1024 + 2), (300_000, 450_000), (0, 256 * 1024 + 1)]
    {
        let (got, _) = read_all(blobs, id, offset as u64, len as u64).await;
        assert!(got == large[offset..offset + len], "range {offset}+{len}");
    }

    // One big write.
    let id2 = write_blob(blobs, &large, large.len()).await;
    assert_ne!(id2, id);
    assert!(read_all(blobs, id2, 0, large.len() as u64).await.0 == large);

    // Empty blob.
    let empty = write_blob(blobs, &[], 1).await;
    assert!(read_all(blobs, empty, 0, 0).await.0.is_empty());
}

pub async fn blobs_dropped_writer_leaves_nothing(blobs: &Blobs, root: &std::path::Path) {
    let finished = write_blob(blobs, b"done", 2).await;
    assert!(tmp_files(root).is_empty(), "a finished blob leaves nothing in tmp");
    blobs.delete(vec![finished]).await.expect("delete");
    let mut writer = blobs.writer().await.expect("writer");
    writer.write(&pattern(300 * 1024)).await.expect("write");
    assert_eq!(tmp_files(root).len(), 1, "the upload is in tmp while it runs");
    drop(writer);
    assert!(tmp_files(root).is_empty(), "a dropped writer removes its temporary file");

    let writer = blobs.writer().await.expect("writer");
    drop(writer);
    assert!(tmp_files(root).is_empty());
}

pub async fn local_blob_files_are_private(blobs: &Blobs, root: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).expect("meta").permissions().mode() & 0o777;
    let shards: Vec<_> =
        std::fs::read_dir(root.join("blobs")).expect("shards").map(|e| e.expect("entry").path()).collect();
    assert_eq!(shards.len(), 256, "every shard folder is made at the start");
    assert!(shards.iter().all(|shard| mode(shard) == 0o700), "blob folders are private");
    // A small blob (written once, under its final name) and a large one (renamed there).
    for (content, piece) in [(pattern(7), 3), (pattern(300 * 1024), 64 * 1024)] {
        let id = write_blob(blobs, &content, piece).await;
        let file = root.join("blobs").join(&id.to_string()[..2]).join(id.to_string());
        assert_eq!(mode(&file), 0o600, "blob files are private");
    }
}

pub async fn blobs_delete_and_age(blobs: &Blobs, _: &std::path::Path) {
    let data = pattern(256 * 1024 + 3);
    let id = write_blob(blobs, &data, 4096).await;
    let other = write_blob(blobs, &data[..10], 10).await;
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    let old = blobs.old_blobs(later).await.expect("scan");
    assert!(old.contains(&id) && old.contains(&other), "{old:?}");
    assert!(blobs.old_blobs(std::time::SystemTime::UNIX_EPOCH).await.expect("scan").is_empty(), "none older than 1970");
    blobs.delete(vec![id]).await.expect("delete");
    assert!(blobs.read(id, 0, 1).await.is_err(), "a deleted blob is gone");
    assert_eq!(read_all(blobs, other, 0, 10).await.0, data[..10], "others stay");

    blobs.delete(vec![id, BlobId::random()]).await.expect("deleting a missing blob is fine");
    blobs.delete(Vec::new()).await.expect("deleting nothing is fine");
}

pub async fn blobs_sweep_temporary(blobs: &Blobs, root: &std::path::Path) {
    let kept = write_blob(blobs, b"kept", 2).await;
    // A small upload that stalls has put nothing on disk; a large one has its
    // temporary file.
    let mut small = blobs.writer().await.expect("writer");
    small.write(b"half an upload").await.expect("write");
    assert!(tmp_files(root).is_empty(), "a small upload writes nothing before it ends");
    drop(small);
    let mut stalled = blobs.writer().await.expect("writer");
    stalled.write(&pattern(300 * 1024)).await.expect("write");
    assert_eq!(blobs.sweep_temporary(Duration::from_secs(3600)).await.expect("sweep"), 0, "recent uploads stay");
    assert_eq!(tmp_files(root).len(), 1);
    assert_eq!(blobs.sweep_temporary(Duration::ZERO).await.expect("sweep"), 1);
    assert!(tmp_files(root).is_empty());
    assert!(stalled.finish().await.is_err(), "a swept upload cannot complete");
    assert_eq!(read_all(blobs, kept, 0, 4).await.0, b"kept", "sweeping never touches finished blobs");
    assert_eq!(blobs.sweep_temporary(Duration::ZERO).await.expect("sweep"), 0);
}

/// Small blobs are served from memory after a first read, with ranges sliced from it;
/// a deleted blob leaves the cache with its file; a large one is read as usual.
pub async fn small_blobs_are_served_from_memory(blobs: &Blobs, root: &std::path::Path) {
    let small = pattern(5000);
    let id = write_blob(blobs, &small, 999).await;
    let size = small.len() as u64;
    let whole = |reader: BlobReader| match reader {
        BlobReader::Whole(bytes) => bytes.to_vec(),
        BlobReader::Stream(_) => panic!("a small blob comes whole"),
    };
    assert_eq!(whole(blobs.read_sized(id, size, 0, size).await.expect("first read")), small);
    // The file is gone from under the cache: what comes back can only be from memory.
    let file = root.join("blobs").join(&id.to_string()[..2]).join(id.to_string());
    let on_disk = std::fs::read(&file).expect("blob file");
    std::fs::remove_file(&file).expect("remove the file");
    assert_eq!(whole(blobs.read_sized(id, size, 0, size).await.expect("cached read")), small);
    assert_eq!(whole(blobs.read_sized(id, size, 4990, 10).await.expect("cached range")), small[4990..]);
    assert!(blobs.read_sized(id, size, 4990, 11).await.is_err(), "past the end is an error");
    std::fs::write(&file, on_disk).expect("put the file back");
    blobs.delete(vec![id]).await.expect("delete");
    assert!(blobs.read_sized(id, size, 0, 1).await.is_err(), "a deleted blob is gone, also from memory");

    let large = pattern(300 * 1024);
    let big = write_blob(blobs, &large, 64 * 1024).await;
    match blobs.read_sized(big, large.len() as u64, 0, large.len() as u64).await.expect("large read") {
        BlobReader::Stream(mut stream) => {
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.expect("chunk"));
            }
            assert_eq!(out, large);
        }
        BlobReader::Whole(_) => panic!("a large blob is streamed"),
    }
}

/// A blob larger than a part of a multipart upload (8 MiB) comes back identical, also
/// across the boundaries of parts.
pub async fn large_blobs_cross_parts(blobs: &Blobs, _: &std::path::Path) {
    let large = pattern(20 * 1024 * 1024 + 777);
    let id = write_blob(blobs, &large, 1024 * 1024 + 1).await;
    let (whole, streamed) = read_all(blobs, id, 0, large.len() as u64).await;
    assert!(streamed);
    assert!(whole == large, "20 MiB come back identical");
    let part = 8 * 1024 * 1024;
    let (got, _) = read_all(blobs, id, part as u64 - 10, 20).await;
    assert_eq!(got, large[part - 10..part + 10]);
    let (got, _) = read_all(blobs, id, part as u64 - 1000, 3 * 1024 * 1024).await;
    assert!(got == large[part - 1000..part - 1000 + 3 * 1024 * 1024]);
    blobs.delete(vec![id]).await.expect("delete");
    assert!(blobs.read(id, 0, 1).await.is_err());
}

/// Blobs the size of a part, one byte either side of it, and two parts, written in
/// pieces that do not divide a part (and in one piece larger than a part), come back
/// identical: no byte is lost or sent twice where the writer closes a part.
pub async fn blobs_at_part_boundaries(blobs: &Blobs, _: &std::path::Path) {
    let part = 8 * 1024 * 1024;
    let data = pattern(2 * part + 1);
    for (len, piece) in [(part - 1, 65_537), (part, 1024 * 1024), (part + 1, 100_003), (2 * part, 3 * part)] {
        let id = write_blob(blobs, &data[..len], piece).await;
        let (whole, _) = read_all(blobs, id, 0, len as u64).await;
        assert_eq!(whole.len(), len, "{len} bytes come back");
        assert!(whole == data[..len], "{len} bytes written in pieces of {piece} come back identical");
        blobs.delete(vec![id]).await.expect("delete");
    }
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// An upload dropped before it finishes (here, in its third part) shows no object, and
/// its parts are gone from the server shortly after: the writer aborts the upload.
pub async fn bucket_dropped_upload_leaves_nothing(blobs: &Blobs, server_root: &std::path::Path) {
    let kept = write_blob(blobs, b"kept", 4).await;
    let before = files_under(server_root);
    let mut writer = blobs.writer().await.expect("writer");
    for _ in 0..20 {
        writer.write(&pattern(1024 * 1024)).await.expect("write");
    }
    drop(writer);
    let far = std::time::SystemTime::now() + Duration::from_secs(3600);
    let mut left = Vec::new();
    for _ in 0..50 {
        left = files_under(server_root);
        if left == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, before, "the parts of the aborted upload are gone");
    assert_eq!(blobs.old_blobs(far).await.expect("list"), vec![kept], "no object but the finished one");
    assert_eq!(read_all(blobs, kept, 0, 4).await.0, b"kept");
}
