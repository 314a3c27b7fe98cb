//! Configuration from the environment (every variable is documented in README.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use oz_domain::decision::DecisionThresholds;
use oz_http::{AdmissionConfig, InstantAuth, LiteAuth, LiteConfig};
use oz_vision::limits::MediaLimits;
use oz_vision::video::VideoLimits;
use oz_vision::{BudgetConfig, PipelineConfig};

/// A secret setting (a password, a key, a URL that may hold a password): its `Debug` never shows
/// the value, and clap is told not to print it in `--help` (`hide_env_values`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that uses it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Settings shared by every subcommand that loads the models.
#[derive(Debug, Clone, Args)]
pub struct VisionArgs {
    /// Folder with the ONNX models and manifest.json.
    #[arg(long, env = "OZ_MODELS_DIR", default_value = "./models")]
    pub models_dir: PathBuf,
    /// ONNX Runtime shared library (found automatically in .ort/ when unset).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_dylib_path: Option<PathBuf>,
    /// ONNX Runtime sessions per model (default: number of cores).
    #[arg(long, env = "OZ_POOL_SIZE")]
    pub pool_size: Option<usize>,
    /// Detector input size (long side, pixels).
    #[arg(long, env = "OZ_DETECT_SIZE", default_value_t = 320)]
    pub detect_size: u32,
    /// Largest accepted file, bytes.
    #[arg(long, env = "OZ_MAX_FILE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_file_bytes: u64,
    /// Largest accepted image, pixels (width x height).
    #[arg(long, env = "OZ_MAX_IMAGE_PIXELS", default_value_t = 50_000_000)]
    pub max_image_pixels: u64,
    /// Longest accepted video, seconds.
    #[arg(long, env = "OZ_VIDEO_MAX_DURATION", default_value_t = 60.0)]
    pub video_max_duration: f64,
    /// Most frames in an accepted video.
    #[arg(long, env = "OZ_VIDEO_MAX_FRAMES", default_value_t = 3600)]
    pub video_max_frames: u64,
    /// Deadline for opening, demuxing and decoding one video, seconds.
    #[arg(long, env = "OZ_VIDEO_DECODE_TIMEOUT", default_value_t = 10.0)]
    pub video_decode_timeout: f64,
    /// Most entries in a zip shot set.
    #[arg(long, env = "OZ_ZIP_MAX_ENTRIES", default_value_t = 64)]
    pub zip_max_entries: usize,
    /// Most uncompressed bytes in a zip shot set.
    #[arg(long, env = "OZ_ZIP_MAX_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub zip_max_bytes: u64,
    /// Most uncompressed bytes of one image entry of a zip shot set (inflated as a stream within
    /// the decode budget, refused as soon as it passes this).
    #[arg(long, env = "OZ_ZIP_MAX_ENTRY_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub zip_max_entry_bytes: u64,
    /// Pixels one request may decode, all its media together (every decoded video frame, image
    /// and shot); more is refused (400).
    #[arg(long, env = "OZ_REQUEST_MAX_PIXELS", default_value_t = 8_000_000_000)]
    pub request_max_pixels: u64,
    /// Frames one request may hand to the models (images, sampled frames and best-shot
    /// candidates, shots, gesture-check frames), all its media together; more is refused (400).
    #[arg(long, env = "OZ_REQUEST_MAX_FRAMES", default_value_t = 256)]
    pub request_max_frames: u64,
    /// Seconds one request may spend decoding, all its media together; then it is refused (400).
    #[arg(long, env = "OZ_REQUEST_DECODE_TIMEOUT", default_value_t = 30.0)]
    pub request_decode_timeout: f64,
    /// Frames sampled evenly from a video or shot set (liveness is scored on these).
    #[arg(long, env = "OZ_SAMPLE_FRAMES", default_value_t = 8)]
    pub sample_frames: usize,
    /// Extra best-shot candidates: the best frames of a whole video by a luma pre-score (more
    /// shots of a shot set), analysed for the best shot only. 0: the even spread alone.
    #[arg(long, env = "OZ_BEST_SHOT_CANDIDATES", default_value_t = 4)]
    pub best_shot_candidates: usize,
    /// Weight of the planarity signal (a face that moves as one flat plane: a photo or a screen)
    /// in a video's confidence_spoofing: max(model, weight x planarity). 0 turns it off.
    #[arg(long, env = "OZ_PLANARITY_WEIGHT", default_value_t = oz_domain::liveness::DEFAULT_PLANARITY_WEIGHT)]
    pub planarity_weight: f32,
    /// Frames spread over a video whose tags ask for a gesture, for the gesture check (at most 96).
    #[arg(long, env = "OZ_GESTURE_FRAMES", default_value_t = 40)]
    pub gesture_frames: usize,
    /// Bytes of decoded frames (RGB, 3 bytes a pixel) the whole process may hold; a decode that
    /// would go over waits OZ_DECODE_BUDGET_WAIT_MS, then answers 503.
    #[arg(long, env = "OZ_DECODE_BUDGET_BYTES", default_value_t = 1 << 30)]
    pub decode_budget_bytes: u64,
    /// Bytes of decoded frames one request may hold; more is refused (400). At most
    /// OZ_DECODE_BUDGET_BYTES.
    #[arg(long, env = "OZ_DECODE_REQUEST_BUDGET_BYTES", default_value_t = 512 << 20)]
    pub decode_request_budget_bytes: u64,
    /// How long a decode waits for the process budget, milliseconds.
    #[arg(long, env = "OZ_DECODE_BUDGET_WAIT_MS", default_value_t = 10_000)]
    pub decode_budget_wait_ms: u64,
}

