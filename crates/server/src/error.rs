//! One error body for every route: `{"Code", "Title", "Detail"}`. Service errors map to
//! a status with an exhaustive `match`, so a new kind of error cannot silently become a
//! 500; rejected JSON, queries, forms and paths come through the same type.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cells_service::ServiceError;
use serde::Serialize;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Extra headers for this answer (`WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    code: &'a str,
    title: &'a str,
    detail: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), headers: Vec::new() }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", detail)
    }

    pub fn unauthorized() -> Self {
        let mut err = Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", "missing or invalid credentials");
        err.headers.push((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\"")));
        err
    }

    #[must_use]
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::BadRequest(detail) => Self::bad_request(detail),
            ServiceError::Unauthenticated => Self::unauthorized(),
            ServiceError::InvalidGrant => Self::new(StatusCode::BAD_REQUEST, "InvalidGrant", "invalid credentials"),
            ServiceError::Forbidden(detail) => Self::new(StatusCode::FORBIDDEN, "Forbidden", detail),
            ServiceError::NotFound(detail) => Self::not_found(detail),
            ServiceError::Conflict(detail) => Self::new(StatusCode::CONFLICT, "Conflict", detail),
            ServiceError::Throttled { retry_after } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                format!("too many failed attempts: try again in {retry_after} s"),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after)),
            ServiceError::Busy { retry_after } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!("the server is busy checking passwords: try again in {retry_after} s"),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after)),
            ServiceError::PreconditionFailed => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                "a precondition of the request did not hold",
            ),
            ServiceError::InsufficientStorage => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "InsufficientStorage",
                "the server has no room left for this content",
            ),
            // The cause was logged where it happened.
            ServiceError::Internal(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal", "internal error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = Body { code: self.code, title, detail: &self.detail };
        let mut response = (self.status, Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
