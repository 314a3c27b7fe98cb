//! Start-up wiring shared by `serve` and `worker`: models, database (migrations), media files,
//! the engine; and the first ADMIN.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use oz_domain::access::Role;
use oz_engine::files::MediaFiles;
use oz_engine::links::LinkSigner;
use oz_engine::render::Urls;
use oz_engine::runner::RunnerConfig;
use oz_engine::webhook::WebhookConfig;
use oz_engine::{Engine, EngineConfig};
use oz_storage::Db;
use oz_storage::accounts::NewUser;
use oz_vision::Pipeline;

use crate::config::{EngineArgs, Secret};

pub struct Booted {
    pub db: Db,
    pub pipeline: Arc<Pipeline>,
    pub engine: Arc<Engine>,
}

/// Verifies and loads the models, connects to the database (applying migrations) and builds the
/// engine (not started).
/// `listen` is set for `serve`, which may run no workers (`OZ_WORKERS=0`: an API-only process
/// beside separate `worker` processes); `worker` always runs at least one.
pub async fn start(args: &EngineArgs, listen: Option<SocketAddr>) -> anyhow::Result<Booted> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create OZ_DATA_DIR {}", args.data_dir.display()))?;
    let started = std::time::Instant::now();
    let cfg = args.vision.pipeline_config();
    let pipeline = tokio::task::spawn_blocking(move || Pipeline::load(cfg))
        .await?
        .context("cannot start: the face models or ONNX Runtime could not be loaded")?;
    tracing::info!(
        models = ?pipeline.model_versions().iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        sessions_per_model = pipeline.config().pool_size,
        load_ms = started.elapsed().as_millis() as u64,
        "models verified and loaded"
    );
    let url = Db::url_or_default(args.database_url.as_ref().map(Secret::expose), &args.data_dir);
    let db = Db::connect(&url).await.context("cannot open the database")?;
    let files =
        MediaFiles::from_url(args.storage_url.as_deref(), &args.data_dir).context("cannot open the media store")?;
    files
        .check()
        .await
        .with_context(|| format!("cannot write, read and delete in the media store {}", files.location()))?;
    tracing::info!(store = %files.location(), shared = files.is_shared(), "media store ready");
    let base = args.public_url.clone().unwrap_or_else(|| match listen {
        Some(a) => format!("http://{a}"),
        None => "http://127.0.0.1:8080".to_string(),
    });
    let links = link_signer(&db, &args.lifecycle).await?;
    let t = &args.thresholds;
    let cfg = EngineConfig {
        workers: if listen.is_some() { args.workers } else { args.workers.max(1) },
        lease: Duration::from_secs(args.job_lease.max(3)),
        poll: Duration::from_millis(500),
        max_attempts: args.job_max_attempts.max(1),
        expire_after: Duration::from_secs(args.expire_timeout.max(1)),
        expire_every: Duration::from_secs(args.expire_period.max(1)),
        runner: RunnerConfig {
            thresholds: t.thresholds()?,
            threshold_spoofing: t.threshold_spoofing,
            gesture_policy: t.gesture_policy(),
        },
        webhook: WebhookConfig {
            secret: args.webhook_secret.as_ref().map(|s| s.expose().to_string()).filter(|s| !s.is_empty()),
            timeout: Duration::from_secs(args.webhook_timeout.max(1)),
            max_attempts: args.webhook_max_attempts.max(1),
            retry_step: Duration::from_secs(args.webhook_retry_step.max(1)),
            allow_private: args.webhook_allow_private,
            ca_file: args.webhook_ca_file.clone(),
            concurrency: args.webhook_concurrency.max(1),
            per_host: args.webhook_per_host.max(1),
        },
        urls: Urls { base, links },
        database_url: Some(url),
        decode_cache: args.decode_cache,
        analysis_cache: args.analysis_cache,
        lifecycle: args.lifecycle.config(),
        decode_cache_bytes: args.decode_cache_bytes.min(args.vision.decode_budget_bytes / 4),
        index_threads: args.index_threads.max(1),
        index_poll: Duration::from_millis(args.index_poll_ms.max(50)),
        company_max_running: (args.company_max_running > 0)
            .then(|| i64::try_from(args.company_max_running).unwrap_or(i64::MAX)),
    };
    // Fail at start, not at the first webhook, when OZ_WEBHOOK_CA_FILE is wrong.
    oz_engine::webhook::client(&cfg.webhook).context("cannot set up webhook delivery")?;
    if cfg.webhook.allow_private {
        tracing::warn!("OZ_WEBHOOK_ALLOW_PRIVATE is on: webhooks may go to loopback and private addresses");
    }
    if listen.is_some() && args.workers == 0 {
        tracing::info!(
            "OZ_WORKERS=0: this process runs no analyses; `oz-server worker` processes on the same database run them"
        );
    }
    let pipeline = Arc::new(pipeline);
    let engine = Engine::new(db.clone(), pipeline.clone(), files, cfg);
    let t0 = std::time::Instant::now();
    engine.collections.load(&db).await.context("cannot load the collection templates")?;
    tracing::info!(
        templates = engine.collections.len(),
        bytes = engine.collections.memory_bytes(),
        load_ms = t0.elapsed().as_millis() as u64,
        "1:N index loaded"
    );
    Ok(Booted { db, pipeline, engine })
}