impl VisionArgs {
    pub fn pipeline_config(&self) -> PipelineConfig {
        let mut cfg = PipelineConfig {
            models_dir: self.models_dir.clone(),
            ort_library: self.ort_dylib_path.clone(),
            limits: MediaLimits {
                max_file_bytes: self.max_file_bytes,
                max_image_pixels: self.max_image_pixels,
                video: VideoLimits {
                    max_duration_s: self.video_max_duration,
                    max_frames: self.video_max_frames,
                    max_pixels: self.max_image_pixels,
                    decode_timeout: std::time::Duration::try_from_secs_f64(self.video_decode_timeout.max(0.0))
                        .unwrap_or(std::time::Duration::from_secs(10)),
                },
                zip_max_entries: self.zip_max_entries,
                zip_max_total_bytes: self.zip_max_bytes,
                zip_max_entry_bytes: self.zip_max_entry_bytes.min(self.zip_max_bytes),
                sample_frames: self.sample_frames.max(1),
                best_shot_candidates: self.best_shot_candidates.min(64),
                ..MediaLimits::default()
            },
            budget: BudgetConfig {
                total_bytes: self.decode_budget_bytes,
                request_bytes: self.decode_request_budget_bytes.min(self.decode_budget_bytes),
                wait: Duration::from_millis(self.decode_budget_wait_ms),
            },
            work: oz_vision::WorkLimits {
                pixels: self.request_max_pixels.max(1),
                frames: self.request_max_frames.max(1),
                time: Duration::try_from_secs_f64(self.request_decode_timeout.max(0.1))
                    .unwrap_or(Duration::from_secs(30)),
            },
            planarity_weight: if self.planarity_weight.is_finite() {
                self.planarity_weight.clamp(0.0, 1.0)
            } else {
                0.0
            },
            gesture_frames: self.gesture_frames.clamp(4, 96),
            ..PipelineConfig::default()
        };
        if let Some(n) = self.pool_size {
            cfg.pool_size = n.max(1);
        }
        cfg.detector.input_size = self.detect_size.clamp(64, 2048);
        cfg
    }
}

/// Biometric and liveness thresholds.
#[derive(Debug, Clone, Args)]
pub struct ThresholdArgs {
    /// Score at or above which a biometric match is `approved`.
    #[arg(long, env = "OZ_BIOMETRY_APPROVE", default_value_t = DecisionThresholds::DEFAULT.approve)]
    pub biometry_approve: f32,
    /// Score below which a biometric match is `declined`; between it and the approve threshold
    /// the answer is `operator_required`. Default: the approve threshold (no band).
    #[arg(long, env = "OZ_BIOMETRY_DECLINE", default_value_t = DecisionThresholds::DEFAULT.decline)]
    pub biometry_decline: f32,
    /// Default `threshold_spoofing`: a liveness score above it is an attack.
    #[arg(long, env = "OZ_THRESHOLD_SPOOFING", default_value_t = oz_domain::liveness::DEFAULT_THRESHOLD_SPOOFING)]
    pub threshold_spoofing: f32,
    /// A video tagged for a gesture (video_selfie_eyes, _smile, _left...) whose gesture is not
    /// seen: report (results_data only; the default), decline (DECLINED), operator
    /// (OPERATOR_REQUIRED) or off (not checked). Liveness challenges are always enforced.
    #[arg(long, env = "OZ_GESTURE_CHECK", value_enum, default_value_t = GestureCheckArg::Report)]
    pub gesture_check: GestureCheckArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GestureCheckArg {
    Decline,
    Operator,
    Report,
    Off,
}

impl ThresholdArgs {
    #[must_use]
    pub fn gesture_policy(&self) -> oz_domain::gesture::GesturePolicy {
        use oz_domain::gesture::GesturePolicy;
        match self.gesture_check {
            GestureCheckArg::Decline => GesturePolicy::Decline,
            GestureCheckArg::Operator => GesturePolicy::Operator,
            GestureCheckArg::Report => GesturePolicy::Report,
            GestureCheckArg::Off => GesturePolicy::Off,
        }
    }

