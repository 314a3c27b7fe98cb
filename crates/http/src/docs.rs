//! `/docs`: Swagger UI on the OpenAPI document of [`crate::openapi`], and the document itself at
//! `/docs/openapi.json`. The UI's files are compiled into the binary (`utoipa-swagger-ui` with
//! its `vendored` feature: the Swagger UI release packaged on crates.io, nothing downloaded at
//! build time). "Authorize" takes an `X-Forensic-Access-Token`, kept across reloads
//! (`persistAuthorization`).

use axum::Router;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the UI is served.
pub const PATH: &str = "/docs";
/// Where the document is served.
pub const DOCUMENT: &str = "/docs/openapi.json";

/// The `/docs` routes.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let config = Config::new([DOCUMENT]).persist_authorization(true).try_it_out_enabled(true);
    SwaggerUi::new(PATH).url(DOCUMENT, crate::openapi::document()).config(config).into()
}
