//! Blobs in a local folder: `blobs/ab/ab12…`. A blob that fits in one buffer
//! ([`CHUNK`]) is written once, under its final name, and synced: a fresh name no node
//! points to yet, so it is invisible until the commit that refers to it, and collected
//! (as every unreferenced blob) if that commit never comes. A larger one is written to
//! `tmp/` first and renamed into place once synced. Either way its folder is synced
//! too, so that its name survives a crash: [`LocalWriter::finish`] returns once the
//! blob is on disk, whole, under its final name. Uploads that finish together sync at
//! the same time, on threads of the blocking pool, and the file system's journal
//! commits their syncs together.
//! A small read is done on the calling thread, a few pages from the
//! page cache being cheaper than a hop to the blocking pool; a read up to [`CHUNK`]
//! costs one hop (open, position, read and close together); a larger one streams
//! [`CHUNK`]-sized positional reads, one hop each, one read ahead of the one being sent.
//! Writes are buffered to [`CHUNK`] before each hop.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use cells_core::BlobId;

use super::{BlobReader, CHUNK, INLINE_READ, blob_key};

#[derive(Clone, Debug)]
pub(super) struct Local {
    root: Arc<PathBuf>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

impl Local {
    pub(super) fn open(root: &Path) -> io::Result<Self> {
        // Every shard folder exists from the start: a small blob's write is then one
        // `open`, `write` and `fdatasync`, with no `mkdir` before it.
        for shard in 0..=255u8 {
            private_dir(&root.join("blobs").join(format!("{shard:02x}")))?;
        }
        private_dir(&root.join("tmp"))?;
        Ok(Self { root: Arc::new(root.to_owned()) })
    }

    pub(super) fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }

    fn blob_path(&self, blob: BlobId) -> PathBuf {
        self.root.join(blob_key(blob))
    }

    fn tmp_path(&self, blob: BlobId) -> PathBuf {
        self.root.join("tmp").join(format!("{blob}.part"))
    }

    /// Starts a blob: nothing touches the disk until it outgrows one buffer.
    pub(super) fn writer(&self, blob: BlobId) -> LocalWriter {
        LocalWriter {
            tmp: self.tmp_path(blob),
            dest: self.blob_path(blob),
            file: None,
            buffer: BytesMut::new(),
            state: State::Buffered,
        }
    }

    pub(super) async fn read(&self, blob: BlobId, offset: u64, len: u64) -> io::Result<BlobReader> {
        let path = self.blob_path(blob);
        if len <= INLINE_READ {
            // A few pages, most often from the page cache: cheaper here than a hop to the
            // blocking pool and back.
            let file = File::open(path)?;
            return Ok(BlobReader::Whole(read_exact_at(&file, offset, usize::try_from(len).unwrap_or(0))?));
        }
        let first_len = usize::try_from(len).unwrap_or(usize::MAX).min(CHUNK);
        let (file, first) = blocking(move || {
            let file = File::open(path)?;
            let first = read_exact_at(&file, offset, first_len)?;
            Ok((file, first))
        })
        .await?;
        if first.len() as u64 >= len {
            return Ok(BlobReader::Whole(first));
        }
        let mut ahead = ReadAhead {
            file: Arc::new(file),
            offset: offset + first.len() as u64,
            remaining: len - first.len() as u64,
            pending: None,
        };
        // Read the next chunk while the first one is being sent.
        ahead.start_next();
        let rest = futures_util::stream::try_unfold(ahead, |mut ahead| async move {
            let Some(pending) = ahead.pending.take() else { return Ok(None) };
            let chunk = pending.await.map_err(io::Error::other)??;
            ahead.start_next();
            Ok(Some((chunk, ahead)))
        });
        let first = futures_util::stream::iter([Ok(first)]);
        Ok(BlobReader::Stream(Box::new(futures_util::StreamExt::chain(first, Box::pin(rest)))))
    }

