//! HTTP byte ranges and conditional requests (RFC 9110 sections 13 and 14), as pure
//! functions over header values, a size, an entity tag and a modification time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cells_service::ReadRange;

/// What a `Range` header asks of a representation of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAsk {
    /// No usable range: send everything (200).
    Full,
    /// One satisfiable range (206).
    Partial(ReadRange),
    /// A well-formed range that lies wholly past the end (416).
    Unsatisfiable,
}

/// Parses a single `bytes=` range. Several ranges, or a malformed header, are ignored
/// (the whole content is sent), as RFC 9110 allows.
#[must_use]
pub fn parse_range(header: Option<&str>, size: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Full;
    };
    if spec.contains(',') {
        return RangeAsk::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Full;
    };
    let parse =
        |s: &str| if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() { s.parse::<u64>().ok() } else { None };
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parse(last) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(_) if size == 0 => RangeAsk::Unsatisfiable,
            Some(n) => {
                let len = n.min(size);
                RangeAsk::Partial(ReadRange { offset: size - len, len })
            }
            None => RangeAsk::Full,
        },
        // bytes=A- or bytes=A-B.
        (false, _) => {
            let Some(start) = parse(first) else { return RangeAsk::Full };
            let end = if last.is_empty() {
                None
            } else {
                match parse(last) {
                    Some(end) if end >= start => Some(end),
                    _ => return RangeAsk::Full,
                }
            };
            if start >= size {
                return RangeAsk::Unsatisfiable;
            }
            let end = end.map_or(size - 1, |e| e.min(size - 1));
            RangeAsk::Partial(ReadRange { offset: start, len: end - start + 1 })
        }
        (true, true) => RangeAsk::Full,
    }
}

/// The outcome of evaluating conditional headers.
#[derive(Debug, PartialEq, Eq)]
pub enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

/// The conditional headers of a request.
#[derive(Default)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
}

/// The conditional headers of a request, kept to be evaluated later (in the
/// transaction that commits an upload).
#[derive(Clone, Default)]
pub struct OwnedConditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    if_unmodified_since: Option<String>,
}

impl Conditions<'_> {
    /// A copy that outlives the request's headers.
    #[must_use]
    pub fn owned(&self) -> OwnedConditions {
        let own = |value: Option<&str>| value.map(str::to_owned);
        OwnedConditions {
            if_match: own(self.if_match),
            if_none_match: own(self.if_none_match),
            if_modified_since: own(self.if_modified_since),
            if_unmodified_since: own(self.if_unmodified_since),
        }
    }
}

impl OwnedConditions {
    #[must_use]
    pub fn borrowed(&self) -> Conditions<'_> {
        Conditions {
            if_match: self.if_match.as_deref(),
            if_none_match: self.if_none_match.as_deref(),
            if_modified_since: self.if_modified_since.as_deref(),
            if_unmodified_since: self.if_unmodified_since.as_deref(),
        }
    }
}

/// The quoted entity tag of a node.
#[must_use]
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

fn list_matches(list: &str, etag: Option<&str>, weak: bool) -> bool {
    let Some(etag) = etag else { return false };
    list.split(',').map(str::trim).any(|candidate| {
        if candidate == "*" {
            return true;
        }
        let candidate = if weak { candidate.strip_prefix("W/").unwrap_or(candidate) } else { candidate };
        candidate.strip_prefix('"').and_then(|c| c.strip_suffix('"')) == Some(etag)
    })
}

fn http_date(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text).ok()
}

/// The modification time as a `SystemTime`.
#[must_use]
pub fn system_time(mtime: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(mtime).unwrap_or(0))
}

