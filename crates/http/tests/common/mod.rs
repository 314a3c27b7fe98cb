//! A real openoz server (full API + workers) on 127.0.0.1 for tests, on SQLite or PostgreSQL,
//! and a webhook receiver.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use oz_engine::files::MediaFiles;
use oz_engine::render::Urls;
use oz_engine::runner::RunnerConfig;
use oz_engine::webhook::WebhookConfig;
use oz_engine::{Engine, EngineConfig};
use oz_http::{Admission, AdmissionConfig, ApiConfig, AppState, FullApi, LiteConfig};
use oz_storage::Db;
use oz_vision::{Pipeline, PipelineConfig};
use serde_json::{Value, json};

/// `both!(name, body)`: a module `name` with two tests running `body(Kind::Sqlite)` and
/// `body(Kind::Postgres)` (the caller imports `Kind`).
#[allow(unused_macros)]
macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(super::Kind::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body(super::Kind::Postgres).await;
            }
        }
    };
}

pub const SECRET: &str = "test-webhook-secret";
/// The key that signs the test server's direct file links.
pub const LINK_KEY: &[u8] = b"test-link-signing-key";

pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures").join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn pipeline() -> Arc<Pipeline> {
    static P: OnceLock<Arc<Pipeline>> = OnceLock::new();
    P.get_or_init(|| {
        Arc::new(
            Pipeline::load(PipelineConfig { models_dir: root().join("models"), ..PipelineConfig::default() })
                .expect("models"),
        )
    })
    .clone()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A database URL for a fresh, empty database of `kind`; `None` when PostgreSQL is not available
/// outside CI (in CI its absence fails the test).
pub async fn database(kind: Kind, dir: &std::path::Path) -> Option<String> {
    match kind {
        Kind::Sqlite => Some(format!("sqlite://{}?mode=rwc", dir.join("test.db").display())),
        Kind::Postgres => {
            let Ok(admin) = std::env::var("OZ_TEST_POSTGRES_URL") else {
                if std::env::var_os("CI").is_some() {
                    panic!("OZ_TEST_POSTGRES_URL is not set: run the tests through scripts/with-postgres.sh");
                }
                eprintln!("skipping a PostgreSQL test: OZ_TEST_POSTGRES_URL is not set");
                return None;
            };
            let name = format!("oz_api_{}", uuid::Uuid::new_v4().simple());
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&admin).await.expect("connect admin");
            sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
                .execute(&pool)
                .await
                .expect("create db");
            pool.close().await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_string();
            Some(format!("{base}/{name}"))
        }
    }
}

pub struct TestServer {
    pub base: String,
    pub db: Db,
    pub engine: Arc<Engine>,
    pub data: PathBuf,
    /// The server's admission gate: a test may hold its permits.
    pub admission: Arc<Admission>,
    /// The database URL (a second server may share it).
    pub url: String,
    /// False for a server started beside another: the first one removes the folder.
    owns_data: bool,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if self.owns_data {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

pub struct Options {
    pub session_ttl: Duration,
    pub attachment_max_count: usize,
    pub attachment_max_size: u64,
    /// `OZ_WEBHOOK_ALLOW_PRIVATE`: on, so webhooks reach the loopback receivers of the tests.
    pub webhook_allow_private: bool,
    pub webhook_timeout: Duration,
    pub lite: LiteConfig,
    pub admission: AdmissionConfig,
    /// `OZ_FILE_SWEEP_GRACE` (the sweeper itself runs when a test calls `engine.sweep()`).
    pub sweep_grace: Duration,
    /// `OZ_BIOMETRY_APPROVE` / `OZ_BIOMETRY_DECLINE`.
    pub thresholds: oz_domain::decision::DecisionThresholds,
    /// `OZ_INSTANT_AUTH`.
    pub instant_auth: oz_http::InstantAuth,
    /// `OZ_SESSION_TOKEN_TTL`.
    pub session_token_ttl: Duration,
    /// `OZ_METRICS_TOKEN` (and whether `/metrics` is on the main listener).
    pub metrics: oz_http::observe::MetricsConfig,
    /// `OZ_CONSOLE` / `OZ_CONSOLE_DIR`.
    pub console: oz_http::console::ConsoleConfig,
    /// `OZ_GESTURE_CHECK`.
    pub gesture_policy: oz_domain::gesture::GesturePolicy,
    /// `OZ_CHALLENGE_MAX_OPEN`.
    pub challenge_max_open: usize,
    /// `OZ_EVENT_SESSIONS_PER_DAY`, `OZ_EVENT_SESSIONS_PER_TOKEN`.
    pub event_sessions: oz_http::state::EventSessionCaps,
    /// `OZ_PRECHECK_PER_MINUTE`, `OZ_PRECHECK_MAX_BYTES`.
    pub precheck: oz_http::api::precheck::PrecheckGuard,
    /// `OZ_CAPTURE`, `OZ_CAPTURE_ORIGINS`.
    pub capture: oz_http::capture::CaptureConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(900),
            attachment_max_count: 10,
            attachment_max_size: 10 * 1024 * 1024,
            webhook_allow_private: true,
            webhook_timeout: Duration::from_secs(5),
            lite: LiteConfig::default(),
            admission: AdmissionConfig::default(),
            sweep_grace: Duration::from_secs(3600),
            thresholds: oz_domain::decision::DecisionThresholds::DEFAULT,
            instant_auth: oz_http::InstantAuth::Token,
            session_token_ttl: Duration::from_secs(600),
            metrics: oz_http::observe::MetricsConfig::default(),
            console: oz_http::console::ConsoleConfig::default(),
            gesture_policy: oz_domain::gesture::GesturePolicy::default(),
            challenge_max_open: oz_http::state::DEFAULT_CHALLENGE_MAX_OPEN,
            event_sessions: oz_http::state::EventSessionCaps::default(),
            precheck: oz_http::api::precheck::PrecheckGuard::default(),
            capture: oz_http::capture::CaptureConfig::default(),
        }
    }
}

