//! Observability of the HTTP layer: request ids, request logs and Prometheus metrics.
//!
//! - Every request gets an id: the client's `X-Request-Id` when it is sane (1 to
//!   [`MAX_REQUEST_ID_LEN`] printable ASCII characters), else a fresh UUID. It is answered in the
//!   `X-Request-Id` header, is a field of the request's log span (so every log line of the request
//!   carries `request_id`), and handlers read it with [`request_id`] to store it with the jobs they
//!   queue (the worker's span logs it too, in whatever process runs the job).
//! - `/metrics` renders the process's [`recorder`] in the Prometheus text format. HTTP series are
//!   labelled by route template (axum's `MatchedPath`, never the raw path), method and status.
//!   Queue gauges are read from the database at each scrape, so every process on one PostgreSQL
//!   reports the same queue. Optional protection: a Bearer token ([`MetricsConfig::token`]) and a
//!   listener of its own ([`metrics_app`]).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::state::AppState;

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest client-sent request id kept; longer ones are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// The `route` label of requests that matched no route (404s of unknown paths).
pub const UNMATCHED: &str = "unmatched";

/// Counter: HTTP requests by `method`, `route` (template) and `status`.
pub const HTTP_REQUESTS: &str = "openoz_http_requests_total";
/// Histogram: HTTP request duration (to the response head), seconds, same labels.
pub const HTTP_DURATION: &str = "openoz_http_request_duration_seconds";
/// Gauge: HTTP requests being answered now.
pub const HTTP_IN_FLIGHT: &str = "openoz_http_requests_in_flight";
/// Counter: requests refused by the admission gate (503), by `reason` (`queue_full`, `timeout`).
pub const ADMISSION_REJECTIONS: &str = "openoz_admission_rejections_total";
/// Counter: connections closed at accept because `OZ_MAX_CONNECTIONS` were open.
pub const CONNECTIONS_REFUSED: &str = "openoz_connections_refused_total";
/// Counter: request bodies cut off or refused by the intake, by `reason` (`idle`, `too_slow`,
/// `total`, `memory_or_disk`).
pub const BODIES_REFUSED: &str = "openoz_request_bodies_refused_total";
/// Gauge: requests holding an inference slot now.
pub const ADMISSION_IN_FLIGHT: &str = "openoz_admission_in_flight";
/// Counter: logins refused before hashing, by `reason` (`address_rate`, `email_rate`, `hash_busy`).
pub const LOGIN_THROTTLED: &str = "openoz_login_throttled_total";
/// Counter: analyses queued by the API, by `type`.
pub const ANALYSES_CREATED: &str = "openoz_analyses_created_total";
pub const CHALLENGES_ISSUED: &str = "openoz_liveness_challenges_issued_total";
/// Gauges read from the database at each scrape: jobs by `state` (`queued`, `running`).
pub const QUEUE_JOBS: &str = "openoz_queue_jobs";
/// Gauge: age of the oldest queued job, seconds (0 when the queue is empty).
pub const QUEUE_OLDEST: &str = "openoz_queue_oldest_job_age_seconds";
/// Gauge: webhook deliveries still pending (not delivered, not given up).
pub const WEBHOOKS_PENDING: &str = "openoz_webhook_deliveries_pending";
/// Counter: scrapes whose database read failed (the queue gauges kept their last values).
pub const QUEUE_SCRAPE_ERRORS: &str = "openoz_queue_scrape_errors_total";
/// Gauge: 1, labelled with the server `version`.
pub const BUILD_INFO: &str = "openoz_build_info";

