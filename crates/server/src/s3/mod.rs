//! S3 at `/io`, as Pydio Cells serves it (`docs/s3.md`): bucket `io`, keys
//! `{workspace}/{path}`, and a personal access token (or a login access token) as the
//! access key id, signed with the fixed secret of Cells' SDK.
//!
//! A request whose `Authorization` is AWS Signature V4 (or V2), on `/`, `/io` or
//! `/io/...` (or on any path of a `Host: io.…`, virtual-host style), goes to the `s3s`
//! crate, which parses the operation and checks the signature (and the payload's
//! hash); then [`auth::TokenAccess`] authenticates the access key through
//! `Cells::authenticate` (`Via::S3`), and the operations below call the same `Cells`
//! methods as `/io`, WebDAV and SFTP. A presigned URL is refused before `s3s` sees it.
//! Every other request on those paths is the plain `/io` it always was.

mod auth;
mod copy;
mod error;
mod list;
mod multipart;
mod objects;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use cells_core::TreePath;
use cells_service::{Cells, Principal};
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use crate::AppState;

/// The one bucket, as Cells' SDK and client (`cec`) name it.
pub const BUCKET: &str = "io";

/// The region the bucket answers for (Cells' SDK default).
pub const REGION: &str = "us-east-1";

/// The secret every request is signed with: the access key (a token) is the secret
/// that matters; this one is public, in Cells' SDK (`DefaultS3ApiSecret`).
pub const GATEWAY_SECRET: &str = "gatewaysecret";

/// The S3 side of the server, built once.
pub struct S3Front {
    service: s3s::service::S3Service,
}

impl S3Front {
    #[must_use]
    pub fn new(cells: Cells) -> Self {
        let mut builder = s3s::service::S3ServiceBuilder::new(CellsS3 { cells: cells.clone() });
        builder.set_auth(auth::FixedSecret);
        builder.set_access(auth::TokenAccess { cells: cells.clone() });
        builder.set_host(auth::IoHost);
        builder.set_validation(auth::IoNames);
        builder.set_route(copy::CopyRoute { cells });
        Self { service: builder.build() }
    }
}

/// How a request says it is an S3 request.
#[derive(Debug, PartialEq, Eq)]
enum Signed {
    No,
    /// Signature V4 or V2 in the `Authorization` header.
    Header,
    /// A presigned URL: the signature (and the access key, a token) in the query.
    Query,
}

fn signed(request: &Request) -> Signed {
    let authorization = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    if authorization.is_some_and(|v| v.starts_with(b"AWS4-HMAC-SHA256 ") || v.starts_with(b"AWS ")) {
        return Signed::Header;
    }
    let query = request.uri().query().unwrap_or("");
    let has = |name: &str| query.split('&').any(|pair| pair.split('=').next() == Some(name));
    if has("X-Amz-Signature") || has("X-Amz-Credential") || (has("Signature") && has("AWSAccessKeyId")) {
        return Signed::Query;
    }
    Signed::No
}

/// Whether the request is addressed to the bucket: path style at `/` (ListBuckets),
/// `/io` and below; or virtual-host style, `Host: io.…`.
fn addressed_to_bucket(request: &Request) -> bool {
    let path = request.uri().path();
    if path == "/" || path == "/io" || path.starts_with("/io/") {
        return true;
    }
    io_domain(request.headers()).is_some()
}

/// The domain of a virtual-host style request, `Host: io.{domain}`: the one rule of
/// [`auth::IoHost`], the dispatch and the copy route.
fn io_domain(headers: &axum::http::HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
    host_domain(host)
}

fn host_domain(host: &str) -> Option<&str> {
    host.strip_prefix("io.").filter(|domain| !domain.is_empty())
}

/// The middleware: S3 requests to the S3 side, the rest on to the router.
pub async fn dispatch(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !addressed_to_bucket(&request) {
        return next.run(request).await;
    }
    match signed(&request) {
        Signed::No => next.run(request).await,
        Signed::Query => error::xml_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "presigned URLs are refused: the access key is a token, and a URL would carry it into logs, \
             proxies and browser histories; sign the Authorization header instead",
        ),
        Signed::Header => {
            let (mut parts, body) = request.into_parts();
            let ip = crate::client::client_ip(&parts, &state.trusted_proxies);
            parts.extensions.insert(auth::ClientAddr(ip));
            let close = empty_body_expecting_continue(&parts.headers);
            let request = Request::from_parts(parts, body);
            match tower::ServiceExt::oneshot(state.s3.service.clone(), request).await {
                Ok(response) => {
                    let (mut parts, body) = response.into_parts();
                    if close {
                        parts.headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
                    }
                    Response::from_parts(parts, Body::new(body))
                }
                Err(err) => {
                    tracing::info!(error = ?err, "S3 request aborted");
                    error::xml_error(StatusCode::BAD_REQUEST, "InvalidRequest", "the request could not be read")
                }
            }
        }
    }
}

