//! Folders and media (spec §5): multipart uploads with `payload`, listing with Oz's filters,
//! media tags, deletion, and the stored files behind `original_url`.

use std::collections::HashMap;

use crate::wire::Json;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use oz_domain::access::Scope;
use oz_domain::assign::{MediaClass, MediaFacts};
use oz_domain::caps;
use oz_engine::files::FileError;
use oz_engine::ingest::{self, IngestError, Upload};
use oz_engine::render;
use oz_storage::folders::FolderFilter;
use oz_storage::{Analysis, Folder, Media};
use serde_json::{Value, json};
use uuid::Uuid;

use super::analyses::{self, wait_for};
use super::auth::{Auth, Caller};
use super::error::{ApiError, ApiResult, lookup, parse_id};
use super::query::{self, Pairs};
use crate::apidoc::schemas::{AnalysisRequest, UploadPayload};
use crate::state::{AppState, FullApi};

/// Who uploads a folder (`POST /api/folders/`): a user by access token, or a capture session by
/// SDK session token (`GET /api/authorize/session_token`), which may only upload a capture (a
/// QUALITY analysis with `params.challenge_id`) and read back the folders it uploaded.
pub struct Uploader {
    pub user: oz_storage::User,
    pub principal: oz_domain::access::Principal,
    /// The session token's `jti`, for a capture session.
    pub capture_session: Option<Uuid>,
}

impl FromRequestParts<AppState> for Uploader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, st: &AppState) -> Result<Self, ApiError> {
        Ok(match Caller::of(parts, st).await? {
            Caller::Session(user, claims) => {
                let principal = user.principal();
                Self { user, principal, capture_session: Some(claims.jti) }
            }
            Caller::User(auth) => Self { user: auth.user, principal: auth.principal, capture_session: None },
        })
    }
}

/// Who reads one folder (`GET /api/folders/{id}/`): a user by access token, or the capture session
/// (SDK session token) that uploaded it.
pub enum Reader {
    User(Box<Auth>),
    Capture(Uuid),
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, st: &AppState) -> Result<Self, ApiError> {
        Ok(match Caller::of(parts, st).await? {
            Caller::Session(_, claims) => Self::Capture(claims.jti),
            Caller::User(auth) => Self::User(Box::new(auth)),
        })
    }
}

/// A folder the caller may see, or 404.
pub async fn visible_folder(api: &FullApi, auth: &Auth, id: &str) -> ApiResult<Folder> {
    let id = parse_id(id, "Folder")?;
    api.db.folder(id, &auth.principal.data_scope()).await.map_err(lookup("Folder"))
}

/// The folder JSON, with analyses when asked.
pub async fn folder_json(api: &FullApi, f: &Folder, with_analyses: bool) -> ApiResult<oz_wire::Folder> {
    let media = api.db.folder_media(f.id).await?;
    let analyses: Option<Vec<Analysis>> =
        if with_analyses { Some(api.db.analyses_of_folders(&[f.id]).await?) } else { None };
    Ok(render::folder(f, &media, analyses.as_deref(), &api.cfg.urls))
}

/// The parsed multipart body of an upload.
pub struct UploadBody {
    pub files: Vec<Upload>,
    /// The `payload` part (default when there was none), less the media's tags and meta_data.
    pub payload: UploadPayload,
    /// The body's bytes in the memory budget of request bodies, held while the files are.
    pub memory: crate::intake::MemoryGrant,
}

