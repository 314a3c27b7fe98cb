//! `oz-server`: the openoz binary.
//!
//! - `serve` (default): verify models, load ONNX Runtime, serve the Oz API Lite.
//! - `analyze FILE...`: faces, liveness, quality, best frame and timings of local files.
//! - `eval DIR`: verification accuracy and liveness APCER/BPCER/ACER on labelled media.

mod analyze;
mod attacks;
mod config;
mod eval;

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "oz-server",
    version,
    about = "Self-hosted server for the Oz Forensics API (liveness and face biometry)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve(Box<config::ServeArgs>),
    /// Analyse local images, videos or zip shot sets and print a table.
    Analyze(analyze::AnalyzeArgs),
    /// Evaluate verification and liveness on a folder of labelled media.
    Eval(eval::EvalArgs),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,ort=warn")))
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_else(|| {
        // No subcommand: serve with settings from the environment.
        match Cli::try_parse_from(["oz-server", "serve"]) {
            Ok(Cli { command: Some(c) }) => c,
            _ => Command::Serve(Box::new(parse_serve_defaults())),
        }
    });
    let result = match command {
        Command::Serve(args) => serve(*args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Eval(args) => eval::run(&args),
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
    let lite = args.lite_config()?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create OZ_DATA_DIR {}", args.data_dir.display()))?;
    let started = std::time::Instant::now();
    let pipeline = oz_vision::Pipeline::load(args.vision.pipeline_config())
        .context("cannot start: the face models or ONNX Runtime could not be loaded")?;
    tracing::info!(
        models = ?pipeline.model_versions().iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        sessions_per_model = pipeline.config().pool_size,
        load_ms = started.elapsed().as_millis() as u64,
        "models verified and loaded"
    );
    let state = oz_http::AppState::new(Arc::new(pipeline), lite);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracing::info!(addr = %listener.local_addr()?, "openoz listening");
        oz_http::serve(listener, state, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
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
