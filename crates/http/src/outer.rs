//! The outer layers of the application: the body size cap, caught panics, and Oz bodies on every
//! error answer that no handler shaped: unknown routes (404), wrong methods (405, error 1),
//! oversize bodies (413), extractor rejections (JSON, form, path) and caught panics (500). Under
//! `/api` (and `/static`) they get `{error_code, error_message, details}`, everywhere else the
//! Lite `{code, message}`. Every 503 carries `Retry-After`.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::api::error::ApiError;
use crate::error::LiteError;

/// Longest text of a rejection kept as the error message.
const MAX_MESSAGE: usize = 2048;

/// Wraps `router` (with its state) in the body cap, the panic catcher and the Oz error bodies.
pub fn harden(router: Router, body_limit: usize) -> Router {
    router
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(oz_bodies))
}

/// True for paths of the full API (Oz body); the rest are API Lite (Lite body).
#[must_use]
pub fn is_full_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path.starts_with("/static/")
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"))
}

async fn oz_bodies(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(res.headers()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    // Rejection texts of 4xx answers say what was wrong with the request; 5xx texts (a panic) may
    // say things about the server and are not passed on.
    let message = if text.is_empty() || status.is_server_error() { default_message(status) } else { text };
    let fresh = if is_full_api(&path) {
        ApiError::for_status(status, message).into_response()
    } else {
        LiteError::for_status(status, &path, message).into_response()
    };
    let (fresh_parts, fresh_body) = fresh.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in fresh_parts.headers {
        if let Some(name) = name {
            parts.headers.insert(name, value);
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE && !parts.headers.contains_key(header::RETRY_AFTER) {
        parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(crate::admission::RETRY_AFTER_SECS));
    }
    Response::from_parts(parts, Body::new(fresh_body))
}

fn default_message(status: StatusCode) -> String {
    match status.as_u16() {
        404 => "no such route".into(),
        405 => "method not allowed on this resource".into(),
        413 => "the request body is too large".into(),
        503 => "the server is busy: retry later".into(),
        s if s >= 500 => "Unknown server side error occurred".into(),
        _ => status.canonical_reason().unwrap_or("invalid request").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_and_lite_paths() {
        assert!(is_full_api("/api"));
        assert!(is_full_api("/api/folders/"));
        assert!(is_full_api("/static/x.jpg"));
        assert!(!is_full_api("/apix"));
        assert!(!is_full_api("/version"));
        assert!(!is_full_api("/v1/face/liveness/detect"));
        assert!(!is_full_api("/"));
    }

    #[test]
    fn json_content_type() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        assert!(!is_json(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(is_json(&h));
    }
}