/// Reads an upload: file parts under free keys plus a JSON `payload` part (at most
/// `OZ_MAX_JSON_BYTES`), with the attachment limits applied. The body is first received into the
/// spool ([`crate::intake`]): a slow or stalled client holds no memory, and the parts are read
/// into memory only once all of the body has arrived and the memory budget has room for it.
pub async fn read_upload(st: &AppState, api: &FullApi, req: Request) -> ApiResult<UploadBody> {
    let max_json = st.lite.max_json_bytes;
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if !ct.starts_with("multipart/form-data") {
        return Err(ApiError::structure("expected a multipart/form-data body with media parts and a payload part"));
    }
    let (req, memory) =
        crate::intake::take_upload(&st.intake, req, st.lite.max_request_bytes, st.admission.config().max_wait)
            .await
            .map_err(|e| ApiError::from_intake(&e))?;
    let mut mp = Multipart::from_request(req, &()).await.map_err(|e| ApiError::structure(e.body_text()))?;
    let mut raw: Vec<(String, String, Vec<u8>)> = Vec::new();
    let mut payload = UploadPayload::default();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::too_large("the request body is too large"));
            }
            Err(e) => return Err(ApiError::structure(format!("cannot read multipart body: {}", e.body_text()))),
        };
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large("the request body is too large")
            } else {
                ApiError::structure(format!("cannot read part {name:?}: {}", e.body_text()))
            }
        })?;
        if name == "payload" {
            if data.len() > max_json {
                return Err(ApiError::too_large(format!(
                    "the payload part is larger than {max_json} bytes (OZ_MAX_JSON_BYTES)"
                ))
                .with_details(json!({ "limit": max_json })));
            }
            payload = parse_payload(&data)?;
            continue;
        }
        if data.len() as u64 > api.cfg.attachment_max_size {
            return Err(ApiError::too_large(format!(
                "media {name:?} is {} bytes, OZ_ATTACHMENT_MAX_SIZE is {}",
                data.len(),
                api.cfg.attachment_max_size
            ))
            .with_details(json!({ "key": name, "size": data.len(), "limit": api.cfg.attachment_max_size })));
        }
        // A form field left empty (no bytes, no file name: what a browser form, or /docs's "Try
        // it out", sends for a file it was not given) is no media. An empty file is refused below.
        if data.is_empty() && filename.as_deref().is_none_or(str::is_empty) {
            continue;
        }
        raw.push((name.clone(), filename.unwrap_or(name), data.to_vec()));
        if raw.len() > api.cfg.attachment_max_count {
            return Err(ApiError::value(format!(
                "too many media in one request: the limit (OZ_ATTACHMENT_MAX_COUNT) is {}",
                api.cfg.attachment_max_count
            ))
            .with_details(json!({ "limit": api.cfg.attachment_max_count })));
        }
    }
    let mut body = attach_payload(raw, payload)?;
    body.memory = memory;
    Ok(body)
}

/// Parses the JSON `payload` part of an upload: a JSON object (else error 3) read as an
/// [`UploadPayload`], its errors in Oz's codes naming the field (public for the fuzz targets).
pub fn parse_payload(data: &[u8]) -> ApiResult<UploadPayload> {
    match serde_json::from_slice::<Value>(data) {
        Ok(v @ Value::Object(_)) => super::body::parse_value("", v),
        Ok(_) => Err(ApiError::structure("payload must be a JSON object")),
        Err(e) => Err(ApiError::structure(format!("payload is not valid JSON: {e}"))),
    }
}

/// Gives each file part (key, original name, bytes) its `media:tags` and `media:meta_data` from
/// the payload (public for the fuzz targets).
pub fn attach_payload(raw: Vec<(String, String, Vec<u8>)>, mut payload: UploadPayload) -> ApiResult<UploadBody> {
    let mut tags = payload.media_tags.take().unwrap_or_default();
    let mut metas = payload.media_meta_data.take().unwrap_or_default();
    caps::count("media:tags", tags.len(), caps::MAX_MEDIA_ENTRIES)?;
    caps::count("media:meta_data", metas.len(), caps::MAX_MEDIA_ENTRIES)?;
    let mut files = Vec::with_capacity(raw.len());
    for (key, original_name, bytes) in raw {
        let t = caps::tags(&tags.remove(&key).flatten().unwrap_or_default())?;
        let meta = super::body::meta_data("media:meta_data", metas.remove(&key).flatten())?;
        files.push(Upload { key, original_name, bytes, tags: t, meta_data: meta });
    }
    Ok(UploadBody { files, payload, memory: crate::intake::MemoryGrant::default() })
}

