//! Blobs in an S3-compatible bucket, through OpenDAL: the key of a blob is the same
//! `blobs/ab/ab12…` as on disk (under the URL's prefix). A blob up to [`PART`] bytes is
//! one PUT when its writer finishes; a larger one is a multipart upload of [`PART`]-sized
//! parts, completed only when its writer finishes: S3 shows no object before that. A
//! writer dropped unfinished aborts its upload.
//!
//! The writer gathers each part in one buffer of its own, allocated at the part's size
//! (the first grows once, from [`CHUNK`]), and hands OpenDAL whole parts. Handing it the
//! request's pieces instead (a few KiB to a few hundred KiB each) left thousands of live
//! allocations per part, spread over the allocator's per-thread arenas: a 1 GiB upload
//! then raised the server's peak memory by 50 to 90 MiB; with whole parts it is the
//! parts themselves (see [`PART`]).

use std::io;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use cells_core::BlobId;
use futures_util::TryStreamExt;
use opendal::Operator;

use super::{BlobReader, CHUNK, blob_key};

/// The size of each part of a multipart upload (S3 asks for at least 5 MiB but the
/// last). An upload holds at most three: the one being filled, the one OpenDAL keeps
/// until it knows another follows, and [`PARTS_IN_FLIGHT`] being sent.
pub(super) const PART: usize = 8 << 20;
const PARTS_IN_FLIGHT: usize = 1;

#[derive(Clone, Debug)]
pub(super) struct Bucket {
    operator: Operator,
    name: String,
}

/// The parts of an `s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION` URL.
#[derive(Debug, PartialEq, Eq)]
struct Location {
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
    region: String,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn parse(url: &str) -> io::Result<Location> {
    let parsed = url::Url::parse(url).map_err(|e| invalid(format!("invalid storage URL: {e}")))?;
    if parsed.scheme() != "s3" {
        return Err(invalid("a bucket URL starts with s3://".to_owned()));
    }
    let bucket = parsed.host_str().unwrap_or_default().to_owned();
    if bucket.is_empty() {
        return Err(invalid("the storage URL names no bucket: s3://BUCKET?endpoint=URL&region=REGION".to_owned()));
    }
    let mut location =
        Location { bucket, prefix: parsed.path().trim_matches('/').to_owned(), endpoint: None, region: String::new() };
    for (key, value) in parsed.query_pairs() {
        match &*key {
            "endpoint" => location.endpoint = Some(value.into_owned()),
            "region" => location.region = value.into_owned(),
            other => {
                return Err(invalid(format!("unknown setting {other:?} in the storage URL (known: endpoint, region)")));
            }
        }
    }
    if location.region.is_empty() {
        location.region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    }
    Ok(location)
}

impl Bucket {
    pub(super) async fn open(url: &str, credentials: Option<(&str, &str)>) -> io::Result<Self> {
        let location = parse(url)?;
        // The process-wide HTTP client: reqwest with rustls on ring. Once is enough, more
        // is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal_http_transport_reqwest::install_default();
        let mut builder = opendal::services::S3::default()
            .bucket(&location.bucket)
            .region(&location.region)
            .root(&format!("/{}", location.prefix));
        if let Some(endpoint) = &location.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let Some((access_key, secret_key)) = credentials {
            builder = builder.access_key_id(access_key).secret_access_key(secret_key);
        }
        let operator = Operator::new(builder)?;
        let name = match &location.endpoint {
            Some(endpoint) => format!("bucket {} at {endpoint}", location.bucket),
            None => format!("bucket {}", location.bucket),
        };
        // Checked once, without retries: a wrong address or key is told at once, not
        // after the retries' back-off. Every later request is retried.
        operator.check().await.map_err(|e| io::Error::other(format!("{name} does not answer: {e}")))?;
        Ok(Self { operator: operator.layer(opendal::layers::RetryLayer::new()), name })
    }

    pub(super) fn describe(&self) -> String {
        self.name.clone()
    }

    pub(super) async fn writer(&self, blob: BlobId) -> io::Result<BucketWriter> {
        // No `chunk`: the parts come whole from `BucketWriter`, and OpenDAL sends each as
        // it comes (with `chunk`, it would keep one more back).
        let writer = self.operator.writer_with(&blob_key(blob)).concurrent(PARTS_IN_FLIGHT).await?;
        Ok(BucketWriter { writer: Some(writer), part: BytesMut::new(), sent: false })
    }

