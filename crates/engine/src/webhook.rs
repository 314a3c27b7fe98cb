//! Webhook delivery: when a folder's analyses finish, POST the folder JSON (as
//! `GET /api/folders/{id}/?with_analyses=true` returns it, so it carries `company_id`) to its
//! `resolution_endpoint`.
//!
//! Headers: `X-Oz-Event-Id` (the delivery id: the same on every retry, for de-duplication),
//! `X-Oz-Timestamp` (UNIX seconds of this attempt) and, when a secret applies,
//! `X-Oz-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. The secret is the
//! folder's company's own webhook secret (set with `POST /api/companies/{id}/webhook_secret`),
//! else `OZ_WEBHOOK_SECRET`. Any 2xx is a delivery; anything else or a timeout is retried with
//! exponential backoff, kept in the database; a request refused by the address guard
//! ([`guard`]) is given up at once.
//!
//! The client ([`client`]) speaks HTTPS (rustls with the system roots plus `OZ_WEBHOOK_CA_FILE`),
//! follows no redirects, uses no proxy and connects only to addresses the guard let through.

pub mod guard;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Delivery settings.
#[derive(Clone)]
pub struct WebhookConfig {
    /// `OZ_WEBHOOK_SECRET`: signs webhooks of folders whose company has no secret of its own.
    pub secret: Option<String>,
    pub timeout: Duration,
    pub max_attempts: i64,
    /// First retry delay; doubled each attempt, capped at one hour.
    pub retry_step: Duration,
    /// `OZ_WEBHOOK_ALLOW_PRIVATE`: deliver to loopback, private, link-local... addresses too.
    pub allow_private: bool,
    /// `OZ_WEBHOOK_CA_FILE`: PEM certificates trusted in addition to the system roots.
    pub ca_file: Option<PathBuf>,
    /// `OZ_WEBHOOK_CONCURRENCY`: attempts in flight at once in this process.
    pub concurrency: usize,
    /// `OZ_WEBHOOK_PER_HOST`: attempts in flight at once to one host (`host:port`).
    pub per_host: usize,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("retry_step", &self.retry_step)
            .field("allow_private", &self.allow_private)
            .field("ca_file", &self.ca_file)
            .field("concurrency", &self.concurrency)
            .field("per_host", &self.per_host)
            .finish()
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            secret: None,
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            retry_step: Duration::from_secs(5),
            allow_private: false,
            ca_file: None,
            concurrency: 16,
            per_host: 2,
        }
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

/// Why the webhook client cannot be built (checked at start-up).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read OZ_WEBHOOK_CA_FILE {path}: {source}")]
    CaRead { path: PathBuf, source: std::io::Error },
    #[error("OZ_WEBHOOK_CA_FILE {path} holds no usable PEM certificate: {reason}")]
    CaParse { path: PathBuf, reason: String },
    #[error("cannot build the webhook HTTP client: {0}")]
    Build(String),
}

/// The HTTP client for webhooks: HTTPS with the system roots and `ca_file`, no redirects, no
/// proxy, the address guard as its resolver.
pub fn client(cfg: &WebhookConfig) -> Result<reqwest::Client, ClientError> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(cfg.timeout)
        .user_agent(concat!("openoz/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(guard::GuardedResolver { allow_private: cfg.allow_private }));
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path).map_err(|source| ClientError::CaRead { path: path.clone(), source })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ClientError::CaParse { path: path.clone(), reason: e.to_string() })?;
        if certs.is_empty() {
            return Err(ClientError::CaParse { path: path.clone(), reason: "no certificate found".into() });
        }
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| ClientError::Build(error_chain(&e)))
}

/// An error with its sources, without the URL reqwest puts in its messages (it may carry tokens).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if parts.last() != Some(&m) {
            parts.push(m);
        }
        cur = s.source();
    }
    parts.join(": ")
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
    Failed {
        status: Option<u16>,
        error: String,
    },
    /// The address guard refused the URL: no connection was made; not retried.
    Refused(String),
}

/// Sends one attempt, signed with `secret` when given.
pub async fn send(
    client: &reqwest::Client,
    cfg: &WebhookConfig,
    url: &str,
    event_id: &str,
    body: &str,
    secret: Option<&str>,
) -> Attempt {
    let url = match guard::check_target(url, cfg.allow_private) {
        Ok(u) => u,
        Err(e) => return Attempt::Refused(e.to_string()),
    };
    let ts =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
            .unwrap_or(0);
    let mut req = client
        .post(url)
        .timeout(cfg.timeout)
        .header("Content-Type", "application/json")
        .header("X-Oz-Event-Id", event_id)
        .header("X-Oz-Timestamp", ts.to_string())
        .body(body.to_string());
    if let Some(secret) = secret {
        req = req.header("X-Oz-Signature", signature(secret, ts, body.as_bytes()));
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Attempt::Delivered(r.status().as_u16()),
        Ok(r) => Attempt::Failed { status: Some(r.status().as_u16()), error: format!("HTTP {}", r.status()) },
        Err(e) => {
            let e = e.without_url();
            if let Some(refused) = refused_in(&e) {
                return Attempt::Refused(refused.to_string());
            }
            Attempt::Failed { status: None, error: error_chain(&e) }
        }
    }
}

/// The guard's refusal inside a client error (from the resolver), if that is the cause.
fn refused_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a guard::Refused> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<guard::Refused>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
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