    pub fn thresholds(&self) -> anyhow::Result<DecisionThresholds> {
        Ok(DecisionThresholds::new(self.biometry_approve, self.biometry_decline)?)
    }
}

/// Database, engine and full-API settings shared by `serve` and `worker`.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Data folder: media files and the embedded SQLite database.
    #[arg(long, env = "OZ_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL: unset = embedded SQLite file in OZ_DATA_DIR; or postgres://user@host/db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Where media files are stored: unset = OZ_DATA_DIR/media; file:///path; or
    /// s3://bucket/prefix (endpoint, region and credentials from AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...). Every API and worker process of one
    /// deployment must name the same store.
    #[arg(long, env = "OZ_STORAGE_URL")]
    pub storage_url: Option<String>,
    /// Analysis workers in this process (`serve` with 0: API only, separate `worker` processes run
    /// the analyses).
    #[arg(long, env = "OZ_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Analyses of one company that the workers (of every process on this database) run at
    /// once; its other jobs wait even while workers are free, so another company's job starts at
    /// once. 0 = no cap (workers still pick the company running the fewest jobs first).
    #[arg(long, env = "OZ_COMPANY_MAX_RUNNING", default_value_t = 0)]
    pub company_max_running: u64,
    /// Job lease, seconds: a job whose worker stops renewing it is claimed again after this.
    #[arg(long, env = "OZ_JOB_LEASE", default_value_t = 60)]
    pub job_lease: u64,
    /// Most times a job is claimed before it is left to expire.
    #[arg(long, env = "OZ_JOB_MAX_ATTEMPTS", default_value_t = 5)]
    pub job_max_attempts: i64,
    /// Analyses still processing after this many seconds fail.
    #[arg(long, env = "OZ_ANALYSE_PROCESSING_EXPIRE_TIMEOUT", default_value_t = 900)]
    pub expire_timeout: u64,
    /// How often stuck analyses are looked for, seconds.
    #[arg(long, env = "OZ_ANALYSE_EXPIRE_BEAT_PERIOD", default_value_t = 60)]
    pub expire_period: u64,
    /// Secret for the X-Oz-Signature HMAC of webhooks (unset: webhooks are not signed).
    #[arg(long, env = "OZ_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,
    /// Webhook request timeout, seconds.
    #[arg(long, env = "OZ_WEBHOOK_TIMEOUT", default_value_t = 10)]
    pub webhook_timeout: u64,
    /// Webhook attempts before giving up.
    #[arg(long, env = "OZ_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: i64,
    /// First webhook retry delay, seconds (doubles each attempt, at most one hour).
    #[arg(long, env = "OZ_WEBHOOK_RETRY_STEP", default_value_t = 5)]
    pub webhook_retry_step: u64,
    /// Deliver webhooks to loopback, private, link-local and other non-public addresses too
    /// (refused by default: SSRF guard).
    #[arg(long, env = "OZ_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// PEM file of CA certificates trusted for HTTPS webhooks, in addition to the system roots.
    #[arg(long, env = "OZ_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<PathBuf>,
    /// Webhook attempts in flight at once in this process.
    #[arg(long, env = "OZ_WEBHOOK_CONCURRENCY", default_value_t = 16)]
    pub webhook_concurrency: usize,
    /// Webhook attempts in flight at once to one host:port.
    #[arg(long, env = "OZ_WEBHOOK_PER_HOST", default_value_t = 2)]
    pub webhook_per_host: usize,
    /// Decoded uploads kept in memory for the analyses that follow, until analysed (entries,
    /// 0 = off; a 4 s 720p video's 8 sampled frames and best-shot candidates take about 36 MB).
    #[arg(long, env = "OZ_DECODE_CACHE", default_value_t = 16)]
    pub decode_cache: usize,
    /// Bytes of decoded frames that cache may hold (0 = off). It counts in
    /// OZ_DECODE_BUDGET_BYTES, so it is kept to at most a quarter of it.
    #[arg(long, env = "OZ_DECODE_CACHE_BYTES", default_value_t = 256 << 20)]
    pub decode_cache_bytes: u64,
    /// Model results of stored media kept so that QUALITY, BIOMETRY and COLLECTION on the same
    /// media run the models once (entries, 0 = off; under 1 MB each: per-frame scores and 112x112
    /// aligned faces, the best-shot JPEG, the embedding); as many embeddings of stills that only
    /// BIOMETRY or COLLECTION asked for (the detector and the embedder alone) are kept beside them.
    #[arg(long, env = "OZ_ANALYSIS_CACHE", default_value_t = 16)]
    pub analysis_cache: usize,
    /// Threads one 1:N (COLLECTION) search splits its scan over.
    #[arg(long, env = "OZ_INDEX_THREADS", default_value_t = 2)]
    pub index_threads: usize,
    /// How often an idle process applies collection changes made by other processes, in
    /// milliseconds (searches always catch up first).
    #[arg(long, env = "OZ_INDEX_POLL_MS", default_value_t = 2000)]
    pub index_poll_ms: u64,
    /// Base of the URLs in responses and webhooks (original_url...). Default: http://OZ_LISTEN.
    #[arg(long, env = "OZ_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub vision: VisionArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    #[command(flatten)]
    pub metrics: crate::telemetry::MetricsArgs,
}