/// Decodes and stores uploaded files on a blocking thread, once the admission gate lets the
/// request in (503 with `Retry-After` when it does not). The files carry the permit into the
/// blocking thread: it is released when the work ends, even if the client left.
async fn store_files(
    st: &AppState,
    api: &FullApi,
    files: Vec<Upload>,
) -> ApiResult<Vec<oz_storage::folders::NewMedia>> {
    let files = st.admission.enter().await.map_err(|_| ApiError::busy())?.holding(files);
    let engine = api.engine.clone();
    let p = st.pipeline.clone();
    tokio::task::spawn_blocking(move || ingest::ingest(&p, &engine.files, Some(&engine.cache), &files))
        .await
        .map_err(|e| ApiError::unknown(e.to_string()))?
        .map_err(ingest_error)
}

/// The Oz error of an upload that cannot be stored.
fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Unreadable { source: oz_vision::VisionError::Busy, .. } => ApiError::busy(),
        IngestError::Unreadable { name, source } => {
            let too_large = matches!(source, oz_vision::VisionError::FileTooLarge { .. });
            let err = ApiError::value(format!("media {name:?} cannot be used: {source}"))
                .with_details(json!({ "key": name }));
            if too_large { ApiError { status: StatusCode::PAYLOAD_TOO_LARGE, ..err } } else { err }
        }
        IngestError::File(e) => ApiError::storage("cannot store media", &e),
    }
}

/// What the analysis rules need of the uploads before they are stored: each file's class from its
/// signature (the decoder picks its decoder by the same signature) and its tags, under a
/// provisional id per file. A file without a known signature is refused here as the decoder would
/// refuse it.
fn upload_facts(files: &[Upload]) -> ApiResult<Vec<MediaFacts>> {
    use oz_vision::media::MediaKind;
    files
        .iter()
        .map(|u| {
            let class = match oz_vision::media::sniff(&u.bytes) {
                Some(MediaKind::Image) => MediaClass::Image,
                Some(MediaKind::Video) => MediaClass::Video,
                Some(MediaKind::ShotSet) => MediaClass::ShotSet,
                None => {
                    let source = if u.bytes.is_empty() {
                        oz_vision::VisionError::Empty
                    } else {
                        oz_vision::VisionError::UnsupportedFormat
                    };
                    return Err(ingest_error(IngestError::Unreadable { name: u.key.clone(), source }));
                }
            };
            Ok(MediaFacts { id: Uuid::new_v4(), class, tags: u.tags.clone() })
        })
        .collect()
}

/// The payload's `resolution_endpoint`: absent, empty or a checked http(s) URL (public for the
/// fuzz targets).
pub fn endpoint(payload: &UploadPayload) -> ApiResult<Option<String>> {
    super::webhooks::resolution_endpoint(payload.resolution_endpoint.as_deref())
}

/// The payload's `analyses` (none when absent or empty).
pub fn payload_analyses(payload: &mut UploadPayload) -> Option<Vec<AnalysisRequest>> {
    payload.analyses.take().filter(|a| !a.is_empty())
}

