//! Full Oz API errors: `{"error_code": <int>, "error_message": "...", "details": ...}` with the
//! HTTP status of spec §13. Storage and engine errors map here.

use crate::wire::Json;
use axum::http::{HeaderValue, StatusCode, header};
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
    /// A JSON body that does not fit its type, in Oz's codes: not JSON or a required field
    /// missing is a structure error (3; Oz's words: "Could not locate field for key_path ..."), a
    /// field of the wrong type a type error (5), a value out of range a value error (4). `path`
    /// names the field (`analyses[0].params`; empty: the body). The one place request bodies'
    /// errors are mapped.
    pub fn from_body(path: &str, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let m = e.to_string();
        // serde_json appends " at line L column C"; the path says where.
        let m = m.split(" at line ").next().unwrap_or(&m).to_string();
        let at = |m: &str| if path.is_empty() || path == "." { m.to_string() } else { format!("{path}: {m}") };
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => Self::structure(format!("invalid JSON body: {m}")),
            Category::Data if m.starts_with("missing field") => {
                let field = m.split('`').nth(1).unwrap_or_default();
                let key = if path.is_empty() || path == "." { field.to_string() } else { format!("{path}.{field}") };
                Self::structure(format!("Could not locate field for key_path {key} from provided dict data"))
            }
            Category::Data if m.starts_with("invalid length") && m.contains("expected struct") => {
                Self::new(StatusCode::BAD_REQUEST, 5, at("must be an object"))
            }
            Category::Data if m.starts_with("invalid type") => Self::new(StatusCode::BAD_REQUEST, 5, at(&m)),
            Category::Data if m.starts_with("unknown variant") => Self::structure(at(&m)),
            Category::Data => Self::value(at(&m)),
        }
    }

    /// [`Self::from_body`] of a `serde_path_to_error` failure.
    pub fn from_body_at(e: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        Self::from_body(&e.path().to_string(), e.inner())
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
    /// 429 or 503, error 11 (our code: "too many requests, retry later"); the response carries
    /// `Retry-After` and `details.retry_after`, both in whole seconds.
    pub fn retry_later(status: StatusCode, m: impl Into<String>, after: std::time::Duration) -> Self {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        Self::new(status, 11, m).with_details(json!({ "retry_after": secs.max(1) }))
    }
    /// 429 with `Retry-After` (error 11): the caller has too much work in flight (for example its
    /// company's queued analyses, `OZ_COMPANY_QUEUE_LIMIT`); `details` gets `retry_after`.
    pub fn too_many(m: impl Into<String>, after: std::time::Duration) -> Self {
        Self::retry_later(StatusCode::TOO_MANY_REQUESTS, m, after)
    }
    /// 503 with `Retry-After`: every inference slot is taken (see [`crate::admission`]).
    pub fn busy() -> Self {
        Self::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is busy analysing other media: retry later",
            std::time::Duration::from_secs(crate::admission::RETRY_AFTER_SECS),
        )
    }

    /// The media store (a folder or an S3 bucket) failed: the cause goes to the log (it may name
    /// buckets, endpoints or paths), the client gets a generic error 0.
    pub fn storage(what: &str, e: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{what}");
        Self::unknown(format!("{what}: the media store failed; the server log has the cause"))
    }

    /// A request body the intake refused ([`crate::intake`]): 413 past the limit, 408 when it
    /// stopped arriving or came too slowly, 503 with `Retry-After` when memory or spool disk is
    /// spent, 400 when the client broke it off.
    #[must_use]
    pub fn from_intake(e: &crate::intake::IntakeError) -> Self {
        use crate::intake::IntakeError as E;
        e.count();
        match e {
            E::TooLarge { limit } => Self::too_large(e.to_string()).with_details(json!({ "limit": limit })),
            E::TimedOut(_) => Self::new(StatusCode::REQUEST_TIMEOUT, 3, e.to_string()),
            E::Busy => Self::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is receiving too many uploads: retry later",
                std::time::Duration::from_secs(crate::admission::RETRY_AFTER_SECS),
            ),
            E::Client(_) => Self::structure(e.to_string()),
            E::Io(m) => {
                tracing::error!(error = %m, "cannot spool a request body");
                Self::unknown("the request body could not be received")
            }
        }
    }

    /// The Oz body for an error answer that the router or an extractor made (unknown route 404,
    /// wrong method 405, oversize body 413, rejected body, caught panic), keeping its status.
    pub fn for_status(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status.as_u16() {
            401 => 7,
            403 => 9,
            404 => 10,
            405 => 1,
            413 | 422 => 4,
            501 => 2,
            s if s >= 500 => 0,
            _ => 3,
        };
        Self::new(status, code, message)
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

/// Media an analysis cannot take: error 4; past the media cap, `details` names the limit and the
/// way out (`source_media`).
impl From<oz_domain::assign::AssignError> for ApiError {
    fn from(e: oz_domain::assign::AssignError) -> Self {
        let details = match &e {
            oz_domain::assign::AssignError::TooManyMedia { count, limit, .. } => json!({
                "media": count,
                "limit": limit,
                "hint": "name the media to analyse (at most the limit) in source_media",
            }),
            _ => Value::Null,
        };
        ApiError::value(e.to_string()).with_details(details)
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
        let busy = matches!(self.status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE);
        let retry_after = self.details.get("retry_after").and_then(Value::as_u64).filter(|_| busy);
        // In Oz's key order: clients spot errors by the text `{"error_code":`.
        let body =
            oz_wire::errors::ApiErrorBody { error_code: self.code, error_message: self.message, details: self.details };
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::admission::RETRY_AFTER_SECS));
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
