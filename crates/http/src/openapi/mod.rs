//! The OpenAPI 3.1 document of every route (full API and API Lite), built from the same
//! registrations as the router (`utoipa-axum`'s `OpenApiRouter` in [`crate::api::openapi_router`]
//! and [`crate::lite::openapi_router`]), so a route cannot exist without being documented.
//! `oz-server openapi` prints it; `docs/openapi.json` is that output (a test keeps them equal);
//! `/docs` serves it with Swagger UI ([`crate::docs`]).
//!
//! Paths of the full API are documented in Oz's canonical form, with a trailing slash
//! (`/api/folders/`); every one of them also answers without it.

pub mod params;
pub mod schemas;

use std::collections::BTreeMap;

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_axum::router::UtoipaMethodRouter;

use crate::state::AppState;

/// Name of the security scheme (`X-Forensic-Access-Token`).
pub const TOKEN: &str = "token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "openoz",
        description = "Oz Forensics API (full API under `/api`, API Lite under `/v1/face` and `/version`) \
                       as served by openoz. Authenticate with `POST /api/authorize/auth/` and send the \
                       `access_token` as `X-Forensic-Access-Token`. See docs/API.md for the choices \
                       made where Oz is silent.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Security),
    components(schemas(
        oz_wire::errors::ApiErrorBody,
        oz_wire::errors::LiteErrorBody,
        // Named by the `schema_with` functions of results_data and confs.
        oz_wire::results::QualityConfs,
        oz_wire::results::BiometryConfs,
        oz_wire::results::CollectionConfs,
        oz_wire::results::QualityResult,
        oz_wire::results::BiometryResult,
        oz_wire::results::CollectionResult,
        oz_wire::results::CollectionMediaResult,
    )),
    tags(
        (name = "system", description = "Versions, configuration, statistics"),
        (name = "auth", description = "Login, refresh, logout, session tokens"),
        (name = "accounts", description = "Companies and users"),
        (name = "folders", description = "Folders and uploads"),
        (name = "media", description = "Media and stored files"),
        (name = "analyses", description = "Analyses and operator decisions"),
        (name = "collections", description = "Collections (1:N watch lists), persons, photos"),
        (name = "meta_data", description = "meta_data of users, folders, media, analyses, collections"),
        (name = "instant", description = "Instant API: upload and analyse in one request, nothing stored"),
        (name = "liveness", description = "Liveness challenges: random actions a recording cannot perform (our extension)"),
        (name = "lite", description = "API Lite: stateless biometry and liveness"),
    )
)]
struct Base;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Forensic-Access-Token",
                "access_token of POST /api/authorize/auth/",
            ))),
        );
    }
}

fn error_response(description: &str, schema: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
        .build()
        .into()
}

/// The error answers every full-API route can give (body `ApiErrorBody`).
pub struct ApiErrors;

impl IntoResponses for ApiErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "Invalid request (error codes 3, 4, 5)"),
            ("401", "Token missing (6), invalid (7) or expired (8)"),
            ("403", "Not permitted (9)"),
            ("404", "No such object, or not the caller's (10)"),
            ("default", "Other errors: 405 (1), 409, 413 (4), 429 / 503 (11, with Retry-After), 500 (0), 501 (2)"),
        ]
        .into_iter()
        .map(|(status, d)| (status.to_string(), error_response(d, "ApiErrorBody")))
        .collect()
    }
}

/// The error answers of API Lite routes (body `LiteErrorBody`).
pub struct LiteErrors;

impl IntoResponses for LiteErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "Invalid request, unreadable sample or template, no face (BPE-*/LDE-* codes)"),
            ("401", "OZ_LITE_AUTH is on and the token is missing or not accepted (BPE-002006 / LDE-002006)"),
            ("default", "Other errors: 404, 413, 500 (*-001001), 503 (busy, Retry-After)"),
        ]
        .into_iter()
        .map(|(status, d)| (status.to_string(), error_response(d, "LiteErrorBody")))
        .collect()
    }
}

/// The whole document.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    doc.merge(crate::api::openapi_router().into_openapi());
    doc.merge(crate::lite::openapi_router().into_openapi());
    doc
}

/// The document as pretty-printed JSON with a final newline (the text of `docs/openapi.json`).
#[must_use]
pub fn json() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}

/// Moves the documented path of `m` (registered by `#[utoipa::path]` at `from`) to `to`, with
/// `suffix` appended to its operation ids: one handler serving several paths. Where one handler
/// serves several methods (`method(post, patch)`), the later methods' ids also get `_{method}`, so
/// operation ids stay unique.
pub(crate) fn relocate(
    m: &UtoipaMethodRouter<AppState>,
    from: &str,
    to: &str,
    suffix: &str,
) -> UtoipaMethodRouter<AppState> {
    let (schemas, paths, method) = m;
    let mut paths = paths.clone();
    if let Some(mut item) = paths.paths.shift_remove(from) {
        let mut seen = Vec::new();
        for (name, op) in operations(&mut item) {
            if let Some(id) = op.operation_id.as_mut() {
                if seen.contains(id) {
                    id.push('_');
                    id.push_str(name);
                } else {
                    seen.push(id.clone());
                }
                id.push_str(suffix);
            }
        }
        paths.paths.insert(to.to_string(), item);
    }
    (schemas.clone(), paths, method.clone())
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(name, op)| op.as_mut().map(|op| (name, op)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_with_the_token_scheme() {
        let v = serde_json::to_value(document()).expect("serializes");
        assert_eq!(v["openapi"], "3.1.0");
        let scheme = &v["components"]["securitySchemes"][TOKEN];
        assert_eq!(scheme["type"], "apiKey");
        assert_eq!(scheme["in"], "header");
        assert_eq!(scheme["name"], "X-Forensic-Access-Token");
    }
}