/// Stored files and data lifecycle: the file sweeper, retention, signed direct links.
#[derive(Clone, Args)]
pub struct LifecycleArgs {
    /// Unreferenced media files (and `.tmp-*` leftovers) are removed once this old, seconds
    /// (at least 60).
    #[arg(long, env = "OZ_FILE_SWEEP_GRACE", default_value_t = 3600)]
    pub file_sweep_grace: u64,
    /// How often the file sweeper and the retention purges run, seconds.
    #[arg(long, env = "OZ_FILE_SWEEP_PERIOD", default_value_t = 600)]
    pub file_sweep_period: u64,
    /// Finished jobs are deleted this many seconds after they finished (0: kept).
    #[arg(long, env = "OZ_JOB_RETENTION", default_value_t = 7 * 86_400)]
    pub job_retention: u64,
    /// Delivered or given-up webhooks are deleted after this many seconds (0: kept).
    #[arg(long, env = "OZ_WEBHOOK_RETENTION", default_value_t = 7 * 86_400)]
    pub webhook_retention: u64,
    /// Lifetime of the signed links in `original_url`, seconds (0: plain links that need the token
    /// header).
    #[arg(long, env = "OZ_LINK_TTL", default_value_t = 3600)]
    pub link_ttl: u64,
    /// Key that signs direct file links (unset: generated at first start and kept in the database).
    #[arg(long, env = "OZ_LINK_SECRET", hide_env_values = true)]
    pub link_secret: Option<String>,
}

