//! Objects: HeadObject, GetObject (ranges, conditions), PutObject (streamed, its digests
//! checked), CopyObject (the service's copy), DeleteObject(s). A key that ends in `/`
//! names a folder: PUT of an empty body creates it, DELETE removes it when empty.
//! Missing folders on a key's way are created as folders, as Cells does.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{HeaderMap, header};
use base64::Engine;
use bytes::Bytes;
use cells_core::{NodeKind, TreePath};
use cells_service::{BlobReader, Cells, Existing, NodeRecord, NodeView, Principal, ReadRange, ServiceError};
use futures_util::{Stream, StreamExt};
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum, Md5};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::{check_bucket, error, key_path, principal};
use crate::range::{Conditions, Precondition, RangeAsk, evaluate, if_range_holds, parse_range, system_time};

/// The largest object one PutObject (or one part) takes, as S3 has it.
pub const MAX_PUT: i64 = 5 * 1024 * 1024 * 1024;

/// A node's S3 ETag: its entity tag, with the `-1` S3 gives an object whose ETag is not
/// the MD5 of its bytes, so that clients do not compare it with one.
pub fn etag(node: &NodeRecord) -> String {
    format!("{}-1", node.etag)
}

pub fn last_modified(mtime: i64) -> Timestamp {
    Timestamp::from(system_time(mtime))
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn conditions(headers: &HeaderMap) -> Conditions<'_> {
    Conditions {
        if_match: header(headers, header::IF_MATCH),
        if_none_match: header(headers, header::IF_NONE_MATCH),
        if_modified_since: header(headers, header::IF_MODIFIED_SINCE),
        if_unmodified_since: header(headers, header::IF_UNMODIFIED_SINCE),
    }
}

/// The file a key names, for reading: a folder is no object (`NoSuchKey`).
async fn file(cells: &Cells, principal: &Principal, path: &TreePath) -> S3Result<NodeView> {
    match cells.open_file(principal, path).await {
        Ok(view) => Ok(view),
        Err(ServiceError::Conflict(_)) => Err(s3_error!(NoSuchKey, "{path} is a folder")),
        Err(err) => Err(error::key(err)),
    }
}

/// A folder key (`.../`) as an object: empty.
async fn folder(cells: &Cells, principal: &Principal, path: &TreePath) -> S3Result<NodeView> {
    let view = cells.stat(principal, path).await.map_err(error::key)?;
    if view.node.kind != NodeKind::Collection {
        return Err(s3_error!(NoSuchKey, "{path} is a file"));
    }
    Ok(view)
}

fn check_conditions(headers: &HeaderMap, node: &NodeRecord) -> S3Result<()> {
    match evaluate(&conditions(headers), Some(&etag(node)), Some(node.mtime), true) {
        Precondition::Proceed => Ok(()),
        Precondition::NotModified => Err(S3Error::new(S3ErrorCode::NotModified)),
        Precondition::Failed => Err(S3Error::new(S3ErrorCode::PreconditionFailed)),
    }
}

pub async fn head_object(cells: &Cells, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let path = key_path(&req.input.key)?;
    let view = if req.input.key.ends_with('/') {
        folder(cells, &principal, &path).await?
    } else {
        file(cells, &principal, &path).await?
    };
    check_conditions(&req.headers, &view.node)?;
    Ok(S3Response::new(HeadObjectOutput {
        accept_ranges: Some("bytes".into()),
        content_length: Some(view.node.size),
        content_type: Some(mime_octets()),
        e_tag: Some(ETag::Strong(etag(&view.node))),
        last_modified: Some(last_modified(view.node.mtime)),
        ..Default::default()
    }))
}

fn mime_octets() -> ContentType {
    "application/octet-stream".parse().unwrap_or_else(|_| unreachable!("a valid MIME type"))
}