/// The test server's link signer (`OZ_LINK_TTL` of ten minutes).
pub fn links() -> oz_engine::links::LinkSigner {
    oz_engine::links::LinkSigner::new(LINK_KEY, Duration::from_secs(600))
}

pub async fn start(kind: Kind, opts: Options) -> Option<TestServer> {
    start_with(kind, opts, None).await
}

/// A second server process beside `other`: the same database and media folder (as processes on
/// one PostgreSQL and one shared volume), its own index, workers and caches.
pub async fn start_beside(other: &TestServer, opts: Options) -> TestServer {
    start_with(Kind::Sqlite, opts, Some((other.url.clone(), other.data.clone()))).await.expect("second server")
}

async fn start_with(kind: Kind, opts: Options, shared: Option<(String, PathBuf)>) -> Option<TestServer> {
    let owns_data = shared.is_none();
    let (url, data) = match shared {
        Some((u, d)) => (u, d),
        None => {
            let data = std::env::temp_dir().join(format!("oz-api-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&data).expect("data dir");
            (database(kind, &data).await?, data)
        }
    };
    let db = Db::connect(&url).await.expect("db connects and migrates");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = format!("http://{addr}");
    let cfg = EngineConfig {
        workers: 2,
        lease: Duration::from_secs(10),
        poll: Duration::from_millis(100),
        max_attempts: 5,
        expire_after: Duration::from_secs(600),
        expire_every: Duration::from_secs(60),
        runner: RunnerConfig {
            thresholds: opts.thresholds,
            threshold_spoofing: 0.42,
            gesture_policy: opts.gesture_policy,
        },
        webhook: WebhookConfig {
            secret: Some(SECRET.into()),
            timeout: opts.webhook_timeout,
            max_attempts: 5,
            retry_step: Duration::from_millis(200),
            allow_private: opts.webhook_allow_private,
            ..WebhookConfig::default()
        },
        urls: Urls { base: base.clone(), links: Some(links()) },
        database_url: Some(url.clone()),
        decode_cache: 8,
        lifecycle: oz_engine::sweep::LifecycleConfig {
            sweep_grace: opts.sweep_grace,
            // Long: tests run the sweeper themselves.
            sweep_every: Duration::from_secs(3600),
            ..oz_engine::sweep::LifecycleConfig::default()
        },
        decode_cache_bytes: 128 << 20,
        analysis_cache: 16,
        index_threads: 2,
        index_poll: Duration::from_millis(500),
        company_max_running: None,
    };
    let files = MediaFiles::open(&data).expect("media dir");
    let engine = Engine::new(db.clone(), pipeline(), files, cfg);
    let api = FullApi {
        db: db.clone(),
        engine: engine.clone(),
        cfg: ApiConfig {
            session_ttl: opts.session_ttl,
            attachment_max_count: opts.attachment_max_count,
            attachment_max_size: opts.attachment_max_size,
            urls: Urls { base: base.clone(), links: Some(links()) },
            instant_auth: opts.instant_auth,
            session_tokens: oz_http::api::session_token::SessionTokens::new(opts.session_token_ttl),
            challenge_max_open: opts.challenge_max_open,
            event_sessions: opts.event_sessions,
            precheck: opts.precheck,
            ..ApiConfig::default()
        },
        dummy_hash: oz_http::api::auth::hash_password("dummy-password".into()).await.expect("hash"),
    };
    let admission = Admission::new(opts.admission);
    let state = AppState::with_api(pipeline(), opts.lite, api)
        .with_admission(admission.clone())
        .with_metrics(opts.metrics)
        .with_console(opts.console)
        .with_capture(opts.capture);
    let (stop, rx) = tokio::sync::watch::channel(false);
    engine.start(rx.clone());
    let mut rx2 = rx;
    tokio::spawn(async move {
        let _ = oz_http::serve(listener, state, async move {
            let _ = rx2.changed().await;
        })
        .await;
    });
    Some(TestServer { base, db, engine, data, admission, stop, url, owns_data })
}

/// Creates an ADMIN directly in the database and logs in.
pub async fn admin_token(s: &TestServer) -> String {
    let hash = oz_http::api::auth::hash_password("admin-password".into()).await.expect("hash");
    s.db.create_user(&oz_storage::accounts::NewUser {
        email: "admin@example.com".into(),
        password_hash: hash,
        role: oz_domain::access::Role::Admin,
        company_id: None,
        is_admin: false,
        is_service: false,
        can_start_quality: true,
        can_start_biometry: true,
        can_start_collection: true,
        first_name: None,
        last_name: None,
        middle_name: None,
        meta_data: json!({}),
    })
    .await
    .expect("admin");
    login(s, "admin@example.com", "admin-password").await
}

pub async fn login(s: &TestServer, email: &str, password: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/api/authorize/auth", s.base))
        .json(&json!({ "credentials": { "email": email, "password": password } }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "login {email}");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["access_token"].as_str().map(str::len), Some(128));
    v["access_token"].as_str().expect("token").to_string()
}

/// A received webhook: headers and body.
#[derive(Debug, Clone)]
pub struct Hook {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A webhook receiver on 127.0.0.1 that answers 500 to the first `fail_first` requests.
pub async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<Hook>>>) {
    let got: Arc<Mutex<Vec<Hook>>> = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                let mut v = seen.lock().expect("lock");
                v.push(Hook { headers, body });
                if v.len() <= fail_first { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), got)
}

/// A new company and one user of it (`user_type`, password `password-123`), created by `admin`:
/// (company id, user id, the user's access token).
pub async fn company_user(admin: &C<'_>, email: &str, user_type: &str) -> (uuid::Uuid, uuid::Uuid, String) {
    let (st, c) = admin.post("/api/companies/", serde_json::json!({ "name": format!("co-{email}") })).await;
    assert_eq!(st, 201, "{c}");
    let body = serde_json::json!({
        "email": email, "password": "password-123", "user_type": user_type, "company_id": c["company_id"]
    });
    let (st, u) = admin.post("/api/users/", body).await;
    assert_eq!(st, 201, "{u}");
    let id = |v: &Value, k: &str| v[k].as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()).expect("id");
    (id(&c, "company_id"), id(&u, "user_id"), login(admin.s, email, "password-123").await)
}

/// A full-API client of one user of a test server: `(status, JSON or Null)` answers.
pub struct C<'a> {
    pub s: &'a TestServer,
    pub token: String,
}

impl C<'_> {
    pub fn url(&self, p: &str) -> String {
        format!("{}{p}", self.s.base)
    }
    pub fn req(&self, m: reqwest::Method, p: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().request(m, self.url(p)).header("X-Forensic-Access-Token", &self.token)
    }
    pub async fn json(&self, m: reqwest::Method, p: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.req(m, p);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    pub async fn get(&self, p: &str) -> (u16, Value) {
        self.json(reqwest::Method::GET, p, None).await
    }
    pub async fn post(&self, p: &str, b: Value) -> (u16, Value) {
        self.json(reqwest::Method::POST, p, Some(b)).await
    }
    pub async fn delete(&self, p: &str) -> u16 {
        self.req(reqwest::Method::DELETE, p).send().await.expect("send").status().as_u16()
    }
    pub async fn upload(&self, p: &str, form: reqwest::multipart::Form) -> (u16, Value) {
        let r = self.req(reqwest::Method::POST, p).multipart(form).send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}