/// Evaluates the conditions in RFC 9110's order. `etag` is `None` when nothing exists
/// at the target yet (a PUT creating a file). `safe` is true for GET and HEAD.
#[must_use]
pub fn evaluate(conditions: &Conditions<'_>, etag: Option<&str>, mtime: Option<i64>, safe: bool) -> Precondition {
    if let Some(list) = conditions.if_match {
        if !list_matches(list, etag, false) {
            return Precondition::Failed;
        }
    } else if let (Some(since), Some(mtime)) = (conditions.if_unmodified_since.and_then(http_date), mtime)
        && system_time(mtime) > since
    {
        return Precondition::Failed;
    }
    if let Some(list) = conditions.if_none_match {
        if list_matches(list, etag, true) {
            return if safe { Precondition::NotModified } else { Precondition::Failed };
        }
    } else if safe
        && let (Some(since), Some(mtime)) = (conditions.if_modified_since.and_then(http_date), mtime)
        && system_time(mtime) <= since
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// Whether an `If-Range` header lets the `Range` header apply.
#[must_use]
pub fn if_range_holds(if_range: Option<&str>, etag: &str, mtime: i64) -> bool {
    match if_range.map(str::trim) {
        None => true,
        Some(value) if value.starts_with('"') => {
            value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) == Some(etag)
        }
        Some(value) => http_date(value).is_some_and(|date| system_time(mtime) <= date),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(offset: u64, len: u64) -> RangeAsk {
        RangeAsk::Partial(ReadRange { offset, len })
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), RangeAsk::Full);
        assert_eq!(parse_range(Some("bytes=0-0"), 10), partial(0, 1));
        assert_eq!(parse_range(Some("bytes=2-5"), 10), partial(2, 4));
        assert_eq!(parse_range(Some("bytes=2-"), 10), partial(2, 8));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), partial(5, 5));
        assert_eq!(parse_range(Some("bytes=-3"), 10), partial(7, 3));
        assert_eq!(parse_range(Some("bytes=-30"), 10), partial(0, 10));
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeAsk::Unsatisfiable);
        for ignored in ["bytes=5-2", "bytes=a-b", "bytes=-", "items=0-1", "bytes=0-1,3-4", "bytes=+1-2", "bytes=1"] {
            assert_eq!(parse_range(Some(ignored), 10), RangeAsk::Full, "{ignored}");
        }
    }

    #[test]
    fn conditions() {
        let at = 1_700_000_000;
        let before = httpdate::fmt_http_date(system_time(at - 10));
        let same = httpdate::fmt_http_date(system_time(at));
        let c = |im, inm, ims, ius| Conditions {
            if_match: im,
            if_none_match: inm,
            if_modified_since: ims,
            if_unmodified_since: ius,
        };
        let e = Some("abc");
        assert_eq!(evaluate(&c(None, None, None, None), e, Some(at), true), Precondition::Proceed);
        assert_eq!(evaluate(&c(Some("\"abc\""), None, None, None), e, Some(at), true), Precondition::Proceed);
        assert_eq!(evaluate(&c(Some("\"x\", \"abc\""), None, None, None), e, Some(at), false), Precondition::Proceed);
        assert_eq!(evaluate(&c(Some("\"x\""), None, None, None), e, Some(at), true), Precondition::Failed);
        assert_eq!(evaluate(&c(Some("*"), None, None, None), None, None, false), Precondition::Failed);
        assert_eq!(evaluate(&c(None, Some("\"abc\""), None, None), e, Some(at), true), Precondition::NotModified);
        assert_eq!(evaluate(&c(None, Some("W/\"abc\""), None, None), e, Some(at), true), Precondition::NotModified);
        assert_eq!(evaluate(&c(None, Some("*"), None, None), e, Some(at), false), Precondition::Failed);
        assert_eq!(evaluate(&c(None, Some("*"), None, None), None, None, false), Precondition::Proceed);
        assert_eq!(evaluate(&c(None, None, Some(&same), None), e, Some(at), true), Precondition::NotModified);
        assert_eq!(evaluate(&c(None, None, Some(&before), None), e, Some(at), true), Precondition::Proceed);
        assert_eq!(evaluate(&c(None, None, None, Some(&before)), e, Some(at), false), Precondition::Failed);
        assert_eq!(evaluate(&c(None, None, None, Some(&same)), e, Some(at), false), Precondition::Proceed);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(evaluate(&c(None, Some("\"x\""), Some(&same), None), e, Some(at), true), Precondition::Proceed);
    }

    #[test]
    fn if_range() {
        assert!(if_range_holds(None, "abc", 5));
        assert!(if_range_holds(Some("\"abc\""), "abc", 5));
        assert!(!if_range_holds(Some("\"x\""), "abc", 5));
        assert!(if_range_holds(Some(&httpdate::fmt_http_date(system_time(5))), "abc", 5));
        assert!(!if_range_holds(Some(&httpdate::fmt_http_date(system_time(4))), "abc", 5));
    }
}