impl std::fmt::Debug for LifecycleArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifecycleArgs")
            .field("file_sweep_grace", &self.file_sweep_grace)
            .field("file_sweep_period", &self.file_sweep_period)
            .field("job_retention", &self.job_retention)
            .field("webhook_retention", &self.webhook_retention)
            .field("link_ttl", &self.link_ttl)
            .field("link_secret", &self.link_secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl LifecycleArgs {
    pub fn config(&self) -> oz_engine::sweep::LifecycleConfig {
        use std::time::Duration;
        oz_engine::sweep::LifecycleConfig {
            sweep_grace: Duration::from_secs(self.file_sweep_grace.max(60)),
            sweep_every: Duration::from_secs(self.file_sweep_period.max(1)),
            job_retention: Duration::from_secs(self.job_retention),
            webhook_retention: Duration::from_secs(self.webhook_retention),
        }
    }
}

/// `serve` settings.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "OZ_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest request body, bytes.
    #[arg(long, env = "OZ_MAX_REQUEST_BYTES", default_value_t = 128 * 1024 * 1024)]
    pub max_request_bytes: u64,
    /// Most parts in one multipart request.
    #[arg(long, env = "OZ_MAX_PARTS", default_value_t = 32)]
    pub max_parts: usize,
    /// Largest JSON body of a route that takes no upload (and largest `payload` part), bytes.
    #[arg(long, env = "OZ_MAX_JSON_BYTES", default_value_t = 1 << 20)]
    pub max_json_bytes: usize,
    /// Connections open at once; one more is closed as soon as it is accepted.
    #[arg(long, env = "OZ_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds to send a request's headers (also the longest idle keep-alive gap).
    #[arg(long, env = "OZ_HEADER_TIMEOUT_S", default_value_t = 10)]
    pub header_timeout_s: u64,
    /// Seconds a request body may send nothing before the request fails with 408.
    #[arg(long, env = "OZ_BODY_IDLE_TIMEOUT_S", default_value_t = 15)]
    pub body_idle_timeout_s: u64,
    /// Slowest average body rate after a 10 s grace, bytes per second (0: none).
    #[arg(long, env = "OZ_BODY_MIN_RATE", default_value_t = 16 * 1024)]
    pub body_min_rate: u64,
    /// Seconds to receive a whole request body.
    #[arg(long, env = "OZ_BODY_TIMEOUT_S", default_value_t = 300)]
    pub body_timeout_s: u64,
    /// Request-body bytes held in memory across all requests (JSON bodies, upload heads,
    /// uploads being parsed); past it JSON bodies answer 503 and uploads wait or answer 503.
    #[arg(long, env = "OZ_BODY_MEMORY_BYTES", default_value_t = 512 << 20)]
    pub body_memory_bytes: u64,
    /// Bytes of an arriving upload kept in memory; the rest goes to OZ_DATA_DIR/spool.
    #[arg(long, env = "OZ_SPOOL_MEMORY_BYTES", default_value_t = 256 << 10)]
    pub spool_memory_bytes: u64,
    /// Upload bytes in OZ_DATA_DIR/spool across all requests; past it uploads answer 503.
    #[arg(long, env = "OZ_SPOOL_MAX_BYTES", default_value_t = 4 << 30)]
    pub spool_max_bytes: u64,
    /// Session lifetime, seconds (sliding).
    #[arg(long, env = "OZ_SESSION_TTL", default_value_t = 900)]
    pub session_ttl: u64,
    /// Session lifetime of service users, seconds.
    #[arg(long, env = "OZ_SESSION_LONGLIVE_TTL", default_value_t = 5 * 365 * 24 * 3600)]
    pub session_longlive_ttl: u64,
    /// Most media in one upload.
    #[arg(long, env = "OZ_ATTACHMENT_MAX_COUNT", default_value_t = 10)]
    pub attachment_max_count: usize,
    /// Largest media file in an upload, bytes.
    #[arg(long, env = "OZ_ATTACHMENT_MAX_SIZE", default_value_t = 10 * 1024 * 1024)]
    pub attachment_max_size: u64,
    /// First ADMIN, created at start when there is no user yet.
    #[arg(long, env = "OZ_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    #[arg(long, env = "OZ_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,
    /// API Lite routes: on, or off (they answer 404).
    #[arg(long, env = "OZ_LITE", value_enum, default_value_t = LiteSwitch::On)]
    pub lite: LiteSwitch,
    /// The web console under /console: on, or off (it answers 404).
    #[arg(long, env = "OZ_CONSOLE", value_enum, default_value_t = LiteSwitch::On)]
    pub console: LiteSwitch,
    /// Serve the console's files from this folder instead of the copies in the binary (for
    /// developing the console: edit, reload). Only file names the binary has are served.
    #[arg(long, env = "OZ_CONSOLE_DIR")]
    pub console_dir: Option<PathBuf>,
    /// The web capture SDK (/sdk/openoz-capture.js) and page (/capture/): on, or off (404).
    #[arg(long, env = "OZ_CAPTURE", value_enum, default_value_t = LiteSwitch::On)]
    pub capture: LiteSwitch,
    /// Comma list of origins (https://app.example) that may frame /capture/, receive its result
    /// by postMessage, and call the API from a browser (CORS). Empty: this origin only.
    #[arg(long, env = "OZ_CAPTURE_ORIGINS", default_value = "")]
    pub capture_origins: String,
    /// API Lite authentication: none (anyone who reaches the port), token (any valid
    /// X-Forensic-Access-Token), service (a service user's token). Unset means none, and then the
    /// server refuses a non-loopback OZ_LISTEN.
    #[arg(long, env = "OZ_LITE_AUTH", value_enum)]
    pub lite_auth: Option<LiteAuthArg>,
    /// Instant API (`POST /api/instant/folders/`) authentication: token (a non-OPERATOR user's
    /// access token or SDK session token), none (no check; refused on a non-loopback OZ_LISTEN),
    /// none-public (no check, on any address: authorization is done in front of the server).
    #[arg(long, env = "OZ_INSTANT_AUTH", value_enum, default_value_t = InstantAuthArg::Token)]
    pub instant_auth: InstantAuthArg,
    /// Lifetime of the SDK session tokens of GET /api/authorize/session_token, seconds (1 to 86400).
    #[arg(long, env = "OZ_SESSION_TOKEN_TTL", default_value_t = 600)]
    pub session_token_ttl: u64,
    /// Analyses one company may have queued or running; a request that would pass it answers
    /// 429 with Retry-After, before anything is stored. 0 = no limit.
    #[arg(long, env = "OZ_COMPANY_QUEUE_LIMIT", default_value_t = 100)]
    pub company_queue_limit: usize,
    /// Least actions a liveness challenge asks for (1 to 6).
    #[arg(long, env = "OZ_CHALLENGE_MIN_ACTIONS", default_value_t = 2)]
    pub challenge_min_actions: usize,
    /// Most actions a liveness challenge asks for (1 to 6).
    #[arg(long, env = "OZ_CHALLENGE_MAX_ACTIONS", default_value_t = 4)]
    pub challenge_max_actions: usize,
    /// Actions challenges are drawn from, comma list of blink, smile, turn_left, turn_right,
    /// look_up, look_down.
    #[arg(long, env = "OZ_CHALLENGE_ACTIONS", default_value = "blink,smile,turn_left,turn_right,look_up,look_down")]
    pub challenge_actions: String,
    /// Seconds a liveness challenge may be used after it was issued (10 to 3600).
    #[arg(long, env = "OZ_CHALLENGE_TTL", default_value_t = 120)]
    pub challenge_ttl: u64,
    /// Unused, unexpired challenges one company may hold; more answer 429.
    #[arg(long, env = "OZ_CHALLENGE_MAX_OPEN", default_value_t = 1000)]
    pub challenge_max_open: usize,
    /// SDK telemetry sessions (`POST /api/event_sessions/`) one company may open in 24 hours;
    /// more answer 429. 0 = no limit.
    #[arg(long, env = "OZ_EVENT_SESSIONS_PER_DAY", default_value_t = 10_000)]
    pub event_sessions_per_day: u64,
    /// SDK telemetry sessions one SDK session token may open (a capture page opens one per
    /// attempt); more answer 429. 0 = no limit.
    #[arg(long, env = "OZ_EVENT_SESSIONS_PER_TOKEN", default_value_t = 20)]
    pub event_sessions_per_token: u64,
    /// Frames one token may send to `POST /api/liveness/precheck` a minute (the capture page
    /// sends about one a second while it guides the person); 0 = no limit.
    #[arg(long, env = "OZ_PRECHECK_PER_MINUTE", default_value_t = 120)]
    pub precheck_per_minute: u32,
    /// Largest precheck frame, bytes.
    #[arg(long, env = "OZ_PRECHECK_MAX_BYTES", default_value_t = 512 * 1024)]
    pub precheck_max_bytes: usize,
    /// Requests decoding or analysing media at once (default: number of cores).
    #[arg(long, env = "OZ_MAX_INFLIGHT")]
    pub max_inflight: Option<usize>,
    /// Requests that may wait for an inference slot (default: OZ_MAX_INFLIGHT); more get 503.
    #[arg(long, env = "OZ_ADMISSION_QUEUE")]
    pub admission_queue: Option<usize>,
    /// Longest wait for an inference slot, milliseconds; then 503 with Retry-After.
    #[arg(long, env = "OZ_ADMISSION_WAIT_MS", default_value_t = 3000)]
    pub admission_wait_ms: u64,
    #[command(flatten)]
    pub login: LoginArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `OZ_LITE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LiteSwitch {
    On,
    Off,
}

/// `OZ_LITE_AUTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LiteAuthArg {
    None,
    Token,
    Service,
}

/// `OZ_INSTANT_AUTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstantAuthArg {
    Token,
    None,
    NonePublic,
}

