//! Liveness challenges (our extension, issue 20): `POST /api/liveness/challenges/` draws a random
//! sequence of actions for one capture session, and a QUALITY analysis given its
//! `params.challenge_id` verifies that the clip shows exactly that sequence (see
//! `oz_vision::challenge`). The rules are `oz_domain::challenge`'s; this module issues, checks
//! and claims challenges for the API.

use crate::wire::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use oz_domain::assign::MediaClass;
use oz_domain::challenge::{self, Action};
use oz_storage::User;
use oz_storage::analyses::NewAnalysis;
use rand::Rng;
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth;
use super::error::{ApiError, ApiResult};
use crate::state::{AppState, FullApi};

/// How long a client waits after the limit on open challenges, seconds.
const OPEN_LIMIT_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// What a person is asked to do, in plain words (the capture SDK shows these).
#[must_use]
pub fn instruction(a: Action) -> &'static str {
    match a {
        Action::Blink => "Blink",
        Action::Smile => "Smile",
        Action::TurnLeft => "Turn your head to your left",
        Action::TurnRight => "Turn your head to your right",
        Action::LookUp => "Look up",
        Action::LookDown => "Look down",
    }
}

/// The caller of a capture route (challenges, precheck): the user of an access token, or of an
/// SDK session token (`GET /api/authorize/session_token`), who must not be an OPERATOR.
pub(crate) async fn caller(st: &AppState, parts: &mut Parts) -> ApiResult<User> {
    let user = match auth::Caller::of(parts, st).await? {
        auth::Caller::Session(user, _) => user,
        auth::Caller::User(a) => a.user,
    };
    if !user.principal().can_write_data() {
        return Err(ApiError::forbidden("OPERATOR roles cannot open capture sessions"));
    }
    Ok(user)
}

/// `POST /api/liveness/challenges/`: a new challenge for the caller's company. The body, if any,
/// is not read.
#[utoipa::path(
    post,
    path = "/api/liveness/challenges/",
    operation_id = "create_challenge",
    tag = "liveness",
    summary = "Issue a random liveness challenge (our extension)",
    description = "2-4 actions drawn at random (never the same twice in a row, at least one head movement), to be performed in this order in one clip and verified by a QUALITY analysis given `params.challenge_id`. Valid `OZ_CHALLENGE_TTL` seconds, used at most once, only by the caller's company. Accepts an access token or an SDK session token.",
    security(("token" = [])),
    responses((status = 201, description = "The challenge", body = crate::apidoc::schemas::Challenge), crate::apidoc::ApiErrors)
)]
pub async fn create(State(st): State<AppState>, req: Request) -> ApiResult<Response> {
    let api = st.api()?.clone();
    let (mut parts, _body) = req.into_parts();
    let user = caller(&st, &mut parts).await?;
    let now = oz_storage::now();
    let open = usize::try_from(api.db.open_challenges(user.company_id, now).await?).unwrap_or(usize::MAX);
    if open >= api.cfg.challenge_max_open {
        return Err(ApiError::too_many(
            format!(
                "this company holds {open} unused challenges, the most it may (OZ_CHALLENGE_MAX_OPEN): \
                 use or let some expire first"
            ),
            OPEN_LIMIT_RETRY,
        ));
    }
    let policy = &api.cfg.challenges;
    // The thread's CSPRNG (ChaCha, seeded from the OS), dropped before the next await.
    let actions = {
        let mut rng = rand::rng();
        policy.draw(&mut |n| rng.random_range(0..n.max(1)))
    };
    let ttl = policy.ttl_s() as f64;
    let c = api.db.create_challenge(user.company_id, user.id, &actions, ttl).await?;
    crate::observe::challenge_issued();
    Ok((StatusCode::CREATED, Json(render(&c))).into_response())
}

/// The wire form of a challenge (`Challenge` in the OpenAPI document).
#[must_use]
pub fn render(c: &oz_storage::challenges::Challenge) -> crate::apidoc::schemas::Challenge {
    crate::apidoc::schemas::Challenge {
        challenge_id: c.id,
        actions: c.actions.iter().map(|a| a.as_str().to_string()).collect(),
        instructions: c.actions.iter().map(|a| instruction(*a).to_string()).collect(),
        time_created: c.time_created,
        expires_at: c.expires_at,
        company_id: c.company_id,
    }
}

/// The key a QUALITY analysis's `confs` keeps its challenge under.
pub const CONFS_KEY: &str = "challenge";

/// Checks a QUALITY request's `params.challenge_id` for a caller of `company_id`, with the media
/// it takes (`inputs`, their classes in `classes`): the challenge must exist for this company,
/// be unused and unexpired, and the analysis must take exactly one video or shot set. Answers what
/// goes into the analysis's `confs` (`{"challenge_id", "actions"}`), or `None` without a
/// challenge. Nothing is claimed here ([`claim`] does, just before the analyses are stored).
pub async fn plan(
    api: &FullApi,
    company_id: Option<Uuid>,
    challenge_id: Option<&str>,
    classes: &[MediaClass],
) -> ApiResult<Option<oz_wire::results::IssuedChallenge>> {
    let Some(raw) = challenge_id else {
        return Ok(None);
    };
    let id = Uuid::parse_str(raw).map_err(|_| ApiError::value("params.challenge_id must be a challenge id (UUID)"))?;
    let found = api.db.challenge(id).await?;
    challenge::check_use(found.as_ref().map(|c| c.facts()).as_ref(), company_id, oz_storage::now())
        .map_err(|r| ApiError::value(r.to_string()).with_details(json!({ "challenge_id": id.to_string() })))?;
    let Some(c) = found else {
        return Err(ApiError::value(challenge::Refusal::Unknown.to_string()));
    };
    if classes.len() != 1 || !matches!(classes[0], MediaClass::Video | MediaClass::ShotSet) {
        return Err(ApiError::value(
            "a challenge is verified on one video: the QUALITY analysis must take exactly one video or shot set \
             (name it in source_media)",
        ));
    }
    Ok(Some(oz_wire::results::IssuedChallenge {
        challenge_id: c.id,
        actions: c.actions.iter().map(|a| a.as_str().to_string()).collect(),
    }))
}

/// The challenge ids the planned analyses carry; refuses one id named twice.
pub fn challenge_ids(items: &[NewAnalysis]) -> ApiResult<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = Vec::new();
    for a in items {
        let Some(id) = a
            .confs
            .get(CONFS_KEY)
            .and_then(|c| c.get("challenge_id"))
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        if ids.contains(&id) {
            return Err(ApiError::value("one challenge can be verified by one analysis only"));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Claims the challenges of the planned analyses, just before they are stored: each is marked
/// used once; one that another request took (or that expired) since it was checked is refused.
/// A request refused after this point leaves its challenges used (ask for new ones).
pub async fn claim(api: &FullApi, items: &[NewAnalysis]) -> ApiResult<()> {
    let now = oz_storage::now();
    for id in challenge_ids(items)? {
        if !api.db.use_challenge(id, now).await? {
            return Err(ApiError::value(challenge::Refusal::Used.to_string())
                .with_details(json!({ "challenge_id": id.to_string() })));
        }
    }
    Ok(())
}