/// `POST /api/folders/`: a folder with its media; with `analyses` in the payload the analyses run
/// and the answer carries their results (single request mode). The whole payload (folder
/// metadata, `resolution_endpoint`, every analysis with its params, collections and the media it
/// takes) is checked before any file is written: a refused request leaves no folder and no file.
pub async fn create(State(st): State<AppState>, auth: Uploader, req: Request) -> ApiResult<Response> {
    let api = st.api()?.clone();
    if !auth.principal.can_write_data() {
        return Err(ApiError::forbidden("this role cannot create folders"));
    }
    let capture = auth.capture_session;
    // No body at all: an empty folder, as older Oz clients create before adding media
    // (`POST /api/folders/{id}/media/`). A multipart body with only a payload part does the same.
    if bodyless(req.headers()) {
        if capture.is_some() {
            return Err(capture_only());
        }
        let (folder, _) = api.db.create_folder(auth.user.company_id, Some(auth.user.id), &json!({}), None, &[]).await?;
        return Ok((StatusCode::CREATED, Json(folder_json(&api, &folder, false).await?)).into_response());
    }
    let mut body = read_upload(&st, &api, req).await?;
    let meta = super::body::meta_data("folder:meta_data", body.payload.folder_meta_data.take())?;
    let hook = endpoint(&body.payload)?;
    if capture.is_some() && hook.is_some() {
        return Err(ApiError::forbidden(
            "an SDK session token cannot set resolution_endpoint (use the company's webhook)",
        ));
    }
    let analysis_reqs = payload_analyses(&mut body.payload);
    // Single request: plan the analyses over the uploads as they will be stored.
    let planned = match &analysis_reqs {
        Some(reqs) => {
            let facts = upload_facts(&body.files)?;
            let items = analyses::plan(&api, &auth.principal, auth.user.company_id, reqs, &facts).await?;
            if capture.is_some() && super::challenges::challenge_ids(&items)?.is_empty() {
                return Err(capture_only());
            }
            // The company's share of the queue, before anything is stored.
            analyses::check_company_queue(&api, auth.user.company_id, items.len()).await?;
            // Challenges are claimed last, before anything is stored.
            super::challenges::claim(&api, &items).await?;
            Some((facts, items))
        }
        None if capture.is_some() => return Err(capture_only()),
        None => None,
    };
    let new_media = store_files(&st, &api, body.files).await?;
    let names: Vec<String> = new_media.iter().flat_map(oz_storage::folders::NewMedia::files).collect();
    let created =
        api.db.create_folder(auth.user.company_id, Some(auth.user.id), &meta, hook.as_deref(), &new_media).await;
    let (folder, _) = match created {
        Ok(v) => v,
        Err(e) => {
            api.engine.files.remove_all_async(&names).await;
            return Err(e.into());
        }
    };
    if let Some(session) = capture
        && let Err(e) = api.db.bind_capture_folder(folder.id, session).await
    {
        if let Ok(files) = api.db.delete_folder(folder.id).await {
            let _ = api.engine.forget_and_remove(files).await;
        }
        return Err(e.into());
    }
    let Some((facts, mut items)) = planned else {
        return Ok((StatusCode::CREATED, Json(folder_json(&api, &folder, false).await?)).into_response());
    };
    // The provisional ids become the stored media's (the files keep their order).
    let ids: HashMap<Uuid, Uuid> = facts.iter().zip(&new_media).map(|(f, m)| (f.id, m.id)).collect();
    for it in &mut items {
        for id in &mut it.source_media {
            if let Some(real) = ids.get(id) {
                *id = *real;
            }
        }
    }
    let rid = crate::observe::request_id();
    let created = match api.db.create_analyses_traced(&folder, Some(auth.user.id), &items, None, rid.as_deref()).await {
        Ok(c) => {
            crate::observe::analyses_created(&c);
            c
        }
        Err(e) => {
            // Nothing of a refused request stays: the folder goes with its media and files.
            if let Ok(files) = api.db.delete_folder(folder.id).await {
                let _ = api.engine.forget_and_remove(files).await;
            }
            return Err(e.into());
        }
    };
    api.engine.wake();
    wait_for(&api, &created).await;
    let f = api.db.folder(folder.id, &Scope::All).await?;
    Ok((StatusCode::CREATED, Json(folder_json(&api, &f, true).await?)).into_response())
}

/// A request without a body: no content type, no length or length 0, not chunked.
fn bodyless(h: &axum::http::HeaderMap) -> bool {
    let len_zero = h.get(header::CONTENT_LENGTH).is_none_or(|v| v.to_str().is_ok_and(|s| s.trim() == "0"));
    h.get(header::CONTENT_TYPE).is_none() && h.get(header::TRANSFER_ENCODING).is_none() && len_zero
}

