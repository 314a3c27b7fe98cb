//! Error bodies: the full API's `{error_code, error_message, details}` (spec §1.3) and API Lite's
//! `{code, message}` (spec §14).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Error body of the full API (`/api/...`, `/static/...`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"error_code": 10, "error_message": "Folder does not exist", "details": null}))]
pub struct ApiErrorBody {
    /// Oz error code: 0 unknown, 1 method not allowed, 2 not implemented, 3 structure, 4 value,
    /// 5 type, 6 token missing, 7 token invalid, 8 token expired, 9 forbidden, 10 not found,
    /// 11 retry later (ours), 13/14 OzCapsula container.
    pub error_code: i64,
    pub error_message: String,
    /// `null`, or more about the error (e.g. `{"retry_after": 2}`, `{"key": "video1"}`).
    #[schema(required = true, value_type = Option<Object>)]
    pub details: Value,
}

/// Error body of API Lite.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"code": "BPE-003002", "message": "sample: no face found"}))]
pub struct LiteErrorBody {
    /// `BPE-*` (biometry) or `LDE-*` (liveness) code of Oz's tables.
    pub code: String,
    pub message: String,
}
