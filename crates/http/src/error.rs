//! Errors as Oz bodies. API Lite answers `{"code": "BPE-003002", "message": "..."}` with the HTTP
//! status Oz documents for the code. Every vision error maps here and nowhere else.

use crate::wire::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oz_domain::lite::{LiteErrorKind, Processor};
use oz_vision::VisionError;

#[derive(Debug, Clone)]
pub struct LiteError {
    pub kind: LiteErrorKind,
    /// Set by handlers; `None` means "decide by the route" and defaults to biometry.
    pub processor: Processor,
    pub message: String,
    /// Overrides the status (413 for bodies over the limit).
    pub status: Option<StatusCode>,
}

impl LiteError {
    pub fn new(kind: LiteErrorKind, message: impl Into<String>) -> Self {
        Self { kind, processor: Processor::Biometry, message: message.into(), status: None }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(LiteErrorKind::Internal, message)
    }

    /// 503: every inference slot is taken (see [`crate::admission`]).
    #[must_use]
    pub fn busy() -> Self {
        Self::new(LiteErrorKind::Busy, "the server is busy analysing other media: retry later")
    }

    /// A request body the intake refused ([`crate::intake`]): 413 past the limit, 408 when it
    /// stopped arriving or came too slowly, 503 when memory or spool disk is spent.
    #[must_use]
    pub fn from_intake(e: &crate::intake::IntakeError, processor: Processor) -> Self {
        use crate::intake::IntakeError as E;
        e.count();
        let (kind, status) = match e {
            E::TooLarge { .. } => (LiteErrorKind::UnreadableSample, StatusCode::PAYLOAD_TOO_LARGE),
            E::TimedOut(_) => (LiteErrorKind::InvalidPart, StatusCode::REQUEST_TIMEOUT),
            E::Busy => return Self::busy().on(processor),
            E::Client(_) => (LiteErrorKind::InvalidPart, StatusCode::BAD_REQUEST),
            E::Io(m) => {
                tracing::error!(error = %m, "cannot spool a request body");
                return Self::internal("the request body could not be received").on(processor);
            }
        };
        let mut err = Self::new(kind, e.to_string()).on(processor);
        err.status = Some(status);
        err
    }

    /// The Lite body for an error answer that the router or an extractor made (unknown route,
    /// oversize body, rejected body, caught panic), keeping its status.
    #[must_use]
    pub fn for_status(status: StatusCode, path: &str, message: impl Into<String>) -> Self {
        use LiteErrorKind as K;
        let kind = match status.as_u16() {
            401 => K::Unauthorized,
            404 => K::NoRoute,
            405 => K::InvalidMethod,
            413 => K::UnreadableSample,
            415 => K::InvalidContentType,
            503 => K::Busy,
            s if s >= 500 => K::Internal,
            _ => K::InvalidPart,
        };
        let mut err = Self::new(kind, message).on(processor_of(path));
        err.status = Some(status);
        err
    }

    #[must_use]
    pub fn on(mut self, processor: Processor) -> Self {
        self.processor = processor;
        self
    }

    #[must_use]
    pub fn code(&self) -> &'static str {
        self.kind.code(self.processor)
    }

    /// Maps a vision error met while reading a sample (image or media).
    #[must_use]
    pub fn from_vision(e: &VisionError, what: &str) -> Self {
        use LiteErrorKind as K;
        let kind = match e {
            VisionError::NoFace => K::NoFace,
            VisionError::ManyFaces(_) => K::ManyFaces,
            VisionError::Template(_) => K::BadTemplateOrSample,
            VisionError::Model(_) => K::Internal,
            _ => K::UnreadableSample,
        };
        let mut err = Self::new(kind, format!("{what}: {e}"));
        match e {
            VisionError::FileTooLarge { .. } => err.status = Some(StatusCode::PAYLOAD_TOO_LARGE),
            VisionError::Busy => {
                err.kind = K::Internal;
                err.status = Some(StatusCode::SERVICE_UNAVAILABLE);
            }
            _ => {}
        }
        err
    }
}

/// The Lite processor a path belongs to: liveness under `/v1/face/liveness`, biometry otherwise.
#[must_use]
pub fn processor_of(path: &str) -> Processor {
    if path.contains("/face/liveness") { Processor::Liveness } else { Processor::Biometry }
}

impl IntoResponse for LiteError {
    fn into_response(self) -> Response {
        let status = self
            .status
            .unwrap_or_else(|| StatusCode::from_u16(self.kind.http_status()).unwrap_or(StatusCode::BAD_REQUEST));
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(code = self.code(), message = %self.message, "internal error");
        } else {
            tracing::debug!(code = self.code(), message = %self.message, "request refused");
        }
        let mut r =
            (status, Json(oz_wire::errors::LiteErrorBody { code: self.code().to_string(), message: self.message }))
                .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::admission::RETRY_AFTER_SECS));
        }
        r
    }
}
