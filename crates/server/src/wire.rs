//! JSON shapes shared by several routes (PascalCase, as in the Cells API), and the
//! percent-decoding of paths taken from URLs.

use cells_core::TreePath;
use cells_service::NodeView;
use serde::Serialize;

use crate::error::ApiError;

/// A node as every route shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeJson {
    pub uuid: String,
    pub path: String,
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub size: i64,
    #[serde(rename = "MTime")]
    pub mtime: i64,
    pub etag: String,
}

impl From<&NodeView> for NodeJson {
    fn from(view: &NodeView) -> Self {
        Self {
            uuid: view.node.id.to_string(),
            path: view.path.to_string(),
            kind: view.node.kind.as_str(),
            size: view.node.size,
            mtime: view.node.mtime,
            etag: view.node.etag.clone(),
        }
    }
}

/// A page of a listing.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pagination {
    pub offset: i64,
    pub limit: i64,
    pub total: i64,
}

/// Decodes `%XX` escapes of a URL path; invalid escapes or UTF-8 are a 400.
pub fn percent_decode(text: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            let byte = byte.ok_or_else(|| ApiError::bad_request("invalid percent-encoding in the path"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("the path is not valid UTF-8"))
}

/// The tree path in a request URL after `prefix` (e.g. `/io/`).
pub fn path_after(uri: &axum::http::Uri, prefix: &str) -> Result<TreePath, ApiError> {
    let raw = uri.path().strip_prefix(prefix).unwrap_or("");
    let decoded = percent_decode(raw)?;
    TreePath::parse_relative(&decoded).map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))
}

/// The header of every answer that carries a new secret (a token, a generated password):
/// no cache, proxy or browser history may keep it.
pub type NoStore = [(axum::http::HeaderName, axum::http::HeaderValue); 1];

pub const fn no_store() -> NoStore {
    [(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_refuses_bad_ones() {
        assert_eq!(percent_decode("a%20b/%C3%A7%23%25").ok().as_deref(), Some("a b/ç#%"));
        assert!(percent_decode("a%2").is_err());
        assert!(percent_decode("a%zz").is_err());
        assert!(percent_decode("%FF").is_err(), "not UTF-8");
    }
}

/// A unix time as RFC 3339 in UTC (`2026-12-04T09:30:00Z`).
#[must_use]
pub fn rfc3339(at: i64) -> String {
    let (days, secs) = (at.div_euclid(86_400), at.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod rfc3339_tests {
    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_380_245), "2026-12-04T10:30:45Z");
    }
}
