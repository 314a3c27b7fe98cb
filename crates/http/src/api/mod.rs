//! The full Oz API (`/api/...`): accounts, folders, media, analyses, metadata, stored files.
//! Every path answers with and without a trailing slash.

pub mod accounts;
pub mod analyses;
pub mod auth;
pub mod body;
pub mod collections;
pub mod config;
pub mod decisions;
pub mod error;
pub mod folders;
pub mod instant;
pub mod lists;
pub mod meta;
pub mod query;
pub mod session_token;
pub mod stats;
pub mod throttle;
pub mod webhooks;

use crate::wire::Json;
use axum::Router;
use axum::routing::{MethodRouter, delete, get, post};
use serde_json::json;

use crate::state::AppState;

/// Registers `path` and `path/`.
fn both(r: Router<AppState>, path: &str, m: MethodRouter<AppState>) -> Router<AppState> {
    r.route(path, m.clone()).route(&format!("{path}/"), m)
}

pub fn router() -> Router<AppState> {
    let mut r = Router::new();
    r = both(r, "/api/version", get(version));
    r = both(r, "/api/config", get(config::config));
    r = both(r, "/api/statistics", get(stats::statistics));
    r = both(r, "/api/analyses", get(lists::analyses));
    r = both(r, "/api/media", get(lists::media));
    r = both(r, "/api/authorize/auth", post(auth::login));
    r = both(r, "/api/authorize/refresh", post(auth::refresh));
    r = both(r, "/api/authorize/logout", post(auth::logout));
    r = both(r, "/api/authorize/session_token", get(auth::session_token));
    r = both(r, "/api/instant/folders", post(instant::create));
    r = both(r, "/api/companies", get(accounts::list_companies).post(accounts::create_company));
    r = both(
        r,
        "/api/companies/{id}",
        get(accounts::get_company).patch(accounts::update_company).delete(accounts::delete_company),
    );
    r = both(
        r,
        "/api/companies/{id}/webhook_secret",
        get(webhooks::secret_status).post(webhooks::rotate_secret).delete(webhooks::delete_secret),
    );
    r = both(r, "/api/users", get(accounts::list_users).post(accounts::create_user));
    r = both(r, "/api/users/{id}", get(accounts::get_user).patch(accounts::update_user).delete(accounts::delete_user));
    r = both(r, "/api/users/{id}/sessions", delete(accounts::revoke_sessions));
    r = both(r, "/api/folders", get(folders::list).post(instant::create_folder));
    r = both(r, "/api/folders/{id}", get(folders::get_one).delete(folders::delete));
    r = both(r, "/api/folders/{id}/media", post(folders::add_media));
    r = both(r, "/api/folders/{id}/analyses", get(analyses::list_of_folder).post(analyses::create));
    r = both(r, "/api/analyses/{id}", get(analyses::get_one));
    r = both(r, "/api/analyses/{id}/resolution", get(decisions::of_analysis).post(decisions::decide));
    r = both(r, "/api/resolutions", get(decisions::list));
    r = both(r, "/api/media/{id}", get(folders::get_media).patch(folders::patch_media).delete(folders::delete_media));
    r = both(r, "/api/collections", get(collections::list).post(collections::create));
    r = both(r, "/api/collections/{id}", get(collections::get_one).delete(collections::delete));
    r = both(r, "/api/collections/{id}/persons", get(collections::list_persons).post(collections::create_person));
    r = both(
        r,
        "/api/collections/{id}/persons/{person_id}",
        get(collections::get_person).delete(collections::delete_person),
    );
    r = both(
        r,
        "/api/collections/{id}/persons/{person_id}/images",
        get(collections::list_images).post(collections::add_images),
    );
    r = both(
        r,
        "/api/collections/{id}/persons/{person_id}/images/{image_id}",
        get(collections::get_image).delete(collections::delete_image),
    );
    for kind in ["users", "folders", "media", "analyses", "collections"] {
        r = both(
            r,
            &format!("/api/{kind}/{{id}}/meta_data"),
            get(meta::get).post(meta::merge).patch(meta::merge).delete(meta::clear),
        );
    }
    r.route("/static/{file}", get(folders::file))
}

/// `GET /api/version`.
async fn version() -> Json<serde_json::Value> {
    Json(json!({ "version": OZ_COMPAT_VERSION, "name": "openoz", "openoz_version": env!("CARGO_PKG_VERSION") }))
}

/// The Oz API version whose behaviour we follow (single request and Instant mode arrived in
/// 6.0.1); clients that check the major version see 6. Ours is beside it as `openoz_version`.
pub const OZ_COMPAT_VERSION: &str = "6.0.1";