/// Seconds: HTTP requests (sub-millisecond reads to a minute-long single request).
const HTTP_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];
/// Seconds: analyses, queue waits and webhook attempts.
const LONG_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0];
/// Seconds: one model run or decode stage.
const SHORT_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// `/metrics` settings.
#[derive(Clone)]
pub struct MetricsConfig {
    /// `OZ_METRICS_TOKEN`: when set, `/metrics` needs `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// False when `/metrics` has a listener of its own (`OZ_METRICS_LISTEN`): the main listener
    /// then answers it 404.
    pub on_main: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { token: None, on_main: true }
    }
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("on_main", &self.on_main)
            .finish()
    }
}

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed as the global `metrics` recorder at the first
/// call. Histograms get explicit buckets (seconds), so they render as Prometheus histograms.
pub fn recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let mut builder = PrometheusBuilder::new();
        let buckets: [(Matcher, &[f64]); 4] = [
            (Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS),
            (Matcher::Full(oz_vision::INFERENCE_SECONDS.into()), SHORT_BUCKETS),
            (Matcher::Full(oz_vision::VIDEO_DECODE_SECONDS.into()), SHORT_BUCKETS),
            // Analyses, job waits, webhook attempts, media decodes.
            (Matcher::Suffix("_seconds".into()), LONG_BUCKETS),
        ];
        for (m, b) in buckets {
            builder = builder.set_buckets_for_metric(m, b).expect("bucket lists are not empty");
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics shows nothing");
        }
        describe();
        handle
    })
}

/// HELP lines, and the counters with a closed label set registered at zero, so dashboards and
/// alerts see them before the first event.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    use oz_engine::observe as e;
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route template and status.");
    describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, "HTTP request duration (to the response head).");
    describe_gauge!(HTTP_IN_FLIGHT, "HTTP requests being answered now.");
    describe_counter!(ADMISSION_REJECTIONS, "Requests refused by the admission gate (503), by reason.");
    describe_gauge!(ADMISSION_IN_FLIGHT, "Requests holding an inference slot now.");
    describe_counter!(CONNECTIONS_REFUSED, "Connections closed at accept: OZ_MAX_CONNECTIONS were open.");
    describe_counter!(BODIES_REFUSED, "Request bodies cut off (idle, too_slow, total) or refused (memory_or_disk).");
    describe_counter!(LOGIN_THROTTLED, "Logins refused by throttling before hashing, by reason.");
    describe_counter!(ANALYSES_CREATED, "Analyses queued by the API, by type.");
    describe_counter!(CHALLENGES_ISSUED, "Liveness challenges issued.");
    describe_gauge!(QUEUE_JOBS, "Jobs in the durable queue by state (read from the database at each scrape).");
    describe_gauge!(QUEUE_OLDEST, "Age of the oldest queued job, seconds (read from the database).");
    describe_gauge!(WEBHOOKS_PENDING, "Webhook deliveries pending (read from the database).");
    describe_counter!(QUEUE_SCRAPE_ERRORS, "Scrapes whose database read of the queue failed.");
    describe_gauge!(BUILD_INFO, "Always 1; the label tells the server version.");
    describe_counter!(e::ANALYSES_STARTED, "Analyses a worker of this process began running (each attempt), by type.");
    describe_counter!(e::ANALYSES_FINISHED, "Analyses finished by this process's workers, by type and resolution.");
    describe_counter!(e::ANALYSES_EXPIRED, "Analyses failed by the expiry sweep.");
    describe_histogram!(
        e::ANALYSIS_DURATION,
        metrics::Unit::Seconds,
        "Running time of an analysis in a worker, by type."
    );
    describe_histogram!(e::ANALYSIS_LATENCY, metrics::Unit::Seconds, "From queued to result recorded, by type.");
    describe_histogram!(e::JOB_WAIT, metrics::Unit::Seconds, "Time a job waited in the queue before its first claim.");
    describe_counter!(e::WEBHOOK_DELIVERIES, "Webhook attempts by outcome (delivered, retry, gave_up, refused).");
    describe_histogram!(e::WEBHOOK_SECONDS, metrics::Unit::Seconds, "Time of one webhook attempt.");
    describe_counter!(e::DECODE_CACHE, "Decode-cache look-ups of analyses, by result (hit, miss).");
    describe_histogram!(oz_vision::INFERENCE_SECONDS, metrics::Unit::Seconds, "One model inference, by model role.");
    describe_histogram!(oz_vision::MEDIA_DECODE_SECONDS, metrics::Unit::Seconds, "Decoding one upload, by kind.");
    describe_histogram!(
        oz_vision::VIDEO_DECODE_SECONDS,
        metrics::Unit::Seconds,
        "Video decode stages (open, decode, convert)."
    );
    for reason in ["queue_full", "timeout"] {
        metrics::counter!(ADMISSION_REJECTIONS, "reason" => reason).absolute(0);
    }
    metrics::counter!(CONNECTIONS_REFUSED).absolute(0);
    for reason in ["idle", "too_slow", "total", "memory_or_disk"] {
        metrics::counter!(BODIES_REFUSED, "reason" => reason).absolute(0);
    }
    for reason in ["address_rate", "email_rate", "hash_busy"] {
        metrics::counter!(LOGIN_THROTTLED, "reason" => reason).absolute(0);
    }
    for outcome in ["delivered", "retry", "gave_up", "refused"] {
        metrics::counter!(e::WEBHOOK_DELIVERIES, "outcome" => outcome).absolute(0);
    }
    for result in ["hit", "miss"] {
        metrics::counter!(e::DECODE_CACHE, "result" => result).absolute(0);
    }
    metrics::counter!(e::ANALYSES_EXPIRED).absolute(0);
    metrics::counter!(QUEUE_SCRAPE_ERRORS).absolute(0);
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// Drains histogram samples into their buckets; run it every few seconds where `/metrics` may
/// go unscraped for long (a worker process), so memory stays bounded.
pub fn upkeep() {
    recorder().run_upkeep();
}

