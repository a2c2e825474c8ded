//! CopyObject, as a route of its own: `s3s` parses `x-amz-copy-source` with the AWS
//! rule that a bucket name has at least 3 characters, so a copy from bucket `io` never
//! reaches an operation. This route takes a signed `PUT` that carries the header, after
//! `s3s` has checked its signature, authenticates its access key as every operation
//! does ([`super::auth::authenticate`]), and copies through the service.

use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use cells_service::Cells;
use s3s::dto::TimestampFormat;
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};

use super::objects::{copy, etag, last_modified};
use super::{BUCKET, principal};

const COPY_SOURCE: &str = "x-amz-copy-source";

pub struct CopyRoute {
    pub cells: Cells,
}

#[async_trait::async_trait]
impl S3Route for CopyRoute {
    fn is_match(&self, method: &Method, _uri: &Uri, headers: &HeaderMap, _: &mut axum::http::Extensions) -> bool {
        method == Method::PUT && headers.contains_key(COPY_SOURCE)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        let access_key = req.credentials.as_ref().map(|credentials| credentials.access_key.clone());
        super::auth::authenticate(&self.cells, access_key, &mut req.extensions).await
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let principal = principal(&req)?;
        if req.uri.query().is_some_and(|query| query.split('&').any(|pair| pair.starts_with("uploadId="))) {
            return Err(s3_error!(NotImplemented, "UploadPartCopy is not supported: upload the part's bytes"));
        }
        let to = destination(&req.uri, &req.headers)?;
        let from = source(req.headers.get(COPY_SOURCE))?;
        let view = copy(&self.cells, &principal, &from, &to).await?;
        let mut modified = Vec::new();
        last_modified(view.node.mtime)
            .format(TimestampFormat::DateTime, &mut modified)
            .map_err(|_| s3_error!(InternalError, "a time that cannot be written"))?;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <ETag>\"{}\"</ETag><LastModified>{}</LastModified></CopyObjectResult>",
            etag(&view.node),
            String::from_utf8_lossy(&modified)
        );
        let mut response = S3Response::new(Body::from(body));
        response.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        Ok(response)
    }
}

/// The key a copy writes: the path after `/io/`, or the whole path on an `io.…` host.
fn destination(uri: &Uri, headers: &HeaderMap) -> S3Result<String> {
    let path = uri.path();
    let raw = if super::io_domain(headers).is_some() { path.strip_prefix('/') } else { path.strip_prefix("/io/") };
    let raw = raw
        .filter(|key| !key.is_empty())
        .ok_or_else(|| s3_error!(NoSuchBucket, "copy to bucket `io`, key {{workspace}}/{{path}}"))?;
    decode(raw)
}

/// The key a copy reads: `x-amz-copy-source: [/]io/{key}`, percent-encoded.
fn source(value: Option<&HeaderValue>) -> S3Result<String> {
    let value = value
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| s3_error!(InvalidArgument, "x-amz-copy-source is not text"))?;
    let (path, version) = value.split_once("?versionId=").map_or((value, None), |(p, v)| (p, Some(v)));
    if version.is_some_and(|v| v != "null") {
        return Err(s3_error!(NotImplemented, "objects have no versions here"));
    }
    let decoded = decode(path)?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    match decoded.split_once('/') {
        Some((BUCKET, key)) if !key.is_empty() => Ok(key.to_owned()),
        Some((_, key)) if !key.is_empty() => Err(s3_error!(NoSuchBucket, "the one bucket is `io`")),
        _ => Err(s3_error!(InvalidArgument, "x-amz-copy-source must be io/{{workspace}}/{{path}}")),
    }
}

fn decode(raw: &str) -> S3Result<String> {
    crate::wire::percent_decode(raw).map_err(|_| s3_error!(InvalidArgument, "invalid percent-encoding in a key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> Option<HeaderValue> {
        Some(HeaderValue::from_str(value).expect("a header value"))
    }

    #[test]
    fn copy_sources_name_a_key_of_bucket_io() {
        assert_eq!(source(header("io/ws/a%20b.txt").as_ref()).ok().as_deref(), Some("ws/a b.txt"));
        assert_eq!(source(header("/io/ws/%C3%BC%2B.txt?versionId=null").as_ref()).ok().as_deref(), Some("ws/ü+.txt"));
        assert!(source(header("other/ws/a").as_ref()).is_err());
        assert!(source(header("io/").as_ref()).is_err());
        assert!(source(header("io/ws/a?versionId=3").as_ref()).is_err());
        assert!(source(header("io/ws/%zz").as_ref()).is_err());
    }

    #[test]
    fn copy_destinations_in_both_styles() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        let uri: Uri = "/io/ws/a%25.txt".parse().expect("a URI");
        assert_eq!(destination(&uri, &headers).ok().as_deref(), Some("ws/a%.txt"));
        headers.insert(header::HOST, HeaderValue::from_static("io.example.com"));
        let uri: Uri = "/ws/b.txt".parse().expect("a URI");
        assert_eq!(destination(&uri, &headers).ok().as_deref(), Some("ws/b.txt"));
        headers.insert(header::HOST, HeaderValue::from_static("example.com"));
        assert!(destination(&uri, &headers).is_err());
    }
}
