//! The Instant API (spec §12.2): `POST /api/instant/folders/` takes the multipart body of a single
//! request (media parts + `payload` with `media:tags`, `media:meta_data`, `folder:meta_data`,
//! `analyses`) and answers the folder with its analyses finished, storing nothing: no row, no
//! file, ids temporary, URLs null, best shots inline as `image_b64`. It shares the folder answer
//! of API Lite's multipart liveness (`crate::lite::folder`), extended with BIOMETRY between the
//! request's media.
//!
//! Who may call it: `OZ_INSTANT_AUTH=token` (default) any non-OPERATOR user's access token, or a
//! session token of `GET /api/authorize/session_token` in the same header; `none`: anyone.
//!
//! OzCapsula containers (`Content-Type: application/octet-stream`, here and on
//! `POST /api/folders/`) are Oz's proprietary encrypted format: answered with Oz error 13 (no
//! container) or 14 (cannot be unpacked).

use crate::apidoc::schemas::AnalysisRequest;
use crate::wire::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use oz_domain::access::AnalysisKind;
use oz_domain::assign::{self, MediaClass, MediaFacts};
use oz_domain::caps;
use oz_domain::instant::instant_kind;
use oz_engine::runner::RunnerConfig;
use oz_storage::{StoreError, User};
use oz_vision::VisionError;
use oz_vision::media::MediaKind;
use serde_json::json;
use uuid::Uuid;

use super::auth;
use super::error::{ApiError, ApiResult};
use super::folders::{self, UploadBody};
use crate::lite::folder::{self, AnalysisSpec, Check, Flavor, FolderError, FolderRequest, MediaInput, QualitySpec};
use crate::state::{AppState, FullApi, InstantAuth};

/// `POST /api/instant/folders/`.
#[utoipa::path(
    post,
    path = "/api/instant/folders/",
    operation_id = "instant_folder",
    tag = "instant",
    summary = "Analyse uploaded media at once; nothing is stored",
    request_body(content((crate::apidoc::schemas::UploadForm = "multipart/form-data")), description = "Media parts and a JSON `payload` part. `application/octet-stream` (an OzCapsula container) is refused with 400 error 13/14."),
    security(("token" = [])),
    responses((status = 201, description = "The folder with its analyses (ids name nothing afterwards)", body = oz_wire::Folder), crate::apidoc::ApiErrors)
)]
pub async fn create(State(st): State<AppState>, req: Request) -> ApiResult<Response> {
    let api = st.api()?.clone();
    let (mut parts, body) = req.into_parts();
    let caller = caller(&st, &api, &mut parts).await?;
    // A company at its queue limit gets no more work here either (checked before the body).
    super::analyses::check_company_queue(&api, caller.as_ref().and_then(|u| u.company_id), 0).await?;
    let req = Request::from_parts(parts, body);
    if is_container(req.headers()) {
        return Err(capsula(req).await);
    }
    let mut upload = folders::read_upload(&st, &api, req).await?;
    // The body's memory stays counted until the answer is made from it.
    let _memory = std::mem::take(&mut upload.memory);
    let (mut request, media) = plan(&api, caller.as_ref(), upload)?;
    claim_challenges(&api, caller.as_ref().and_then(|u| u.company_id), &mut request).await?;
    let answer = folder::answer(&st, &request, media).await.map_err(folder_error)?;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `POST /api/folders/`: an OzCapsula container answers error 13/14 (after the token check, as
/// any upload); any other body is the multipart upload of [`folders::create`].
#[utoipa::path(
    post,
    path = "/api/folders/",
    operation_id = "create_folder",
    tag = "folders",
    summary = "Create a folder from uploaded media (and start analyses given in payload)",
    description = "With an access token, or with an SDK session token (`GET /api/authorize/session_token`) for a capture only: the payload must have `analyses` with a QUALITY analysis given `params.challenge_id`, and no `resolution_endpoint` (403 otherwise); that session token may then read the folder with `GET /api/folders/{id}/`.",
    request_body(content((crate::apidoc::schemas::UploadForm = "multipart/form-data")), description = "Media parts and a JSON `payload` part. `application/octet-stream` (an OzCapsula container) is refused with 400 error 13/14."),
    security(("token" = [])),
    responses((status = 201, description = "The folder", body = oz_wire::Folder), crate::apidoc::ApiErrors)
)]
pub async fn create_folder(State(st): State<AppState>, req: Request) -> ApiResult<Response> {
    let (mut parts, body) = req.into_parts();
    let auth = folders::Uploader::from_request_parts(&mut parts, &st).await?;
    let req = Request::from_parts(parts, body);
    if is_container(req.headers()) {
        if !auth.principal.can_write_data() {
            return Err(ApiError::forbidden("this role cannot create folders"));
        }
        return Err(capsula(req).await);
    }
    folders::create(State(st), auth, req).await
}

