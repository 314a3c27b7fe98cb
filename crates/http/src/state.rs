//! Shared state of the HTTP handlers.

use std::sync::Arc;
use std::time::Duration;

use oz_domain::decision::DecisionThresholds;
use oz_engine::Engine;
use oz_engine::render::Urls;
use oz_storage::Db;
use oz_vision::Pipeline;

use crate::admission::{Admission, AdmissionConfig};

/// Who may call the API Lite inference routes (`OZ_LITE_AUTH`). `/version` and the health routes
/// stay open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiteAuth {
    /// Anyone who can reach the port.
    #[default]
    None,
    /// A valid `X-Forensic-Access-Token` of any user of the full API.
    Token,
    /// A valid token of a service user (`is_service`).
    Service,
}

/// Who may call the Instant API, `POST /api/instant/folders/` (`OZ_INSTANT_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstantAuth {
    /// A valid `X-Forensic-Access-Token` of a non-OPERATOR user, or a session token of
    /// `GET /api/authorize/session_token`.
    #[default]
    Token,
    /// Anyone who can reach the port ("authorization set on your side", as Oz's Instant API).
    None,
}

/// API Lite settings.
#[derive(Debug, Clone)]
pub struct LiteConfig {
    /// Biometric decision thresholds on the [0, 1] score.
    pub thresholds: DecisionThresholds,
    /// Default `threshold_spoofing` for liveness.
    pub threshold_spoofing: f32,
    /// Largest request body accepted, in bytes.
    pub max_request_bytes: u64,
    /// Most media parts in one request.
    pub max_parts: usize,
    /// `OZ_LITE`: false leaves the Lite routes unmounted (they answer 404).
    pub enabled: bool,
    /// `OZ_LITE_AUTH`.
    pub auth: LiteAuth,
    /// Largest JSON body of a non-upload route, and largest `payload` part of an upload
    /// (`OZ_MAX_JSON_BYTES`).
    pub max_json_bytes: usize,
    /// `OZ_GESTURE_CHECK` for the QUALITY analyses of API Lite folders and Instant mode.
    pub gesture_policy: oz_domain::gesture::GesturePolicy,
}

impl Default for LiteConfig {
    fn default() -> Self {
        Self {
            thresholds: DecisionThresholds::DEFAULT,
            threshold_spoofing: oz_domain::liveness::DEFAULT_THRESHOLD_SPOOFING,
            max_request_bytes: 128 * 1024 * 1024,
            max_parts: 32,
            enabled: true,
            auth: LiteAuth::None,
            max_json_bytes: 1 << 20,
            gesture_policy: oz_domain::gesture::GesturePolicy::default(),
        }
    }
}

/// Full API settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `OZ_SESSION_TTL`.
    pub session_ttl: Duration,
    /// `OZ_SESSION_LONGLIVE_TTL` (service users).
    pub session_longlive_ttl: Duration,
    /// `OZ_ATTACHMENT_MAX_COUNT`.
    pub attachment_max_count: usize,
    /// `OZ_ATTACHMENT_MAX_SIZE`, bytes.
    pub attachment_max_size: u64,
    /// How long a single request (folder + analyses in one call) waits for its results.
    pub single_request_timeout: Duration,
    pub urls: Urls,
    /// Login throttling and the password-hashing semaphore (`OZ_LOGIN_*`, `OZ_PASSWORD_HASH_*`,
    /// `OZ_TRUSTED_PROXIES`); clones share its state.
    pub login: crate::api::throttle::LoginGuard,
    /// `OZ_INSTANT_AUTH`.
    pub instant_auth: InstantAuth,
    /// SDK session tokens (`OZ_SESSION_TOKEN_TTL`); clones share the key.
    pub session_tokens: crate::api::session_token::SessionTokens,
    /// `OZ_COMPANY_QUEUE_LIMIT`: jobs one company may have queued or running; a request that
    /// would pass it answers 429 (see `api::analyses::check_company_queue`). 0 = no limit.
    pub company_queue_limit: usize,
    /// How liveness challenges are drawn and how long they live (`OZ_CHALLENGE_*`).
    pub challenges: oz_domain::challenge::ChallengePolicy,
    /// `OZ_CHALLENGE_MAX_OPEN`: challenges one company may hold issued, unused and unexpired; more
    /// answer 429.
    pub challenge_max_open: usize,
    /// `OZ_EVENT_SESSIONS_PER_DAY` / `OZ_EVENT_SESSIONS_PER_TOKEN`: telemetry sessions one company
    /// may open in 24 hours and one SDK session token in all; more answer 429. 0 = no limit.
    pub event_sessions: EventSessionCaps,
    /// `OZ_PRECHECK_PER_MINUTE`, `OZ_PRECHECK_MAX_BYTES` and the precheck's rate limiter.
    pub precheck: crate::api::precheck::PrecheckGuard,
}

/// How many SDK telemetry sessions may be opened (`OZ_EVENT_SESSIONS_*`); 0 = no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSessionCaps {
    /// Per company (per user for a caller without one) in any 24 hours.
    pub per_day: u64,
    /// Per SDK session token.
    pub per_token: u64,
}

impl Default for EventSessionCaps {
    fn default() -> Self {
        Self { per_day: 10_000, per_token: 20 }
    }
}

/// Default of [`ApiConfig::challenge_max_open`].
pub const DEFAULT_CHALLENGE_MAX_OPEN: usize = 1000;