// ---- request ids --------------------------------------------------------------------------

/// True for a request id we keep: 1 to [`MAX_REQUEST_ID_LEN`] printable ASCII characters, no
/// spaces (it goes into log lines and a response header unchanged).
#[must_use]
pub fn valid_request_id(v: &[u8]) -> bool {
    !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN && v.iter().all(u8::is_ascii_graphic)
}

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being handled (for handlers that queue work), `None` outside a request.
#[must_use]
pub fn request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok().filter(|s| !s.is_empty())
}

/// Drops a client `X-Request-Id` that is not [`valid_request_id`] (or comes more than once), so
/// the next layer generates one.
async fn sanitize_request_id(mut req: Request, next: Next) -> Response {
    let values = req.headers().get_all(&REQUEST_ID);
    let mut it = values.iter();
    let keep = matches!((it.next(), it.next()), (Some(v), None) if valid_request_id(v.as_bytes()));
    if !keep {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

fn header_id(headers: &HeaderMap) -> &str {
    headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Makes the request id visible to handlers ([`request_id`]).
async fn scope_request_id(req: Request, next: Next) -> Response {
    let id = header_id(req.headers()).to_string();
    CURRENT.scope(id, next.run(req)).await
}

/// Counts one issued liveness challenge.
pub fn challenge_issued() {
    metrics::counter!(CHALLENGES_ISSUED).increment(1);
}

/// Counts analyses the API queued, by type.
pub fn analyses_created(created: &[oz_storage::Analysis]) {
    for a in created {
        metrics::counter!(ANALYSES_CREATED, "type" => a.kind.as_str()).increment(1);
    }
}

// ---- HTTP metrics -------------------------------------------------------------------------

/// The `method` label: the standard methods, else `other` (custom methods are not labels).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times a request under its route template. Added with `Router::layer`, so it runs
/// after routing and sees `MatchedPath`.
async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| UNMATCHED.to_string(), |p| p.as_str().to_string());
    let in_flight = metrics::gauge!(HTTP_IN_FLIGHT);
    in_flight.increment(1.0);
    let res = next.run(req).await;
    in_flight.decrement(1.0);
    let status = res.status().as_str().to_string();
    let labels = vec![
        metrics::Label::new("method", method),
        metrics::Label::new("route", route),
        metrics::Label::new("status", status),
    ];
    metrics::counter!(HTTP_REQUESTS, labels.clone()).increment(1);
    metrics::histogram!(HTTP_DURATION, labels).record(started.elapsed());
    res
}

/// Wraps the application: request ids (sanitised, generated, answered), the request span and
/// its access log line, and the HTTP metrics.
pub fn instrument(router: Router) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                request_id = %header_id(req.headers()),
            )
        })
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
        .on_failure(DefaultOnFailure::new().level(Level::ERROR));
    router
        .layer(axum::middleware::from_fn(track))
        .layer(axum::middleware::from_fn(scope_request_id))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn(sanitize_request_id))
}

