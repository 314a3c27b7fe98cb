//! Login, refresh, and the `X-Forensic-Access-Token` extractor (spec §2).
//!
//! Tokens are 64 random bytes in hex (like Oz's 128-character tokens); only their sha256 is stored.
//! Expiry slides: every authenticated request moves `expire_date` to now + TTL.
//!
//! Our hardening: logins are throttled ([`super::throttle`]); a refresh token works once, and
//! presenting a spent one revokes its whole refresh family (every pair refreshed from the same
//! login); `POST /api/authorize/logout` ends the caller's login.

use crate::wire::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use oz_domain::access::Principal;
use oz_storage::{Session, StoreError, User};
use oz_wire::accounts::TokenPair;

use crate::apidoc::schemas::{Credentials, LoginRequest, RefreshRequest};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};

/// Largest body of a login or a refresh: credentials or a token fit in far less.
const LOGIN_MAX_BYTES: usize = 16 * 1024;
use super::throttle::Refusal;
use crate::state::{AppState, FullApi};

pub const TOKEN_HEADER: &str = "x-forensic-access-token";
/// A misspelling found in one Oz page; accepted too.
pub const TOKEN_HEADER_ALT: &str = "x-forensics-access-token";

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Auth {
    pub user: User,
    pub principal: Principal,
    /// The session of the token (its `family_id` names the caller's login).
    pub session: Session,
}

pub fn new_token() -> String {
    let mut b = [0u8; 64];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn hash_token(t: &str) -> String {
    hex::encode(Sha256::digest(t.trim().as_bytes()))
}

/// The token header's value, trimmed (either spelling).
pub(crate) fn token_of(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(TOKEN_HEADER)
        .or_else(|| parts.headers.get(TOKEN_HEADER_ALT))
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// True when the request carries a token header (valid or not).
pub(crate) fn has_token(parts: &Parts) -> bool {
    token_of(parts).is_some()
}

/// The caller of a route that also takes SDK session tokens (capture routes, folder upload and
/// read): the session token's user and claims, or the access token's [`Auth`].
pub(crate) enum Caller {
    Session(User, oz_domain::instant::SessionClaims),
    User(Auth),
}

impl Caller {
    /// Reads the token header: a session token is verified as such, anything else as an access token.
    pub(crate) async fn of(parts: &mut Parts, st: &AppState) -> ApiResult<Self> {
        if let Some(t) = token_of(parts).filter(|t| super::session_token::is_session_token(t)) {
            let (user, claims) = super::instant::session_caller(st.api()?, &t).await?;
            return Ok(Self::Session(user, claims));
        }
        Ok(Self::User(Auth::from_request_parts(parts, st).await?))
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let api = st.api()?;
        let token = token_of(parts).ok_or_else(ApiError::auth_missing)?;
        let session = match api.db.session_by_access(&hash_token(&token)).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(ApiError::auth_invalid("Authorization token is invalid")),
            Err(e) => return Err(e.into()),
        };
        if session.expire_at < oz_storage::now() {
            return Err(ApiError::auth_expired());
        }
        let user = match api.db.user(session.user_id).await {
            Ok(u) => u,
            Err(StoreError::NotFound) => return Err(ApiError::auth_invalid("Authorization token is invalid")),
            Err(e) => return Err(e.into()),
        };
        // Slide the expiry, but write at most about once a minute per session (or at once when a
        // refreshed pair is first used, which must delete its predecessor): a write on every
        // request would serialise reads on SQLite.
        let now = oz_storage::now();
        let step = (session.ttl_s / 10.0).min(60.0);
        if session.predecessor_id.is_some() || now + session.ttl_s - session.expire_at > step {
            api.db.touch_session(&session).await?;
        }
        let principal = user.principal();
        Ok(Auth { user, principal, session })
    }
}

/// Hashes a password with argon2id (PHC string) on a blocking thread. Not bounded: request
/// handlers use [`hash_password_bounded`].
pub async fn hash_password(password: String) -> ApiResult<String> {
    hash_blocking(password, None).await
}

async fn hash_blocking(password: String, slot: Option<tokio::sync::OwnedSemaphorePermit>) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let _slot = slot;
        let mut raw = [0u8; 16];
        rand::rng().fill_bytes(&mut raw);
        let salt = SaltString::encode_b64(&raw).map_err(|e| ApiError::unknown(format!("salt: {e}")))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::unknown(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| ApiError::unknown(e.to_string()))?
}

