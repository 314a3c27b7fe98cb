//! `/console`: the web console (the back office Oz calls its Web UI), a small single-page
//! application that is one more client of the full API.
//!
//! The page's files (`crates/http/console/`: HTML, CSS, ES modules and the pinned chart library
//! in `vendor/`) are compiled into the binary with `rust-embed` (`debug-embed`: debug builds embed
//! them too), so nothing is fetched at run time and nothing is built with Node. The page signs in
//! with `POST /api/authorize/auth`, keeps the access token in `sessionStorage` (per tab, never in
//! a URL) and calls `/api/...` with `X-Forensic-Access-Token`, so roles and tenant isolation are the
//! API's own. Media are shown through the signed links the API renders.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and connections only
//! from this origin, no inline code, no framing), so data shown by the page (metadata, tags, names,
//! all attacker-controlled) can never run as code even if a rendering bug put it into markup.
//!
//! `OZ_CONSOLE=off` leaves the routes out; `OZ_CONSOLE_DIR` (for developing the console: edit,
//! reload) serves the files from that folder instead: plain relative names with a known
//! extension only.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// Where the console is served.
pub const PATH: &str = "/console";

/// The Content-Security-Policy of every console answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
media-src 'self' blob:; connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; \
frame-ancestors 'none'";

/// `OZ_CONSOLE`, `OZ_CONSOLE_DIR`.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Serve `/console` at all.
    pub enabled: bool,
    /// Read the files from this folder instead of the embedded copies (development).
    pub dir: Option<PathBuf>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self { enabled: true, dir: None }
    }
}

#[derive(rust_embed::Embed)]
#[folder = "console/"]
#[exclude = "*.md"]
struct Assets;

/// The embedded file names (for tests and the start-up log).
pub fn files() -> Vec<String> {
    Assets::iter().map(|n| n.into_owned()).collect()
}

/// The `/console` routes.
pub fn router<S: Clone + Send + Sync + 'static>(cfg: Arc<ConsoleConfig>) -> Router<S> {
    Router::new()
        .route(PATH, get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(index))
        .route("/console/{*file}", get(asset))
        .with_state(cfg)
}

async fn index(State(cfg): State<Arc<ConsoleConfig>>, headers: HeaderMap) -> Response {
    serve(&cfg, "index.html", &headers).await
}

async fn asset(State(cfg): State<Arc<ConsoleConfig>>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&cfg, &file, &headers).await
}

async fn serve(cfg: &ConsoleConfig, name: &str, headers: &HeaderMap) -> Response {
    let (body, etag, mime) = match &cfg.dir {
        // Development: any plain name under the folder (new files show without a rebuild).
        Some(dir) => {
            let Some(mime) = dev_name(name) else { return not_found() };
            match tokio::fs::read(dir.join(name)).await {
                Ok(bytes) => {
                    use sha2::Digest;
                    let tag = hex::encode(&sha2::Sha256::digest(&bytes)[..12]);
                    (bytes::Bytes::from(bytes), tag, mime.to_string())
                }
                Err(_) => return not_found(),
            }
        }
        // Only embedded names exist: anything else (`..`, absolute paths, NUL) is simply not found.
        None => match Assets::get(name) {
            Some(f) => {
                let mime = f.metadata.mimetype().to_string();
                {
                    // Embedded files are `'static`: served without a copy per request.
                    let data = match f.data {
                        std::borrow::Cow::Borrowed(b) => bytes::Bytes::from_static(b),
                        std::borrow::Cow::Owned(v) => bytes::Bytes::from(v),
                    };
                    (data, hex::encode(&f.metadata.sha256_hash()[..12]), mime)
                }
            }
            None => return not_found(),
        },
    };
    let mut res = static_file(body, &etag, mime, headers);
    secure(res.headers_mut());
    res
}

/// The answer of a static file (`etag`: hex of its digest): 304 when `If-None-Match` names it,
/// else the bytes, with the content type (UTF-8 for text and scripts), the `ETag` and
/// `Cache-Control: no-cache` (revalidated on every load, so an upgrade shows at once; the ETag
/// makes that a 304). The caller adds its security headers. Shared with [`crate::capture`].
pub(crate) fn static_file(body: bytes::Bytes, etag: &str, mime: String, headers: &HeaderMap) -> Response {
    let etag = format!("\"{etag}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { body.into_response() };
    let h = res.headers_mut();
    let content_type =
        if mime.starts_with("text/") || mime.ends_with("javascript") { format!("{mime}; charset=utf-8") } else { mime };
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// A name `OZ_CONSOLE_DIR` may serve: segments of `[A-Za-z0-9_.-]` not starting with a dot,
/// with a known extension (its content type).
fn dev_name(name: &str) -> Option<&'static str> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        });
    if !ok {
        return None;
    }
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => Some("text/html"),
        Some("css") => Some("text/css"),
        Some("js" | "mjs") => Some("text/javascript"),
        Some("svg") => Some("image/svg+xml"),
        Some("png") => Some("image/png"),
        Some("json") => Some("application/json"),
        _ => None,
    }
}

fn not_found() -> Response {
    let mut res = (StatusCode::NOT_FOUND, "not found").into_response();
    secure(res.headers_mut());
    res
}

fn secure(h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}