/// Default of [`ApiConfig::company_queue_limit`] (`OZ_COMPANY_QUEUE_LIMIT`).
pub const DEFAULT_COMPANY_QUEUE_LIMIT: usize = 100;

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(15 * 60),
            session_longlive_ttl: Duration::from_secs(5 * 365 * 24 * 3600),
            attachment_max_count: 10,
            attachment_max_size: 10 * 1024 * 1024,
            single_request_timeout: Duration::from_secs(120),
            urls: Urls::new("http://127.0.0.1:8080"),
            login: crate::api::throttle::LoginGuard::default(),
            instant_auth: InstantAuth::Token,
            session_tokens: crate::api::session_token::SessionTokens::default(),
            company_queue_limit: DEFAULT_COMPANY_QUEUE_LIMIT,
            challenges: oz_domain::challenge::ChallengePolicy::default(),
            challenge_max_open: DEFAULT_CHALLENGE_MAX_OPEN,
            event_sessions: EventSessionCaps::default(),
            precheck: crate::api::precheck::PrecheckGuard::default(),
        }
    }
}

/// What the full API needs besides the pipeline.
pub struct FullApi {
    pub db: Db,
    pub engine: Arc<Engine>,
    pub cfg: ApiConfig,
    /// An argon2 hash to verify against when the email is unknown (constant-time login).
    pub dummy_hash: String,
}

#[derive(Clone)]
pub struct AppState {
    pub pipeline: Arc<Pipeline>,
    pub lite: Arc<LiteConfig>,
    pub full: Option<Arc<FullApi>>,
    /// The gate every media decode or analysis of a request goes through.
    pub admission: Arc<Admission>,
    /// Connection and body limits, the memory budget of request bodies, the upload spool.
    pub intake: Arc<crate::intake::Intake>,
    /// `/metrics` settings (`OZ_METRICS_TOKEN`, `OZ_METRICS_LISTEN`).
    pub metrics: Arc<crate::observe::MetricsConfig>,
    /// `/console` settings (`OZ_CONSOLE`, `OZ_CONSOLE_DIR`).
    pub console: Arc<crate::console::ConsoleConfig>,
    /// `/sdk/*` and `/capture/` settings (`OZ_CAPTURE`, `OZ_CAPTURE_ORIGINS`).
    pub capture: Arc<crate::capture::CaptureConfig>,
}

impl AppState {
    /// Lite only (no database).
    #[must_use]
    pub fn new(pipeline: Arc<Pipeline>, lite: LiteConfig) -> Self {
        Self {
            pipeline,
            lite: Arc::new(lite),
            full: None,
            admission: Admission::new(AdmissionConfig::default()),
            intake: Arc::default(),
            metrics: Arc::default(),
            console: Arc::default(),
            capture: Arc::default(),
        }
    }

    /// Lite and the full API.
    #[must_use]
    pub fn with_api(pipeline: Arc<Pipeline>, lite: LiteConfig, full: FullApi) -> Self {
        Self { full: Some(Arc::new(full)), ..Self::new(pipeline, lite) }
    }

    /// Replaces the admission gate (`OZ_MAX_INFLIGHT`, `OZ_ADMISSION_QUEUE`, `OZ_ADMISSION_WAIT_MS`).
    #[must_use]
    pub fn with_admission(mut self, admission: Arc<Admission>) -> Self {
        self.admission = admission;
        self
    }

    /// Replaces the intake limits (`OZ_MAX_CONNECTIONS`, `OZ_BODY_*`, `OZ_SPOOL_*`).
    #[must_use]
    pub fn with_intake(mut self, cfg: crate::intake::IntakeConfig) -> Self {
        self.intake = Arc::new(crate::intake::Intake::new(cfg));
        self
    }

    /// Replaces the `/metrics` settings.
    #[must_use]
    pub fn with_metrics(mut self, metrics: crate::observe::MetricsConfig) -> Self {
        self.metrics = Arc::new(metrics);
        self
    }

    /// The `/console` settings.
    #[must_use]
    pub fn with_console(mut self, console: crate::console::ConsoleConfig) -> Self {
        self.console = Arc::new(console);
        self
    }

    #[must_use]
    pub fn with_capture(mut self, capture: crate::capture::CaptureConfig) -> Self {
        self.capture = Arc::new(capture);
        self
    }

    /// The full API's state, or error 2 when this server runs Lite only.
    pub fn api(&self) -> Result<&Arc<FullApi>, crate::api::error::ApiError> {
        self.full.as_ref().ok_or_else(|| crate::api::error::ApiError::not_realized("the full API is not enabled"))
    }

    /// Runs media decoding or analysis on a blocking thread once the admission gate lets it in
    /// (503 with `Retry-After` when it does not). The permit lives as long as the work, even when
    /// the client goes away.
    pub async fn run<T, F>(&self, f: F) -> Result<T, crate::error::LiteError>
    where
        T: Send + 'static,
        F: FnOnce(&Pipeline) -> T + Send + 'static,
    {
        let permit = self.admission.enter().await.map_err(|_| crate::error::LiteError::busy())?;
        self.probe(move |p| {
            let out = f(p);
            drop(permit);
            out
        })
        .await
    }

    /// Runs a tiny pipeline call (the health probe) on a blocking thread, without admission.
    pub async fn probe<T, F>(&self, f: F) -> Result<T, crate::error::LiteError>
    where
        T: Send + 'static,
        F: FnOnce(&Pipeline) -> T + Send + 'static,
    {
        let p = Arc::clone(&self.pipeline);
        tokio::task::spawn_blocking(move || f(&p))
            .await
            .map_err(|e| crate::error::LiteError::internal(format!("worker failed: {e}")))
    }
}
