//! Who the client is, by address: the TCP peer, or behind trusted reverse proxies the
//! address they report in `X-Forwarded-For`. Throttling counts failures per client, so
//! behind a proxy without this setting every client would share one budget. Off by
//! default: a header any client can write is believed only from the proxies named.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

pub use cells_core::limits::Cidr;

/// The client's address: the peer, unless the peer is a trusted proxy, then the last
/// address in `X-Forwarded-For` that is not one (each proxy appends the address it saw;
/// anything before the first untrusted hop may be forged by the client).
pub fn client_ip(parts: &Parts, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())?;
    if trusted.is_empty() || !trusted.iter().any(|net| net.contains(peer)) {
        return Some(peer);
    }
    let forwarded = parts.headers.get_all("x-forwarded-for");
    let hops: Vec<IpAddr> = forwarded
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    Some(hops.into_iter().rev().find(|hop| !trusted.iter().any(|net| net.contains(*hop))).unwrap_or(peer))
}

/// The host the client addressed: the `Host` header (or the URI's authority, in HTTP/2),
/// unless the peer is a trusted proxy that says, in `X-Forwarded-Host`, which host the
/// client asked it for (the last value, the one the nearest proxy wrote).
pub fn request_host(parts: &Parts, trusted: &[Cidr]) -> Option<String> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    if peer.is_some_and(|peer| trusted.iter().any(|net| net.contains(peer))) {
        let forwarded = parts.headers.get_all("x-forwarded-host").iter().filter_map(|v| v.to_str().ok()).next_back();
        if let Some(host) = forwarded.and_then(|v| v.split(',').next_back()).map(str::trim).filter(|h| !h.is_empty()) {
            return Some(host.to_owned());
        }
    }
    let host = parts.headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok());
    host.map(str::to_owned).or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
}

/// The client's address as an extractor, for handlers that authenticate by themselves
/// (the OAuth2 endpoint).
pub struct ClientIp(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<crate::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &crate::AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts, &state.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, forwarded: &[&str]) -> Parts {
        with_headers(peer, &forwarded.iter().map(|v| ("x-forwarded-for", *v)).collect::<Vec<_>>())
    }

    fn with_headers(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = axum::http::Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request.body(()).unwrap_or_else(|e| panic!("{e}")).into_parts();
        let peer: SocketAddr = peer.parse().unwrap_or_else(|e| panic!("{e}"));
        parts.extensions.insert(ConnectInfo(peer));
        parts
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap_or_else(|e| panic!("{e}"))).collect()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = cidrs(&["127.0.0.1", "10.0.0.0/8"]);
        let ip = |p: &str, f: &[&str], t: &[Cidr]| client_ip(&parts(p, f), t).map(|ip| ip.to_string());
        // Off by default: the header is ignored.
        assert_eq!(ip("127.0.0.1:1", &["203.0.113.9"], &[]).as_deref(), Some("127.0.0.1"));
        // From an untrusted peer: ignored.
        assert_eq!(ip("198.51.100.1:1", &["203.0.113.9"], &trusted).as_deref(), Some("198.51.100.1"));
        // From a trusted proxy: the last untrusted hop, whatever the client prepended.
        assert_eq!(ip("127.0.0.1:1", &["1.1.1.1, 203.0.113.9, 10.0.0.5"], &trusted).as_deref(), Some("203.0.113.9"));
        assert_eq!(ip("127.0.0.1:1", &["1.1.1.1", "203.0.113.9"], &trusted).as_deref(), Some("203.0.113.9"));
        // Garbage or only proxies: the peer.
        assert_eq!(ip("127.0.0.1:1", &["not an address"], &trusted).as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("127.0.0.1:1", &["10.0.0.7"], &trusted).as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn forwarded_host_is_believed_only_from_trusted_proxies() {
        let trusted = cidrs(&["127.0.0.1"]);
        let host = |p: &str, h: &[(&str, &str)]| request_host(&with_headers(p, h), &trusted);
        let sent = [("host", "cells.internal:8080"), ("x-forwarded-host", "files.example")];
        assert_eq!(host("127.0.0.1:1", &sent).as_deref(), Some("files.example"));
        assert_eq!(host("198.51.100.1:1", &sent).as_deref(), Some("cells.internal:8080"), "not from a proxy");
        assert_eq!(host("127.0.0.1:1", &sent[..1]).as_deref(), Some("cells.internal:8080"), "no forwarded host");
        let chained = [("host", "a"), ("x-forwarded-host", "forged.example, files.example")];
        assert_eq!(host("127.0.0.1:1", &chained).as_deref(), Some("files.example"));
        assert_eq!(host("127.0.0.1:1", &[]), None);
    }
}