/// What an SDK session token may upload: a capture, nothing else.
fn capture_only() -> ApiError {
    ApiError::forbidden("an SDK session token uploads only a capture: a QUALITY analysis with params.challenge_id")
}

/// `POST /api/folders/{id}/media/`: adds media; answers the list of created media.
#[utoipa::path(
    post,
    path = "/api/folders/{id}/media/",
    operation_id = "add_media",
    tag = "folders",
    summary = "Add media to a folder",
    params(("id" = String, Path, description = "Folder id (UUID)")),
    request_body(content((crate::apidoc::schemas::UploadForm = "multipart/form-data")), description = "Media parts and a JSON `payload` part. `application/octet-stream` (an OzCapsula container) is refused with 400 error 13/14."),
    security(("token" = [])),
    responses((status = 201, description = "Created media", body = Vec<oz_wire::Media>), crate::apidoc::ApiErrors)
)]
pub async fn add_media(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<Vec<oz_wire::Media>>)> {
    let api = st.api()?.clone();
    let folder = visible_folder(&api, &auth, &id).await?;
    if !auth.principal.can_write_data() {
        return Err(ApiError::forbidden("this role cannot upload media"));
    }
    let body = read_upload(&st, &api, req).await?;
    if body.files.is_empty() {
        return Err(ApiError::structure("no media part in the request"));
    }
    let new_media = store_files(&st, &api, body.files).await?;
    let names: Vec<String> = new_media.iter().flat_map(oz_storage::folders::NewMedia::files).collect();
    let media = match api.db.add_media(&folder, &new_media).await {
        Ok(m) => m,
        Err(e) => {
            api.engine.files.remove_all_async(&names).await;
            return Err(e.into());
        }
    };
    let tc = Some(folder.time_created);
    let media: Vec<oz_wire::Media> = media.iter().map(|m| render::media(m, tc, &api.cfg.urls)).collect();
    Ok((StatusCode::CREATED, Json(media)))
}