    pub(super) async fn delete(&self, blobs: Vec<BlobId>) -> io::Result<()> {
        let paths: Vec<PathBuf> = blobs.into_iter().map(|b| self.blob_path(b)).collect();
        blocking(move || {
            for path in paths {
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn old_blobs(&self, before: SystemTime) -> io::Result<Vec<BlobId>> {
        let dir = self.root.join("blobs");
        blocking(move || {
            let mut found = Vec::new();
            for shard in std::fs::read_dir(dir)? {
                let shard = shard?;
                if !shard.file_type()?.is_dir() {
                    continue;
                }
                for entry in std::fs::read_dir(shard.path())? {
                    let entry = entry?;
                    let Some(blob) = entry.file_name().to_str().and_then(|name| name.parse::<BlobId>().ok()) else {
                        continue;
                    };
                    if entry.metadata()?.modified()? < before {
                        found.push(blob);
                    }
                }
            }
            Ok(found)
        })
        .await
    }

    pub(super) async fn sweep_temporary(&self, min_age: Duration) -> io::Result<usize> {
        let dir = self.root.join("tmp");
        blocking(move || {
            let mut removed = 0;
            let now = SystemTime::now();
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let modified = entry.metadata()?.modified()?;
                if now.duration_since(modified).unwrap_or_default() >= min_age {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }
}

/// A streamed read that keeps one chunk read ahead of the one being sent, so that the
/// disk (or page cache) and the socket work at the same time.
struct ReadAhead {
    file: Arc<File>,
    offset: u64,
    remaining: u64,
    pending: Option<tokio::task::JoinHandle<io::Result<Bytes>>>,
}

impl ReadAhead {
    fn start_next(&mut self) {
        if self.remaining == 0 {
            return;
        }
        let want = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(CHUNK);
        let (file, offset) = (Arc::clone(&self.file), self.offset);
        self.pending = Some(tokio::task::spawn_blocking(move || read_exact_at(&file, offset, want)));
        self.offset += want as u64;
        self.remaining -= want as u64;
    }
}

/// Full-size chunk buffers, reused: a streamed read neither allocates nor zeroes
/// [`CHUNK`] bytes per chunk (fresh large allocations cost page faults and a memset).
static CHUNK_POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// Buffers kept in the pool at most (8 MiB).
const CHUNK_POOL_MAX: usize = 32;

/// A chunk buffer lent to a `Bytes`; it goes back to the pool when the `Bytes` is dropped
/// (once written to the socket).
struct PooledChunk(Vec<u8>);

impl AsRef<[u8]> for PooledChunk {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for PooledChunk {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.0);
        if let Ok(mut pool) = CHUNK_POOL.lock()
            && pool.len() < CHUNK_POOL_MAX
        {
            pool.push(buffer);
        }
    }
}

fn fill_at(file: &File, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buffer.len() {
        let n = file.read_at(&mut buffer[filled..], offset + filled as u64)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "blob is shorter than its record"));
        }
        filled += n;
    }
    Ok(())
}

fn read_exact_at(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    if len == CHUNK {
        let mut buffer = CHUNK_POOL.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_else(|| vec![0; CHUNK]);
        fill_at(file, offset, &mut buffer)?;
        return Ok(Bytes::from_owner(PooledChunk(buffer)));
    }
    let mut buffer = vec![0; len];
    fill_at(file, offset, &mut buffer)?;
    Ok(Bytes::from(buffer))
}

fn publish(tmp: &Path, dest: &Path) -> io::Result<()> {
    if let Some(dir) = dest.parent() {
        private_dir(dir)?;
    }
    std::fs::rename(tmp, dest)?;
    sync_folder_of(dest)
}

/// Syncs the folder holding `path`, so that the name of a file just created or renamed
/// there survives a crash.
fn sync_folder_of(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// Creates a folder (and its parents) readable by this user only (0700).
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Where a [`LocalWriter`] stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// All of it is in the buffer; nothing is on disk.
    Buffered,
    /// It outgrew the buffer: the rest goes to its temporary file.
    Spilled,
    /// Synced under its final name.
    Done,
}

/// A blob being written. Dropped before [`LocalWriter::finish`], it removes what it put
/// on disk (a small blob never put anything there).
pub(super) struct LocalWriter {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
    buffer: BytesMut,
    state: State,
}

impl LocalWriter {
    /// Appends a chunk; writes through once [`CHUNK`] bytes are buffered.
    pub(super) async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.buffer.is_empty() && self.buffer.capacity() < chunk.len().min(CHUNK) {
            self.buffer.reserve(chunk.len().min(CHUNK));
        }
        self.buffer.extend_from_slice(chunk);
        if self.buffer.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes the buffer to the temporary file, creating it the first time.
    async fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = self.buffer.split().freeze();
        let file = self.file.take();
        let tmp = (file.is_none()).then(|| self.tmp.clone());
        self.state = State::Spilled;
        let file = blocking(move || {
            use std::io::Write;
            let mut file = match (file, tmp) {
                (Some(file), _) => file,
                (None, Some(tmp)) => create_new(&tmp)?,
                (None, None) => return Err(io::Error::other("blob writer already failed")),
            };
            file.write_all(&data)?;
            Ok(file)
        })
        .await?;
        self.file = Some(file);
        Ok(())
    }

    /// Writes what is buffered, syncs, and puts the blob under its final name, synced
    /// too.
    pub(super) async fn finish(mut self) -> io::Result<()> {
        if self.state == State::Buffered {
            let (data, dest) = (self.buffer.split().freeze(), self.dest.clone());
            match blocking(move || write_synced(&dest, &data)).await {
                Ok(()) => {
                    self.state = State::Done;
                    return Ok(());
                }
                // A blob of this name exists (an import run again): write it aside and
                // rename it over, as a large one.
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
        }
        self.flush().await?;
        let file = self.file.take().ok_or_else(|| io::Error::other("blob writer already failed"))?;
        let (tmp, dest) = (self.tmp.clone(), self.dest.clone());
        blocking(move || {
            file.sync_data()?;
            drop(file);
            publish(&tmp, &dest)
        })
        .await?;
        self.state = State::Done;
        Ok(())
    }
}

/// Creates a file that must not exist yet, readable by this user only.
fn create_new(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

/// Writes a whole small blob under its final name and syncs it and its folder; on
/// failure (a full disk) nothing stays behind.
fn write_synced(dest: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = match create_new(dest) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            // Its shard folder was removed by hand: make it again.
            if let Some(dir) = dest.parent() {
                private_dir(dir)?;
            }
            create_new(dest)?
        }
        other => other?,
    };
    let written = file.write_all(data).and_then(|()| file.sync_data()).and_then(|()| sync_folder_of(dest));
    if written.is_err() {
        drop(file);
        let _ = std::fs::remove_file(dest);
    }
    written
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.state == State::Spilled {
            // Best effort: a leftover is swept at the next start.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
