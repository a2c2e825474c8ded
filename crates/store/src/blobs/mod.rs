//! The blob store: file content, one immutable blob per upload, in a local folder
//! ([`local`]) or an S3-compatible bucket ([`s3`], through OpenDAL).
//!
//! A blob becomes visible only once complete and referred to by a node: on disk a
//! small one is written under its fresh final name and synced, a larger one is written
//! to `tmp/` and renamed into `blobs/` once synced; in a bucket it is one PUT, or a multipart upload
//! that S3 shows only once completed. A crash mid-upload leaves no visible partial
//! file: at most a stray temporary file (swept at start) or the parts of an unfinished
//! multipart upload (aborted when the writer is dropped; see `docs/deploy.md` for the
//! bucket rule that removes those of a killed process).
//!
//! Reads are built for the hot path: a small blob (at most [`INLINE_READ`] bytes) is
//! kept in memory after its first read ([`Blobs::read_sized`]; blobs never change, so
//! nothing is ever stale); larger reads stream [`CHUNK`]-sized pieces.

mod local;
mod s3;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cells_core::BlobId;
use futures_util::Stream;

/// Bytes read or written per hop to the blocking thread pool, or per ranged read of a
/// bucket.
pub const CHUNK: usize = 256 * 1024;

/// Reads up to this size are done on the calling thread, without a hop.
pub const INLINE_READ: u64 = 64 * 1024;

/// The memory the small-blob cache may take.
pub const SMALL_CACHE: usize = 16 * 1024 * 1024;

/// The blob store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Blobs {
    backend: Backend,
    small: Arc<SmallBlobs>,
}

#[derive(Clone, Debug)]
enum Backend {
    Local(local::Local),
    S3(s3::Bucket),
}

/// Whole small blobs (at most [`INLINE_READ`] bytes each, [`SMALL_CACHE`] in all) kept
/// in memory. A blob never changes once written, so an entry is never stale; it leaves
/// when its blob is deleted, or when the cache is full and starts over.
#[derive(Debug, Default)]
struct SmallBlobs {
    map: std::sync::RwLock<std::collections::HashMap<BlobId, Bytes>>,
    bytes: std::sync::atomic::AtomicUsize,
}

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

/// The key (on disk, the relative path) of a blob: `blobs/ab/ab12…`, in a folder and a
/// bucket alike, so that a folder of blobs copied into a bucket is found there.
fn blob_key(blob: BlobId) -> String {
    let name = blob.to_string();
    format!("blobs/{}/{name}", &name[..2])
}

impl Blobs {
    /// Opens the store in a local folder, creating its folders.
    ///
    /// # Errors
    /// When the folders cannot be created.
    pub fn open(root: &Path) -> io::Result<Self> {
        Ok(Self::with(Backend::Local(local::Local::open(root)?)))
    }

    /// Opens the store in an S3-compatible bucket named by
    /// `s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION`; credentials come from the
    /// usual `AWS_*` variables. Checks that the bucket answers.
    ///
    /// # Errors
    /// When the URL is malformed or the bucket does not answer.
    pub async fn open_s3(url: &str) -> io::Result<Self> {
        Ok(Self::with(Backend::S3(s3::Bucket::open(url, None).await?)))
    }

    /// As [`Blobs::open_s3`], with an access key and its secret given, not read from
    /// the environment.
    ///
    /// # Errors
    /// When the URL is malformed or the bucket does not answer.
    pub async fn open_s3_with(url: &str, access_key: &str, secret_key: &str) -> io::Result<Self> {
        Ok(Self::with(Backend::S3(s3::Bucket::open(url, Some((access_key, secret_key))).await?)))
    }

    fn with(backend: Backend) -> Self {
        Self { backend, small: Arc::default() }
    }

    /// Whether content is in a bucket (where an object may be dated from the start of
    /// its upload, not its end).
    #[must_use]
    pub fn is_bucket(&self) -> bool {
        matches!(self.backend, Backend::S3(_))
    }

