//! The blob store: file content, one immutable blob per upload, in a local folder.
//!
//! A blob is written to `tmp/` and renamed into `blobs/` only once complete and synced,
//! so a crash mid-upload leaves at most a stray temporary file, never a visible partial
//! file. Reads are built for the hot path: a small blob (at most [`INLINE_READ`] bytes)
//! is kept in memory after its first read ([`Blobs::read_sized`]; blobs never change, so
//! nothing is ever stale); a small read is done on the calling thread, a few pages from the page cache being cheaper than a
//! hop to the blocking pool; a read up to [`CHUNK`] costs one hop (open, position, read
//! and close together); a larger one streams [`CHUNK`]-sized positional reads, one hop
//! each. Writes are buffered to [`CHUNK`] before each hop.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use cells_core::BlobId;
use futures_util::Stream;

/// Bytes read or written per hop to the blocking thread pool.
pub const CHUNK: usize = 256 * 1024;

/// Reads up to this size are done on the calling thread, without a hop.
pub const INLINE_READ: u64 = 64 * 1024;

/// The blob store rooted at a folder. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Blobs {
    root: Arc<PathBuf>,
    small: Arc<SmallBlobs>,
}

/// Whole small blobs (at most [`INLINE_READ`] bytes each, [`SMALL_CACHE`] in all) kept
/// in memory. A blob never changes once written, so an entry is never stale; it leaves
/// when its blob is deleted, or when the cache is full and starts over.
#[derive(Debug, Default)]
struct SmallBlobs {
    map: std::sync::RwLock<std::collections::HashMap<BlobId, Bytes>>,
    bytes: std::sync::atomic::AtomicUsize,
}

/// The memory the small-blob cache may take.
pub const SMALL_CACHE: usize = 16 * 1024 * 1024;

impl SmallBlobs {
    fn get(&self, blob: BlobId) -> Option<Bytes> {
        self.map.read().ok()?.get(&blob).cloned()
    }

    fn insert(&self, blob: BlobId, content: Bytes) {
        use std::sync::atomic::Ordering;
        let Ok(mut map) = self.map.write() else { return };
        if self.bytes.load(Ordering::Relaxed) + content.len() > SMALL_CACHE {
            map.clear();
            self.bytes.store(0, Ordering::Relaxed);
        }
        self.bytes.fetch_add(content.len(), Ordering::Relaxed);
        map.insert(blob, content);
    }

    fn remove(&self, blobs: &[BlobId]) {
        use std::sync::atomic::Ordering;
        let Ok(mut map) = self.map.write() else { return };
        for blob in blobs {
            if let Some(content) = map.remove(blob) {
                self.bytes.fetch_sub(content.len(), Ordering::Relaxed);
            }
        }
    }
}

/// What a read gives: the whole range at once when small, else a stream of chunks.
pub enum BlobReader {
    Whole(Bytes),
    Stream(Box<dyn Stream<Item = io::Result<Bytes>> + Send + Unpin>),
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

impl Blobs {
    /// Opens the store, creating its folders.
    ///
    /// # Errors
    /// When the folders cannot be created.
    pub fn open(root: &Path) -> io::Result<Self> {
        private_dir(&root.join("blobs"))?;
        private_dir(&root.join("tmp"))?;
        Ok(Self { root: Arc::new(root.to_owned()), small: Arc::default() })
    }

    fn blob_path(&self, blob: BlobId) -> PathBuf {
        let name = blob.to_string();
        self.root.join("blobs").join(&name[..2]).join(name)
    }

    fn tmp_path(&self, blob: BlobId) -> PathBuf {
        self.root.join("tmp").join(format!("{blob}.part"))
    }

    /// Starts writing a new blob.
    ///
    /// # Errors
    /// When the temporary file cannot be created.
    pub async fn writer(&self) -> io::Result<BlobWriter> {
        let blob = BlobId::random();
        let tmp = self.tmp_path(blob);
        let dest = self.blob_path(blob);
        let file = blocking({
            let tmp = tmp.clone();
            move || {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp)
            }
        })
        .await?;
        Ok(BlobWriter {
            blob,
            tmp,
            dest,
            file: Some(file),
            buffer: BytesMut::with_capacity(CHUNK),
            written: 0,
            done: false,
        })
    }

