//! Metric names the engine records through the `metrics` facade (the HTTP layer installs the
//! Prometheus recorder and serves `/metrics`; see docs/OPERATIONS.md). Label values are closed
//! sets: analysis types, resolution statuses, fixed outcome words; never ids.

use std::time::Duration;

use oz_domain::access::AnalysisKind;
use oz_domain::status::ResolutionStatus;

/// Counter: analyses a worker began running, by `type` (each attempt counts).
pub const ANALYSES_STARTED: &str = "openoz_analyses_started_total";
/// Counter: analyses whose outcome was recorded, by `type` and `resolution`.
pub const ANALYSES_FINISHED: &str = "openoz_analyses_finished_total";
/// Counter: analyses failed by the expiry sweep (hung, or out of attempts).
pub const ANALYSES_EXPIRED: &str = "openoz_analyses_expired_total";
/// Histogram: running time of an analysis in a worker, seconds, by `type`.
pub const ANALYSIS_DURATION: &str = "openoz_analysis_duration_seconds";
/// Histogram: from queued to result recorded (queue wait, retries and running), seconds, by
/// `type`: what Oz's monitoring guide checks as the p90 "delay" of analyses.
pub const ANALYSIS_LATENCY: &str = "openoz_analysis_latency_seconds";
/// Histogram: time a job waited in the queue before a worker first claimed it, seconds, by `type`.
pub const JOB_WAIT: &str = "openoz_job_wait_seconds";
/// Counter: webhook attempts by `outcome` (`delivered`, `retry`, `gave_up`, `refused`).
pub const WEBHOOK_DELIVERIES: &str = "openoz_webhook_deliveries_total";
/// Histogram: time of one webhook attempt, seconds.
pub const WEBHOOK_SECONDS: &str = "openoz_webhook_delivery_seconds";
/// Counter: decode-cache look-ups by `result` (`hit`, `miss`).
pub const DECODE_CACHE: &str = "openoz_decode_cache_requests_total";
/// Counter: analysis-cache look-ups by `result` (`hit`: the models' results of a media were reused
/// or waited for; `miss`: the models ran).
pub const ANALYSIS_CACHE: &str = "openoz_analysis_cache_requests_total";

pub(crate) fn analysis_started(kind: AnalysisKind, attempt: i64, queued_at: f64) {
    metrics::counter!(ANALYSES_STARTED, "type" => kind.as_str()).increment(1);
    if attempt <= 1 {
        let waited = (oz_storage::now() - queued_at).max(0.0);
        metrics::histogram!(JOB_WAIT, "type" => kind.as_str()).record(waited);
    }
}

pub(crate) fn analysis_finished(kind: AnalysisKind, resolution: ResolutionStatus, took: Duration, queued_at: f64) {
    metrics::counter!(ANALYSES_FINISHED, "type" => kind.as_str(), "resolution" => resolution.as_str()).increment(1);
    metrics::histogram!(ANALYSIS_DURATION, "type" => kind.as_str()).record(took);
    metrics::histogram!(ANALYSIS_LATENCY, "type" => kind.as_str()).record((oz_storage::now() - queued_at).max(0.0));
}

pub(crate) fn analyses_expired(n: usize) {
    metrics::counter!(ANALYSES_EXPIRED).increment(n as u64);
}

pub(crate) fn webhook_attempt(outcome: &'static str, took: Duration) {
    metrics::counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
    metrics::histogram!(WEBHOOK_SECONDS).record(took);
}

pub(crate) fn decode_cache(hit: bool) {
    metrics::counter!(DECODE_CACHE, "result" => if hit { "hit" } else { "miss" }).increment(1);
}

pub(crate) fn analysis_cache(result: &'static str) {
    metrics::counter!(ANALYSIS_CACHE, "result" => result).increment(1);
}
