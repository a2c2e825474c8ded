//! The WebDAV request headers, parsed: `Depth`, `Overwrite`, `Destination`, `Timeout`,
//! `Lock-Token`, and the `If` header of RFC 4918 section 10.4 (lists of lock tokens and
//! entity tags, optionally tagged with the resource they apply to).
//!
//! Parsing is pure and unit-tested here; evaluating an `If` header against the locks and
//! entity tags of real resources is in `locks.rs`.

use axum::http::HeaderMap;

/// `Depth`: 0, 1 or infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

/// The `Depth` header; `None` when it is not one of the three values.
pub fn depth(headers: &HeaderMap, default: Depth) -> Option<Depth> {
    match headers.get("depth").map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase()) {
        None => Some(default),
        Some(text) => match text.as_str() {
            "0" => Some(Depth::Zero),
            "1" => Some(Depth::One),
            "infinity" => Some(Depth::Infinity),
            _ => None,
        },
    }
}

/// `Overwrite: F` forbids replacing the destination; absent or `T` allows it.
pub fn overwrite(headers: &HeaderMap) -> bool {
    !headers.get("overwrite").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"f"))
}

/// The path part of a URL or an absolute path: `http://host:port/dav/x` gives `/dav/x`.
/// `None` for a URL of another scheme or without a path.
pub fn url_path(url: &str) -> Option<&str> {
    let url = url.trim();
    if url.starts_with('/') {
        return Some(url);
    }
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let at = rest.find('/')?;
    Some(&rest[at..])
}

/// Whether an absolute URL names `host` (the host the request was sent to): the same
/// name, ignoring case and the scheme's default port. A path alone names this server.
pub fn on_host(url: &str, host: Option<&str>) -> bool {
    let url = url.trim();
    if url.starts_with('/') {
        return true;
    }
    let (rest, default_port) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (rest, ":80"),
        (None, Some(rest)) => (rest, ":443"),
        (None, None) => return false,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Credentials in a URL (`user@host`) do not change which host it names.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let bare = |h: &str| h.strip_suffix(default_port).unwrap_or(h).to_ascii_lowercase();
    host.is_some_and(|host| !authority.is_empty() && bare(authority) == bare(host))
}

/// The `Timeout` header in seconds (`Second-N` or `Infinite`, the first one understood).
pub fn timeout(headers: &HeaderMap, default: i64, max: i64) -> i64 {
    let Some(text) = headers.get("timeout").and_then(|v| v.to_str().ok()) else { return default };
    for part in text.split(',').map(str::trim) {
        if part.eq_ignore_ascii_case("infinite") {
            return max;
        }
        if let Some(seconds) = part.strip_prefix("Second-").and_then(|n| n.parse::<i64>().ok()) {
            return seconds.min(max);
        }
    }
    default
}

/// The token in `Lock-Token: <token>`.
pub fn lock_token(headers: &HeaderMap) -> Option<String> {
    let text = headers.get("lock-token")?.to_str().ok()?.trim();
    let token = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(text);
    (!token.is_empty()).then(|| token.to_owned())
}

/// One condition of an `If` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// A state token (a lock token, or `DAV:no-lock`, which matches nothing).
    Token { not: bool, token: String },
    /// An entity tag, as written (`"abc"` or `W/"abc"`).
    ETag { not: bool, etag: String },
}

/// One list of an `If` header: true when all its conditions hold for its resource
/// (`None`: the request URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfList {
    pub resource: Option<String>,
    pub conditions: Vec<Condition>,
}

/// Parses an `If` header; `None` when it is malformed (a 400).
pub fn parse_if(text: &str) -> Option<Vec<IfList>> {
    let mut lists = Vec::new();
    let mut resource = None;
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>')?;
            resource = Some(after[..end].to_owned());
            rest = after[end + 1..].trim_start();
        } else if let Some(after) = rest.strip_prefix('(') {
            let (conditions, after) = parse_list(after)?;
            lists.push(IfList { resource: resource.clone(), conditions });
            rest = after.trim_start();
        } else {
            return None;
        }
    }
    (!lists.is_empty()).then_some(lists)
}