    /// Reads `len` bytes from `offset` of a blob of `size` bytes: a small blob is served
    /// from memory after its first read (no system call at all), others as [`Blobs::read`].
    ///
    /// # Errors
    /// When the blob cannot be opened or read.
    pub async fn read_sized(&self, blob: BlobId, size: u64, offset: u64, len: u64) -> io::Result<BlobReader> {
        if size > INLINE_READ {
            return self.read(blob, offset, len).await;
        }
        let whole = match self.small.get(blob) {
            Some(whole) => whole,
            None => {
                let BlobReader::Whole(whole) = self.read(blob, 0, size).await? else {
                    return Err(io::Error::other("a small blob was streamed"));
                };
                self.small.insert(blob, whole.clone());
                whole
            }
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(whole.len());
        let end = usize::try_from(offset.saturating_add(len)).unwrap_or(usize::MAX);
        if end > whole.len() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "blob is shorter than its record"));
        }
        Ok(BlobReader::Whole(whole.slice(start..end)))
    }

    /// Reads `len` bytes of a blob from `offset`.
    ///
    /// # Errors
    /// When the blob cannot be opened or read.
    pub async fn read(&self, blob: BlobId, offset: u64, len: u64) -> io::Result<BlobReader> {
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

    /// Removes blobs no node points to any more. A blob already gone is not an error.
    ///
    /// # Errors
    /// When a blob exists but cannot be removed.
    pub async fn delete(&self, blobs: Vec<BlobId>) -> io::Result<()> {
        if blobs.is_empty() {
            return Ok(());
        }
        self.small.remove(&blobs);
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

    /// Blobs whose file was last written before `before`: the candidates of the scan for
    /// blobs that no node refers to (16 bytes each in memory).
    ///
    /// # Errors
    /// When the blob folder cannot be read.
    pub async fn old_blobs(&self, before: SystemTime) -> io::Result<Vec<BlobId>> {
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

    /// Removes temporary files of uploads that stopped (a crash, a killed process) and
    /// were last written more than `min_age` ago. Returns how many were removed.
    ///
    /// # Errors
    /// When the temporary folder cannot be read.
    pub async fn sweep_temporary(&self, min_age: Duration) -> io::Result<usize> {
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
    std::fs::rename(tmp, dest)
}

/// Creates a folder (and its parents) readable by this user only (0700).
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// A blob being written. Dropped before [`BlobWriter::finish`], it removes its
/// temporary file: an interrupted upload leaves nothing behind.
pub struct BlobWriter {
    blob: BlobId,
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
    buffer: BytesMut,
    written: u64,
    done: bool,
}

impl BlobWriter {
    /// Bytes accepted so far.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends a chunk; writes through once [`CHUNK`] bytes are buffered.
    ///
    /// # Errors
    /// When the disk write fails.
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.buffer.extend_from_slice(chunk);
        self.written += chunk.len() as u64;
        if self.buffer.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = self.buffer.split().freeze();
        let file = self.file.take().ok_or_else(|| io::Error::other("blob writer already failed"))?;
        let file = blocking(move || {
            use std::io::Write;
            let mut file = file;
            file.write_all(&data)?;
            Ok(file)
        })
        .await?;
        self.file = Some(file);
        Ok(())
    }

    /// Writes what is buffered, syncs, and moves the blob into place. Only then may a
    /// node point to it.
    ///
    /// # Errors
    /// When the write, sync or rename fails.
    pub async fn finish(mut self) -> io::Result<(BlobId, u64)> {
        self.flush().await?;
        let file = self.file.take().ok_or_else(|| io::Error::other("blob writer already failed"))?;
        let (tmp, dest) = (self.tmp.clone(), self.dest.clone());
        blocking(move || {
            file.sync_data()?;
            drop(file);
            publish(&tmp, &dest)
        })
        .await?;
        self.done = true;
        Ok((self.blob, self.written))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: a leftover is swept at the next start.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
