//! Full Oz API errors: `{"error_code": <int>, "error_message": "...", "details": ...}` with the
//! HTTP status of spec §13. Storage and engine errors map here.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oz_storage::StoreError;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Value::Null }
    }
    pub fn unknown(m: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 0, m)
    }
    pub fn not_realized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, 2, m)
    }
    pub fn structure(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 3, m)
    }
    pub fn value(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 4, m)
    }
    pub fn auth_missing() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 6, "Authorization token is not provided")
    }
    pub fn auth_invalid(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 7, m)
    }
    pub fn auth_expired() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 8, "Authorization token has expired")
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 9, m)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, 10, format!("{what} does not exist"))
    }
    pub fn too_large(m: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, 4, m)
    }
    /// The server is momentarily full (decode budget): 503 with `Retry-After`.
    pub fn busy() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, 0, "the server is decoding too much media right now, retry later")
    }
    #[must_use]
    pub fn with_details(mut self, d: Value) -> Self {
        self.details = d;
        self
    }
}

/// A path id: anything that is not a UUID names no object (404, error 10).
pub fn parse_id(s: &str, what: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|_| ApiError::not_found(what))
}

/// A storage error met while looking up `what`: `NotFound` names the object, anything else is the
/// server's fault (never reported as a 404).
pub fn lookup(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

impl From<oz_domain::caps::CapError> for ApiError {
    fn from(e: oz_domain::caps::CapError) -> Self {
        ApiError::value(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("The object"),
            StoreError::Conflict(m) => ApiError::value(m),
            other => {
                tracing::error!(error = %other, "storage error");
                ApiError::unknown("Unknown server side error occurred")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({ "error_code": self.code, "error_message": self.message, "details": self.details })),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
