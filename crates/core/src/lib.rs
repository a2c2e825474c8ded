//! The domain of cells, with no I/O: identifiers, paths, rights, users, nodes, and the
//! pure rules of personal access tokens (format, durations, scopes, expiry).
//!
//! Everything here is deterministic and unit-tested; the store and the front ends build
//! on these types and never re-implement a rule that lives here.

pub mod ids;
pub mod limits;
pub mod path;
pub mod reach;
pub mod redact;
pub mod rights;
pub mod user;

pub mod duration;
pub mod expiry;
pub mod policy;
pub mod scope;
pub mod token;

pub use ids::{BlobId, KeyId, NodeId, TokenId, UserId, WorkspaceId};
pub use limits::Via;
pub use path::{NodeKind, PathError, TreePath};
pub use rights::Rights;
pub use user::{Login, LoginError, Profile};

/// Seconds since the Unix epoch, the unit of every time the API shows.
pub type UnixTime = i64;

/// The current time in unix seconds.
#[must_use]
pub fn now() -> UnixTime {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}
