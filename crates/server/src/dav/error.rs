//! WebDAV answers that are not a success. Service errors map to a status with an
//! exhaustive `match`, as on REST, but the body is a short text (or a `DAV:error` with a
//! precondition element), and a missing or bad credential is a 401 with
//! `WWW-Authenticate: Basic realm="cells"`, which makes every WebDAV client ask for a
//! login and password (where the password may be a personal access token).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cells_service::ServiceError;

use crate::error::ApiError;

#[derive(Debug)]
pub(crate) enum DavError {
    /// A refusal of the access service (or a credential problem).
    Service(ServiceError),
    /// An answer of the `/io` routes reused here (GET, PUT), passed through.
    Api(ApiError),
    /// A precondition or postcondition of RFC 4918, named in a `DAV:error` body.
    Condition(StatusCode, &'static str),
    /// A bad request, with what is wrong.
    BadRequest(String),
    /// A resource is locked and the request did not submit the token (423).
    Locked,
    /// A `Destination` (or request URL) outside `/dav` on this server.
    BadGateway,
    MethodNotAllowed,
    TooLarge,
    /// An answer that would pass the bound of one answer (507, with what to do instead).
    AnswerTooLarge(String),
    UnsupportedMediaType,
}

pub(crate) type DavResult<T> = Result<T, DavError>;

impl DavError {
    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }
}

impl From<ServiceError> for DavError {
    fn from(err: ServiceError) -> Self {
        Self::Service(err)
    }
}

impl From<ApiError> for DavError {
    fn from(err: ApiError) -> Self {
        Self::Api(err)
    }
}

impl From<super::xml::BodyError> for DavError {
    fn from(err: super::xml::BodyError) -> Self {
        Self::BadRequest(err.to_string())
    }
}

fn text(status: StatusCode, detail: &str) -> Response {
    let mut body = String::with_capacity(detail.len() + 1);
    body.push_str(detail);
    body.push('\n');
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// The answer to a missing, malformed or refused credential.
pub(crate) fn unauthorized() -> Response {
    let mut response = text(StatusCode::UNAUTHORIZED, "missing or invalid credentials");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"cells\""));
    response
}

fn service(err: ServiceError) -> Response {
    match err {
        ServiceError::BadRequest(detail) => text(StatusCode::BAD_REQUEST, &detail),
        ServiceError::Unauthenticated | ServiceError::InvalidGrant => unauthorized(),
        ServiceError::Forbidden(detail) => text(StatusCode::FORBIDDEN, &detail),
        ServiceError::NotFound(detail) => text(StatusCode::NOT_FOUND, &detail),
        ServiceError::Conflict(detail) => text(StatusCode::CONFLICT, &detail),
        ServiceError::Throttled { retry_after } => {
            let mut response =
                text(StatusCode::TOO_MANY_REQUESTS, &format!("too many failed attempts: try again in {retry_after} s"));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        ServiceError::Busy { retry_after } => {
            let mut response = text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the server is busy checking passwords: try again in {retry_after} s"),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        ServiceError::PreconditionFailed => text(StatusCode::PRECONDITION_FAILED, "a precondition did not hold"),
        ServiceError::InsufficientStorage => {
            text(StatusCode::INSUFFICIENT_STORAGE, "the server has no room left for this content")
        }
        // The cause was logged where it happened.
        ServiceError::Internal(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        match self {
            Self::Service(err) => service(err),
            Self::Api(err) if err.status == StatusCode::UNAUTHORIZED => unauthorized(),
            Self::Api(err) => err.into_response(),
            Self::Condition(status, element) => {
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:{element}/></D:error>"
                );
                (status, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response()
            }
            Self::BadRequest(detail) => text(StatusCode::BAD_REQUEST, &detail),
            Self::Locked => {
                let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:lock-token-submitted/></D:error>";
                (StatusCode::LOCKED, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response()
            }
            Self::BadGateway => text(StatusCode::BAD_GATEWAY, "the destination is not under /dav on this server"),
            Self::MethodNotAllowed => {
                let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "this method is not allowed here");
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(super::ALLOW));
                response
            }
            Self::TooLarge => text(StatusCode::PAYLOAD_TOO_LARGE, "the XML body is larger than 1 MiB"),
            Self::AnswerTooLarge(detail) => text(StatusCode::INSUFFICIENT_STORAGE, &detail),
            Self::UnsupportedMediaType => text(StatusCode::UNSUPPORTED_MEDIA_TYPE, "MKCOL takes no body"),
        }
    }
}
