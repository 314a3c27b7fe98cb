//! The full Oz API (`/api/...`): accounts, folders, media, analyses, metadata, stored files.
//! Every path answers with and without a trailing slash.

pub mod accounts;
pub mod analyses;
pub mod auth;
pub mod body;
pub mod challenges;
pub mod collections;
pub mod config;
pub mod decisions;
pub mod error;
pub mod events;
pub mod folders;
pub mod instant;
pub mod lists;
pub mod meta;
pub mod precheck;
pub mod query;
pub mod session_token;
pub mod stats;
pub mod throttle;
pub mod webhooks;

use crate::wire::Json;
use axum::Router;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::apidoc::{ApiErrors, relocate, schemas};
use crate::state::AppState;

/// Registers the documented path of `m` (`/api/.../`) and, undocumented, the same path without
/// its trailing slash.
fn both(r: OpenApiRouter<AppState>, m: UtoipaMethodRouter<AppState>) -> OpenApiRouter<AppState> {
    let mut r = r;
    for path in m.1.paths.keys() {
        if let Some(bare) = path.strip_suffix('/') {
            r = r.route(bare, m.2.clone());
        }
    }
    r.routes(m)
}

/// The full API's routes.
pub fn router() -> Router<AppState> {
    openapi_router().split_for_parts().0
}

/// The full API's routes with their OpenAPI description (`crate::openapi`).
pub fn openapi_router() -> OpenApiRouter<AppState> {
    let mut r = OpenApiRouter::new();
    r = both(r, routes!(version));
    r = both(r, routes!(config::config));
    r = both(r, routes!(stats::statistics));
    r = both(r, routes!(lists::analyses));
    r = both(r, routes!(lists::media));
    r = both(r, routes!(auth::login));
    r = both(r, routes!(auth::refresh));
    r = both(r, routes!(auth::logout));
    r = both(r, routes!(auth::session_token));
    r = both(r, routes!(instant::create));
    r = both(r, routes!(challenges::create));
    r = both(r, routes!(precheck::precheck));
    r = both(r, routes!(events::list, events::create));
    r = both(r, routes!(events::get_one));
    r = both(r, routes!(events::append));
    r = both(r, routes!(accounts::list_companies, accounts::create_company));
    r = both(r, routes!(accounts::get_company, accounts::update_company, accounts::delete_company));
    r = both(r, routes!(webhooks::secret_status, webhooks::rotate_secret, webhooks::delete_secret));
    r = both(r, routes!(accounts::list_users, accounts::create_user));
    r = both(r, routes!(accounts::get_user, accounts::update_user, accounts::delete_user));
    r = both(r, routes!(accounts::revoke_sessions));
    r = both(r, routes!(folders::list, instant::create_folder));
    r = both(r, routes!(folders::get_one, folders::delete));
    r = both(r, routes!(folders::add_media));
    r = both(r, routes!(webhooks::folder_deliveries));
    r = both(r, routes!(analyses::list_of_folder, analyses::create));
    r = both(r, routes!(analyses::get_one));
    r = both(r, routes!(decisions::of_analysis, decisions::decide));
    r = both(r, routes!(decisions::list));
    r = both(r, routes!(folders::get_media, folders::patch_media, folders::delete_media));
    r = both(r, routes!(collections::list, collections::create));
    r = both(r, routes!(collections::get_one, collections::delete));
    r = both(r, routes!(collections::list_persons, collections::create_person));
    r = both(r, routes!(collections::get_person, collections::delete_person));
    r = both(r, routes!(collections::list_images, collections::add_images));
    r = both(r, routes!(collections::get_image, collections::delete_image));
    // One set of handlers serves the meta_data of five kinds of objects: documented per path.
    let meta = routes!(meta::get, meta::merge, meta::clear);
    for kind in meta::KINDS {
        r = both(r, relocate(&meta, meta::TEMPLATE, &format!("/api/{kind}/{{id}}/meta_data/"), &format!("_{kind}")));
    }
    r.routes(routes!(folders::file))
}

/// `GET /api/version`.
#[utoipa::path(get, path = "/api/version/", operation_id = "api_version", tag = "system",
    responses((status = 200, description = "Versions", body = schemas::ApiVersion), ApiErrors))]
async fn version() -> Json<schemas::ApiVersion> {
    Json(schemas::ApiVersion {
        version: OZ_COMPAT_VERSION.into(),
        name: "openoz".into(),
        openoz_version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// The Oz API version whose behaviour we follow (single request and Instant mode arrived in
/// 6.0.1); clients that check the major version see 6. Ours is beside it as `openoz_version`.
pub const OZ_COMPAT_VERSION: &str = "6.0.1";
