//! Configuration from the environment (every variable is documented in README.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use oz_domain::decision::DecisionThresholds;
use oz_http::LiteConfig;
use oz_vision::limits::MediaLimits;
use oz_vision::video::VideoLimits;
use oz_vision::{BudgetConfig, PipelineConfig};

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
    /// Most entries in a zip shot set.
    #[arg(long, env = "OZ_ZIP_MAX_ENTRIES", default_value_t = 64)]
    pub zip_max_entries: usize,
    /// Most uncompressed bytes in a zip shot set.
    #[arg(long, env = "OZ_ZIP_MAX_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub zip_max_bytes: u64,
    /// Frames sampled from a video or shot set.
    #[arg(long, env = "OZ_SAMPLE_FRAMES", default_value_t = 8)]
    pub sample_frames: usize,
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
                },
                zip_max_entries: self.zip_max_entries,
                zip_max_total_bytes: self.zip_max_bytes,
                sample_frames: self.sample_frames.max(1),
                ..MediaLimits::default()
            },
            budget: BudgetConfig {
                total_bytes: self.decode_budget_bytes,
                request_bytes: self.decode_request_budget_bytes.min(self.decode_budget_bytes),
                wait: Duration::from_millis(self.decode_budget_wait_ms),
            },
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
    /// Score below which a biometric match is `declined` (between: `operator_required`).
    #[arg(long, env = "OZ_BIOMETRY_DECLINE", default_value_t = DecisionThresholds::DEFAULT.decline)]
    pub biometry_decline: f32,
    /// Default `threshold_spoofing`: a liveness score above it is an attack.
    #[arg(long, env = "OZ_THRESHOLD_SPOOFING", default_value_t = oz_domain::liveness::DEFAULT_THRESHOLD_SPOOFING)]
    pub threshold_spoofing: f32,
}

impl ThresholdArgs {
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
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Analysis workers in this process.
    #[arg(long, env = "OZ_WORKERS", default_value_t = 2)]
    pub workers: usize,
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
    pub webhook_secret: Option<String>,
    /// Webhook request timeout, seconds.
    #[arg(long, env = "OZ_WEBHOOK_TIMEOUT", default_value_t = 10)]
    pub webhook_timeout: u64,
    /// Webhook attempts before giving up.
    #[arg(long, env = "OZ_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: i64,
    /// First webhook retry delay, seconds (doubles each attempt, at most one hour).
    #[arg(long, env = "OZ_WEBHOOK_RETRY_STEP", default_value_t = 5)]
    pub webhook_retry_step: u64,
    /// Decoded uploads kept in memory for the analyses that follow (entries, 0 = off; a 4 s
    /// 720p video with 8 sampled frames takes about 22 MB).
    #[arg(long, env = "OZ_DECODE_CACHE", default_value_t = 8)]
    pub decode_cache: usize,
    /// Bytes of decoded frames that cache may hold (0 = off). It counts in
    /// OZ_DECODE_BUDGET_BYTES, so it is kept to at most a quarter of it.
    #[arg(long, env = "OZ_DECODE_CACHE_BYTES", default_value_t = 128 << 20)]
    pub decode_cache_bytes: u64,
    /// Base of the URLs in responses and webhooks (original_url...). Default: http://OZ_LISTEN.
    #[arg(long, env = "OZ_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub vision: VisionArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
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
    pub admin_password: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl ServeArgs {
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
            max_json_bytes: self.max_json_bytes.max(1024),
        })
    }
}
