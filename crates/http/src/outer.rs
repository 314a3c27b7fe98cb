//! The outer layers of the application: the body size cap, caught panics, and Oz bodies on every
//! error answer that no handler shaped: unknown routes (404), wrong methods (405, error 1),
//! oversize bodies (413), extractor rejections (JSON, form, path) and caught panics (500). Under
//! `/api` (and `/static`) they get `{error_code, error_message, details}`, everywhere else the
//! Lite `{code, message}`. Every 503 carries `Retry-After`. Outermost, every request body is paced
//! ([`crate::intake::pace`]).
//!
//! A request refused before its body was read (a 401/403/404 on an upload, a 413 of a route's JSON
//! cap) has the rest of its body read and dropped before the answer goes out (bounded by
//! `OZ_MAX_REQUEST_BYTES` and 10 s): a client still
//! writing its upload would otherwise see the connection closed under it (EPIPE) instead of the
//! Oz error, as Node.js clients (newman, SDK back ends) do.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use parking_lot::Mutex;
use tower_http::catch_panic::CatchPanicLayer;

use crate::api::error::ApiError;
use crate::error::LiteError;

/// Longest text of a rejection kept as the error message.
const MAX_MESSAGE: usize = 2048;

/// Wraps `router` (with its state) in the body cap, the panic catcher, the Oz error bodies and the
/// drain of refused uploads.
pub fn harden(router: Router, body_limit: usize, pacing: crate::intake::Pacing) -> Router {
    let drain = Drain { max_bytes: body_limit as u64, wait: DRAIN_WAIT };
    router
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(oz_bodies))
        .layer(axum::middleware::from_fn(move |req, next| drain_refused(drain, req, next)))
        .layer(axum::middleware::from_fn(move |req, next| crate::intake::pace(pacing, req, next)))
}

/// How long the rest of a refused request's body may take to arrive before the answer goes out
/// anyway.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct Drain {
    max_bytes: u64,
    wait: std::time::Duration,
}

/// The request body behind a shared slot: the handler reads it through [`SharedBody`]; once the
/// answer is made, this layer takes what is left.
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<Option<Body>>>);

struct SharedBody(Slot);

impl http_body::Body for SharedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let mut slot = self.0.0.lock();
        match slot.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.0.lock().as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.0.lock().as_ref().map(http_body::Body::size_hint).unwrap_or_default()
    }
}

async fn drain_refused(drain: Drain, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // Nothing to read, or more than the server takes at all (that answer closes the connection).
    let oversize = http_body::Body::size_hint(&body).lower() > drain.max_bytes;
    if http_body::Body::is_end_stream(&body) || oversize {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let slot = Slot::default();
    *slot.0.lock() = Some(body);
    let res = next.run(Request::from_parts(parts, Body::new(SharedBody(slot.clone())))).await;
    // A 413 of a route's own cap (a 2 MiB login body) is drained too: the body is within the
    // server's request cap, and the client is still writing it. So is a 503 of a full admission
    // gate, refused before its body was read: without the drain the client, still writing, sees
    // a broken pipe instead of the 503 and its Retry-After. Draining discards bytes (no memory)
    // within DRAIN_WAIT and the paced body's own limits.
    if !(res.status().is_client_error() || res.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE) {
        return res;
    }
    let rest = slot.0.lock().take();
    if let Some(mut body) = rest {
        let mut seen: u64 = 0;
        let _ = tokio::time::timeout(drain.wait, async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    seen += data.len() as u64;
                    if seen > drain.max_bytes {
                        break;
                    }
                }
            }
        })
        .await;
    }
    res
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