impl ServeArgs {
    /// `OZ_INSTANT_AUTH` for the HTTP layer.
    #[must_use]
    pub fn instant_auth(&self) -> InstantAuth {
        match self.instant_auth {
            InstantAuthArg::Token => InstantAuth::Token,
            InstantAuthArg::None | InstantAuthArg::NonePublic => InstantAuth::None,
        }
    }

    /// The challenge policy of `OZ_CHALLENGE_*`; an impossible one stops the start with the reason.
    pub fn challenge_policy(&self) -> anyhow::Result<oz_domain::challenge::ChallengePolicy> {
        use oz_domain::challenge::ChallengePolicy;
        let actions = ChallengePolicy::parse_actions(&self.challenge_actions)
            .map_err(|e| anyhow::anyhow!("OZ_CHALLENGE_ACTIONS: {e}"))?;
        ChallengePolicy::new(self.challenge_min_actions, self.challenge_max_actions, &actions, self.challenge_ttl)
            .map_err(|e| anyhow::anyhow!("OZ_CHALLENGE_*: {e}"))
    }

    /// `OZ_SESSION_TOKEN_TTL`, 1 s to a day.
    #[must_use]
    pub fn session_token_ttl(&self) -> Duration {
        let max = u64::try_from(oz_domain::instant::SESSION_TOKEN_MAX_TTL_S).unwrap_or(86_400);
        Duration::from_secs(self.session_token_ttl.clamp(1, max))
    }

    pub fn lite_config(&self) -> anyhow::Result<LiteConfig> {
        let t = &self.engine.thresholds;
        if !oz_domain::liveness::valid_threshold(f64::from(t.threshold_spoofing)) {
            anyhow::bail!("OZ_THRESHOLD_SPOOFING must be in [0, 1]");
        }
        Ok(LiteConfig {
            thresholds: t.thresholds()?,
            threshold_spoofing: t.threshold_spoofing,
            max_request_bytes: self.max_request_bytes,
            max_parts: self.max_parts.max(1),
            enabled: self.lite == LiteSwitch::On,
            auth: match self.lite_auth {
                None | Some(LiteAuthArg::None) => LiteAuth::None,
                Some(LiteAuthArg::Token) => LiteAuth::Token,
                Some(LiteAuthArg::Service) => LiteAuth::Service,
            },
            max_json_bytes: self.max_json_bytes.max(1024),
            gesture_policy: t.gesture_policy(),
        })
    }

    /// Refuses to expose an unauthenticated API Lite on a non-loopback address unless the operator
    /// chose it with `OZ_LITE_AUTH=none`.
    pub fn check_exposure(&self) -> anyhow::Result<()> {
        if self.lite == LiteSwitch::On && self.lite_auth.is_none() && !self.listen.ip().is_loopback() {
            anyhow::bail!(
                "refusing to serve API Lite without authentication on {}: anyone who reaches it can run \
                 face liveness and biometry on the server's CPU. Set OZ_LITE_AUTH=token (any valid \
                 X-Forensic-Access-Token) or OZ_LITE_AUTH=service, or OZ_LITE=off, or OZ_LITE_AUTH=none to \
                 accept this",
                self.listen
            );
        }
        if self.instant_auth == InstantAuthArg::None && !self.listen.ip().is_loopback() {
            anyhow::bail!(
                "refusing to serve the Instant API without authentication on {}: anyone who reaches it can \
                 run face liveness and biometry on the server's CPU. Use OZ_INSTANT_AUTH=token (the default: \
                 an access or session token), or OZ_INSTANT_AUTH=none-public when authorization is done in \
                 front of this server",
                self.listen
            );
        }
        Ok(())
    }

