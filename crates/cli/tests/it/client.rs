//! Talking to the server: [`Session`] (reqwest with one set of credentials), [`Reply`]
//! (status, headers, body, and assertions on the error shape), and the parsing of raw
//! HTTP/1.1 answers for [`crate::support::TestServer::raw`].

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

pub fn parse_raw(answer: &[u8], head_only: bool) -> Option<Reply> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_str(value.trim()).ok()?);
    }
    let mut body = answer[end + 4..].to_vec();
    let chunked = headers.get("transfer-encoding").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    if chunked && !head_only {
        body = dechunk(&body)?;
    }
    Some(Reply { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// A client with one set of credentials (or none).
#[derive(Clone)]
pub struct Session {
    pub client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) auth: Option<String>,
}

impl Session {
    /// A request to `target` (already percent-encoded) with this session's credentials.
    pub fn request(&self, method: Method, target: &str) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{target}", self.base));
        match &self.auth {
            Some(auth) => request.header("Authorization", auth),
            None => request,
        }
    }

    pub async fn send(request: RequestBuilder) -> Reply {
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("a body").to_vec();
        Reply { status, headers, body }
    }

    pub async fn get(&self, target: &str) -> Reply {
        Self::send(self.request(Method::GET, target)).await
    }

    pub async fn delete(&self, target: &str) -> Reply {
        Self::send(self.request(Method::DELETE, target)).await
    }

    pub async fn post(&self, target: &str, body: &Value) -> Reply {
        Self::send(self.request(Method::POST, target).json(body)).await
    }

    pub async fn patch(&self, target: &str, body: &Value) -> Reply {
        Self::send(self.request(Method::PATCH, target).json(body)).await
    }

    pub async fn put_json(&self, target: &str, body: &Value) -> Reply {
        Self::send(self.request(Method::PUT, target).json(body)).await
    }

    /// `PUT /io{path}`; `path` is a plain tree path such as `/personal-files/a b`.
    pub async fn upload(&self, path: &str, content: impl Into<reqwest::Body>) -> Reply {
        Self::send(self.request(Method::PUT, &format!("/io{}", enc(path))).body(content)).await
    }

    /// `GET /io{path}`.
    pub async fn download(&self, path: &str) -> Reply {
        self.get(&format!("/io{}", enc(path))).await
    }

    /// `GET /a/tree{path}`: the node.
    pub async fn stat(&self, path: &str) -> Reply {
        self.get(&format!("/a/tree{}", enc(path))).await
    }

    /// `POST /a/tree/create` of a folder.
    pub async fn mkdir(&self, path: &str) -> Reply {
        self.post("/a/tree/create", &json!({"Path": path, "Type": "COLLECTION"})).await
    }

    /// The names in a folder (first page of 10000).
    pub async fn names(&self, path: &str) -> Vec<String> {
        let listing = self.get(&format!("/a/tree{}?children=true&limit=10000", enc(path))).await.expect(200).json();
        let children = listing["Children"].as_array().expect("Children");
        children.iter().map(|c| name_of(c["Path"].as_str().expect("a Path"))).collect()
    }
}

fn name_of(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

/// An answer.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().expect("an ASCII header").to_owned())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text());
        self
    }

    /// Asserts the status and the error body `{Code, Title, Detail}`.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        let this = self.expect(status);
        this.assert_error_shape();
        assert_eq!(this.json()["Code"], code, "body: {}", this.text());
        this
    }

    /// Whether the body is the error shape: `Code`, `Title` and `Detail`, non-empty strings.
    pub fn is_error_shape(&self) -> bool {
        let Ok(body) = serde_json::from_slice::<Value>(&self.body) else { return false };
        ["Code", "Title", "Detail"].iter().all(|field| body[field].as_str().is_some_and(|text| !text.is_empty()))
    }

    /// Asserts the body is the error shape.
    #[track_caller]
    pub fn assert_error_shape(&self) {
        assert!(self.is_error_shape(), "not a {{Code, Title, Detail}} body: {}", self.text());
    }
}

/// Percent-encodes a tree path for a URL: every byte but unreserved ones and `/`.
pub fn enc(path: &str) -> String {
    let mut out = String::with_capacity(path.len() * 3);
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Standard base64, for Basic credentials.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Session {
    /// The `Uuid` of the node at `path` (a plain tree path).
    pub async fn uuid(&self, path: &str) -> String {
        let node = self.stat(path).await.expect(200).json();
        node["Uuid"].as_str().unwrap_or_else(|| panic!("no Uuid in {node}")).to_owned()
    }
}
