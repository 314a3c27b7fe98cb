//! HTTP layer of openoz: axum routers that speak the Oz wire format.
//!
//! - [`lite`]: Oz API Lite (`/version`, `/v1/face/pattern/*`, `/v1/face/liveness/*`), stateless.
//! - [`api`]: the full Oz API (`/api/...`): accounts, folders, media, analyses, metadata.
//! - [`error`]: Lite error bodies; [`api::error`] full API error bodies; [`outer`]: Oz bodies for
//!   what the router itself answers (404, 405, 413, rejections, panics).
//! - [`admission`]: the bounded gate in front of media decoding and analysis.
//! - [`intake`]: what a connection or a body may cost before any handler work (connection cap,
//!   header and body deadlines, the memory budget of request bodies, upload spooling).
//! - [`wire`]: Oz's JSON bytes (Python separators) for every JSON answer.
//! - [`openapi`]: the OpenAPI 3.1 document of every route (the schemas and error answers the
//!   routes name are in [`apidoc`], below the handlers); [`docs`]: `/docs` (Swagger UI).
//! - [`console`]: `/console`, the web console (embedded single-page app on the full API).
//! - [`capture`]: `/sdk/openoz-capture.js` and `/capture/`, the web liveness capture (challenges).
//! - [`landing`]: `GET /`, a page of links for a browser (API clients get Oz's 404 as before).
//! - [`observe`]: request ids, request logs, Prometheus `/metrics`.
//!
//! Handlers are thin: they read the request, run the CPU-bound pipeline on a blocking thread and
//! shape the JSON. Rules (decisions, verdicts, statuses) live in `oz-domain`.

pub mod admission;
pub mod api;
pub mod apidoc;
pub mod capture;
pub mod console;
pub mod docs;
pub mod error;
pub mod intake;
pub mod landing;
pub mod lite;
pub mod observe;
pub mod openapi;
pub mod outer;
pub mod state;
pub mod wire;

use axum::Router;

pub use admission::{Admission, AdmissionConfig};
pub use intake::{Intake, IntakeConfig};
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
    if state.full.is_some() && state.capture.enabled {
        routes = routes.merge(capture::router(state.capture.clone()));
    }
    let parts = landing::Parts {
        console: state.full.is_some() && state.console.enabled,
        capture: state.full.is_some() && state.capture.enabled,
    };
    routes = routes.route(
        "/",
        axum::routing::any(move |m: axum::http::Method, h: axum::http::HeaderMap| async move {
            landing::answer(&m, &h, parts)
        }),
    );
    let cors = capture::cors(&state.capture);
    if state.metrics.on_main {
        routes = routes.merge(observe::metrics_routes());
    }
    let pacing = intake::Pacing::from(state.intake.config());
    let mut app = outer::harden(routes.with_state(state), body_limit, pacing);
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    observe::instrument(app)
}

/// Serves `app` on `listener` until `shutdown` resolves, with hyper's own connection builder:
/// at most `OZ_MAX_CONNECTIONS` connections (one more is closed as soon as it is accepted), request
/// headers within `OZ_HEADER_TIMEOUT_S`, and a connection with no request in flight that moves no
/// byte for the idle limit is closed ([`intake::Activity`]). Handlers see the TCP peer address
/// (`ConnectInfo<SocketAddr>`), the client address of login throttling. On shutdown the listener
/// closes, and connections finish their requests (at most 30 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::ServiceExt;

    let cfg = state.intake.config().clone();
    let idle = cfg.header_timeout.max(cfg.body_idle_timeout);
    let app = app(state);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(cfg.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    // hyper's read buffer grows to ~400 KiB per connection under a fast body by default; 64 KiB
    // keeps a thousand busy connections within 64 MiB (and caps request heads at 64 KiB: 431).
    builder.http1().timer(TokioTimer::new()).header_read_timeout(cfg.header_timeout).max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(cfg.header_timeout))
        .keep_alive_timeout(cfg.header_timeout)
        .max_concurrent_streams(32);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else {
            metrics::counter!(observe::CONNECTIONS_REFUSED).increment(1);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let activity = std::sync::Arc::new(intake::Activity::default());
        let on_conn = std::sync::Arc::clone(&activity);
        let service = hyper::service::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            let in_flight = on_conn.request();
            let answer = app.clone().oneshot(req.map(axum::body::Body::new));
            async move {
                let res = answer.await;
                drop(in_flight);
                res
            }
        });
        let io = TokioIo::new(intake::TrackedIo::new(stream, std::sync::Arc::clone(&activity)));
        let conn = graceful.watch(builder.serve_connection_with_upgrades(io, service).into_owned());
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut tick = tokio::time::interval(idle.min(std::time::Duration::from_secs(1)));
            loop {
                tokio::select! {
                    _ = &mut conn => break,
                    _ = tick.tick() => {
                        // Nothing in flight and nothing moved: dropping the connection closes it.
                        if activity.idle_past(idle) {
                            break;
                        }
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), graceful.shutdown()).await;
    Ok(())
}
