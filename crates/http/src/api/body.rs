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

/// A JSON body read as `T`, its errors in Oz's codes, naming the field
/// ([`ApiError::from_body`]).
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = serde_path_to_error::deserialize(&mut de).map_err(|e| ApiError::from_body_at(&e))?;
    de.end().map_err(|e| ApiError::from_body("", &e))?;
    Ok(v)
}

/// A part of a body already read as JSON (an upload's `payload`), read as `T` like [`parse`];
/// `path` names where it sits (`analyses`).
pub fn parse_value<T: serde::de::DeserializeOwned>(path: &str, v: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let inner = e.path().to_string();
        let full = if inner.is_empty() || inner == "." { path.to_string() } else { format!("{path}{inner}") };
        ApiError::from_body(&full, e.inner())
    })
}

/// A `meta_data` object of a request (absent or null: `{}`), within the caps of
/// [`oz_domain::caps::meta_data`]; `what` names it in the error.
pub fn meta_data(
    what: &str,
    m: Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<serde_json::Value, ApiError> {
    let v = serde_json::Value::Object(m.unwrap_or_default());
    oz_domain::caps::meta_data(what, &v)?;
    Ok(v)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apidoc::schemas::{AnalysesRequest, LoginRequest};

    fn refused<T: serde::de::DeserializeOwned + std::fmt::Debug>(body: &str) -> (i64, String) {
        let e = parse::<T>(body.as_bytes()).expect_err(body);
        (e.code, e.message)
    }

    /// Oz's codes, with the field named: 3 structure, 5 type, 4 value.
    #[test]
    fn body_errors_name_the_field_in_oz_codes() {
        let (code, m) = refused::<LoginRequest>("{}");
        assert_eq!((code, m.as_str()), (3, "Could not locate field for key_path credentials from provided dict data"));
        let (code, m) = refused::<LoginRequest>(r#"{"credentials": {"email": "a@b.c"}}"#);
        assert_eq!(code, 3);
        assert!(m.contains("key_path credentials.password"), "{m}");
        let (code, m) =
            refused::<AnalysesRequest>(r#"{"analyses": [{"type": "quality", "params": {"threshold_spoofing": "x"}}]}"#);
        assert_eq!(code, 5);
        assert!(m.starts_with("analyses[0].params.threshold_spoofing: invalid type"), "{m}");
        let (code, m) = refused::<AnalysesRequest>(r#"{"analyses": [{"type": "quality", "params": [1]}]}"#);
        assert_eq!((code, m.as_str()), (5, "analyses[0].params: must be an object"));
        let (code, m) =
            refused::<AnalysesRequest>(r#"{"analyses": [{"type": "collection", "params": {"decision_count": -1}}]}"#);
        assert_eq!(code, 4, "{m}");
        assert!(m.starts_with("analyses[0].params.decision_count"), "{m}");
        assert_eq!(refused::<AnalysesRequest>("{not json").0, 3);
        assert_eq!(refused::<AnalysesRequest>(r#"{"analyses": []} trailing"#).0, 3);
        assert!(parse::<AnalysesRequest>(br#"{"analyses": [], "unknown": 1}"#).is_ok(), "other keys are ignored");
    }
}
