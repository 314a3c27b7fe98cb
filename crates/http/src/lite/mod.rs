//! Oz API Lite: stateless biometry (`/v1/face/pattern/*`) and liveness (`/v1/face/liveness/*`),
//! with `Content-Transfer-Encoding: base64` in and out.

mod biometry;
pub(crate) mod folder;
/// Public for the fuzz targets (`Payload`, `analysis_specs`).
pub mod liveness;
/// Public for the fuzz targets (`decode_b64`, `read_multipart`).
pub mod parts;

use crate::wire::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oz_domain::lite::{LiteErrorKind, Processor};
use oz_wire::lite::{LiteHealth, LiteModel, LiteVersion};

use crate::api::auth::Auth;
use crate::apidoc::relocate;
use crate::error::{LiteError, processor_of};
use crate::state::{AppState, LiteAuth};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

/// The API Lite routes.
pub fn router() -> Router<AppState> {
    openapi_router().split_for_parts().0
}

/// Path of `health`'s OpenAPI description, moved to each processor's health route.
const HEALTH_TEMPLATE: &str = "/v1/face/HEALTH";

/// The API Lite routes with their OpenAPI description (`crate::openapi`). A route called with
/// another method answers Oz's `*-002002` (400) instead of 405.
pub fn openapi_router() -> OpenApiRouter<AppState> {
    let bpe = || async { method_not_allowed(Processor::Biometry) };
    let lde = || async { method_not_allowed(Processor::Liveness) };
    let health_at = |path: &str, suffix: &str| relocate(&routes!(health), HEALTH_TEMPLATE, path, suffix);
    let (s, p, m) = health_at("/v1/face/pattern/health", "_pattern");
    let pattern_health = (s, p, m.fallback(bpe));
    let (s, p, m) = health_at("/v1/face/liveness/health", "_liveness");
    let liveness_health = (s, p, m.fallback(lde));
    OpenApiRouter::new()
        .routes(routes!(version))
        .routes(pattern_health)
        .routes(fallback(routes!(biometry::extract), bpe))
        .routes(fallback(routes!(biometry::compare), bpe))
        .routes(fallback(routes!(biometry::verify), bpe))
        .routes(fallback(routes!(biometry::extract_and_compare), bpe))
        .routes(fallback(routes!(biometry::compare_n), bpe))
        .routes(fallback(routes!(biometry::verify_n), bpe))
        .routes(fallback(routes!(biometry::extract_and_compare_n), bpe))
        .routes(liveness_health)
        .routes(fallback(routes!(liveness::detect), lde))
}

fn fallback<H, T>(m: UtoipaMethodRouter<AppState>, handler: H) -> UtoipaMethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    let (s, p, m) = m;
    (s, p, m.fallback(handler))
}

/// `OZ_LITE_AUTH=token|service`: the inference routes need a valid `X-Forensic-Access-Token` of
/// the full API (of a service user for `service`), checked as the full API checks it. `/version`
/// and the health routes stay open for load balancers.
pub async fn access(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if st.lite.auth == LiteAuth::None || path == "/version" || path.ends_with("/health") {
        return next.run(req).await;
    }
    let processor = processor_of(path);
    let (mut parts, body) = req.into_parts();
    let auth = match Auth::from_request_parts(&mut parts, &st).await {
        Ok(a) => a,
        Err(e) if e.status.is_server_error() => {
            return LiteError::internal(format!("cannot check the token: {}", e.message)).on(processor).into_response();
        }
        Err(e) => return LiteError::new(LiteErrorKind::Unauthorized, e.message).on(processor).into_response(),
    };
    if st.lite.auth == LiteAuth::Service && !auth.user.is_service {
        return LiteError::new(LiteErrorKind::Unauthorized, "API Lite needs the token of a service user")
            .on(processor)
            .into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

fn method_not_allowed(p: Processor) -> Response {
    LiteError::new(LiteErrorKind::InvalidMethod, "invalid HTTP request method").on(p).into_response()
}

/// `GET /version`: component versions.
#[utoipa::path(
    get,
    path = "/version",
    operation_id = "lite_version",
    tag = "lite",
    summary = "API Lite component versions",
    responses((status = 200, description = "OK", body = oz_wire::lite::LiteVersion), crate::apidoc::LiteErrors)
)]
async fn version(State(st): State<AppState>) -> Json<LiteVersion> {
    let models = st
        .pipeline
        .model_versions()
        .iter()
        .map(|m| LiteModel { name: m.name.to_string(), version: m.version.to_string() })
        .collect();
    Json(LiteVersion {
        core: env!("CARGO_PKG_VERSION").to_string(),
        tfss: oz_vision::runtime::RUNTIME_NAME.to_string(),
        models,
    })
}

/// `GET .../health`: 0 when a real inference succeeds, 3 when the processor is inoperative.
#[utoipa::path(
    get,
    path = "/v1/face/HEALTH",
    operation_id = "lite_health",
    tag = "lite",
    summary = "Health of the processor (a real inference)",
    responses((status = 200, description = "OK", body = oz_wire::lite::LiteHealth), crate::apidoc::LiteErrors)
)]
async fn health(State(st): State<AppState>) -> Json<LiteHealth> {
    // A tiny inference that bypasses admission: health stays fast while inference is saturated.
    let probe = st.probe(|p| p.detect(&image::RgbImage::new(64, 64))).await;
    Json(match probe {
        Ok(Ok(_)) => LiteHealth { status: 0, message: String::new() },
        Ok(Err(e)) => LiteHealth { status: 3, message: e.to_string() },
        Err(e) => LiteHealth { status: 3, message: e.message },
    })
}
