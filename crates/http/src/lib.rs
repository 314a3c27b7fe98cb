//! HTTP layer of openoz: axum routers that speak the Oz wire format.
//!
//! - [`lite`]: Oz API Lite (`/version`, `/v1/face/pattern/*`, `/v1/face/liveness/*`), stateless.
//! - [`api`]: the full Oz API (`/api/...`): accounts, folders, media, analyses, metadata.
//! - [`error`]: Lite error bodies; [`api::error`] full API error bodies; [`outer`]: Oz bodies for
//!   what the router itself answers (404, 405, 413, rejections, panics).
//! - [`admission`]: the bounded gate in front of media decoding and analysis.
//! - [`wire`]: Oz's JSON bytes (Python separators) for every JSON answer.
//! - [`openapi`]: the OpenAPI 3.1 document of every route; [`docs`]: `/docs` (Swagger UI).
//! - [`console`]: `/console`, the web console (embedded single-page app on the full API).
//! - [`observe`]: request ids, request logs, Prometheus `/metrics`.
//!
//! Handlers are thin: they read the request, run the CPU-bound pipeline on a blocking thread and
//! shape the JSON. Rules (decisions, verdicts, statuses) live in `oz-domain`.

pub mod admission;
pub mod api;
pub mod console;
pub mod docs;
pub mod error;
pub mod lite;
pub mod observe;
pub mod openapi;
pub mod outer;
pub mod state;
pub mod wire;

use axum::Router;

pub use admission::{Admission, AdmissionConfig};
pub use state::{ApiConfig, AppState, FullApi, InstantAuth, LiteAuth, LiteConfig};

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let body_limit = usize::try_from(state.lite.max_request_bytes).unwrap_or(usize::MAX);
    let mut routes = Router::new();
    // OZ_LITE=off: the Lite routes are not mounted and answer 404 like any unknown path.
    if state.lite.enabled {
        let mut lite = lite::router();
        if state.lite.auth != LiteAuth::None {
            lite = lite.route_layer(axum::middleware::from_fn_with_state(state.clone(), lite::access));
        }
        routes = routes.merge(lite);
    }
    observe::recorder();
    let mut routes = routes.merge(api::router()).merge(docs::router());
    if state.full.is_some() && state.console.enabled {
        routes = routes.merge(console::router(state.console.clone()));
    }
    if state.metrics.on_main {
        routes = routes.merge(observe::metrics_routes());
    }
    observe::instrument(outer::harden(routes.with_state(state), body_limit))
}

/// Serves `app` on `listener` until `shutdown` resolves. Handlers see the TCP peer address
/// (`ConnectInfo<SocketAddr>`), the client address of login throttling.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