/// The signer of direct file links: off with `OZ_LINK_TTL=0`; keyed by `OZ_LINK_SECRET`, else by a
/// key generated at first start and kept in the database (so every process signs alike).
async fn link_signer(db: &Db, args: &crate::config::LifecycleArgs) -> anyhow::Result<Option<LinkSigner>> {
    if args.link_ttl == 0 {
        return Ok(None);
    }
    let key = match args.link_secret.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(k) => k.to_string(),
        None => db
            .server_secret("link_signing_key", &LinkSigner::new_key())
            .await
            .context("cannot read or store the link signing key")?,
    };
    Ok(Some(LinkSigner::new(key.as_bytes(), Duration::from_secs(args.link_ttl))))
}

/// Creates the first ADMIN from `OZ_ADMIN_EMAIL` / `OZ_ADMIN_PASSWORD` when there is no user.
pub async fn ensure_admin(db: &Db, email: Option<&str>, password: Option<&str>) -> anyhow::Result<()> {
    if db.count_users().await? > 0 {
        return Ok(());
    }
    match (email, password) {
        (Some(e), Some(p)) if !e.is_empty() && !p.is_empty() => {
            create(db, e, p).await?;
            tracing::info!(email = e, "created the first ADMIN from OZ_ADMIN_EMAIL");
        }
        _ => tracing::warn!(
            "no user exists yet: set OZ_ADMIN_EMAIL and OZ_ADMIN_PASSWORD, or run `oz-server create-admin`, to use the full API"
        ),
    }
    Ok(())
}

async fn create(db: &Db, email: &str, password: &str) -> anyhow::Result<()> {
    if password.len() < 8 {
        anyhow::bail!("the admin password must have at least 8 characters");
    }
    let hash = oz_http::api::auth::hash_password(password.to_string()).await.map_err(|e| anyhow::anyhow!(e.message))?;
    db.create_user(&NewUser {
        email: email.to_string(),
        password_hash: hash,
        role: Role::Admin,
        company_id: None,
        is_admin: false,
        is_service: false,
        can_start_quality: true,
        can_start_biometry: true,
        can_start_collection: true,
        first_name: None,
        last_name: None,
        middle_name: None,
        meta_data: serde_json::json!({}),
    })
    .await?;
    Ok(())
}

/// `oz-server create-admin --email E`: the password comes from `OZ_ADMIN_PASSWORD` or, when that
/// is unset, from the first line of standard input; never from the command line, where `ps` and
/// shell histories would show it.
#[derive(Debug, Clone, Args)]
pub struct CreateAdminArgs {
    #[arg(long)]
    pub email: String,
    /// No longer accepted (the password would show in `ps` and shell histories).
    #[arg(long, hide = true)]
    pub password: Option<Secret>,
    #[arg(long, env = "OZ_DATA_DIR", default_value = "./data")]
    pub data_dir: std::path::PathBuf,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
}

/// The password of `create-admin`: `OZ_ADMIN_PASSWORD`, else the first line of standard input.
fn admin_password(args: &CreateAdminArgs) -> anyhow::Result<String> {
    if args.password.is_some() {
        anyhow::bail!(
            "--password is no longer accepted (command lines are visible to every user of the machine): \
             set OZ_ADMIN_PASSWORD or write the password on standard input"
        );
    }
    if let Ok(p) = std::env::var("OZ_ADMIN_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password for {} (the input is shown): ", args.email);
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password: set OZ_ADMIN_PASSWORD or write the password on standard input");
    }
    Ok(password)
}

pub fn create_admin(args: &CreateAdminArgs) -> anyhow::Result<()> {
    let password = admin_password(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        std::fs::create_dir_all(&args.data_dir)?;
        let url = Db::url_or_default(args.database_url.as_ref().map(Secret::expose), &args.data_dir);
        let db = Db::connect(&url).await.context("cannot open the database")?;
        create(&db, &args.email, &password).await?;
        println!("created ADMIN {}", args.email);
        Ok(())
    })
}

/// `oz-server worker`: workers, expiry and webhooks, no HTTP.
pub fn worker(args: &EngineArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let booted = start(args, None).await?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let upkeep = crate::telemetry::spawn_upkeep();
        // Metrics of a worker process: its own listener only (OZ_METRICS_LISTEN).
        let api = oz_http::FullApi {
            db: booted.db.clone(),
            engine: booted.engine.clone(),
            cfg: oz_http::ApiConfig::default(),
            dummy_hash: String::new(),
        };
        let state = oz_http::AppState::with_api(booted.pipeline.clone(), oz_http::LiteConfig::default(), api)
            .with_metrics(args.metrics.config());
        let metrics = args.metrics.serve(state, rx.clone()).await?;
        let handles = booted.engine.start(rx);
        tracing::info!(database = ?booted.db.backend(), workers = args.workers, "openoz worker running");
        crate::shutdown_signal().await;
        let _ = tx.send(true);
        for h in handles {
            let _ = h.await;
        }
        upkeep.abort();
        if let Some(m) = metrics {
            m.abort();
        }
        booted.db.close().await;
        Ok(())
    })
}
