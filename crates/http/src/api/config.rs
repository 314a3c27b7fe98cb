//! `GET /api/config` (Oz 5.2.0: "check the timezone settings"). Oz does not publish the body; ours
//! says how this server keeps and reads times, which never changes (UTC, UNIX epoch seconds), and
//! what an upload may hold, so a client (the console) checks files before sending them.

use axum::extract::State;

use super::auth::Auth;
use super::error::ApiResult;
use crate::apidoc::schemas::{ApiConfig, UploadLimits};
use crate::state::AppState;
use crate::wire::Json;

/// The media types an upload may hold (what `oz_vision::media::sniff` recognises: JPEG, PNG, the
/// ISO-BMFF, Matroska/WebM and AVI containers, zip shot sets).
const MEDIA_TYPES: [&str; 8] = [
    "image/jpeg",
    "image/png",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-matroska",
    "video/x-msvideo",
    "application/zip",
];

/// `GET /api/config`: any signed-in user.
#[utoipa::path(
    get,
    path = "/api/config/",
    operation_id = "api_config",
    tag = "system",
    summary = "Server time conventions and upload limits",
    security(("token" = [])),
    responses((status = 200, description = "OK", body = crate::apidoc::schemas::ApiConfig), crate::apidoc::ApiErrors)
)]
pub async fn config(State(st): State<AppState>, _auth: Auth) -> ApiResult<Json<ApiConfig>> {
    let api = st.api()?;
    Ok(Json(ApiConfig {
        timezone: "UTC".into(),
        tz_offset: 0,
        utc_offset: "+00:00".into(),
        time_format: "unix_seconds".into(),
        version: super::OZ_COMPAT_VERSION.into(),
        uploads: UploadLimits {
            max_file_bytes: api.cfg.attachment_max_size.min(st.pipeline.limits().max_file_bytes),
            max_files: api.cfg.attachment_max_count,
            max_request_bytes: st.lite.max_request_bytes,
            media_types: MEDIA_TYPES.iter().map(|t| (*t).to_string()).collect(),
        },
    }))
}
