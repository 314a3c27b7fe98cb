//! The body of a route that takes JSON, not uploads: read up to `OZ_MAX_JSON_BYTES`, more is
//! refused with 413 and the Oz error body (uploads have their own, larger limits).

use std::pin::Pin;

use axum::body::{Bytes, HttpBody};
use axum::extract::{FromRequest, Request};
use axum::http::header;

use super::error::ApiError;
use crate::state::AppState;

/// A JSON route's raw body, at most `OZ_MAX_JSON_BYTES`.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Bytes);

fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!("the JSON body is larger than {limit} bytes (OZ_MAX_JSON_BYTES)"))
        .with_details(serde_json::json!({ "limit": limit }))
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, ApiError> {
        // The smaller of the JSON cap and the whole-request cap (`OZ_MAX_REQUEST_BYTES`): this
        // extractor reads the body itself, so axum's DefaultBodyLimit does not apply to it.
        let limit = st.lite.max_json_bytes.min(usize::try_from(st.lite.max_request_bytes).unwrap_or(usize::MAX));
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        let mut body = req.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let frame = frame.map_err(|e| ApiError::structure(format!("cannot read the request body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if buf.len().saturating_add(data.len()) > limit {
                    return Err(too_large(limit));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(JsonBody(Bytes::from(buf)))
    }
}