/// The caller under `OZ_INSTANT_AUTH`: `None` when no authentication is asked for; else the user
/// of the access token or of the session token in `X-Forensic-Access-Token`, who must not be an
/// OPERATOR.
async fn caller(st: &AppState, api: &FullApi, parts: &mut Parts) -> ApiResult<Option<User>> {
    if api.cfg.instant_auth == InstantAuth::None {
        return Ok(None);
    }
    let user = match auth::Caller::of(parts, st).await? {
        auth::Caller::Session(user, _) => user,
        auth::Caller::User(a) => a.user,
    };
    if !user.principal().can_write_data() {
        return Err(ApiError::forbidden("this role cannot run analyses"));
    }
    Ok(Some(user))
}

/// The user a valid session token names, as the user is now (still there, still in the company the
/// token names), with the token's claims (its `jti` names the capture session).
pub(crate) async fn session_caller(api: &FullApi, token: &str) -> ApiResult<(User, oz_domain::instant::SessionClaims)> {
    let now = oz_storage::now().floor() as i64;
    let claims = api.cfg.session_tokens.verify(&api.db, token, now).await?;
    let user = match api.db.user(claims.sub).await {
        Ok(u) => u,
        Err(StoreError::NotFound) => {
            return Err(ApiError::auth_invalid("the user of this session token no longer exists"));
        }
        Err(e) => return Err(e.into()),
    };
    if user.company_id != claims.company_id {
        return Err(ApiError::auth_invalid("the user of this session token has changed company"));
    }
    Ok((user, claims))
}

/// True for an OzCapsula body (`application/octet-stream`).
fn is_container(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/octet-stream"))
}

/// The answer to an OzCapsula container: error 13 when the body is empty, else 14. Only the first
/// non-empty chunk is read.
async fn capsula(req: Request) -> ApiError {
    let mut body = req.into_body().into_data_stream();
    let mut received = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) if c.is_empty() => {}
            _ => {
                received = true;
                break;
            }
        }
    }
    if received {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            14,
            "the OzCapsula container cannot be unpacked: its format is proprietary to Oz Forensics and this \
             server does not read it; send the media and payload as multipart/form-data",
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, 13, "the OzCapsula container was not received: the body is empty")
    }
}

/// Looks up, checks and claims the challenges the planned QUALITY analyses name (as
/// `api::challenges` does for stored analyses: the caller's company, unused, unexpired; one
/// challenge per request), and fills in their actions. Refused before any media is analysed.
async fn claim_challenges(api: &FullApi, company_id: Option<Uuid>, request: &mut FolderRequest) -> ApiResult<()> {
    let mut seen: Vec<Uuid> = Vec::new();
    for spec in &mut request.specs {
        let Check::Quality(q) = &mut spec.check else { continue };
        let Some((id, actions)) = q.challenge.as_mut() else { continue };
        if seen.contains(id) {
            return Err(ApiError::value("one challenge can be verified by one analysis only"));
        }
        seen.push(*id);
        let found = api.db.challenge(*id).await?;
        let now = oz_storage::now();
        oz_domain::challenge::check_use(found.as_ref().map(|c| c.facts()).as_ref(), company_id, now)
            .map_err(|r| ApiError::value(r.to_string()).with_details(json!({ "challenge_id": id.to_string() })))?;
        if let Some(c) = found {
            *actions = c.actions;
        }
    }
    for id in seen {
        if !api.db.use_challenge(id, oz_storage::now()).await? {
            return Err(ApiError::value(oz_domain::challenge::Refusal::Used.to_string())
                .with_details(json!({ "challenge_id": id.to_string() })));
        }
    }
    Ok(())
}

/// The checked request: folder fields, analyses with their media, and the media parts.
fn plan(api: &FullApi, caller: Option<&User>, upload: UploadBody) -> ApiResult<(FolderRequest, Vec<MediaInput>)> {
    let UploadBody { files, mut payload, .. } = upload;
    if files.is_empty() {
        return Err(ApiError::structure("no media part in the request"));
    }
    let meta = super::body::meta_data("folder:meta_data", payload.folder_meta_data.take())?;
    // Checked as the full API checks it, and echoed: nothing is stored, so no webhook is sent.
    let hook = folders::endpoint(&payload)?;
    let mut facts = Vec::with_capacity(files.len());
    for f in &files {
        let class = match oz_vision::media::sniff(&f.bytes) {
            Some(MediaKind::Image) => MediaClass::Image,
            Some(MediaKind::Video) => MediaClass::Video,
            Some(MediaKind::ShotSet) => MediaClass::ShotSet,
            None => return Err(unusable(&f.key, &VisionError::UnsupportedFormat)),
        };
        facts.push(MediaFacts { id: Uuid::new_v4(), class, tags: f.tags.clone() });
    }
    let reqs = folders::payload_analyses(&mut payload).unwrap_or_default();
    caps::count("analyses", reqs.len(), caps::MAX_ANALYSES)?;
    let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
    let specs =
        reqs.iter().map(|r| spec(&api.engine.cfg.runner, caller, r, &keys, &facts)).collect::<ApiResult<Vec<_>>>()?;
    let media = files
        .into_iter()
        .zip(&facts)
        .map(|(u, f)| MediaInput {
            id: f.id,
            key: u.key,
            original_name: u.original_name,
            tags: u.tags,
            meta_data: u.meta_data,
            bytes: u.bytes.into(),
        })
        .collect();
    let flavor = Flavor::Instant { company_id: caller.and_then(|u| u.company_id), user_id: caller.map(|u| u.id) };
    Ok((FolderRequest { flavor, folder_meta: meta, resolution_endpoint: hook, specs }, media))
}

