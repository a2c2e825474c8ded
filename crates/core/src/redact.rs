//! Secrets masked in text that is printed or logged: personal access tokens (see
//! [`crate::token::redact`]) and the passwords that URLs carry. A database URL may hold
//! its password in the userinfo (`postgres://user:secret@host/db`) or in a query pair
//! (`?password=secret`, as libpq and sqlx accept); both become `***`, wherever a URL
//! appears in a line.

use std::borrow::Cow;

/// Query keys whose value is a secret (compared without case).
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "passwd", "secret", "token"].iter().any(|k| key.contains(k)) || key == "pass" || key == "pwd"
}

/// One URL with its secrets masked: the userinfo password and the value of every secret
/// query pair. Text that is not a URL is returned as it is.
#[must_use]
pub fn url(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://") else { return Cow::Borrowed(url) };
    let after_scheme = scheme_end + 3;
    let authority_end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..after_scheme]);
    let authority = &url[after_scheme..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    let rest = &url[authority_end..];
    let (before_fragment, fragment) = rest.split_once('#').map_or((rest, None), |(b, f)| (b, Some(f)));
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match pair.split_once('=') {
                    Some((key, _)) if is_secret_key(key) => {
                        out.push_str(key);
                        out.push_str("=***");
                    }
                    _ => out.push_str(pair),
                }
            }
        }
        None => out.push_str(before_fragment),
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    if out == url { Cow::Borrowed(url) } else { Cow::Owned(out) }
}

/// A line of text with every URL in it masked (a URL runs from its scheme to the next
/// space, quote or angle bracket), and every personal access token.
#[must_use]
pub fn line(text: &str) -> Cow<'_, str> {
    let tokens = crate::token::redact(text);
    if !tokens.contains("://") {
        return tokens;
    }
    let mut out = String::with_capacity(tokens.len());
    let mut rest: &str = &tokens;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters, digits, `+`, `-` and `.` just before `://`.
        let scheme_len = rest[..at]
            .bytes()
            .rev()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            .count();
        let start = at - scheme_len;
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..start]);
        out.push_str(&url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(url("postgres://cells:s3cret@db:5432/cells"), "postgres://cells:***@db:5432/cells");
        assert_eq!(
            url("postgres://db/cells?password=s3cret&sslmode=require"),
            "postgres://db/cells?password=***&sslmode=require"
        );
        assert_eq!(url("postgres://u:p@db/c?user=u&PassWord=x#frag"), "postgres://u:***@db/c?user=u&PassWord=***#frag");
        assert_eq!(
            url("s3://bucket/prefix?endpoint=http://127.0.0.1:9000&secret_access_key=k"),
            "s3://bucket/prefix?endpoint=http://127.0.0.1:9000&secret_access_key=***"
        );
        // A password with an `@` in it: the host is after the last one.
        assert_eq!(url("postgres://u:p@ss@db/c"), "postgres://u:***@db/c");
        // Nothing to mask.
        for plain in
            ["postgres://postgres@127.0.0.1:5432/test", "sqlite:///var/cells/cells.db", "not a url", "x?password=1"]
        {
            assert!(matches!(url(plain), Cow::Borrowed(_)), "{plain}");
        }
    }

    #[test]
    fn every_url_of_a_line_is_masked() {
        let text = "cannot open postgres://u:pw1@h/db?password=pw2 (then \"mysql://a:pw3@h\") and cpat_x";
        let masked = line(text);
        assert_eq!(masked, "cannot open postgres://u:***@h/db?password=*** (then \"mysql://a:***@h\") and cpat_***");
        assert_eq!(line("no url here"), "no url here");
        assert_eq!(line("://odd"), "://odd");
    }
}