/// An empty body sent with `Expect: 100-continue` is answered without a `100 Continue`
/// (RFC 9110 allows it; hyper does it), and botocore (boto3, aws-cli v1) then misreads
/// the next answer on that connection and stalls until it times out (boto/botocore#3755).
/// Closing the connection after such an answer keeps every botocore client working.
fn empty_body_expecting_continue(headers: &axum::http::HeaderMap) -> bool {
    let expects = headers.get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    expects && headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() == b"0")
}

/// The caller, authenticated by [`auth::TokenAccess`] before any operation runs.
fn principal<T>(req: &S3Request<T>) -> S3Result<Principal> {
    req.extensions.get::<Principal>().cloned().ok_or_else(|| s3_error!(AccessDenied, "Signature is required"))
}

/// Refuses any bucket but `io`.
fn check_bucket(bucket: &str) -> S3Result<()> {
    if bucket == BUCKET {
        Ok(())
    } else {
        Err(s3_error!(NoSuchBucket, "the one bucket is `io`: keys are {{workspace}}/{{path}}"))
    }
}

/// The path a key names: `{workspace}/{path}`, validated as every path is (no `..`, no
/// empty segment, ...); one trailing `/` names a folder.
fn key_path(key: &str) -> S3Result<TreePath> {
    TreePath::parse_relative(key).map_err(|e| s3_error!(InvalidArgument, "invalid key {key:?}: {e}"))
}

/// The operations cells answers; every other one is `NotImplemented` (s3s' default).
struct CellsS3 {
    cells: Cells,
}

#[async_trait::async_trait]
impl S3 for CellsS3 {
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        list::list_buckets(&self.cells, req).await
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        check_bucket(&req.input.bucket)?;
        principal(&req)?;
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(REGION.to_owned()), ..Default::default() }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        check_bucket(&req.input.bucket)?;
        principal(&req)?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    /// Never versioned (rclone asks before it deletes).
    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        check_bucket(&req.input.bucket)?;
        principal(&req)?;
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        list::list_objects_v2(&self.cells, req).await
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        list::list_objects(&self.cells, req).await
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        objects::head_object(&self.cells, req).await
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        objects::get_object(&self.cells, req).await
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        objects::put_object(&self.cells, req).await
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        objects::delete_object(&self.cells, req).await
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        objects::delete_objects(&self.cells, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        multipart::create(&self.cells, req).await
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        multipart::upload_part(&self.cells, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        multipart::complete(&self.cells, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        multipart::abort(&self.cells, req).await
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        multipart::list_parts(&self.cells, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        multipart::list_uploads(&self.cells, req).await
    }
}

#[cfg(test)]
mod tests {
    use super::{Signed, addressed_to_bucket, signed};
    use axum::body::Body;
    use axum::extract::Request;

    fn request(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn only_signed_requests_are_s3_and_presigned_ones_are_told_apart() {
        let v4 = ("authorization", "AWS4-HMAC-SHA256 Credential=cpat_x/20261204/us-east-1/s3/aws4_request, ...");
        assert_eq!(signed(&request("/io/ws/a", &[v4])), Signed::Header);
        assert_eq!(signed(&request("/io/ws/a", &[("authorization", "AWS cpat_x:c2ln")])), Signed::Header);
        assert_eq!(signed(&request("/io/ws/a", &[("authorization", "Bearer cpat_x")])), Signed::No);
        assert_eq!(signed(&request("/io/ws/a", &[])), Signed::No);
        let presigned = "/io/ws/a?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=cpat_x&X-Amz-Signature=ab";
        assert_eq!(signed(&request(presigned, &[])), Signed::Query);
        assert_eq!(signed(&request("/io/ws/a?AWSAccessKeyId=cpat_x&Signature=ab&Expires=1", &[])), Signed::Query);
        // A query that merely mentions the words is not a presigned URL.
        assert_eq!(signed(&request("/io/ws/a?prefix=X-Amz-Signature", &[])), Signed::No);
    }

    #[test]
    fn the_bucket_is_at_the_root_at_io_and_on_io_hosts() {
        assert!(addressed_to_bucket(&request("/", &[])));
        assert!(addressed_to_bucket(&request("/io", &[])));
        assert!(addressed_to_bucket(&request("/io/ws/a", &[])));
        assert!(!addressed_to_bucket(&request("/iox/ws", &[])));
        assert!(!addressed_to_bucket(&request("/a/tree/ws", &[])));
        assert!(addressed_to_bucket(&request("/ws/a", &[("host", "io.cells.example:8080")])));
    }
}
