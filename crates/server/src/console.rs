//! The web console: static HTML, CSS and JavaScript modules from `crates/server/console/`,
//! embedded in the binary at build time (`include_bytes!`, no build step, no Node.js) and
//! served at `/` (the page) and `/assets/...` (what it loads).
//!
//! The console is a client of the REST API like any other: it holds the caller's login
//! access token and calls `/oauth2/token`, `/a/...` and `/io/...`; nothing here
//! authenticates or decides anything. Every answer carries strict security headers
//! (a CSP that allows no inline script or style, no framing, no referrer, no sniffing)
//! and is revalidated on each load (`no-cache` with an `ETag`), so a new binary's
//! assets are picked up at once and an unchanged one costs a 304.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::ApiError;

/// One embedded file: its name under `/assets/` (the page itself is `index.html`).
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset { name: $name, content_type: $type, body: include_bytes!(concat!("../console/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console. A test checks that this matches the folder.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("js/api.js", JS),
    asset!("js/app.js", JS),
    asset!("js/files.js", JS),
    asset!("js/keys.js", JS),
    asset!("js/login.js", JS),
    asset!("js/nav.js", JS),
    asset!("js/people.js", JS),
    asset!("js/picker.js", JS),
    asset!("js/policy.js", JS),
    asset!("js/token_cells.js", JS),
    asset!("js/token_form.js", JS),
    asset!("js/token_life.js", JS),
    asset!("js/tokens.js", JS),
    asset!("js/tree.js", JS),
    asset!("js/ui.js", JS),
];

/// The Content-Security-Policy of every console answer: everything from this origin,
/// nothing inline, nothing framed, no plugins, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'";

/// The console's routes, merged into the main router.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(index).fallback(crate::dav::serve_root)).route("/assets/{*name}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some((index, asset)) = ASSETS.iter().enumerate().find(|(_, asset)| asset.name == name) else {
        return secure(ApiError::not_found(format!("no console asset {name:?}")).into_response());
    };
    let etag = &etags()[index];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let headers = response.headers_mut();
    if !fresh {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    secure(response)
}

/// Adds the security headers of console answers.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}

/// The ETag of each asset (in the order of [`ASSETS`]): a 64-bit FNV-1a of its bytes,
/// computed once. Not a security measure; it only has to change when the bytes do.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let hash = asset.body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
                    (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
                });
                format!("\"{hash:016x}\"")
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::ASSETS;

    fn files_under(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
            let entry = entry.unwrap_or_else(|e| panic!("{e}"));
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.path().is_dir() {
                files_under(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }

    /// A file added to the folder but not to the table would be a 404 in the browser.
    #[test]
    fn every_console_file_is_embedded_and_nothing_else() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        files_under(&dir, "", &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    /// Every `import ... from './x.js'` names an embedded module.
    #[test]
    fn every_module_import_resolves() {
        let mut seen = 0;
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap_or_else(|e| panic!("{}: {e}", asset.name));
            for line in text.lines().filter(|l| l.trim_start().starts_with("import ") || l.starts_with("} from ")) {
                let Some(target) = line.split("from '").nth(1).and_then(|rest| rest.split('\'').next()) else {
                    continue;
                };
                let target = format!("js/{}", target.trim_start_matches("./"));
                assert!(
                    ASSETS.iter().any(|a| a.name == target),
                    "{} imports {target}, which is not embedded",
                    asset.name
                );
                seen += 1;
            }
        }
        assert!(seen > 10, "the import scanner found only {seen} imports");
    }

    /// The page loads its script and style from files: the CSP refuses anything inline.
    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = std::str::from_utf8(ASSETS[0].body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ASSETS[0].name, "index.html");
        assert!(page.contains("<script type=\"module\" src=\"/assets/js/app.js\"></script>"));
        assert!(!page.contains("<style") && !page.contains("style="), "{page}");
        let handlers: Vec<&str> = page.split_whitespace().filter(|w| w.starts_with("on") && w.contains('=')).collect();
        assert!(handlers.is_empty(), "inline event handlers: {handlers:?}");
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap_or_default();
            assert!(
                !text.contains("innerHTML") && !text.contains("eval("),
                "{} builds markup from strings",
                asset.name
            );
        }
    }
}
