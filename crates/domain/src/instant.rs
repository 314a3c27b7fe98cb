//! The Instant API (spec §12.2: one request, nothing stored) and the SDK session tokens of
//! `GET /api/authorize/session_token` (spec §2.5): which analyses run without storage, and the
//! claims and time rules of a session token. No IO and no cryptography here: the HTTP layer signs.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::AnalysisKind;

/// Why an analysis type is refused by `POST /api/instant/folders/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InstantRefusal {
    /// COLLECTION searches the company's stored collections: Oz documents Instant as "not meant
    /// for Blacklist (1:N)".
    #[error(
        "COLLECTION (1:N) analyses are not available in Instant mode: nothing is stored there, and Oz's \
         Instant API is not meant for blacklists; upload to POST /api/folders/ instead"
    )]
    Collection,
    /// DOCUMENTS is refused everywhere on this server (error 2).
    #[error("{0} analyses are not available on this server")]
    NotRealized(&'static str),
}

impl InstantRefusal {
    /// The Oz error code: 4 (invalid value) for COLLECTION, 2 (not realized) for DOCUMENTS.
    #[must_use]
    pub fn error_code(self) -> i64 {
        match self {
            InstantRefusal::Collection => 4,
            InstantRefusal::NotRealized(_) => 2,
        }
    }
}

/// Whether Instant mode runs analyses of `kind`: QUALITY and BIOMETRY between the request's
/// media; COLLECTION and DOCUMENTS are refused.
pub fn instant_kind(kind: AnalysisKind) -> Result<AnalysisKind, InstantRefusal> {
    match kind {
        AnalysisKind::Quality | AnalysisKind::Biometry => Ok(kind),
        AnalysisKind::Collection => Err(InstantRefusal::Collection),
        AnalysisKind::Documents => Err(InstantRefusal::NotRealized(kind.as_str())),
    }
}

/// The audience every session token carries, so no other signed value can pass for one.
pub const SESSION_TOKEN_AUDIENCE: &str = "openoz-session";

/// Seconds a session token's `iat` may lie ahead of this server's clock (processes on several
/// machines share the key).
pub const SESSION_TOKEN_LEEWAY_S: i64 = 60;

/// Longest lifetime a session token may claim (a day), whatever `OZ_SESSION_TOKEN_TTL` says.
pub const SESSION_TOKEN_MAX_TTL_S: i64 = 24 * 3600;

/// The claims of a session token (the JWT payload): who asked for it, for which company, when it
/// was made and when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user the token was issued to.
    pub sub: Uuid,
    /// The user's company when the token was issued (none for users without one).
    pub company_id: Option<Uuid>,
    /// Issued at, UNIX seconds.
    pub iat: i64,
    /// Expires at, UNIX seconds.
    pub exp: i64,
    /// A random id of this token.
    pub jti: Uuid,
    /// Always [`SESSION_TOKEN_AUDIENCE`].
    pub aud: String,
}

/// Why a correctly signed session token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionTokenError {
    /// Malformed, forged, for another audience or with impossible times: Oz error 7.
    #[error("the session token is invalid")]
    Invalid,
    /// Past its `exp`: Oz error 8.
    #[error("the session token has expired: get a new one from GET /api/authorize/session_token")]
    Expired,
}

impl SessionTokenError {
    /// The Oz error code (7 invalid, 8 expired); both answer HTTP 401.
    #[must_use]
    pub fn error_code(self) -> i64 {
        match self {
            SessionTokenError::Invalid => 7,
            SessionTokenError::Expired => 8,
        }
    }
}

impl SessionClaims {
    /// Claims of a token issued at `now` for `ttl_s` seconds (clamped to 1 s ..
    /// [`SESSION_TOKEN_MAX_TTL_S`]).
    #[must_use]
    pub fn new(user: Uuid, company_id: Option<Uuid>, now: i64, ttl_s: i64, jti: Uuid) -> Self {
        let ttl = ttl_s.clamp(1, SESSION_TOKEN_MAX_TTL_S);
        Self { sub: user, company_id, iat: now, exp: now.saturating_add(ttl), jti, aud: SESSION_TOKEN_AUDIENCE.into() }
    }

    /// Checks the claims of a token whose signature is valid, at `now` (UNIX seconds): the right
    /// audience, issued no later than now (with [`SESSION_TOKEN_LEEWAY_S`]), a lifetime within
    /// [`SESSION_TOKEN_MAX_TTL_S`], and not expired (a token is valid strictly before `exp`).
    pub fn check(&self, now: i64) -> Result<(), SessionTokenError> {
        if self.aud != SESSION_TOKEN_AUDIENCE
            || self.exp <= self.iat
            || self.exp - self.iat > SESSION_TOKEN_MAX_TTL_S
            || self.iat > now.saturating_add(SESSION_TOKEN_LEEWAY_S)
        {
            return Err(SessionTokenError::Invalid);
        }
        if now >= self.exp {
            return Err(SessionTokenError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_runs_quality_and_biometry_only() {
        assert_eq!(instant_kind(AnalysisKind::Quality), Ok(AnalysisKind::Quality));
        assert_eq!(instant_kind(AnalysisKind::Biometry), Ok(AnalysisKind::Biometry));
        let c = instant_kind(AnalysisKind::Collection).expect_err("refused");
        assert_eq!((c, c.error_code()), (InstantRefusal::Collection, 4));
        assert!(c.to_string().contains("Instant"), "{c}");
        let d = instant_kind(AnalysisKind::Documents).expect_err("refused");
        assert_eq!(d.error_code(), 2);
    }

    fn claims(now: i64, ttl: i64) -> SessionClaims {
        SessionClaims::new(Uuid::from_u128(1), Some(Uuid::from_u128(2)), now, ttl, Uuid::from_u128(3))
    }

    #[test]
    fn a_session_token_lives_until_exp() {
        let c = claims(1000, 600);
        assert_eq!((c.iat, c.exp, c.aud.as_str()), (1000, 1600, SESSION_TOKEN_AUDIENCE));
        assert_eq!(c.check(1000), Ok(()));
        assert_eq!(c.check(1599), Ok(()));
        assert_eq!(c.check(1600), Err(SessionTokenError::Expired));
        assert_eq!(c.check(99_999), Err(SessionTokenError::Expired));
        assert_eq!(SessionTokenError::Expired.error_code(), 8);
        // A clock slightly behind the issuer's still accepts it.
        assert_eq!(c.check(1000 - SESSION_TOKEN_LEEWAY_S), Ok(()));
        assert_eq!(c.check(999 - SESSION_TOKEN_LEEWAY_S), Err(SessionTokenError::Invalid));
    }

    #[test]
    fn impossible_claims_are_invalid() {
        assert_eq!(claims(0, 0).exp, 1, "the lifetime is at least a second");
        assert_eq!(claims(0, i64::MAX).exp, SESSION_TOKEN_MAX_TTL_S, "and at most a day");
        let mut c = claims(1000, 600);
        c.aud = "something-else".into();
        assert_eq!(c.check(1001), Err(SessionTokenError::Invalid));
        let mut c = claims(1000, 600);
        c.exp = c.iat;
        assert_eq!(c.check(900), Err(SessionTokenError::Invalid));
        let mut c = claims(1000, 600);
        c.exp = c.iat + SESSION_TOKEN_MAX_TTL_S + 1;
        assert_eq!(c.check(1001), Err(SessionTokenError::Invalid));
        assert_eq!(SessionTokenError::Invalid.error_code(), 7);
    }
}
