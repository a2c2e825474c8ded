//! S3 errors: the service's refusals as S3 codes, and the one XML error written before
//! `s3s` sees a request (a presigned URL).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cells_service::ServiceError;
use s3s::{S3Error, S3ErrorCode};

/// A service refusal as S3 says it. `missing` is the code of a 404 (`NoSuchKey`,
/// `NoSuchUpload`, ...).
pub fn from_service(err: ServiceError, missing: S3ErrorCode) -> S3Error {
    let (code, message) = match err {
        ServiceError::NotFound(detail) => (missing, detail),
        ServiceError::Forbidden(detail) => (S3ErrorCode::AccessDenied, detail),
        ServiceError::Unauthenticated => {
            (S3ErrorCode::InvalidAccessKeyId, "the access key is not a valid token now".to_owned())
        }
        ServiceError::BadRequest(detail) => (S3ErrorCode::InvalidRequest, detail),
        ServiceError::Conflict(detail) => {
            let mut error = S3Error::with_message(S3ErrorCode::Custom("Conflict".into()), detail);
            error.set_status_code(StatusCode::CONFLICT);
            return error;
        }
        ServiceError::PreconditionFailed => (S3ErrorCode::PreconditionFailed, "precondition failed".to_owned()),
        ServiceError::InsufficientStorage => {
            let mut error = S3Error::with_message(
                S3ErrorCode::Custom("InsufficientStorage".into()),
                "the server has no room left for this content",
            );
            error.set_status_code(StatusCode::INSUFFICIENT_STORAGE);
            return error;
        }
        ServiceError::Throttled { retry_after } | ServiceError::Busy { retry_after } => {
            let mut error = S3Error::with_message(
                S3ErrorCode::SlowDown,
                format!("too many failed attempts or a busy server: try again in {retry_after} s"),
            );
            let mut headers = axum::http::HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                headers.insert(header::RETRY_AFTER, value);
            }
            error.set_headers(headers);
            return error;
        }
        ServiceError::InvalidGrant => (S3ErrorCode::InvalidAccessKeyId, "invalid credentials".to_owned()),
        ServiceError::Internal(_) => (S3ErrorCode::InternalError, "internal error".to_owned()),
    };
    S3Error::with_message(code, message)
}

/// A service error as an S3 error whose 404 is `NoSuchKey`.
pub fn key(err: ServiceError) -> S3Error {
    from_service(err, S3ErrorCode::NoSuchKey)
}

/// An S3 error document, for the answers given before `s3s` parses a request.
pub fn xml_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message></Error>",
        escape(message)
    );
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"))], body).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
