//! Logs (`OZ_LOG_FORMAT`) and the metrics endpoint settings (`OZ_METRICS_TOKEN`,
//! `OZ_METRICS_LISTEN`) of the server and worker processes.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::config::Secret;

/// `OZ_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line, with the fields of the enclosing spans (`request_id`, `job`...).
    Json,
}

/// Installs the log subscriber: `RUST_LOG` filter (default `info,ort=warn`), text or JSON lines
/// on standard output.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,ort=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).init(),
    }
}

/// `/metrics` settings, shared by `serve` and `worker`.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Bearer token `/metrics` requires (unset: no token needed).
    #[arg(long, env = "OZ_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,
    /// Serve `/metrics` on this address only (then not on OZ_LISTEN). `oz-server worker` serves
    /// metrics only when this is set.
    #[arg(long, env = "OZ_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

impl MetricsArgs {
    #[must_use]
    pub fn config(&self) -> oz_http::observe::MetricsConfig {
        oz_http::observe::MetricsConfig {
            token: self.metrics_token.as_ref().map(|s| s.expose().to_string()).filter(|s| !s.is_empty()),
            on_main: self.metrics_listen.is_none(),
        }
    }

    /// Warns when `/metrics` is served on a non-loopback main listener without a token.
    pub fn warn_exposure(&self, listen: SocketAddr) {
        let open = self.metrics_token.as_ref().is_none_or(|t| t.expose().is_empty());
        if self.metrics_listen.is_none() && open && !listen.ip().is_loopback() {
            tracing::warn!(
                %listen,
                "/metrics is served on a non-loopback OZ_LISTEN without OZ_METRICS_TOKEN: set a token or OZ_METRICS_LISTEN"
            );
        }
    }

    /// Binds `OZ_METRICS_LISTEN` (when set) and serves `/metrics` there until `stop` turns true.
    pub async fn serve(
        &self,
        state: oz_http::AppState,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        let Some(addr) = self.metrics_listen else { return Ok(None) };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on OZ_METRICS_LISTEN {addr}"))?;
        let bound = listener.local_addr()?;
        if state.metrics.token.is_none() && !bound.ip().is_loopback() {
            tracing::warn!(%bound, "OZ_METRICS_LISTEN is not a loopback address and OZ_METRICS_TOKEN is unset");
        }
        tracing::info!(addr = %bound, "metrics listening");
        let shutdown = async move {
            let _ = stop.changed().await;
        };
        Ok(Some(tokio::spawn(async move {
            if let Err(e) = oz_http::observe::serve_metrics(listener, state, shutdown).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        })))
    }
}

/// Drains histogram samples every few seconds, so an unscraped process keeps bounded memory.
pub fn spawn_upkeep() -> tokio::task::JoinHandle<()> {
    oz_http::observe::recorder();
    tokio::spawn(async {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            oz_http::observe::upkeep();
        }
    })
}