/// One requested analysis, checked: its type (QUALITY, BIOMETRY), the caller's right to start it,
/// its media (by the rules of spec §7.4, or `source_media` naming media parts) and parameters.
fn spec(
    cfg: &RunnerConfig,
    caller: Option<&User>,
    r: &AnalysisRequest,
    keys: &[&str],
    facts: &[MediaFacts],
) -> ApiResult<AnalysisSpec> {
    let kind =
        AnalysisKind::parse(&r.kind).ok_or_else(|| ApiError::value(format!("unknown analysis type {:?}", r.kind)))?;
    let kind = instant_kind(kind).map_err(|e| {
        let status = if e.error_code() == 2 { StatusCode::NOT_IMPLEMENTED } else { StatusCode::BAD_REQUEST };
        ApiError::new(status, e.error_code(), e.to_string())
    })?;
    if let Some(u) = caller
        && !u.principal().can_start(kind)
    {
        return Err(ApiError::forbidden(format!("this user may not start {} analyses", kind.as_str())));
    }
    let params = r.params.clone().unwrap_or_default();
    if kind != AnalysisKind::Quality && params.challenge_id.is_some() {
        return Err(ApiError::value("params.challenge_id is for QUALITY analyses only"));
    }
    // Ids are made by this request, so `source_media` names media parts (as the old iOS SDK, it may
    // sit inside params).
    let explicit = r
        .sources()
        .map(|names| {
            let ids = names
                .iter()
                .map(|n| {
                    keys.iter().position(|k| k == n).map(|i| facts[i].id).ok_or_else(|| {
                        ApiError::value(format!("source_media {n:?} names no media part of this request"))
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?;
            Ok::<_, ApiError>(caps::source_media(&ids)?)
        })
        .transpose()?;
    let inputs = assign::inputs(kind, facts, explicit.as_deref()).map_err(|e| ApiError::value(e.to_string()))?;
    let sources: Vec<usize> = inputs.iter().filter_map(|id| facts.iter().position(|f| f.id == *id)).collect();
    let check = match kind {
        AnalysisKind::Quality => {
            let c = oz_engine::runner::quality_confs(super::analyses::quality_params(&params)?, cfg);
            let mut q = QualitySpec {
                threshold_spoofing: c.threshold_spoofing,
                threshold_liveness: c.threshold_liveness,
                threshold_replay: c.threshold_replay,
                extract_best_shot: c.extract_best_shot,
                challenge: None,
            };
            // The challenge's id only: it is looked up and claimed after planning.
            if let Some(raw) = &params.challenge_id {
                let id = Uuid::parse_str(raw)
                    .map_err(|_| ApiError::value("params.challenge_id must be a challenge id (UUID)"))?;
                if sources.len() != 1 || !matches!(facts[sources[0]].class, MediaClass::Video | MediaClass::ShotSet) {
                    return Err(ApiError::value(
                        "a challenge is verified on one video: the QUALITY analysis must take exactly one video or \
                         shot set (name its part in source_media)",
                    ));
                }
                q.challenge = Some((id, Vec::new()));
            }
            Check::Quality(q)
        }
        _ => Check::Biometry(cfg.thresholds),
    };
    let meta = super::body::meta_data("meta_data", r.meta_data.clone())?;
    Ok(AnalysisSpec { check, meta_data: meta, sources: Some(sources) })
}

/// 400 error 4 naming a media part that cannot be used (413 for a file over the size limit).
fn unusable(key: &str, e: &VisionError) -> ApiError {
    let err = ApiError::value(format!("media {key:?} cannot be used: {e}")).with_details(json!({ "key": key }));
    if matches!(e, VisionError::FileTooLarge { .. }) {
        ApiError { status: StatusCode::PAYLOAD_TOO_LARGE, ..err }
    } else {
        err
    }
}

fn folder_error(e: FolderError) -> ApiError {
    match e {
        FolderError::Busy | FolderError::Media { error: VisionError::Busy, .. } => ApiError::busy(),
        FolderError::Media { key, error } if error.is_internal() => {
            tracing::error!(key, %error, "instant analysis failed");
            ApiError::unknown("Unknown server side error occurred")
        }
        FolderError::Media { key, error } => unusable(&key, &error),
        FolderError::Internal(m) => {
            tracing::error!(message = %m, "instant analysis failed");
            ApiError::unknown("Unknown server side error occurred")
        }
    }
}