    /// The intake limits (`OZ_MAX_CONNECTIONS`, `OZ_HEADER_TIMEOUT_S`, `OZ_BODY_*`, `OZ_SPOOL_*`).
    /// The memory budget holds at least one whole request (`OZ_MAX_REQUEST_BYTES`).
    #[must_use]
    pub fn intake(&self) -> oz_http::IntakeConfig {
        use std::time::Duration;
        oz_http::IntakeConfig {
            max_connections: self.max_connections.max(1),
            header_timeout: Duration::from_secs(self.header_timeout_s.max(1)),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout_s.max(1)),
            body_min_rate: self.body_min_rate,
            body_timeout: Duration::from_secs(self.body_timeout_s.max(1)),
            memory_bytes: self.body_memory_bytes.max(self.max_request_bytes).max(1 << 20),
            spool_memory_bytes: self.spool_memory_bytes,
            spool_max_bytes: self.spool_max_bytes.max(self.max_request_bytes),
            spool_dir: Some(self.engine.data_dir.join("spool")),
        }
    }

    /// The admission gate's settings.
    #[must_use]
    pub fn admission(&self) -> AdmissionConfig {
        let defaults = AdmissionConfig::default();
        let max_inflight = self.max_inflight.unwrap_or(defaults.max_inflight).max(1);
        AdmissionConfig {
            max_inflight,
            queue: self.admission_queue.unwrap_or(max_inflight),
            max_wait: std::time::Duration::from_millis(self.admission_wait_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> ServeArgs {
        let mut all = vec!["oz-server"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("parses").serve
    }

    #[test]
    fn gesture_and_planarity_settings_are_bounded() {
        use oz_domain::gesture::GesturePolicy;
        let args = parse(&["--gesture-check", "operator", "--planarity-weight", "NaN", "--gesture-frames", "100000"]);
        assert_eq!(args.lite_config().expect("config").gesture_policy, GesturePolicy::Operator);
        assert_eq!(args.engine.thresholds.gesture_policy(), GesturePolicy::Operator);
        let cfg = args.engine.vision.pipeline_config();
        assert_eq!((cfg.planarity_weight, cfg.gesture_frames), (0.0, 96));
        let cfg = parse(&["--planarity-weight=7", "--gesture-frames=0"]).engine.vision.pipeline_config();
        assert_eq!((cfg.planarity_weight, cfg.gesture_frames), (1.0, 4));
        let defaults = parse(&[]);
        assert_eq!(defaults.engine.thresholds.gesture_policy(), GesturePolicy::Report);
        assert!((defaults.engine.vision.pipeline_config().planarity_weight - 0.75).abs() < 1e-6);
        assert!(
            Cli::try_parse_from(["oz-server", "--gesture-check", "yes"]).is_err(),
            "unknown policy refused at start"
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let args = parse(&[
            "--database-url",
            "postgres://oz:db-pass-1234@db/oz",
            "--webhook-secret",
            "hook-secret-5678",
            "--admin-password",
            "admin-pass-9012",
            "--metrics-token",
            "metrics-tok-3456",
        ]);
        assert_eq!(args.engine.database_url.as_ref().map(Secret::expose), Some("postgres://oz:db-pass-1234@db/oz"));
        let shown = format!("{args:?} {args:#?}");
        for secret in ["db-pass-1234", "hook-secret-5678", "admin-pass-9012", "metrics-tok-3456"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn lite_without_auth_only_on_loopback_unless_explicit() {
        assert!(parse(&["--listen", "127.0.0.1:8080"]).check_exposure().is_ok());
        assert!(parse(&["--listen", "[::1]:8080"]).check_exposure().is_ok());
        let err = parse(&["--listen", "0.0.0.0:8080"]).check_exposure().expect_err("refused");
        assert!(err.to_string().contains("OZ_LITE_AUTH"), "{err}");
        assert!(parse(&["--listen", "10.1.2.3:8080"]).check_exposure().is_err());
        assert!(parse(&["--listen", "0.0.0.0:8080", "--lite-auth", "none"]).check_exposure().is_ok());
        assert!(parse(&["--listen", "0.0.0.0:8080", "--lite-auth", "token"]).check_exposure().is_ok());
        assert!(parse(&["--listen", "0.0.0.0:8080", "--lite", "off"]).check_exposure().is_ok());
        let cfg = parse(&["--lite-auth", "service", "--lite", "off"]).lite_config().expect("config");
        assert_eq!((cfg.enabled, cfg.auth), (false, LiteAuth::Service));
        assert_eq!(parse(&[]).lite_config().expect("config").auth, LiteAuth::None);
    }

    #[test]
    fn instant_without_auth_only_on_loopback_unless_public() {
        let lite = ["--lite-auth", "token"];
        let args = |listen: &str, instant: &str| {
            let mut a = vec!["--listen", listen, "--instant-auth", instant];
            a.extend_from_slice(&lite);
            parse(&a)
        };
        assert_eq!(parse(&[]).instant_auth(), InstantAuth::Token);
        assert!(args("0.0.0.0:8080", "token").check_exposure().is_ok());
        assert!(args("127.0.0.1:8080", "none").check_exposure().is_ok());
        let err = args("0.0.0.0:8080", "none").check_exposure().expect_err("refused");
        assert!(err.to_string().contains("OZ_INSTANT_AUTH"), "{err}");
        let public = args("10.1.2.3:8080", "none-public");
        assert!(public.check_exposure().is_ok());
        assert_eq!(public.instant_auth(), InstantAuth::None);
        assert_eq!(parse(&[]).session_token_ttl().as_secs(), 600);
        assert_eq!(parse(&["--session-token-ttl", "0"]).session_token_ttl().as_secs(), 1);
        assert_eq!(parse(&["--session-token-ttl", "999999"]).session_token_ttl().as_secs(), 86_400);
    }

    #[test]
    fn challenge_settings() {
        let p = parse(&[]).challenge_policy().expect("default policy");
        assert_eq!((p.min_actions(), p.max_actions(), p.allowed().len(), p.ttl_s()), (2, 4, 6, 120));
        let p = parse(&["--challenge-actions", "blink, turn_left", "--challenge-max-actions", "3"])
            .challenge_policy()
            .expect("policy");
        assert_eq!(p.allowed().len(), 2);
        let err = parse(&["--challenge-actions", "nod"]).challenge_policy().expect_err("unknown action");
        assert!(err.to_string().contains("OZ_CHALLENGE_ACTIONS"), "{err}");
        assert!(parse(&["--challenge-min-actions", "5"]).challenge_policy().is_err());
        assert!(parse(&["--challenge-ttl", "1"]).challenge_policy().is_err());
    }

    #[test]
    fn metrics_settings() {
        let m = parse(&[]).engine.metrics.config();
        assert_eq!((m.token, m.on_main), (None, true));
        let m = parse(&["--metrics-token", "t0k", "--metrics-listen", "127.0.0.1:9464"]).engine.metrics.config();
        assert_eq!((m.token.as_deref(), m.on_main), (Some("t0k"), false));
        assert_eq!(parse(&["--metrics-token", ""]).engine.metrics.config().token, None, "empty means unset");
    }

    #[test]
    fn admission_defaults_follow_max_inflight() {
        let a = parse(&["--max-inflight", "3"]).admission();
        assert_eq!((a.max_inflight, a.queue), (3, 3));
        let a = parse(&["--max-inflight", "0", "--admission-queue", "0", "--admission-wait-ms", "10"]).admission();
        assert_eq!((a.max_inflight, a.queue, a.max_wait.as_millis()), (1, 0, 10));
    }
}

/// Login throttling and password hashing.
#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// Login attempts per minute from one client address (IPv6: per /64); 0 = no limit.
    #[arg(long, env = "OZ_LOGIN_RATE_PER_MINUTE", default_value_t = 30)]
    pub login_rate_per_minute: u32,
    /// Login attempts per minute for one email; 0 = no limit.
    #[arg(long, env = "OZ_LOGIN_EMAIL_RATE_PER_MINUTE", default_value_t = 10)]
    pub login_email_rate_per_minute: u32,
    /// Attempts allowed at once before the per-minute rates apply (default: one minute's worth).
    #[arg(long, env = "OZ_LOGIN_BURST")]
    pub login_burst: Option<u32>,
    /// Password hashes (argon2id, about 19 MiB each) computed at once (default: number of cores).
    #[arg(long, env = "OZ_PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,
    /// Longest wait for a password-hashing slot, milliseconds; then 503 with Retry-After.
    #[arg(long, env = "OZ_PASSWORD_HASH_WAIT_MS", default_value_t = 2000)]
    pub password_hash_wait_ms: u64,
    /// Reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated;
    /// default none: the client is the TCP peer).
    #[arg(long, env = "OZ_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
}

impl LoginArgs {
    pub fn guard(&self) -> anyhow::Result<oz_http::api::throttle::LoginGuard> {
        use oz_http::api::throttle::{LoginGuard, LoginLimits, parse_trusted_proxies};
        let defaults = LoginLimits::default();
        let trusted_proxies = parse_trusted_proxies(self.trusted_proxies.as_deref().unwrap_or(""))
            .map_err(|e| anyhow::anyhow!("OZ_TRUSTED_PROXIES: {e}"))?;
        Ok(LoginGuard::new(LoginLimits {
            per_address_per_minute: self.login_rate_per_minute,
            per_email_per_minute: self.login_email_rate_per_minute,
            burst: self.login_burst,
            hash_concurrency: self.password_hash_concurrency.unwrap_or(defaults.hash_concurrency).max(1),
            hash_wait: std::time::Duration::from_millis(self.password_hash_wait_ms),
            trusted_proxies,
        }))
    }
}
