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
use axum::routing::{get, post};
use oz_domain::lite::{LiteErrorKind, Processor};
use serde_json::json;

use crate::api::auth::Auth;
use crate::error::{LiteError, processor_of};
use crate::state::{AppState, LiteAuth};

pub fn router() -> Router<AppState> {
    let bpe = || async { method_not_allowed(Processor::Biometry) };
    let lde = || async { method_not_allowed(Processor::Liveness) };
    Router::new()
        .route("/version", get(version))
        .route("/v1/face/pattern/health", get(health).fallback(bpe))
        .route("/v1/face/pattern/extract", post(biometry::extract).fallback(bpe))
        .route("/v1/face/pattern/compare", post(biometry::compare).fallback(bpe))
        .route("/v1/face/pattern/verify", post(biometry::verify).fallback(bpe))
        .route("/v1/face/pattern/extract_and_compare", post(biometry::extract_and_compare).fallback(bpe))
        .route("/v1/face/pattern/compare_n", post(biometry::compare_n).fallback(bpe))
        .route("/v1/face/pattern/verify_n", post(biometry::verify_n).fallback(bpe))
        .route("/v1/face/pattern/extract_and_compare_n", post(biometry::extract_and_compare_n).fallback(bpe))
        .route("/v1/face/liveness/health", get(health).fallback(lde))
        .route("/v1/face/liveness/detect", post(liveness::detect).fallback(lde))
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
async fn version(State(st): State<AppState>) -> Json<serde_json::Value> {
    let models: Vec<_> =
        st.pipeline.model_versions().iter().map(|m| json!({ "name": m.name, "version": m.version })).collect();
    Json(json!({
        "core": env!("CARGO_PKG_VERSION"),
        "tfss": oz_vision::runtime::RUNTIME_NAME,
        "models": models,
    }))
}

/// `GET .../health`: 0 when a real inference succeeds, 3 when the processor is inoperative.
async fn health(State(st): State<AppState>) -> Json<serde_json::Value> {
    // A tiny inference that bypasses admission: health stays fast while inference is saturated.
    let probe = st.probe(|p| p.detect(&image::RgbImage::new(64, 64))).await;
    match probe {
        Ok(Ok(_)) => Json(json!({ "status": 0, "message": "" })),
        Ok(Err(e)) => Json(json!({ "status": 3, "message": e.to_string() })),
        Err(e) => Json(json!({ "status": 3, "message": e.message })),
    }
}
