//! The body of a route that takes JSON, not uploads: read up to `OZ_MAX_JSON_BYTES`, more is
//! refused with 413 and the Oz error body (uploads have their own, larger limits). Its bytes are
//! counted in the memory budget of request bodies while they are read.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use super::error::ApiError;
use crate::intake::MemoryGrant;
use crate::state::AppState;

/// A JSON body read as `T` (at most `OZ_MAX_JSON_BYTES`), its errors in Oz's codes
/// ([`ApiError::from_body`]).
#[derive(Debug, Clone)]
pub struct Typed<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for Typed<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, ApiError> {
        let JsonBody(b) = JsonBody::from_request(req, st).await?;
        parse(&b).map(Typed)
    }
}

/// A JSON body read as `T`, its errors in Oz's codes ([`ApiError::from_body`]).
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::from_body(&e))
}

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
        let limit = st.lite.max_json_bytes.min(usize::try_from(st.lite.max_request_bytes).unwrap_or(usize::MAX));
        read(st, req, limit).await.map(|(b, _)| JsonBody(b))
    }
}

/// Reads a JSON body of at most `limit` bytes (never more than `OZ_MAX_JSON_BYTES` and
/// `OZ_MAX_REQUEST_BYTES`): 413 past it, 408 when the body stops arriving, 503 when the memory
/// budget of request bodies ([`crate::intake`]) is spent. The grant keeps the bytes counted for as
/// long as the caller holds it.
pub async fn read(st: &AppState, req: Request, limit: usize) -> Result<(Bytes, MemoryGrant), ApiError> {
    read_capped(st, req, limit.min(st.lite.max_json_bytes), too_large).await
}

/// Reads a small binary body (a precheck frame) of at most `limit` bytes (and
/// `OZ_MAX_REQUEST_BYTES`), naming its `setting` in the 413: [`read`] without the JSON limit.
pub async fn read_upload(
    st: &AppState,
    req: Request,
    limit: usize,
    setting: &str,
) -> Result<(Bytes, MemoryGrant), ApiError> {
    read_capped(st, req, limit, |limit| {
        ApiError::too_large(format!("the body is larger than {limit} bytes ({setting})"))
            .with_details(serde_json::json!({ "limit": limit }))
    })
    .await
}

async fn read_capped(
    st: &AppState,
    req: Request,
    limit: usize,
    over: impl FnOnce(usize) -> ApiError,
) -> Result<(Bytes, MemoryGrant), ApiError> {
    let limit = limit.min(usize::try_from(st.lite.max_request_bytes).unwrap_or(usize::MAX));
    let declared = crate::intake::declared_length(req.headers());
    match crate::intake::read_small(&st.intake, req.into_body(), declared, limit as u64).await {
        Ok(Some(x)) => Ok(x),
        Ok(None) => Err(over(limit)),
        Err(e) => Err(ApiError::from_intake(&e)),
    }
}