pub async fn get_object(cells: &Cells, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let path = key_path(&req.input.key)?;
    if req.input.key.ends_with('/') {
        let view = folder(cells, &principal, &path).await?;
        return Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::from(s3s::Body::from(Bytes::new()))),
            content_length: Some(0),
            e_tag: Some(ETag::Strong(etag(&view.node))),
            last_modified: Some(last_modified(view.node.mtime)),
            ..Default::default()
        }));
    }
    let view = file(cells, &principal, &path).await?;
    let node = &view.node;
    check_conditions(&req.headers, node)?;
    let size = u64::try_from(node.size).unwrap_or(0);
    let range_header = header(&req.headers, header::RANGE)
        .filter(|_| if_range_holds(header(&req.headers, header::IF_RANGE), &etag(node), node.mtime));
    let (range, content_range) = match parse_range(range_header, size) {
        RangeAsk::Full => (ReadRange { offset: 0, len: size }, None),
        RangeAsk::Partial(range) => {
            let last = range.offset + range.len - 1;
            (range, Some(format!("bytes {}-{last}/{size}", range.offset)))
        }
        RangeAsk::Unsatisfiable => return Err(s3_error!(InvalidRange, "the object has {size} bytes")),
    };
    let body = match cells.read_file(&principal, node, range).await.map_err(error::key)? {
        BlobReader::Whole(bytes) => StreamingBlob::from(s3s::Body::from(bytes)),
        BlobReader::Stream(stream) => StreamingBlob::wrap(SyncStream(std::sync::Mutex::new(stream))),
    };
    Ok(S3Response::new(GetObjectOutput {
        accept_ranges: Some("bytes".into()),
        body: Some(body),
        content_length: Some(i64::try_from(range.len).unwrap_or(i64::MAX)),
        content_range,
        content_type: Some(mime_octets()),
        e_tag: Some(ETag::Strong(etag(node))),
        last_modified: Some(last_modified(node.mtime)),
        ..Default::default()
    }))
}

/// A stream that is `Sync` because only its owner ever polls it (`s3s` asks for `Sync`;
/// the lock is never contended, `get_mut` takes no lock at all).
struct SyncStream<S>(std::sync::Mutex<S>);

impl<S: Stream + Unpin> Stream for SyncStream<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        match self.get_mut().0.get_mut() {
            Ok(stream) => Pin::new(stream).poll_next(cx),
            Err(_) => Poll::Ready(None),
        }
    }
}

/// Creates the missing folders above `path` (and `path` itself when `itself`), each
/// through the service's own create (so each is checked as any other).
pub async fn make_folders(cells: &Cells, principal: &Principal, path: &TreePath, itself: bool) -> S3Result<()> {
    let target = if itself { Some(path.clone()) } else { path.parent() };
    let Some(target) = target else { return Ok(()) };
    if target.inner().is_empty() {
        return Ok(());
    }
    match cells.stat(principal, &target).await {
        Ok(view) if view.node.kind == NodeKind::Collection => return Ok(()),
        Ok(_) => return Err(s3_error!(InvalidRequest, "{target} is a file, not a folder")),
        Err(ServiceError::NotFound(_)) => {}
        Err(err) => return Err(error::key(err)),
    }
    let mut folder = TreePath::workspace_root(target.workspace()).map_err(|e| s3_error!(InvalidArgument, "{e}"))?;
    for segment in target.inner().split('/') {
        folder = folder.join(segment).map_err(|e| s3_error!(InvalidArgument, "{e}"))?;
        // Look before creating: a scoped token may not create (even to be told it
        // exists) where it may only pass, above its scope.
        match cells.stat(principal, &folder).await {
            Ok(view) if view.node.kind == NodeKind::Collection => continue,
            Ok(_) => return Err(s3_error!(InvalidRequest, "{folder} is a file, not a folder")),
            Err(ServiceError::NotFound(_)) => {}
            Err(err) => return Err(error::key(err)),
        }
        match cells.create(principal, &folder, NodeKind::Collection).await {
            Ok(_) => {}
            // Already there (as a folder, checked next round or by the upload).
            Err(ServiceError::Conflict(_)) => {}
            Err(err) => return Err(error::key(err)),
        }
    }
    Ok(())
}

/// The digests a client sent with a body: `Content-MD5`, `x-amz-checksum-*` (as headers
/// or, with aws-chunked bodies, as trailers).
pub struct Digests {
    md5: Md5,
    content_md5: Option<String>,
    hasher: ChecksumHasher,
    expected: Checksums,
}

/// The `x-amz-checksum-*` values of a request.
#[derive(Default, Clone, PartialEq, Eq, Debug)]
pub struct Checksums {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub crc64nvme: Option<String>,
}