fn parse_list(mut rest: &str) -> Option<(Vec<Condition>, &str)> {
    let mut conditions = Vec::new();
    loop {
        rest = rest.trim_start();
        let not = match rest.get(..3) {
            Some(word) if word.eq_ignore_ascii_case("not") => {
                rest = rest[3..].trim_start();
                true
            }
            _ => false,
        };
        if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>')?;
            conditions.push(Condition::Token { not, token: after[..end].to_owned() });
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            conditions.push(Condition::ETag { not, etag: after[..end].trim().to_owned() });
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix(')') {
            return (!conditions.is_empty() && !not).then_some((conditions, after));
        } else {
            return None;
        }
    }
}

/// Every lock token named in the lists: the tokens the request submits.
pub fn submitted(lists: &[IfList]) -> impl Iterator<Item = &str> {
    lists.iter().flat_map(|l| &l.conditions).filter_map(|c| match c {
        Condition::Token { token, .. } => Some(token.as_str()),
        Condition::ETag { .. } => None,
    })
}

/// Whether two entity tags match (weak comparison: a `W/` prefix is ignored).
pub fn etag_matches(asked: &str, current_quoted: &str) -> bool {
    asked.strip_prefix("W/").unwrap_or(asked) == current_quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(not: bool, token: &str) -> Condition {
        Condition::Token { not, token: token.to_owned() }
    }

    #[test]
    fn parses_the_if_headers_litmus_sends() {
        let lists = parse_if("(<urn:uuid:1> [\"e1\"]) (Not <DAV:no-lock> [\"e1\"])").unwrap_or_default();
        assert_eq!(lists.len(), 2);
        assert_eq!(
            lists[0].conditions,
            vec![token(false, "urn:uuid:1"), Condition::ETag { not: false, etag: "\"e1\"".into() }]
        );
        assert_eq!(lists[1].conditions[0], token(true, "DAV:no-lock"));
        let tagged = parse_if("<http://h/dav/a> (<urn:uuid:2>) <http://h/dav/b> ([W/\"x\"])").unwrap_or_default();
        assert_eq!(tagged[0].resource.as_deref(), Some("http://h/dav/a"));
        assert_eq!(tagged[1].resource.as_deref(), Some("http://h/dav/b"));
        assert_eq!(submitted(&tagged).collect::<Vec<_>>(), vec!["urn:uuid:2"]);
    }

    #[test]
    fn refuses_malformed_if_headers() {
        for text in ["", "(", "()", "(<a>", "(Not)", "x", "(<a>) junk", "([\"e\"]"] {
            assert_eq!(parse_if(text), None, "{text:?}");
        }
    }

    #[test]
    fn small_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(depth(&headers, Depth::Infinity), Some(Depth::Infinity));
        headers.insert("depth", "1".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(depth(&headers, Depth::Infinity), Some(Depth::One));
        headers.insert("depth", "2".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(depth(&headers, Depth::Infinity), None);
        headers.insert("timeout", "Extended, Second-120".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(timeout(&headers, 3600, 600), 120);
        headers.insert("timeout", "Infinite".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(timeout(&headers, 3600, 600), 600);
        assert_eq!(url_path("http://127.0.0.1:8080/dav/a%20b"), Some("/dav/a%20b"));
        assert_eq!(url_path("/dav/x"), Some("/dav/x"));
        assert_eq!(url_path("ftp://h/dav/x"), None);
        assert!(on_host("http://Cells.Local:8080/dav/x", Some("cells.local:8080")));
        assert!(on_host("http://files.example/dav/x", Some("files.example:80")), "the default port");
        assert!(on_host("https://files.example:443/dav/x", Some("files.example")));
        assert!(on_host("/dav/x", None), "a path names this server");
        assert!(!on_host("http://evil.example:9999/dav/x", Some("127.0.0.1:8080")));
        assert!(!on_host("http://127.0.0.1:8081/dav/x", Some("127.0.0.1:8080")), "another port");
        assert!(!on_host("http://127.0.0.1:8080@evil.example/dav/x", Some("127.0.0.1:8080")));
        assert!(!on_host("http://127.0.0.1:8080/dav/x", None), "no host to compare with");
        assert!(etag_matches("W/\"a\"", "\"a\"") && !etag_matches("\"b\"", "\"a\""));
    }
}
