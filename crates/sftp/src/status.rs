//! SFTP status answers. Every refusal is a [`Refusal`]: a status code of SFTP version 3
//! and a short message the client shows its user. Service errors map with an exhaustive
//! `match`, so a new error cannot silently become a generic failure; causes only an
//! operator should see were logged by the service where they happened.

use bytes::Bytes;
use cells_core::PathError;
use cells_service::ServiceError;
use russh_sftp::protocol::{Packet, Status, StatusCode};

/// A request refused, with what the client is told.
#[derive(Debug)]
pub struct Refusal {
    pub code: StatusCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: StatusCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(StatusCode::Failure, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(StatusCode::OpUnsupported, message)
    }

    pub fn bad_message(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BadMessage, message)
    }

    pub fn no_such_handle() -> Self {
        Self::failure("no such handle: it was closed or never opened")
    }

    /// A path with a name that is not UTF-8: names are Unicode on every surface, and
    /// reading the bytes as some other name could replace another file.
    pub fn not_utf8() -> Self {
        Self::failure("invalid path: a name is not UTF-8")
    }

    pub fn symlinks() -> Self {
        Self::unsupported("symbolic links are not supported by this server")
    }
}

impl From<ServiceError> for Refusal {
    fn from(err: ServiceError) -> Self {
        let message = err.to_string();
        let code = match err {
            ServiceError::NotFound(_) => StatusCode::NoSuchFile,
            ServiceError::Forbidden(_) | ServiceError::Unauthenticated | ServiceError::InvalidGrant => {
                StatusCode::PermissionDenied
            }
            ServiceError::BadRequest(_)
            | ServiceError::Conflict(_)
            | ServiceError::Throttled { .. }
            | ServiceError::Busy { .. }
            | ServiceError::PreconditionFailed
            | ServiceError::InsufficientStorage
            | ServiceError::Internal(_) => StatusCode::Failure,
        };
        Self { code, message }
    }
}

impl From<PathError> for Refusal {
    fn from(err: PathError) -> Self {
        Self::failure(format!("invalid path: {err}"))
    }
}

/// A status packet.
pub fn status(id: u32, code: StatusCode, message: &str) -> Packet {
    Packet::Status(Status { id, status_code: code, error_message: message.to_owned(), language_tag: "en".to_owned() })
}

pub fn ok(id: u32) -> Packet {
    status(id, StatusCode::Ok, "ok")
}

pub fn refused(id: u32, refusal: &Refusal) -> Packet {
    status(id, refusal.code, &refusal.message)
}

/// Encodes a packet with its length. Encoding our own answers cannot fail short of a
/// bug; should it, the client gets a failure status rather than silence.
pub fn encode(packet: Packet) -> Bytes {
    let id = packet.get_request_id();
    Bytes::try_from(packet).unwrap_or_else(|err| {
        tracing::error!(error = %err, "cannot encode an SFTP answer");
        Bytes::try_from(status(id, StatusCode::Failure, "internal error")).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_map_to_the_nearest_status() {
        let code = |err| Refusal::from(err).code;
        assert_eq!(code(ServiceError::NotFound("x".into())), StatusCode::NoSuchFile);
        assert_eq!(code(ServiceError::Forbidden("x".into())), StatusCode::PermissionDenied);
        assert_eq!(code(ServiceError::Unauthenticated), StatusCode::PermissionDenied);
        assert_eq!(code(ServiceError::Conflict("x".into())), StatusCode::Failure);
        assert_eq!(code(ServiceError::InsufficientStorage), StatusCode::Failure);
    }

    #[test]
    fn internal_causes_stay_out_of_the_message() {
        let refusal = Refusal::from(ServiceError::Internal("disk /srv/x failed".into()));
        assert_eq!(refusal.message, "internal error");
    }

    #[test]
    fn a_status_encodes_with_its_length() {
        let bytes = encode(ok(7));
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        assert_eq!(len + 4, bytes.len());
        assert_eq!(bytes[4], 101);
    }
}
