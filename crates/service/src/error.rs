//! Errors of the service layer. Each variant is one answer a front end gives; the HTTP
//! edge maps them with an exhaustive `match`. A variant's text is what the client reads;
//! causes that only an operator should see are logged where they happen.

use cells_core::PathError;
use cells_store::StoreError;

#[derive(Clone, Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request itself is wrong (a bad path, a bad field).
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials. The reason is logged, never told to the client.
    #[error("missing or invalid credentials")]
    Unauthenticated,
    /// A login (OAuth2 grant) failed; one answer for wrong password, unknown or locked user.
    #[error("invalid credentials")]
    InvalidGrant,
    /// Visible but not allowed (a read-only workspace, an admin-only action).
    #[error("{0}")]
    Forbidden(String),
    /// Not there, or not visible to this principal.
    #[error("{0}")]
    NotFound(String),
    /// Clashes with the current state (a name taken, a missing parent).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed authentications from this address; try again after this many
    /// seconds.
    #[error("too many failed attempts: try again in {retry_after} s")]
    Throttled { retry_after: u64 },
    /// The server is too busy for this now (the password hashing queue is full); try
    /// again after this many seconds.
    #[error("the server is busy: try again in {retry_after} s")]
    Busy { retry_after: u64 },
    /// A conditional request's precondition did not hold.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The disk holding the blobs is full: nothing was written (the upload is dropped).
    #[error("the server has no room left for this content")]
    InsufficientStorage,
    /// A failure of the server; the cause is logged, the client reads a generic message.
    #[error("internal error")]
    Internal(String),
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            StoreError::Vanished => Self::Conflict("a file or folder this depends on was removed meanwhile".into()),
            StoreError::Moved => Self::Conflict(
                "a file or folder this depends on was moved or renamed meanwhile: nothing was changed, try again"
                    .into(),
            ),
            StoreError::Cycle => Self::BadRequest("a folder cannot be moved or copied into itself".into()),
            StoreError::PreconditionFailed => Self::PreconditionFailed,
            StoreError::Unsupported => Self::BadRequest(err.to_string()),
            StoreError::Corrupt(_) | StoreError::Database(_) | StoreError::Migrate(_) | StoreError::Blob(_) => {
                tracing::error!(error = %err, "store failure");
                Self::Internal(err.to_string())
            }
        }
    }
}

impl From<std::io::Error> for ServiceError {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::StorageFull {
            tracing::error!(error = %err, "the blob store is full");
            return Self::InsufficientStorage;
        }
        tracing::error!(error = %err, "blob store failure");
        Self::Internal(err.to_string())
    }
}

impl From<PathError> for ServiceError {
    fn from(err: PathError) -> Self {
        Self::BadRequest(format!("invalid path: {err}"))
    }
}