impl Digests {
    pub fn new(content_md5: Option<String>, algorithm: Option<&ChecksumAlgorithm>, expected: Checksums) -> Self {
        let mut hasher = ChecksumHasher::default();
        let algorithm = algorithm.map(ChecksumAlgorithm::as_str);
        if expected.crc32.is_some() || algorithm == Some(ChecksumAlgorithm::CRC32) {
            hasher.crc32 = Some(Default::default());
        }
        if expected.crc32c.is_some() || algorithm == Some(ChecksumAlgorithm::CRC32C) {
            hasher.crc32c = Some(Default::default());
        }
        if expected.sha1.is_some() || algorithm == Some(ChecksumAlgorithm::SHA1) {
            hasher.sha1 = Some(Default::default());
        }
        if expected.sha256.is_some() || algorithm == Some(ChecksumAlgorithm::SHA256) {
            hasher.sha256 = Some(Default::default());
        }
        if expected.crc64nvme.is_some() || algorithm == Some(ChecksumAlgorithm::CRC64NVME) {
            hasher.crc64nvme = Some(Default::default());
        }
        Self { md5: Md5::new(), content_md5, hasher, expected }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        self.hasher.update(chunk);
    }

    /// Checks what was received against what the client said it sent; returns the MD5
    /// in hex.
    pub fn check(self, trailers: Option<&s3s::TrailingHeaders>) -> S3Result<String> {
        let Self { md5, content_md5, hasher, mut expected } = self;
        let digest = md5.finalize();
        if let Some(sent) = content_md5 {
            let sent = base64::engine::general_purpose::STANDARD
                .decode(sent.trim())
                .map_err(|_| s3_error!(InvalidDigest, "Content-MD5 is not base64"))?;
            if sent != digest {
                return Err(s3_error!(BadDigest, "the body's MD5 is not the Content-MD5 sent: nothing was stored"));
            }
        }
        if let Some(trailers) = trailers.and_then(s3s::TrailingHeaders::take) {
            let get = |name: &str| trailers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            expected.crc32 = get("x-amz-checksum-crc32").or(expected.crc32);
            expected.crc32c = get("x-amz-checksum-crc32c").or(expected.crc32c);
            expected.sha1 = get("x-amz-checksum-sha1").or(expected.sha1);
            expected.sha256 = get("x-amz-checksum-sha256").or(expected.sha256);
            expected.crc64nvme = get("x-amz-checksum-crc64nvme").or(expected.crc64nvme);
        }
        let got = hasher.finalize();
        let pairs = [
            ("CRC32", expected.crc32, got.checksum_crc32),
            ("CRC32C", expected.crc32c, got.checksum_crc32c),
            ("SHA1", expected.sha1, got.checksum_sha1),
            ("SHA256", expected.sha256, got.checksum_sha256),
            ("CRC64NVME", expected.crc64nvme, got.checksum_crc64nvme),
        ];
        for (name, sent, computed) in pairs {
            if let Some(sent) = sent
                && Some(&sent) != computed.as_ref()
            {
                return Err(s3_error!(BadDigest, "the body's {name} is not the one sent: nothing was stored"));
            }
        }
        Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// A body's error as S3 says it: the payload's signed hash that did not match (s3s
/// reports it in the stream), or a body cut short.
pub fn body_error(err: &s3s::StdError) -> S3Error {
    if let Some(s3) = err.downcast_ref::<S3Error>() {
        return S3Error::with_message(s3.code().clone(), s3.message().unwrap_or("the body was refused").to_owned());
    }
    // s3s's check of a signed payload fails the stream with an error of a private type
    // (`UploadStreamError`), known only by how it prints; s3s is pinned, and a test
    // (`s3_refusals`) sends a body that does not match its signed hash.
    if err.to_string().contains("Sha256Mismatch") {
        let code = S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into());
        let mut error = S3Error::with_message(code, "the body does not match its signed hash: nothing was stored");
        error.set_status_code(axum::http::StatusCode::BAD_REQUEST);
        return error;
    }
    s3_error!(IncompleteBody, "the request body was interrupted: nothing was stored")
}

pub async fn put_object(cells: &Cells, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let path = key_path(&req.input.key)?;
    if req.input.content_length.is_some_and(|len| len > MAX_PUT) {
        return Err(s3_error!(EntityTooLarge, "one PutObject takes at most 5 GiB: use a multipart upload"));
    }
    if req.input.key.ends_with('/') {
        if req.input.content_length.is_some_and(|len| len > 0) {
            return Err(s3_error!(UnexpectedContent, "a key that ends in / is a folder: its body must be empty"));
        }
        make_folders(cells, &principal, &path, true).await?;
        return Ok(S3Response::new(PutObjectOutput::default()));
    }
    make_folders(cells, &principal, &path, false).await?;
    let input = req.input;
    let conditions = conditions(&req.headers);
    if conditions.if_match.is_some() || conditions.if_none_match.is_some() {
        let current = match cells.stat(&principal, &path).await {
            Ok(view) => Some(view.node),
            Err(ServiceError::NotFound(_)) => None,
            Err(err) => return Err(error::key(err)),
        };
        let tag = current.as_ref().map(etag);
        if evaluate(&conditions, tag.as_deref(), current.as_ref().map(|n| n.mtime), false) != Precondition::Proceed {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
        }
    }
    let expected = Checksums {
        crc32: input.checksum_crc32,
        crc32c: input.checksum_crc32c,
        sha1: input.checksum_sha1,
        sha256: input.checksum_sha256,
        crc64nvme: input.checksum_crc64nvme,
    };
    let mut digests = Digests::new(input.content_md5, input.checksum_algorithm.as_ref(), expected);
    let mut upload = cells.begin_upload(&principal, &path).await.map_err(error::key)?;
    if let Some(mut body) = input.body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| body_error(&e))?;
            digests.update(&chunk);
            upload.write(&chunk).await.map_err(error::key)?;
            if i64::try_from(upload.written()).unwrap_or(i64::MAX) > MAX_PUT {
                return Err(s3_error!(EntityTooLarge, "one PutObject takes at most 5 GiB: use a multipart upload"));
            }
        }
    }
    digests.check(req.trailing_headers.as_ref())?;
    let kept = conditions.owned();
    let holds = move |current: Option<&NodeRecord>| {
        let conditions = kept.borrowed();
        let tag = current.map(etag);
        evaluate(&conditions, tag.as_deref(), current.map(|n| n.mtime), false) == Precondition::Proceed
    };
    let (view, _) = cells.commit_upload_if(upload, holds).await.map_err(error::key)?;
    Ok(S3Response::new(PutObjectOutput { e_tag: Some(ETag::Strong(etag(&view.node))), ..Default::default() }))
}

