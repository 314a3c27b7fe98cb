//! The OpenAPI 3.1 document of every route (full API and API Lite), built from the same
//! registrations as the router (`utoipa-axum`'s `OpenApiRouter` in [`crate::api::openapi_router`]
//! and [`crate::lite::openapi_router`]), so a route cannot exist without being documented.
//! `oz-server openapi` prints it; `docs/openapi.json` is that output (a test keeps them equal);
//! `/docs` serves it with Swagger UI ([`crate::docs`]).
//!
//! Paths of the full API are documented in Oz's canonical form, with a trailing slash
//! (`/api/folders/`); every one of them also answers without it.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub use crate::apidoc::TOKEN;

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
        // The JSON text of an upload form's `payload` part.
        crate::apidoc::schemas::UploadPayload,
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
        (name = "events", description = "SDK telemetry sessions (spec §15)"),
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
