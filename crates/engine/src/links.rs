//! Signed, expiring direct links to stored files, so `original_url` opens without the token header
//! (Oz serves media as direct links): `/static/{file}?expires=<unix seconds>&signature=<hex>`, the
//! signature being HMAC-SHA256 under a server key over `"{file}\n{expires}"`. The key comes from
//! `OZ_LINK_SECRET` or is generated at first start and kept in the database; the lifetime is
//! `OZ_LINK_TTL`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a signed link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link's signature is not valid")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

/// Signs and checks direct file links.
#[derive(Clone)]
pub struct LinkSigner {
    /// The keyed HMAC state, cloned for every link (HMAC takes keys of any length, so it exists
    /// for every key; `None` would refuse every link).
    mac: Option<Hmac<Sha256>>,
    ttl: Duration,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner").field("key", &"<redacted>").field("ttl", &self.ttl).finish()
    }
}

impl LinkSigner {
    /// A signer with `key` (any length; at least 32 random bytes recommended) and link lifetime `ttl`.
    #[must_use]
    pub fn new(key: &[u8], ttl: Duration) -> Self {
        Self { mac: <Hmac<Sha256> as Mac>::new_from_slice(key).ok(), ttl }
    }

    /// A fresh random key from the OS generator, in hex.
    #[must_use]
    pub fn new_key() -> String {
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        // A v4 UUID has 122 random bits; two give 244, well past what HMAC-SHA256 needs.
        format!("{}{}", a.simple(), b.simple())
    }

    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn mac(&self, file: &str, expires: i64) -> Option<Hmac<Sha256>> {
        let mut mac = self.mac.clone()?;
        mac.update(file.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        Some(mac)
    }

    /// The hex signature of `file` valid until `expires` (UNIX seconds).
    #[must_use]
    pub fn signature(&self, file: &str, expires: i64) -> String {
        self.mac(file, expires).map(|m| hex::encode(m.finalize().into_bytes())).unwrap_or_default()
    }

    /// The query string (`expires=...&signature=...`) of a link to `file` made at `now`.
    #[must_use]
    pub fn query(&self, file: &str, now: f64) -> String {
        let expires = (now + self.ttl.as_secs_f64()).ceil() as i64;
        format!("expires={expires}&signature={}", self.signature(file, expires))
    }

    /// Checks a link's `expires` and `signature` at `now`, the signature in constant time. A
    /// tampered `expires` fails as `Invalid`, not `Expired`.
    pub fn verify(&self, file: &str, expires: &str, signature: &str, now: f64) -> Result<(), LinkError> {
        let expires: i64 = expires.trim().parse().map_err(|_| LinkError::Invalid)?;
        let sig = hex::decode(signature.trim()).map_err(|_| LinkError::Invalid)?;
        self.mac(file, expires).ok_or(LinkError::Invalid)?.verify_slice(&sig).map_err(|_| LinkError::Invalid)?;
        if (expires as f64) < now { Err(LinkError::Expired) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(q: &str) -> (String, String) {
        let mut e = String::new();
        let mut s = String::new();
        for kv in q.split('&') {
            match kv.split_once('=') {
                Some(("expires", v)) => e = v.to_string(),
                Some(("signature", v)) => s = v.to_string(),
                _ => {}
            }
        }
        (e, s)
    }

    #[test]
    fn signs_verifies_and_refuses() {
        let k = LinkSigner::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let (e, s) = parts(&k.query("a.jpg", 1000.0));
        assert_eq!(e, "1060");
        assert_eq!(k.verify("a.jpg", &e, &s, 1000.0), Ok(()));
        assert_eq!(k.verify("a.jpg", &e, &s, 1060.0), Ok(()));
        assert_eq!(k.verify("a.jpg", &e, &s, 1061.0), Err(LinkError::Expired));
        // Another file, a moved expiry, a changed signature, another key, garbage.
        assert_eq!(k.verify("b.jpg", &e, &s, 1000.0), Err(LinkError::Invalid));
        assert_eq!(k.verify("a.jpg", "999999", &s, 1000.0), Err(LinkError::Invalid));
        let mut bad = s.clone();
        bad.replace_range(0..1, if s.starts_with('0') { "1" } else { "0" });
        assert_eq!(k.verify("a.jpg", &e, &bad, 1000.0), Err(LinkError::Invalid));
        let other = LinkSigner::new(b"another key", Duration::from_secs(60));
        assert_eq!(other.verify("a.jpg", &e, &s, 1000.0), Err(LinkError::Invalid));
        assert_eq!(k.verify("a.jpg", "soon", &s, 1000.0), Err(LinkError::Invalid));
        assert_eq!(k.verify("a.jpg", &e, "zz", 1000.0), Err(LinkError::Invalid));
        assert_eq!(k.verify("a.jpg", &e, "", 1000.0), Err(LinkError::Invalid));
        assert!(!format!("{k:?}").contains("0123"), "the key is not printed");
    }
}