// ---- /metrics -----------------------------------------------------------------------------

/// The `/metrics` route (mount it on a router with [`AppState`]).
pub fn metrics_routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// The application of a metrics-only listener (`OZ_METRICS_LISTEN`).
pub fn metrics_app(state: AppState) -> Router {
    recorder();
    instrument(metrics_routes().with_state(state))
}

/// Serves [`metrics_app`] on `listener` until `shutdown` resolves.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_app(state)).with_graceful_shutdown(shutdown).await
}

/// True when `headers` carry `Authorization: Bearer <token>` (compared as SHA-256 digests, so the
/// comparison time says nothing about the token).
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some((scheme, value)) = given.trim().split_once(' ') else { return false };
    scheme.eq_ignore_ascii_case("bearer") && Sha256::digest(value.trim().as_bytes()) == Sha256::digest(token.as_bytes())
}

/// Longest database read of a scrape.
const SCRAPE_DB_TIMEOUT: Duration = Duration::from_secs(3);

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = state.metrics.token.as_deref()
        && !authorized(&headers, token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"metrics\""))],
            "a valid Bearer token is required",
        )
            .into_response();
    }
    let handle = recorder();
    metrics::gauge!(ADMISSION_IN_FLIGHT).set(state.admission.in_flight() as f64);
    if let Some(full) = &state.full {
        match tokio::time::timeout(SCRAPE_DB_TIMEOUT, full.db.queue_stats()).await {
            Ok(Ok(q)) => {
                metrics::gauge!(QUEUE_JOBS, "state" => "queued").set(q.queued as f64);
                metrics::gauge!(QUEUE_JOBS, "state" => "running").set(q.running as f64);
                metrics::gauge!(QUEUE_OLDEST).set(q.oldest_queued_s);
                metrics::gauge!(WEBHOOKS_PENDING).set(q.webhooks_pending as f64);
            }
            Ok(Err(e)) => {
                metrics::counter!(QUEUE_SCRAPE_ERRORS).increment(1);
                tracing::warn!(error = %e, "cannot read the queue for /metrics");
            }
            Err(_) => {
                metrics::counter!(QUEUE_SCRAPE_ERRORS).increment(1);
                tracing::warn!("reading the queue for /metrics timed out");
            }
        }
    }
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], handle.render())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert!(valid_request_id(b"abc-123_X.y:z"));
        assert!(valid_request_id(&[b'a'; MAX_REQUEST_ID_LEN]));
        assert!(!valid_request_id(&[b'a'; MAX_REQUEST_ID_LEN + 1]));
        assert!(!valid_request_id(b""));
        assert!(!valid_request_id(b"has space"));
        assert!(!valid_request_id(b"tab\there"));
        assert!(!valid_request_id("caf\u{e9}".as_bytes()));
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(authorized(&h, "s3cret"));
        assert!(!authorized(&h, "other"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  s3cret "));
        assert!(authorized(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic s3cret"));
        assert!(!authorized(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("s3cret"));
        assert!(!authorized(&h, "s3cret"));
    }

    #[test]
    fn methods_are_a_closed_set() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").expect("method")), "other");
    }
}