    /// Where content goes, for messages (no credentials).
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local(local) => local.describe(),
            Backend::S3(bucket) => bucket.describe(),
        }
    }

    /// Starts writing a new blob.
    ///
    /// # Errors
    /// When the temporary file or the upload cannot be created.
    pub async fn writer(&self) -> io::Result<BlobWriter> {
        self.writer_for(BlobId::random()).await
    }

    async fn writer_for(&self, blob: BlobId) -> io::Result<BlobWriter> {
        let inner = match &self.backend {
            Backend::Local(local) => Writer::Local(local.writer(blob)),
            Backend::S3(bucket) => Writer::S3(bucket.writer(blob).await?),
        };
        Ok(BlobWriter { blob, inner, written: 0 })
    }

    /// Copies a blob of `size` bytes from another store, under the same id (moving an
    /// install from a folder to a bucket).
    ///
    /// # Errors
    /// When the blob cannot be read there or written here.
    pub async fn import(&self, from: &Blobs, blob: BlobId, size: u64) -> io::Result<()> {
        use futures_util::StreamExt;
        let mut writer = self.writer_for(blob).await?;
        match from.read(blob, 0, size).await? {
            BlobReader::Whole(bytes) => writer.write(&bytes).await?,
            BlobReader::Stream(mut stream) => {
                while let Some(chunk) = stream.next().await {
                    writer.write(&chunk?).await?;
                }
            }
        }
        writer.finish().await.map(drop)
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
        match &self.backend {
            Backend::Local(local) => local.read(blob, offset, len).await,
            Backend::S3(bucket) => bucket.read(blob, offset, len).await,
        }
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
        match &self.backend {
            Backend::Local(local) => local.delete(blobs).await,
            Backend::S3(bucket) => bucket.delete(blobs).await,
        }
    }

    /// Blobs last written before `before`: the candidates of the scan for blobs that no
    /// node refers to (16 bytes each in memory).
    ///
    /// # Errors
    /// When the blobs cannot be listed.
    pub async fn old_blobs(&self, before: SystemTime) -> io::Result<Vec<BlobId>> {
        match &self.backend {
            Backend::Local(local) => local.old_blobs(before).await,
            Backend::S3(bucket) => bucket.old_blobs(before).await,
        }
    }

    /// Removes temporary files of uploads that stopped (a crash, a killed process) and
    /// were last written more than `min_age` ago. Returns how many were removed. A
    /// bucket has no temporary files: an unfinished multipart upload is invisible, and
    /// removed by the bucket's lifecycle rule.
    ///
    /// # Errors
    /// When the temporary folder cannot be read.
    pub async fn sweep_temporary(&self, min_age: Duration) -> io::Result<usize> {
        match &self.backend {
            Backend::Local(local) => local.sweep_temporary(min_age).await,
            Backend::S3(_) => Ok(0),
        }
    }
}

/// A blob being written. Dropped before [`BlobWriter::finish`], it removes what it
/// wrote: an interrupted upload leaves nothing visible, and nothing behind.
pub struct BlobWriter {
    blob: BlobId,
    inner: Writer,
    written: u64,
}

enum Writer {
    Local(local::LocalWriter),
    S3(s3::BucketWriter),
}

impl BlobWriter {
    /// Bytes accepted so far.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends a chunk.
    ///
    /// # Errors
    /// When the write fails.
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.written += chunk.len() as u64;
        match &mut self.inner {
            Writer::Local(writer) => writer.write(chunk).await,
            Writer::S3(writer) => writer.write(chunk).await,
        }
    }

    /// Writes what is buffered and makes the blob durable: synced, with its name, in a
    /// folder; uploaded, in a bucket. Only then may a node point to it.
    ///
    /// # Errors
    /// When the write, sync, rename or upload fails.
    pub async fn finish(self) -> io::Result<(BlobId, u64)> {
        match self.inner {
            Writer::Local(writer) => writer.finish().await?,
            Writer::S3(writer) => writer.finish().await?,
        }
        Ok((self.blob, self.written))
    }
}