    pub(super) async fn read(&self, blob: BlobId, offset: u64, len: u64) -> io::Result<BlobReader> {
        if len == 0 {
            return Ok(BlobReader::Whole(Bytes::new()));
        }
        let key = blob_key(blob);
        let range = offset..offset.saturating_add(len);
        if len <= CHUNK as u64 {
            let buffer = self.operator.read_with(&key).range(range).await?;
            if buffer.len() as u64 != len {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "blob is shorter than its record"));
            }
            return Ok(BlobReader::Whole(buffer.to_bytes()));
        }
        // One request, streamed: a ranged GET per chunk costs a round trip and the
        // server's per-request work each time.
        let reader = self.operator.reader_with(&key).await?;
        let stream = reader.into_bytes_stream(range).await?;
        Ok(BlobReader::Stream(Box::new(stream)))
    }

    pub(super) async fn delete(&self, blobs: Vec<BlobId>) -> io::Result<()> {
        Ok(self.operator.delete_iter(blobs.into_iter().map(blob_key)).await?)
    }

    pub(super) async fn old_blobs(&self, before: SystemTime) -> io::Result<Vec<BlobId>> {
        let mut lister = self.operator.lister_with("blobs/").recursive(true).await?;
        let mut found = Vec::new();
        while let Some(entry) = lister.try_next().await? {
            let Ok(blob) = entry.name().parse::<BlobId>() else { continue };
            // A listing that gives no time is taken as new: never collected on a guess.
            let modified = entry.metadata().last_modified().map(SystemTime::from);
            if modified.is_some_and(|at| at < before) {
                found.push(blob);
            }
        }
        Ok(found)
    }
}

/// An upload in flight.
pub(super) struct BucketWriter {
    writer: Option<opendal::Writer>,
    /// The part being filled. The first starts at [`CHUNK`] bytes (a small file takes no
    /// more) and grows to [`PART`] at once when it outgrows that; the next ones are
    /// allocated at [`PART`].
    part: BytesMut,
    /// Whether a part was sent: the blob is large.
    sent: bool,
}

impl BucketWriter {
    pub(super) async fn write(&mut self, mut chunk: &[u8]) -> io::Result<()> {
        while !chunk.is_empty() {
            if self.part.capacity() == 0 {
                self.part = BytesMut::with_capacity(if self.sent { PART } else { CHUNK });
            }
            let take = chunk.len().min(PART - self.part.len());
            if self.part.capacity() - self.part.len() < take {
                self.part.reserve(PART - self.part.len());
            }
            self.part.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.part.len() == PART {
                self.send_part().await?;
            }
        }
        Ok(())
    }

    /// Hands the part filled so far to OpenDAL, which sends it.
    async fn send_part(&mut self) -> io::Result<()> {
        let writer = self.writer.as_mut().ok_or_else(|| io::Error::other("blob writer already failed"))?;
        let part = std::mem::take(&mut self.part).freeze();
        self.sent = true;
        Ok(writer.write(part).await?)
    }

    /// Completes the upload: the object appears, whole.
    pub(super) async fn finish(mut self) -> io::Result<()> {
        if !self.part.is_empty() {
            self.send_part().await?;
        }
        let mut writer = self.writer.take().ok_or_else(|| io::Error::other("blob writer already failed"))?;
        if let Err(err) = writer.close().await {
            let _ = writer.abort().await;
            return Err(err.into());
        }
        Ok(())
    }
}

impl Drop for BucketWriter {
    fn drop(&mut self) {
        // Best effort: the parts of an upload that cannot be aborted here (a killed
        // process) are removed by the bucket's lifecycle rule.
        if let Some(mut writer) = self.writer.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = writer.abort().await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_url_gives_its_parts_and_rejects_what_it_does_not_know() {
        let location = parse("s3://cells/team/a?endpoint=http://127.0.0.1:9000&region=eu-west-1")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            location,
            Location {
                bucket: "cells".into(),
                prefix: "team/a".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: "eu-west-1".into(),
            }
        );
        assert!(parse("s3://?region=x").is_err());
        assert!(parse("s3://cells?endpont=http://x").is_err_and(|e| e.to_string().contains("endpont")));
        assert!(parse("file:///x").is_err());
    }
}
