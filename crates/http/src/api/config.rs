//! `GET /api/config` (Oz 5.2.0: "check the timezone settings"). Oz does not publish the body; ours
//! says how this server keeps and reads times, which never changes: UTC, UNIX epoch seconds.

use crate::wire::Json;

use super::auth::Auth;

/// `GET /api/config`: any signed-in user.
#[utoipa::path(
    get,
    path = "/api/config/",
    operation_id = "api_config",
    tag = "system",
    summary = "Server time conventions",
    security(("token" = [])),
    responses((status = 200, description = "OK", body = crate::apidoc::schemas::ApiConfig), crate::apidoc::ApiErrors)
)]
pub async fn config(_auth: Auth) -> Json<crate::apidoc::schemas::ApiConfig> {
    Json(crate::apidoc::schemas::ApiConfig {
        timezone: "UTC".into(),
        tz_offset: 0,
        utc_offset: "+00:00".into(),
        time_format: "unix_seconds".into(),
        version: super::OZ_COMPAT_VERSION.into(),
    })
}
