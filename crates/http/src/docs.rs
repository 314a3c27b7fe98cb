//! `/docs`: Swagger UI on the OpenAPI document of [`crate::openapi`], and the document itself at
//! `/docs/openapi.json`. The UI's files are compiled into the binary (`utoipa-swagger-ui` with
//! its `vendored` feature: the Swagger UI release packaged on crates.io, nothing downloaded at
//! build time). "Authorize" takes an `X-Forensic-Access-Token` for this page only: it is not
//! persisted (`persistAuthorization` off), so no token lands in `localStorage` on the origin the
//! console shares. Every answer carries a Content-Security-Policy (same-origin scripts, no
//! framing), `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff` and `no-referrer`.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// The policy of `/docs`: Swagger UI's scripts are its own files; it sets inline styles and uses
/// `data:` images, and "Try it out" calls this origin only.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// Where the UI is served.
pub const PATH: &str = "/docs";
/// Where the document is served.
pub const DOCUMENT: &str = "/docs/openapi.json";

/// The `/docs` routes.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let config = Config::new([DOCUMENT]).persist_authorization(false).try_it_out_enabled(true);
    let ui: Router<S> = SwaggerUi::new(PATH).url(DOCUMENT, crate::openapi::document()).config(config).into();
    ui.layer(axum::middleware::map_response(headers))
}

async fn headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}