/// Copies the file at `from` to `to` (keys), through the service's copy: the passage
/// rules (read at the source, write at the destination) are the service's. A copy onto
/// itself (a client setting metadata) leaves the file as it is.
pub async fn copy(cells: &Cells, principal: &Principal, from: &str, to: &str) -> S3Result<NodeView> {
    let from = key_path(from)?;
    let to = key_path(to)?;
    let source = file(cells, principal, &from).await?;
    if from == to {
        return Ok(source);
    }
    make_folders(cells, principal, &to, false).await?;
    cells.copy_node(principal, &from, &to, Existing::Replace).await.map_err(error::key)
}

/// Deletes what a key names: a file; an empty folder for a key that ends in `/`.
/// Nothing there is no error (S3 answers 204 either way).
async fn delete_key(cells: &Cells, principal: &Principal, key: &str) -> S3Result<()> {
    let path = key_path(key)?;
    let view = match cells.stat(principal, &path).await {
        Ok(view) => view,
        Err(ServiceError::NotFound(_)) => return Ok(()),
        Err(err) => return Err(error::key(err)),
    };
    match (view.node.kind, key.ends_with('/')) {
        (NodeKind::Leaf, false) => {}
        (NodeKind::Collection, true) => {
            let (_, children, _) = cells.list(principal, &path, 0, 1).await.map_err(error::key)?;
            if !children.is_empty() {
                return Err(s3_error!(InvalidRequest, "{path} is a folder that is not empty: delete its files first"));
            }
        }
        // No object by that key: a file is not `name/`, a folder not `name`.
        _ => return Ok(()),
    }
    match cells.delete(principal, &path).await {
        Ok(()) | Err(ServiceError::NotFound(_)) => Ok(()),
        Err(err) => Err(error::key(err)),
    }
}

pub async fn delete_object(
    cells: &Cells,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    delete_key(cells, &principal, &req.input.key).await?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

/// The most keys one DeleteObjects takes, as S3 has it.
const MAX_DELETE: usize = 1000;

pub async fn delete_objects(
    cells: &Cells,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let objects = &req.input.delete.objects;
    if objects.len() > MAX_DELETE {
        return Err(s3_error!(MalformedXML, "one DeleteObjects takes at most 1000 keys"));
    }
    let quiet = req.input.delete.quiet.unwrap_or(false);
    let (mut deleted, mut errors) = (Vec::new(), Vec::new());
    for object in objects {
        match delete_key(cells, &principal, &object.key).await {
            Ok(()) if quiet => {}
            Ok(()) => deleted.push(DeletedObject { key: Some(object.key.clone()), ..Default::default() }),
            Err(err) => errors.push(Error {
                code: Some(err.code().as_str().to_owned()),
                key: Some(object.key.clone()),
                message: err.message().map(str::to_owned),
                version_id: None,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput { deleted: Some(deleted), errors: Some(errors), ..Default::default() }))
}
