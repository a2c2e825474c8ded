//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts, ListMultipartUploads, over the service's multipart
//! uploads (`cells_service::multipart`): parts are held outside the tree until Complete.

use cells_core::TreePath;
use cells_service::Cells;
use futures_util::StreamExt;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::objects::{Checksums, Digests, MAX_PUT, body_error, etag, last_modified, make_folders};
use super::{BUCKET, check_bucket, error, key_path, principal};

fn upload_error(err: cells_service::ServiceError) -> s3s::S3Error {
    error::from_service(err, S3ErrorCode::NoSuchUpload)
}

/// A file key: a folder (`.../`) takes no multipart upload.
fn file_key(key: &str) -> S3Result<TreePath> {
    if key.ends_with('/') {
        return Err(s3_error!(InvalidRequest, "a key that ends in / is a folder"));
    }
    key_path(key)
}

pub async fn create(
    cells: &Cells,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let path = file_key(&req.input.key)?;
    make_folders(cells, &principal, &path, false).await?;
    let id = cells.create_multipart(&principal, &path).await.map_err(error::key)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(BUCKET.to_owned()),
        key: Some(req.input.key),
        upload_id: Some(id),
        ..Default::default()
    }))
}

pub async fn upload_part(cells: &Cells, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let path = file_key(&req.input.key)?;
    let input = req.input;
    if input.content_length.is_some_and(|len| len > MAX_PUT) {
        return Err(s3_error!(EntityTooLarge, "a part holds at most 5 GiB"));
    }
    let mut part = cells
        .begin_part(&principal, &path, &input.upload_id, i64::from(input.part_number))
        .await
        .map_err(upload_error)?;
    let expected = Checksums {
        crc32: input.checksum_crc32,
        crc32c: input.checksum_crc32c,
        sha1: input.checksum_sha1,
        sha256: input.checksum_sha256,
        crc64nvme: input.checksum_crc64nvme,
    };
    let mut digests = Digests::new(input.content_md5, input.checksum_algorithm.as_ref(), expected);
    if let Some(mut body) = input.body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| body_error(&e))?;
            digests.update(&chunk);
            part.write(&chunk).await.map_err(error::key)?;
            if i64::try_from(part.written()).unwrap_or(i64::MAX) > MAX_PUT {
                return Err(s3_error!(EntityTooLarge, "a part holds at most 5 GiB"));
            }
        }
    }
    let md5 = digests.check(req.trailing_headers.as_ref())?;
    let record = cells.commit_part(part, md5).await.map_err(upload_error)?;
    Ok(S3Response::new(UploadPartOutput { e_tag: Some(ETag::Strong(record.etag)), ..Default::default() }))
}

pub async fn complete(
    cells: &Cells,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let path = file_key(&req.input.key)?;
    let input = req.input;
    let parts = input.multipart_upload.and_then(|upload| upload.parts).unwrap_or_default();
    let mut chosen = Vec::with_capacity(parts.len());
    for part in parts {
        let (Some(number), Some(tag)) = (part.part_number, part.e_tag) else {
            return Err(s3_error!(InvalidPart, "each part needs its PartNumber and ETag"));
        };
        chosen.push((i64::from(number), tag.value().to_owned()));
    }
    let (view, _, _) = match cells.complete_multipart(&principal, &path, &input.upload_id, &chosen).await {
        Ok(done) => done,
        Err(cells_service::ServiceError::BadRequest(detail)) => {
            let code = if detail.contains("ascending") {
                S3ErrorCode::InvalidPartOrder
            } else if detail.contains("5 MiB") {
                S3ErrorCode::EntityTooSmall
            } else {
                S3ErrorCode::InvalidPart
            };
            return Err(s3s::S3Error::with_message(code, detail));
        }
        Err(err) => return Err(upload_error(err)),
    };
    // The object's ETag is cells' own, as HeadObject gives it (not S3's MD5 of the
    // parts' MD5s: cells keeps no digest of a file).
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(BUCKET.to_owned()),
        key: Some(input.key),
        e_tag: Some(ETag::Strong(etag(&view.node))),
        ..Default::default()
    }))
}

pub async fn abort(
    cells: &Cells,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let path = file_key(&req.input.key)?;
    cells.abort_multipart(&principal, &path, &req.input.upload_id).await.map_err(upload_error)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub async fn list_parts(cells: &Cells, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let path = file_key(&req.input.key)?;
    let input = req.input;
    let after = i64::from(input.part_number_marker.unwrap_or(0));
    let max = i64::from(input.max_parts.unwrap_or(1000).clamp(1, 1000));
    let mut parts =
        cells.multipart_parts(&principal, &path, &input.upload_id, after, max + 1).await.map_err(upload_error)?;
    let truncated = parts.len() > usize::try_from(max).unwrap_or(1000);
    parts.truncate(usize::try_from(max).unwrap_or(1000));
    let next = parts.last().filter(|_| truncated).and_then(|p| i32::try_from(p.number).ok());
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(BUCKET.to_owned()),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        max_parts: Some(i32::try_from(max).unwrap_or(1000)),
        part_number_marker: input.part_number_marker,
        is_truncated: Some(truncated),
        next_part_number_marker: next,
        parts: Some(
            parts
                .iter()
                .map(|p| Part {
                    part_number: i32::try_from(p.number).ok(),
                    e_tag: Some(ETag::Strong(p.etag.clone())),
                    size: Some(p.size),
                    last_modified: Some(last_modified(p.created_at)),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }))
}

pub async fn list_uploads(
    cells: &Cells,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let input = req.input;
    let prefix = input.prefix.clone().unwrap_or_default();
    let max = usize::try_from(input.max_uploads.unwrap_or(1000).clamp(1, 1000)).unwrap_or(1000);
    // Uploads are listed per workspace: a prefix names one (`{workspace}/...`), or the
    // caller's workspaces are gone through in order.
    let slugs: Vec<String> = match prefix.split_once('/') {
        Some((slug, _)) => vec![slug.to_owned()],
        None => {
            let roots = cells.workspaces_by_key(&principal).await.map_err(error::key)?;
            roots.iter().map(|r| r.path.workspace().to_owned()).filter(|s| s.starts_with(&prefix)).collect()
        }
    };
    let mut uploads = Vec::new();
    for slug in slugs {
        let Ok(root) = TreePath::workspace_root(&slug) else { continue };
        let from = prefix.strip_prefix(&format!("{slug}/")).unwrap_or("");
        let found = match cells.multipart_uploads(&principal, &root, from, 1000).await {
            Ok(found) => found,
            Err(cells_service::ServiceError::NotFound(_)) => continue,
            Err(err) => return Err(error::key(err)),
        };
        for upload in found {
            let key = format!("{}/{}", upload.path.workspace(), upload.path.inner());
            if key.starts_with(&prefix) {
                uploads.push(MultipartUpload {
                    key: Some(key),
                    upload_id: Some(upload.id),
                    initiated: Some(last_modified(upload.created_at)),
                    ..Default::default()
                });
            }
        }
    }
    let truncated = uploads.len() > max;
    uploads.truncate(max);
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(BUCKET.to_owned()),
        prefix: input.prefix,
        max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
        is_truncated: Some(truncated),
        next_key_marker: uploads.last().filter(|_| truncated).and_then(|u| u.key.clone()),
        next_upload_id_marker: uploads.last().filter(|_| truncated).and_then(|u| u.upload_id.clone()),
        uploads: Some(uploads),
        ..Default::default()
    }))
}
