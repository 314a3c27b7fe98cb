//! Webhook delivery: when a folder's analyses finish, POST the folder JSON (as
//! `GET /api/folders/{id}/?with_analyses=true` returns it) to its `resolution_endpoint`.
//!
//! Headers: `X-Oz-Event-Id` (the delivery id: the same on every retry, for de-duplication),
//! `X-Oz-Timestamp` (UNIX seconds of this attempt) and, when `OZ_WEBHOOK_SECRET` is set,
//! `X-Oz-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. Any 2xx is a
//! delivery; anything else or a timeout is retried with exponential backoff, kept in the database.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Delivery settings.
#[derive(Clone)]
pub struct WebhookConfig {
    pub secret: Option<String>,
    pub timeout: Duration,
    pub max_attempts: i64,
    /// First retry delay; doubled each attempt, capped at one hour.
    pub retry_step: Duration,
}

/// Shows whether a secret is set, never its value.
impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("retry_step", &self.retry_step)
            .finish_non_exhaustive()
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self { secret: None, timeout: Duration::from_secs(10), max_attempts: 8, retry_step: Duration::from_secs(5) }
    }
}

impl WebhookConfig {
    /// Seconds to wait before attempt `attempts + 1`, or `None` when no attempt is left.
    #[must_use]
    pub fn backoff(&self, attempts: i64) -> Option<f64> {
        if attempts >= self.max_attempts {
            return None;
        }
        let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
        Some((self.retry_step.as_secs_f64() * f64::from(2u32.pow(exp))).min(3600.0))
    }
}

/// `sha256=<hex>` of HMAC-SHA256 over `"<timestamp>.<body>"`.
#[must_use]
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header in constant time (for receivers written in Rust, and our tests).
#[must_use]
pub fn verify(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else { return false };
    let Ok(sig) = hex::decode(hex_sig) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The result of one attempt.
#[derive(Debug)]
pub enum Attempt {
    Delivered(u16),
    Failed { status: Option<u16>, error: String },
}

/// Sends one attempt.
pub async fn send(client: &reqwest::Client, cfg: &WebhookConfig, url: &str, event_id: &str, body: &str) -> Attempt {
    let ts =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
            .unwrap_or(0);
    let mut req = client
        .post(url)
        .timeout(cfg.timeout)
        .header("Content-Type", "application/json")
        .header("User-Agent", concat!("openoz/", env!("CARGO_PKG_VERSION")))
        .header("X-Oz-Event-Id", event_id)
        .header("X-Oz-Timestamp", ts.to_string())
        .body(body.to_string());
    if let Some(secret) = &cfg.secret {
        req = req.header("X-Oz-Signature", signature(secret, ts, body.as_bytes()));
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Attempt::Delivered(r.status().as_u16()),
        Ok(r) => Attempt::Failed { status: Some(r.status().as_u16()), error: format!("HTTP {}", r.status()) },
        Err(e) => Attempt::Failed { status: None, error: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trips_and_detects_tampering() {
        let s = signature("k", 1700000000, b"{\"a\":1}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert!(verify("k", 1700000000, b"{\"a\":1}", &s));
        assert!(!verify("k", 1700000001, b"{\"a\":1}", &s));
        assert!(!verify("k", 1700000000, b"{\"a\":2}", &s));
        assert!(!verify("other", 1700000000, b"{\"a\":1}", &s));
        assert!(!verify("k", 1700000000, b"{\"a\":1}", "md5=00"));
    }

    #[test]
    fn backoff_doubles_and_stops() {
        let c = WebhookConfig { max_attempts: 4, retry_step: Duration::from_secs(5), ..WebhookConfig::default() };
        assert_eq!(c.backoff(1), Some(5.0));
        assert_eq!(c.backoff(2), Some(10.0));
        assert_eq!(c.backoff(3), Some(20.0));
        assert_eq!(c.backoff(4), None);
        let long = WebhookConfig { max_attempts: 100, ..c };
        assert_eq!(long.backoff(30), Some(3600.0));
    }
}
