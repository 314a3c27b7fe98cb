//! Shared state of the HTTP handlers.

use std::sync::Arc;

use oz_domain::decision::DecisionThresholds;
use oz_vision::Pipeline;

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
}

impl Default for LiteConfig {
    fn default() -> Self {
        Self {
            thresholds: DecisionThresholds::DEFAULT,
            threshold_spoofing: oz_domain::liveness::DEFAULT_THRESHOLD_SPOOFING,
            max_request_bytes: 128 * 1024 * 1024,
            max_parts: 32,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pipeline: Arc<Pipeline>,
    pub lite: Arc<LiteConfig>,
}

impl AppState {
    #[must_use]
    pub fn new(pipeline: Arc<Pipeline>, lite: LiteConfig) -> Self {
        Self { pipeline, lite: Arc::new(lite) }
    }

    /// Runs CPU-bound pipeline work on a blocking thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T, crate::error::LiteError>
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