/// `GET /api/folders/{id}/` (`with_analyses`, `with_user`, `with_company`).
#[utoipa::path(
    get,
    path = "/api/folders/{id}/",
    operation_id = "get_folder",
    tag = "folders",
    summary = "A folder with its media",
    description = "An access token sees the folders its role may see; an SDK session token sees only the folders it uploaded (any other: 404), without `with_user`/`with_company`.",
    params(("id" = String, Path, description = "Folder id (UUID)"), crate::apidoc::params::FolderFlags),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Folder), crate::apidoc::ApiErrors)
)]
pub async fn get_one(
    State(st): State<AppState>,
    reader: Reader,
    Path(id): Path<String>,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<oz_wire::Folder>> {
    let api = st.api()?;
    let auth = match reader {
        Reader::User(auth) => *auth,
        Reader::Capture(session) => {
            // Only the folders this capture session uploaded; any other is "not found".
            let fid = parse_id(&id, "Folder")?;
            if api.db.capture_session_of(fid).await? != Some(session) {
                return Err(lookup("Folder")(oz_storage::StoreError::NotFound));
            }
            let f = api.db.folder(fid, &Scope::All).await.map_err(lookup("Folder"))?;
            return Ok(Json(folder_json(api, &f, query::flag(&q, "with_analyses")).await?));
        }
    };
    let f = visible_folder(api, &auth, &id).await?;
    let mut v = folder_json(api, &f, query::flag(&q, "with_analyses")).await?;
    add_owners(api, &auth, &q, std::slice::from_ref(&f), std::slice::from_mut(&mut v)).await?;
    Ok(Json(v))
}

/// `with_user=true` / `with_company=true`: each folder JSON gets `user` (the user who created it,
/// as `GET /api/users/{id}` renders it) and `company` (as `GET /api/companies/{id}`), null when the
/// folder has none or the caller may not see it.
async fn add_owners(
    api: &FullApi,
    auth: &Auth,
    q: &Pairs,
    folders: &[Folder],
    out: &mut [oz_wire::Folder],
) -> ApiResult<()> {
    let (with_user, with_company) = (query::flag(q, "with_user"), query::flag(q, "with_company"));
    let distinct = |ids: Vec<Uuid>| {
        let mut v = ids;
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut users: HashMap<Uuid, oz_wire::accounts::User> = HashMap::new();
    if with_user {
        let scope = auth.principal.user_scope();
        for u in api.db.users_by_ids(&distinct(folders.iter().filter_map(|f| f.user_id).collect())).await? {
            if scope.contains(Some(u.id), u.company_id) {
                users.insert(u.id, render::user(&u));
            }
        }
    }
    let mut companies: HashMap<Uuid, oz_wire::accounts::Company> = HashMap::new();
    if with_company {
        let scope = auth.principal.company_scope();
        for c in api.db.companies_by_ids(&distinct(folders.iter().filter_map(|f| f.company_id).collect())).await? {
            if scope.contains(Some(c.id), Some(c.id)) {
                companies.insert(c.id, render::company(&c));
            }
        }
    }
    for (f, v) in folders.iter().zip(out.iter_mut()) {
        if with_user {
            v.user = Some(f.user_id.and_then(|u| users.get(&u).cloned()));
        }
        if with_company {
            v.company = Some(f.company_id.and_then(|c| companies.get(&c).cloned()));
        }
    }
    Ok(())
}

/// `GET /api/folders/`.
#[utoipa::path(
    get,
    path = "/api/folders/",
    operation_id = "list_folders",
    tag = "folders",
    summary = "Folders the caller may see",
    params(crate::apidoc::params::FolderFilters, crate::apidoc::params::Owners, crate::apidoc::params::TimeRange, crate::apidoc::params::FolderFlags, crate::apidoc::params::OffsetLimit, crate::apidoc::params::Sorting, crate::apidoc::params::MetaFilter),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Page<oz_wire::Folder>), crate::apidoc::ApiErrors)
)]
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<oz_wire::Page<oz_wire::Folder>>> {
    let api = st.api()?;
    let mut f = FolderFilter::new(auth.principal.data_scope());
    f.meta = query::meta(&q)?;
    f.owners = query::owners(&q)?;
    f.window = query::window(&q)?;
    f.statuses = query::list(&q, "resolution_status")?;
    f.statuses_exclude = query::list(&q, "resolution_status.exclude")?;
    f.search_text = query::get(&q, "search_text").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(n) = f.search_text.as_ref().map(|t| t.chars().count()).filter(|n| *n > MAX_SEARCH_CHARS) {
        return Err(ApiError::value(format!("search_text is {n} characters long, the limit is {MAX_SEARCH_CHARS}")));
    }
    (f.page.sort_by_updated, f.page.descending) = query::sorting(&q)?;
    f.page.offset = query::int(&q, "offset", 0, i64::MAX)?;
    f.page.limit = query::int(&q, "limit", 100, 1000)?;
    let with_total = !query::flag(&q, "total_omit");
    let (folders, total) = api.db.folders(&f, with_total).await?;
    let ids: Vec<Uuid> = folders.iter().map(|x| x.id).collect();
    let media = api.db.media_of_folders(&ids).await?;
    let analyses = if query::flag(&q, "with_analyses") { Some(api.db.analyses_of_folders(&ids).await?) } else { None };
    let mut media_by: HashMap<Uuid, Vec<Media>> = HashMap::new();
    for m in media {
        media_by.entry(m.folder_id).or_default().push(m);
    }
    let mut an_by: HashMap<Uuid, Vec<Analysis>> = HashMap::new();
    for a in analyses.iter().flatten() {
        an_by.entry(a.folder_id).or_default().push(a.clone());
    }
    let mut items: Vec<oz_wire::Folder> = folders
        .iter()
        .map(|fo| {
            let m = media_by.get(&fo.id).map_or(&[][..], Vec::as_slice);
            let a = analyses.as_ref().map(|_| an_by.get(&fo.id).map_or(&[][..], Vec::as_slice));
            render::folder(fo, m, a, &api.cfg.urls)
        })
        .collect();
    add_owners(api, &auth, &q, &folders, &mut items).await?;
    Ok(Json(oz_wire::Page::new(items, f.page.offset, f.page.limit, total)))
}

