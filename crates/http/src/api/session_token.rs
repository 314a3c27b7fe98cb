//! SDK session tokens (spec §2.5): `GET /api/authorize/session_token` hands a short-lived token to
//! a capture session. Ours is a JWT signed with HMAC-SHA256 (`HS256`) whose claims
//! ([`SessionClaims`]) name the user, the company and the expiry (`OZ_SESSION_TOKEN_TTL`).
//!
//! The key is generated at first use and kept in the database (`server_secrets`, name
//! `session_token_key`), so every process on one database accepts the tokens of the others. Only
//! the header `{"alg":"HS256","typ":"JWT"}` is accepted (no `alg: none`, no algorithm switch), and
//! the signature is compared in constant time. Nothing about a token is stored: it lives until its
//! `exp`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use oz_domain::instant::{SessionClaims, SessionTokenError};
use oz_storage::Db;
use sha2::Sha256;

use super::error::{ApiError, ApiResult};

/// The only JWT header we write and accept.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The name of the signing key in `server_secrets`.
pub const KEY_NAME: &str = "session_token_key";

/// Issues and checks session tokens; clones share the key, loaded once from the database.
#[derive(Clone)]
pub struct SessionTokens {
    ttl: Duration,
    key: Arc<tokio::sync::OnceCell<Hmac<Sha256>>>,
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTokens").field("ttl", &self.ttl).field("key", &"<redacted>").finish()
    }
}

impl Default for SessionTokens {
    fn default() -> Self {
        Self::new(Duration::from_secs(600))
    }
}

impl SessionTokens {
    /// Tokens that live `ttl` (`OZ_SESSION_TOKEN_TTL`; 1 s to a day).
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, key: Arc::new(tokio::sync::OnceCell::new()) }
    }

    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    async fn mac(&self, db: &Db) -> ApiResult<&Hmac<Sha256>> {
        self.key
            .get_or_try_init(|| async {
                let key = db.server_secret(KEY_NAME, &super::auth::new_token()).await?;
                <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
                    .map_err(|e| ApiError::unknown(format!("session token key: {e}")))
            })
            .await
    }

    /// A token for `user` of `company`, valid from `now` (UNIX seconds) for the configured TTL.
    pub async fn issue(&self, db: &Db, claims: &SessionClaims) -> ApiResult<String> {
        encode(self.mac(db).await?, claims)
    }

    /// The claims of a valid token at `now`: 401 error 7 when malformed or forged, 8 when expired.
    pub async fn verify(&self, db: &Db, token: &str, now: i64) -> ApiResult<SessionClaims> {
        decode(self.mac(db).await?, token, now).map_err(refused)
    }
}

/// The Oz error of a refused session token (HTTP 401).
#[must_use]
pub fn refused(e: SessionTokenError) -> ApiError {
    ApiError::new(axum::http::StatusCode::UNAUTHORIZED, e.error_code(), e.to_string())
}

/// True when a credential has the shape of a session token (three base64url parts starting with
/// our header), not of an access token (128 hex characters).
#[must_use]
pub fn is_session_token(token: &str) -> bool {
    token.starts_with(&URL_SAFE_NO_PAD.encode(HEADER)) && token.matches('.').count() == 2
}

fn encode(mac: &Hmac<Sha256>, claims: &SessionClaims) -> ApiResult<String> {
    let body = serde_json::to_vec(claims).map_err(|e| ApiError::unknown(format!("session token: {e}")))?;
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(body));
    let mut m = mac.clone();
    m.update(signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())))
}

fn decode(mac: &Hmac<Sha256>, token: &str, now: i64) -> Result<SessionClaims, SessionTokenError> {
    let token = token.trim();
    let (signing_input, signature) = token.rsplit_once('.').ok_or(SessionTokenError::Invalid)?;
    let (header, body) = signing_input.split_once('.').ok_or(SessionTokenError::Invalid)?;
    if header != URL_SAFE_NO_PAD.encode(HEADER) {
        return Err(SessionTokenError::Invalid);
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| SessionTokenError::Invalid)?;
    let mut m = mac.clone();
    m.update(signing_input.as_bytes());
    m.verify_slice(&signature).map_err(|_| SessionTokenError::Invalid)?;
    let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| SessionTokenError::Invalid)?;
    let claims: SessionClaims = serde_json::from_slice(&body).map_err(|_| SessionTokenError::Invalid)?;
    claims.check(now)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn mac(key: &[u8]) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length")
    }

    fn claims(now: i64) -> SessionClaims {
        SessionClaims::new(Uuid::from_u128(7), Some(Uuid::from_u128(8)), now, 600, Uuid::from_u128(9))
    }

    #[test]
    fn round_trip_until_expiry() {
        let k = mac(b"key-one");
        let t = encode(&k, &claims(1000)).expect("signs");
        assert!(is_session_token(&t), "{t}");
        assert!(!is_session_token(&"ab".repeat(64)), "an access token is not a session token");
        assert_eq!(decode(&k, &t, 1001), Ok(claims(1000)));
        assert_eq!(decode(&k, &format!(" {t} "), 1599), Ok(claims(1000)));
        assert_eq!(decode(&k, &t, 1600), Err(SessionTokenError::Expired));
    }

    #[test]
    fn forged_tokens_are_invalid() {
        let k = mac(b"key-one");
        let t = encode(&k, &claims(1000)).expect("signs");
        // Another key.
        assert_eq!(decode(&mac(b"key-two"), &t, 1001), Err(SessionTokenError::Invalid));
        // Claims changed (a longer life, another user) under the old signature.
        let parts: Vec<&str> = t.split('.').collect();
        let mut c = claims(1000);
        c.exp += 3600;
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).expect("json"));
        let forged = format!("{}.{}.{}", parts[0], forged_body, parts[2]);
        assert_eq!(decode(&k, &forged, 1001), Err(SessionTokenError::Invalid));
        // alg none, no signature, garbage.
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(decode(&k, &format!("{none}.{}.", parts[1]), 1001), Err(SessionTokenError::Invalid));
        assert_eq!(decode(&k, &format!("{}.{}.", parts[0], parts[1]), 1001), Err(SessionTokenError::Invalid));
        for junk in ["", ".", "..", "a.b.c", "not a token", &t[..t.len() - 2]] {
            assert_eq!(decode(&k, junk, 1001), Err(SessionTokenError::Invalid), "{junk:?}");
        }
        // A token signed correctly but with another audience.
        let mut other = claims(1000);
        other.aud = "elsewhere".into();
        let t2 = encode(&k, &other).expect("signs");
        assert_eq!(decode(&k, &t2, 1001), Err(SessionTokenError::Invalid));
    }

    #[test]
    fn refusals_are_oz_401s() {
        let e = refused(SessionTokenError::Expired);
        assert_eq!((e.status.as_u16(), e.code), (401, 8));
        let e = refused(SessionTokenError::Invalid);
        assert_eq!((e.status.as_u16(), e.code), (401, 7));
    }
}