/// Verifies a password against its PHC hash on a blocking thread. Not bounded: request handlers
/// use [`verify_password_bounded`].
pub async fn verify_password(password: String, hash: String) -> bool {
    verify_blocking(password, hash, None).await
}

async fn verify_blocking(password: String, hash: String, slot: Option<tokio::sync::OwnedSemaphorePermit>) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let _slot = slot;
        PasswordHash::new(&hash)
            .is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// The API error of a refused login or password operation: 429 or 503, error 11, `Retry-After`.
#[must_use]
pub fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::RateLimited(wait) => {
            ApiError::retry_later(StatusCode::TOO_MANY_REQUESTS, "Too many login attempts, retry later", wait)
        }
        Refusal::Busy => ApiError::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is busy checking passwords, retry later",
            std::time::Duration::from_secs(1),
        ),
    }
}

/// [`hash_password`] under the hashing semaphore (`OZ_PASSWORD_HASH_CONCURRENCY`).
pub async fn hash_password_bounded(api: &FullApi, password: String) -> ApiResult<String> {
    let slot = api.cfg.login.hash_slot().await.map_err(refusal)?;
    hash_blocking(password, Some(slot)).await
}

/// [`verify_password`] under the hashing semaphore (`OZ_PASSWORD_HASH_CONCURRENCY`).
pub async fn verify_password_bounded(api: &FullApi, password: String, hash: String) -> ApiResult<bool> {
    let slot = api.cfg.login.hash_slot().await.map_err(refusal)?;
    Ok(verify_blocking(password, hash, Some(slot)).await)
}

async fn issue(st: &AppState, user: &User, predecessor: Option<uuid::Uuid>) -> ApiResult<TokenPair> {
    let api = st.api()?;
    let access = new_token();
    let expire = new_token();
    let ttl = if user.is_service { api.cfg.session_longlive_ttl } else { api.cfg.session_ttl };
    let s = api
        .db
        .create_session(user.id, &hash_token(&access), &hash_token(&expire), ttl.as_secs_f64(), predecessor)
        .await?;
    Ok(TokenPair {
        access_token: access,
        expire_token: expire,
        expire_date: s.expire_at,
        user_id: user.id,
        user_type: user.role.into(),
        company_id: user.company_id,
    })
}