/// Longest `search_text`, characters.
const MAX_SEARCH_CHARS: usize = 256;

/// `DELETE /api/folders/{id}/`: ADMIN and company admins.
#[utoipa::path(
    delete,
    path = "/api/folders/{id}/",
    operation_id = "delete_folder",
    tag = "folders",
    summary = "Delete a folder with its media, analyses and files",
    params(("id" = String, Path, description = "Folder id (UUID)")),
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn delete(State(st): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let api = st.api()?;
    let f = visible_folder(api, &auth, &id).await?;
    if !auth.principal.can_delete_data() {
        return Err(ApiError::forbidden("this role cannot delete folders"));
    }
    // The rows are committed before any file goes; a file left by a crash here is swept later.
    let files = api.db.delete_folder(f.id).await?;
    api.engine.forget_and_remove(files).await.map_err(|e| ApiError::storage("cannot remove stored files", &e))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn visible_media(api: &FullApi, auth: &Auth, id: &str) -> ApiResult<Media> {
    let id = parse_id(id, "Media")?;
    api.db.media(id, &auth.principal.data_scope()).await.map_err(lookup("Media"))
}

#[utoipa::path(
    get,
    path = "/api/media/{id}/",
    operation_id = "get_media",
    tag = "media",
    summary = "A media",
    params(("id" = String, Path, description = "Media id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Media), crate::apidoc::ApiErrors)
)]
pub async fn get_media(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<oz_wire::Media>> {
    let api = st.api()?;
    let m = visible_media(api, &auth, &id).await?;
    let f = api.db.folder(m.folder_id, &Scope::All).await?;
    Ok(Json(render::media(&m, Some(f.time_created), &api.cfg.urls)))
}

/// `PATCH /api/media/{id}` with `{"tags": [...]}`: replaces the tags (`[]` clears them).
#[utoipa::path(
    patch,
    path = "/api/media/{id}/",
    operation_id = "patch_media",
    tag = "media",
    summary = "Change the tags or meta_data of a media",
    params(("id" = String, Path, description = "Media id (UUID)")),
    request_body(content = crate::apidoc::schemas::MediaPatch, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Media), crate::apidoc::ApiErrors)
)]
pub async fn patch_media(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    super::body::JsonBody(b): super::body::JsonBody,
) -> ApiResult<Json<oz_wire::Media>> {
    let api = st.api()?;
    let m = visible_media(api, &auth, &id).await?;
    if !auth.principal.can_write_data() {
        return Err(ApiError::forbidden("this role cannot change media"));
    }
    let crate::apidoc::schemas::MediaPatch { tags } = super::body::parse(&b)?;
    let tags = caps::tags(&tags)?;
    api.db.set_media_tags(m.id, &tags).await?;
    let m = api.db.media(m.id, &Scope::All).await?;
    let f = api.db.folder(m.folder_id, &Scope::All).await?;
    Ok(Json(render::media(&m, Some(f.time_created), &api.cfg.urls)))
}

