//! The web capture SDK and the hosted capture page (our extension, issue 20 §2).
//!
//! - `/sdk/openoz-capture.js` (+ `.css`): a dependency-free ES module that a web page embeds to
//!   run a liveness capture against this server: camera, precheck guidance, a server-issued
//!   challenge, one recorded clip, upload, verdict. Public code: served to any origin
//!   (`Access-Control-Allow-Origin: *`).
//! - `/capture/`: a page built on the module. The token comes in the URL fragment (never sent to
//!   a server, removed from the address bar at once); the result is posted with `postMessage` to
//!   the opener or parent only when its origin is one of `OZ_CAPTURE_ORIGINS`, which are also the
//!   only origins that may frame the page (CSP `frame-ancestors`) and call the API from a browser
//!   (CORS, see [`cors`]).
//!
//! The files (`crates/http/capture/`) are compiled into the binary like the console's; every
//! answer carries a strict Content-Security-Policy (scripts, styles, connections only from this
//! origin, no inline code).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// `OZ_CAPTURE`, `OZ_CAPTURE_ORIGINS`.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// Serve `/sdk/*` and `/capture/` at all.
    pub enabled: bool,
    /// Origins (`https://app.example`) that may frame `/capture/`, receive its result by
    /// `postMessage`, and call the API from a browser (CORS). Empty: same origin only.
    pub origins: Vec<String>,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self { enabled: true, origins: Vec::new() }
    }
}

impl CaptureConfig {
    /// Parses `OZ_CAPTURE_ORIGINS`: a comma list of origins (`scheme://host[:port]`, no path).
    pub fn parse_origins(list: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let u = url::Url::parse(raw).map_err(|e| format!("OZ_CAPTURE_ORIGINS: '{raw}' is not an origin: {e}"))?;
            if !matches!(u.scheme(), "http" | "https")
                || u.host_str().is_none()
                || u.path() != "/"
                || u.query().is_some()
            {
                return Err(format!("OZ_CAPTURE_ORIGINS: '{raw}' must be scheme://host[:port] with nothing after it"));
            }
            let origin = u.origin().ascii_serialization();
            if !out.contains(&origin) {
                out.push(origin);
            }
        }
        Ok(out)
    }
}

#[derive(rust_embed::Embed)]
#[folder = "capture/"]
#[exclude = "*.md"]
struct Assets;

/// The embedded file names (for tests).
pub fn files() -> Vec<String> {
    Assets::iter().map(|n| n.into_owned()).collect()
}

/// The `/sdk/*` and `/capture/` routes.
pub fn router<S: Clone + Send + Sync + 'static>(cfg: Arc<CaptureConfig>) -> Router<S> {
    Router::new()
        .route("/sdk/{file}", get(sdk))
        .route("/capture", get(|| async { Redirect::permanent("/capture/") }))
        .route("/capture/", get(index))
        .route("/capture/config.json", get(config))
        .route("/capture/{file}", get(page_file))
        .with_state(cfg)
}

async fn sdk(State(cfg): State<Arc<CaptureConfig>>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let mut res = serve(&cfg, &format!("sdk/{file}"), &headers);
    if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
        res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        // Embedding pages load it cross-origin: it must not be blocked as a cross-origin resource.
        res.headers_mut().insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    }
    res
}

async fn index(State(cfg): State<Arc<CaptureConfig>>, headers: HeaderMap) -> Response {
    serve(&cfg, "page/index.html", &headers)
}

async fn page_file(State(cfg): State<Arc<CaptureConfig>>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&cfg, &format!("page/{file}"), &headers)
}

/// What the page needs to know: the origins it may post its result to.
async fn config(State(cfg): State<Arc<CaptureConfig>>) -> Response {
    let mut res = crate::wire::Json(serde_json::json!({ "origins": cfg.origins })).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(res.headers_mut(), &cfg);
    res
}

fn serve(cfg: &CaptureConfig, name: &str, headers: &HeaderMap) -> Response {
    // Only embedded names exist: anything else (`..`, absolute paths, NUL) is simply not found.
    let Some(f) = Assets::get(name) else {
        let mut res = (StatusCode::NOT_FOUND, "not found").into_response();
        secure(res.headers_mut(), cfg);
        return res;
    };
    let mime = f.metadata.mimetype().to_string();
    let etag = hex::encode(&f.metadata.sha256_hash()[..12]);
    // Embedded files are `'static`: served without a copy per request.
    let data = match f.data {
        std::borrow::Cow::Borrowed(b) => bytes::Bytes::from_static(b),
        std::borrow::Cow::Owned(v) => bytes::Bytes::from(v),
    };
    let mut res = crate::console::static_file(data, &etag, mime, headers);
    secure(res.headers_mut(), cfg);
    res
}

/// The page's Content-Security-Policy: like the console's, plus the camera preview, and framing
/// only by this origin and `OZ_CAPTURE_ORIGINS`.
#[must_use]
pub fn csp(cfg: &CaptureConfig) -> String {
    let mut ancestors = String::from("'self'");
    for o in &cfg.origins {
        ancestors.push(' ');
        ancestors.push_str(o);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors {ancestors}"
    )
}

fn secure(h: &mut HeaderMap, cfg: &CaptureConfig) {
    if let Ok(v) = HeaderValue::from_str(&csp(cfg)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The camera for this origin only (and the frames OZ_CAPTURE_ORIGINS embed it in, which must
    // also grant it with `allow="camera"` on their iframe).
    h.insert("permissions-policy", HeaderValue::from_static("camera=(self), microphone=()"));
}

/// CORS for pages on `OZ_CAPTURE_ORIGINS` that embed the module and call the API directly: those
/// origins only, the token header and content type, no cookies (tokens travel in a header, so
/// a browser never adds a credential by itself). `None` without origins (same origin only).
#[must_use]
pub fn cors(cfg: &CaptureConfig) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::Method;
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if cfg.origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = cfg.origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, axum::http::HeaderName::from_static("x-forensic-access-token")])
            .expose_headers([header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_plain_origins() {
        let o = CaptureConfig::parse_origins(" https://app.example , http://localhost:3000,https://app.example").ok();
        assert_eq!(o, Some(vec!["https://app.example".to_owned(), "http://localhost:3000".to_owned()]));
        for bad in ["app.example", "https://app.example/path", "ftp://x.example", "https://x.example/?a=1"] {
            assert!(CaptureConfig::parse_origins(bad).is_err(), "{bad}");
        }
        assert_eq!(CaptureConfig::parse_origins("").ok(), Some(vec![]));
    }

    #[test]
    fn the_page_may_be_framed_only_by_listed_origins() {
        let cfg = CaptureConfig { enabled: true, origins: vec!["https://app.example".into()] };
        assert!(csp(&cfg).ends_with("frame-ancestors 'self' https://app.example"));
        assert!(csp(&CaptureConfig::default()).ends_with("frame-ancestors 'self'"));
        assert!(cors(&CaptureConfig::default()).is_none());
    }

    #[test]
    fn the_module_and_the_page_are_embedded() {
        let f = files();
        for name in ["sdk/openoz-capture.js", "sdk/openoz-capture.css", "page/index.html", "page/capture.js"] {
            assert!(f.iter().any(|n| n == name), "{name} missing from {f:?}");
        }
    }
}