/// `POST /api/authorize/auth` with `{"credentials": {"email", "password"}}`. Throttled per client
/// address (before anything else) and per email (before the password is checked).
#[utoipa::path(
    post,
    path = "/api/authorize/auth/",
    operation_id = "login",
    tag = "auth",
    summary = "Log in with email and password",
    request_body(content = crate::apidoc::schemas::LoginRequest, content_type = "application/json"),
    responses((status = 200, description = "Token pair", body = oz_wire::accounts::TokenPair), crate::apidoc::ApiErrors)
)]
pub async fn login(State(st): State<AppState>, req: axum::extract::Request) -> ApiResult<Json<TokenPair>> {
    let api = st.api()?;
    let guard = &api.cfg.login;
    // The address limit needs no body: it is checked before a byte of it is read.
    let (parts, body) = req.into_parts();
    guard.check_address(guard.client_of(&parts)).map_err(refusal)?;
    let (body, _grant) =
        super::body::read(&st, axum::extract::Request::from_parts(parts, body), LOGIN_MAX_BYTES).await?;
    let LoginRequest { credentials: Credentials { email, password } } = super::body::parse(&body)?;
    guard.check_email(&email).map_err(refusal)?;
    let user = match api.db.user_by_email(&email).await {
        Ok(u) => Some(u),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    // Verify against a fixed hash when the user is unknown, so timing does not reveal accounts.
    let hash = user.as_ref().map_or_else(|| api.dummy_hash.clone(), |u| u.password_hash.clone());
    let ok = verify_password_bounded(api, password, hash).await?;
    match user {
        Some(u) if ok => Ok(Json(issue(&st, &u, None).await?)),
        _ => Err(ApiError::auth_invalid("Invalid credentials")),
    }
}

/// `POST /api/authorize/refresh` with the access token header and `{"expire_token": "..."}`.
///
/// A refresh token works once. Presenting a spent one answers 401 and revokes its refresh family
/// (the login it came from and every pair refreshed from it): either the client or a thief holds
/// a copy, and the server cannot tell which.
#[utoipa::path(
    post,
    path = "/api/authorize/refresh/",
    operation_id = "refresh",
    tag = "auth",
    summary = "Exchange a refresh token for a new pair (the access token may be expired)",
    request_body(content = crate::apidoc::schemas::RefreshRequest, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 200, description = "New token pair", body = oz_wire::accounts::TokenPair), crate::apidoc::ApiErrors)
)]
pub async fn refresh(State(st): State<AppState>, req: axum::extract::Request) -> ApiResult<Json<TokenPair>> {
    let api = st.api()?;
    // No token, no body read.
    let (parts, body) = req.into_parts();
    let token = token_of(&parts).ok_or_else(ApiError::auth_missing)?;
    let (body, _grant) =
        super::body::read(&st, axum::extract::Request::from_parts(parts, body), LOGIN_MAX_BYTES).await?;
    let RefreshRequest { expire_token } = super::body::parse(&body)?;
    let expire_hash = hash_token(&expire_token);
    if let Some(family) = api.db.spent_refresh_family(&expire_hash).await? {
        return Err(reused(api, family).await);
    }
    let caller = match api.db.session_by_access(&hash_token(&token)).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Err(ApiError::auth_invalid("Authorization token is invalid")),
        Err(e) => return Err(e.into()),
    };
    let target = match api.db.session_by_expire(&expire_hash).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Err(ApiError::auth_invalid("Session not found")),
        Err(e) => return Err(e.into()),
    };
    if target.user_id != caller.user_id {
        return Err(ApiError::forbidden("You have not access to refresh this session"));
    }
    // Two refreshes racing with one token: only one spends it, the other is a reuse.
    if !api.db.spend_refresh_token(&target, &expire_hash).await? {
        return Err(reused(api, target.family_id).await);
    }
    let user = api.db.user(target.user_id).await?;
    Ok(Json(issue(&st, &user, Some(target.id)).await?))
}

/// Revokes the family of a reused refresh token; the error to answer.
async fn reused(api: &FullApi, family: uuid::Uuid) -> ApiError {
    match api.db.revoke_session_family(family).await {
        Ok(n) => {
            tracing::warn!(%family, revoked = n, "a spent refresh token was presented again: its sessions are revoked");
            ApiError::auth_invalid("Refresh token already used: its sessions are revoked")
        }
        Err(e) => e.into(),
    }
}

/// `POST /api/authorize/logout` (our extension): ends the caller's login, that is the session of
/// the token and every pair refreshed from the same login. 204; the token then answers 401.
#[utoipa::path(
    post,
    path = "/api/authorize/logout/",
    operation_id = "logout",
    tag = "auth",
    summary = "End this login (the token and the pairs refreshed from it)",
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn logout(State(st): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    let api = st.api()?;
    api.db.revoke_session_family(auth.session.family_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/authorize/session_token` (spec §2.5): a short-lived signed token for an SDK capture
/// session (`OZ_SESSION_TOKEN_TTL`), for any non-OPERATOR user: `{"session_token", "expire_date"}`.
/// It names the user and the company; the Instant API accepts it in place of the access token.
#[utoipa::path(
    get,
    path = "/api/authorize/session_token/",
    operation_id = "session_token",
    tag = "auth",
    summary = "A short-lived session token for the Instant API",
    security(("token" = [])),
    responses((status = 200, description = "OK", body = crate::apidoc::schemas::SessionToken), crate::apidoc::ApiErrors)
)]
pub async fn session_token(
    State(st): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<crate::apidoc::schemas::SessionToken>> {
    let api = st.api()?;
    if !auth.principal.can_write_data() {
        return Err(ApiError::forbidden("OPERATOR roles cannot open capture sessions"));
    }
    let tokens = &api.cfg.session_tokens;
    let ttl = i64::try_from(tokens.ttl().as_secs()).unwrap_or(i64::MAX);
    let claims = oz_domain::instant::SessionClaims::new(
        auth.user.id,
        auth.user.company_id,
        oz_storage::now().floor() as i64,
        ttl,
        uuid::Uuid::new_v4(),
    );
    let token = tokens.issue(&api.db, &claims).await?;
    Ok(Json(crate::apidoc::schemas::SessionToken { session_token: token, expire_date: claims.exp }))
}