#[utoipa::path(
    delete,
    path = "/api/media/{id}/",
    operation_id = "delete_media",
    tag = "media",
    summary = "Delete a media and its files",
    params(("id" = String, Path, description = "Media id (UUID)")),
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn delete_media(State(st): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let api = st.api()?;
    let m = visible_media(api, &auth, &id).await?;
    if !auth.principal.can_delete_data() {
        return Err(ApiError::forbidden("this role cannot delete media"));
    }
    let files = api.db.delete_media(m.id).await?;
    api.engine.forget_and_remove(files).await.map_err(|e| ApiError::storage("cannot remove stored files", &e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /static/{file}`: a stored file, streamed from the media store: a media's original, its JPEG preview
/// or a shot set's assembled mp4 (each with its own type), or a person photo.
///
/// - With the token header, the token decides (as on every route): no valid session 401, a media
///   the caller may not see 404. A signature in the query is then ignored.
/// - Without it, a signed link (`?expires=...&signature=...`, as `original_url` carries) opens the
///   file until it expires: a link with a wrong or partial signature answers 401 (error 7), an
///   expired one 401 (error 8), a deleted media 404. Neither token nor signature: 401 (error 6).
#[utoipa::path(
    get,
    path = "/static/{file}",
    operation_id = "static_file",
    tag = "media",
    summary = "A stored file (original, preview, best shot, assembled video): with a token, or by the signed link of `original_url`",
    params(("file" = String, Path, description = "Stored file name"), crate::apidoc::params::SignedLink),
    security((), ("token" = [])),
    responses((status = 200, description = "The file, streamed, with its stored type", content(
        (crate::apidoc::schemas::Binary = "image/jpeg"),
        (crate::apidoc::schemas::Binary = "image/png"),
        (crate::apidoc::schemas::Binary = "video/mp4"),
        (crate::apidoc::schemas::Binary = "video/quicktime"),
        (crate::apidoc::schemas::Binary = "video/webm"),
        (crate::apidoc::schemas::Binary = "video/x-msvideo"),
        (crate::apidoc::schemas::Binary = "application/zip"),
        (crate::apidoc::schemas::Binary = "application/octet-stream"),
    )), crate::apidoc::ApiErrors)
)]
pub async fn file(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Pairs>,
    req: Request,
) -> ApiResult<Response> {
    let api = st.api()?;
    let (mut parts, _) = req.into_parts();
    let (scope, photo_scope) = if super::auth::has_token(&parts) {
        let auth = Auth::from_request_parts(&mut parts, &st).await?;
        (auth.principal.data_scope(), super::collections::file_scope(Some(&auth)))
    } else {
        (signed_link_scope(api, &name, &q)?, super::collections::file_scope(None))
    };
    // A folder's media (its original, preview or assembled video), or else a blacklist person's photo.
    let (file_name, mime_type) = match api.db.media_by_file(&name, &scope).await {
        Ok(m) => {
            let mime = m.file_type(&name).ok_or_else(|| ApiError::not_found("File"))?.to_string();
            (name.clone(), mime)
        }
        Err(oz_storage::StoreError::NotFound) => {
            let m = api.db.person_image_by_file(&name, &photo_scope).await.map_err(lookup("File"))?;
            (m.file.file_name, m.file.mime_type)
        }
        Err(e) => return Err(e.into()),
    };
    let download = match api.engine.files.download(&file_name).await {
        Ok(d) => d,
        Err(FileError::BadName | FileError::NotFound) => return Err(ApiError::not_found("File")),
        Err(e) => return Err(ApiError::storage("cannot read a stored file", &e)),
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime_type),
            (header::CONTENT_LENGTH, download.len.to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        axum::body::Body::from_stream(download.stream),
    )
        .into_response())
}

/// The scope a request without token gets from its signed link: everything (the signature names
/// the file), or a 401.
fn signed_link_scope(api: &FullApi, name: &str, q: &Pairs) -> ApiResult<Scope> {
    use oz_engine::links::LinkError;
    match (query::get(q, "expires"), query::get(q, "signature")) {
        (None, None) => Err(ApiError::auth_missing()),
        (Some(expires), Some(sig)) => {
            let signer =
                api.cfg.urls.links.as_ref().ok_or_else(|| {
                    ApiError::auth_invalid("signed links are turned off on this server (OZ_LINK_TTL=0)")
                })?;
            match signer.verify(name, expires, sig, oz_storage::now()) {
                Ok(()) => Ok(Scope::All),
                Err(LinkError::Invalid) => Err(ApiError::auth_invalid("the link's signature is not valid")),
                Err(LinkError::Expired) => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    8,
                    "the link has expired: get the media again for a fresh original_url",
                )),
            }
        }
        _ => Err(ApiError::auth_invalid("a signed link needs both expires and signature")),
    }
}
