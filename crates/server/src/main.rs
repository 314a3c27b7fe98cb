//! `oz-server`: the openoz binary.
//!
//! - `serve` (default): verify models, load ONNX Runtime, serve the Oz API Lite.
//! - `analyze FILE...`: faces, liveness, quality, best frame and timings of local files.
//! - `eval DIR`: verification accuracy and liveness APCER/BPCER/ACER on labelled media.
//! - `openapi`: print the OpenAPI 3.1 document of every route (`docs/openapi.json`).

mod analyze;
mod attacks;
mod boot;
mod config;
mod eval;
mod eval_challenges;
mod telemetry;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "oz-server",
    version,
    about = "Self-hosted server for the Oz Forensics API (liveness and face biometry)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Log lines as text or JSON (one object a line, with span fields such as request_id).
    #[arg(long, env = "OZ_LOG_FORMAT", value_enum, global = true, default_value_t = telemetry::LogFormat::Text)]
    log_format: telemetry::LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server and analysis workers (the default).
    Serve(Box<config::ServeArgs>),
    /// Run analysis workers only (several processes can share one PostgreSQL).
    Worker(Box<config::EngineArgs>),
    /// Create an ADMIN user.
    CreateAdmin(boot::CreateAdminArgs),
    /// Analyse local images, videos or zip shot sets and print a table.
    Analyze(analyze::AnalyzeArgs),
    /// Evaluate verification and liveness on a folder of labelled media.
    Eval(eval::EvalArgs),
    /// Print the OpenAPI 3.1 document of the full API and API Lite (JSON) and exit.
    Openapi,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(cli.log_format);
    let command = cli.command.unwrap_or_else(|| {
        // No subcommand: serve with settings from the environment.
        match Cli::try_parse_from(["oz-server", "serve"]) {
            Ok(Cli { command: Some(c), .. }) => c,
            _ => Command::Serve(Box::new(parse_serve_defaults())),
        }
    });
    let result = match command {
        Command::Serve(args) => serve(*args),
        Command::Worker(args) => boot::worker(&args),
        Command::CreateAdmin(args) => boot::create_admin(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Openapi => {
            print!("{}", oz_http::openapi::json());
            Ok(())
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oz-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn parse_serve_defaults() -> config::ServeArgs {
    #[derive(Parser)]
    struct Only {
        #[command(flatten)]
        serve: config::ServeArgs,
    }
    Only::parse_from(["oz-server"]).serve
}

fn serve(args: config::ServeArgs) -> anyhow::Result<()> {
    args.check_exposure()?;
    let lite = args.lite_config()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        // Models, ONNX Runtime and the database first: a broken install fails with its own message.
        let booted = boot::start(&args.engine, Some(args.listen)).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let admin_password = args.admin_password.as_ref().map(config::Secret::expose);
        boot::ensure_admin(&booted.db, args.admin_email.as_deref(), admin_password).await?;
        let api = oz_http::FullApi {
            db: booted.db.clone(),
            engine: booted.engine.clone(),
            cfg: oz_http::ApiConfig {
                session_ttl: std::time::Duration::from_secs(args.session_ttl.max(1)),
                session_longlive_ttl: std::time::Duration::from_secs(args.session_longlive_ttl.max(1)),
                attachment_max_count: args.attachment_max_count.max(1),
                attachment_max_size: args.attachment_max_size,
                urls: booted.engine.cfg.urls.clone(),
                login: args.login.guard()?,
                instant_auth: args.instant_auth(),
                session_tokens: oz_http::api::session_token::SessionTokens::new(args.session_token_ttl()),
                company_queue_limit: args.company_queue_limit,
                challenges: args.challenge_policy()?,
                challenge_max_open: args.challenge_max_open,
                event_sessions: oz_http::state::EventSessionCaps {
                    per_day: args.event_sessions_per_day,
                    per_token: args.event_sessions_per_token,
                },
                precheck: oz_http::api::precheck::PrecheckGuard::new(args.precheck_per_minute, args.precheck_max_bytes),
                ..oz_http::ApiConfig::default()
            },
            dummy_hash: oz_http::api::auth::hash_password("not a real password".into())
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?,
        };
        let admission = args.admission();
        let state = oz_http::AppState::with_api(booted.pipeline.clone(), lite, api)
            .with_admission(oz_http::Admission::new(admission))
            .with_intake(args.intake())
            .with_metrics(args.engine.metrics.config())
            .with_console(oz_http::console::ConsoleConfig {
                enabled: args.console == config::LiteSwitch::On,
                dir: args.console_dir.clone(),
            })
            .with_capture(oz_http::capture::CaptureConfig {
                enabled: args.capture == config::LiteSwitch::On,
                origins: oz_http::capture::CaptureConfig::parse_origins(&args.capture_origins)
                    .map_err(anyhow::Error::msg)?,
            });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let upkeep = telemetry::spawn_upkeep();
        args.engine.metrics.warn_exposure(addr);
        let metrics = args.engine.metrics.serve(state.clone(), stop_rx.clone()).await?;
        let workers = booted.engine.start(stop_rx);
        tracing::info!(
            %addr,
            database = ?booted.db.backend(),
            workers = args.engine.workers,
            lite = ?args.lite,
            lite_auth = ?state.lite.auth,
            instant_auth = ?args.instant_auth,
            max_inflight = admission.max_inflight,
            "openoz listening"
        );
        oz_http::serve(listener, state, shutdown_signal()).await?;
        let _ = stop_tx.send(true);
        for w in workers {
            let _ = w.await;
        }
        upkeep.abort();
        if let Some(m) = metrics {
            m.abort();
        }
        booted.db.close().await;
        tracing::info!("stopped");
        Ok(())
    })
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
