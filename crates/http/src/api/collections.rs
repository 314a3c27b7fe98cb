//! Blacklist collections (spec §10): collections, their persons and the persons' face photos.
//!
//! Collections belong to a company. Every client role reads its company's (a mobile SDK looks
//! the `blacklist` alias up); ADMIN and CLIENT ADMIN create and delete; another company's
//! collection does not exist for the caller (404). Each photo is decoded, must show exactly one
//! person, and is embedded at upload: its template is stored with the row and enters the 1:N
//! index of every process (see `oz_engine::collections`).

use crate::wire::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use oz_domain::access::Scope;
use oz_engine::ingest::Upload;
use oz_engine::render;
use oz_storage::collections::{Collection, NewPersonImage, Person};
use oz_vision::media::MediaKind;
use oz_vision::{Pipeline, VisionError};
use serde_json::json;
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ApiResult, lookup, parse_id};
use super::folders::read_upload;
use super::query::{self, Pairs};
use crate::apidoc::schemas::CollectionCreate;
use crate::state::{AppState, FullApi};

/// Longest collection alias.
const MAX_ALIAS: usize = 255;

/// A collection the caller may see, or 404.
pub async fn visible_collection(api: &FullApi, auth: &Auth, id: &str) -> ApiResult<Collection> {
    let id = parse_id(id, "Collection")?;
    api.db.collection(id, &auth.principal.collection_scope()).await.map_err(lookup("Collection"))
}

fn ensure_manager(auth: &Auth, c: &Collection) -> ApiResult<()> {
    if auth.principal.can_manage_collections(c.company_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only ADMIN and the company's CLIENT ADMIN can change its collections"))
    }
}

// ---- collections ------------------------------------------------------------------------------

/// `GET /api/collections/`: an array (old SDKs pick the one whose `alias` is `blacklist`), with
/// optional `alias` and `company_id` filters.
#[utoipa::path(
    get,
    path = "/api/collections/",
    operation_id = "list_collections",
    tag = "collections",
    summary = "Collections the caller may see",
    params(crate::apidoc::params::CollectionFilters),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<oz_wire::collections::Collection>), crate::apidoc::ApiErrors)
)]
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<Vec<oz_wire::collections::Collection>>> {
    let api = st.api()?;
    let company = query::uuids(&q, "company_id")?.first().copied();
    let list = api.db.collections(&auth.principal.collection_scope(), company, query::get(&q, "alias")).await?;
    Ok(Json(list.iter().map(render::collection).collect::<Vec<_>>()))
}

/// `POST /api/collections/` with `{"alias": "...", "company_id": "..."}` (`company_id` defaults
/// to the caller's company).
#[utoipa::path(
    post,
    path = "/api/collections/",
    operation_id = "create_collection",
    tag = "collections",
    summary = "Create a collection",
    request_body(content = crate::apidoc::schemas::CollectionCreate, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 201, description = "Created", body = oz_wire::collections::Collection), crate::apidoc::ApiErrors)
)]
pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    super::body::JsonBody(b): super::body::JsonBody,
) -> ApiResult<(StatusCode, Json<oz_wire::collections::Collection>)> {
    let api = st.api()?;
    let CollectionCreate { alias, company_id, meta_data } = super::body::parse(&b)?;
    let alias = Some(alias.trim()).filter(|s| !s.is_empty()).ok_or_else(|| ApiError::structure("alias is required"))?;
    if alias.chars().count() > MAX_ALIAS {
        return Err(ApiError::value(format!("alias is longer than {MAX_ALIAS} characters")));
    }
    let company = match company_id {
        None => auth.principal.company_id,
        Some(s) => Some(Uuid::parse_str(&s).map_err(|_| ApiError::value("company_id must be a company's id"))?),
    };
    let company = company.ok_or_else(|| ApiError::structure("company_id is required"))?;
    // A company the caller cannot see does not exist for it.
    api.db.company(company, &auth.principal.company_scope()).await.map_err(lookup("Company"))?;
    if !auth.principal.can_manage_collections(company) {
        return Err(ApiError::forbidden("only ADMIN and the company's CLIENT ADMIN can create collections"));
    }
    let meta = super::body::meta_data("meta_data", meta_data)?;
    let c = api.db.create_collection(company, alias, &meta).await?;
    Ok((StatusCode::CREATED, Json(render::collection(&c))))
}

/// `GET /api/collections/{id}/`.
#[utoipa::path(
    get,
    path = "/api/collections/{id}/",
    operation_id = "get_collection",
    tag = "collections",
    summary = "A collection",
    params(("id" = String, Path, description = "Collection id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::collections::Collection), crate::apidoc::ApiErrors)
)]
pub async fn get_one(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<oz_wire::collections::Collection>> {
    let api = st.api()?;
    Ok(Json(render::collection(&visible_collection(api, &auth, &id).await?)))
}

/// `DELETE /api/collections/{id}/`: the collection, its persons and their photos.
#[utoipa::path(
    delete,
    path = "/api/collections/{id}/",
    operation_id = "delete_collection",
    tag = "collections",
    summary = "Delete a collection with its persons and photos",
    params(("id" = String, Path, description = "Collection id (UUID)")),
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn delete(State(st): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let api = st.api()?;
    let c = visible_collection(api, &auth, &id).await?;
    ensure_manager(&auth, &c)?;
    let files = api.db.remove_collection(c.id).await.map_err(lookup("Collection"))?;
    finish_removal(api, &files).await;
    Ok(StatusCode::NO_CONTENT)
}

/// After a delete has committed: this process's index follows at once (others before their next
/// search), then the files go.
async fn finish_removal(api: &FullApi, files: &[String]) {
    if let Err(e) = api.engine.collections.catch_up(&api.db).await {
        tracing::warn!(error = %e, "cannot apply a collection change to the 1:N index");
    }
    api.engine.files.remove_all_async(files).await;
}

// ---- persons ----------------------------------------------------------------------------------

/// `GET /api/collections/{id}/persons/` with `offset` and `limit`.
#[utoipa::path(
    get,
    path = "/api/collections/{id}/persons/",
    operation_id = "list_persons",
    tag = "collections",
    summary = "Persons of a collection",
    params(("id" = String, Path, description = "Collection id (UUID)"), crate::apidoc::params::OffsetLimit),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Page<oz_wire::collections::Person>), crate::apidoc::ApiErrors)
)]
pub async fn list_persons(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<oz_wire::Page<oz_wire::collections::Person>>> {
    let api = st.api()?;
    let c = visible_collection(api, &auth, &id).await?;
    let offset = query::int(&q, "offset", 0, i64::MAX)?;
    let limit = query::int(&q, "limit", 100, 1000)?;
    let (persons, total) = api.db.persons(c.id, offset, limit).await?;
    let ids: Vec<Uuid> = persons.iter().map(|p| p.id).collect();
    let images = api.db.person_images(&ids).await?;
    let items: Vec<_> = persons.iter().map(|p| render::person(p, &images, &api.cfg.urls)).collect();
    Ok(Json(oz_wire::Page::new(items, offset, limit, Some(total))))
}

/// `POST /api/collections/{id}/persons/`: multipart with one or more photos and a `payload` part
/// `{"media:tags": {...}, "media:meta_data": {...}, "person:meta_data": {...}}`.
#[utoipa::path(
    post,
    path = "/api/collections/{id}/persons/",
    operation_id = "create_person",
    tag = "collections",
    summary = "Add a person from one or more photos",
    params(("id" = String, Path, description = "Collection id (UUID)")),
    request_body(content = crate::apidoc::schemas::PhotosForm, content_type = "multipart/form-data"),
    security(("token" = [])),
    responses((status = 201, description = "Created", body = oz_wire::collections::Person), crate::apidoc::ApiErrors)
)]
pub async fn create_person(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<oz_wire::collections::Person>)> {
    let api = st.api()?.clone();
    let c = visible_collection(&api, &auth, &id).await?;
    ensure_manager(&auth, &c)?;
    let mut body = read_upload(&st, &api, req).await?;
    let meta = super::body::meta_data("person:meta_data", body.payload.person_meta_data.take())?;
    if body.files.is_empty() {
        return Err(ApiError::structure("a person needs at least one photo (an image part)"));
    }
    let images = embed_photos(&st, &api, body.files).await?;
    let created = api.db.create_person(&c, &meta, &images).await;
    let (p, stored) = match created {
        Ok(v) => v,
        Err(e) => {
            api.engine
                .files
                .remove_all_async(&images.iter().map(|m| m.file.file_name.clone()).collect::<Vec<_>>())
                .await;
            return Err(lookup("Collection")(e));
        }
    };
    if let Err(e) = api.engine.collections.catch_up(&api.db).await {
        tracing::warn!(error = %e, "cannot apply a collection change to the 1:N index");
    }
    Ok((StatusCode::CREATED, Json(render::person(&p, &stored, &api.cfg.urls))))
}

/// A person of a collection the caller may see, or 404.
async fn visible_person(api: &FullApi, auth: &Auth, cid: &str, pid: &str) -> ApiResult<(Collection, Person)> {
    let c = visible_collection(api, auth, cid).await?;
    let pid = parse_id(pid, "Person")?;
    let p = api.db.person(c.id, pid).await.map_err(lookup("Person"))?;
    Ok((c, p))
}

/// `GET /api/collections/{id}/persons/{person_id}/`.
#[utoipa::path(
    get,
    path = "/api/collections/{id}/persons/{person_id}/",
    operation_id = "get_person",
    tag = "collections",
    summary = "A person",
    params(("id" = String, Path, description = "Collection id (UUID)"), ("person_id" = String, Path, description = "Person id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::collections::Person), crate::apidoc::ApiErrors)
)]
pub async fn get_person(
    State(st): State<AppState>,
    auth: Auth,
    Path((cid, pid)): Path<(String, String)>,
) -> ApiResult<Json<oz_wire::collections::Person>> {
    let api = st.api()?;
    let (_, p) = visible_person(api, &auth, &cid, &pid).await?;
    let images = api.db.person_images(&[p.id]).await?;
    Ok(Json(render::person(&p, &images, &api.cfg.urls)))
}

/// `DELETE /api/collections/{id}/persons/{person_id}/`.
#[utoipa::path(
    delete,
    path = "/api/collections/{id}/persons/{person_id}/",
    operation_id = "delete_person",
    tag = "collections",
    summary = "Delete a person",
    params(("id" = String, Path, description = "Collection id (UUID)"), ("person_id" = String, Path, description = "Person id (UUID)")),
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn delete_person(
    State(st): State<AppState>,
    auth: Auth,
    Path((cid, pid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let api = st.api()?;
    let (c, p) = visible_person(api, &auth, &cid, &pid).await?;
    ensure_manager(&auth, &c)?;
    let files = api.db.remove_person(c.id, p.id).await.map_err(lookup("Person"))?;
    finish_removal(api, &files).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---- person images ----------------------------------------------------------------------------

/// `GET /api/collections/{id}/persons/{person_id}/images/`.
#[utoipa::path(
    get,
    path = "/api/collections/{id}/persons/{person_id}/images/",
    operation_id = "list_person_images",
    tag = "collections",
    summary = "Photos of a person",
    params(("id" = String, Path, description = "Collection id (UUID)"), ("person_id" = String, Path, description = "Person id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<oz_wire::collections::PersonImage>), crate::apidoc::ApiErrors)
)]
pub async fn list_images(
    State(st): State<AppState>,
    auth: Auth,
    Path((cid, pid)): Path<(String, String)>,
) -> ApiResult<Json<Vec<oz_wire::collections::PersonImage>>> {
    let api = st.api()?;
    let (_, p) = visible_person(api, &auth, &cid, &pid).await?;
    let images = api.db.person_images(&[p.id]).await?;
    Ok(Json(images.iter().map(|m| render::person_image(m, &api.cfg.urls)).collect::<Vec<_>>()))
}

/// `POST /api/collections/{id}/persons/{person_id}/images/`: multipart like a person's creation.
#[utoipa::path(
    post,
    path = "/api/collections/{id}/persons/{person_id}/images/",
    operation_id = "add_person_images",
    tag = "collections",
    summary = "Add photos to a person",
    params(("id" = String, Path, description = "Collection id (UUID)"), ("person_id" = String, Path, description = "Person id (UUID)")),
    request_body(content = crate::apidoc::schemas::PhotosForm, content_type = "multipart/form-data"),
    security(("token" = [])),
    responses((status = 201, description = "Created", body = Vec<oz_wire::collections::PersonImage>), crate::apidoc::ApiErrors)
)]
pub async fn add_images(
    State(st): State<AppState>,
    auth: Auth,
    Path((cid, pid)): Path<(String, String)>,
    req: Request,
) -> ApiResult<(StatusCode, Json<Vec<oz_wire::collections::PersonImage>>)> {
    let api = st.api()?.clone();
    let (c, p) = visible_person(&api, &auth, &cid, &pid).await?;
    ensure_manager(&auth, &c)?;
    let body = read_upload(&st, &api, req).await?;
    if body.files.is_empty() {
        return Err(ApiError::structure("no image part in the request"));
    }
    let images = embed_photos(&st, &api, body.files).await?;
    let stored = match api.db.add_person_images(&p, &images).await {
        Ok(v) => v,
        Err(e) => {
            api.engine
                .files
                .remove_all_async(&images.iter().map(|m| m.file.file_name.clone()).collect::<Vec<_>>())
                .await;
            return Err(lookup("Person")(e));
        }
    };
    if let Err(e) = api.engine.collections.catch_up(&api.db).await {
        tracing::warn!(error = %e, "cannot apply a collection change to the 1:N index");
    }
    Ok((StatusCode::CREATED, Json(stored.iter().map(|m| render::person_image(m, &api.cfg.urls)).collect::<Vec<_>>())))
}

/// `GET /api/collections/{id}/persons/{person_id}/images/{image_id}/`.
#[utoipa::path(
    get,
    path = "/api/collections/{id}/persons/{person_id}/images/{image_id}/",
    operation_id = "get_person_image",
    tag = "collections",
    summary = "A photo of a person",
    params(("id" = String, Path, description = "Collection id (UUID)"), ("person_id" = String, Path, description = "Person id (UUID)"), ("image_id" = String, Path, description = "Image id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::collections::PersonImage), crate::apidoc::ApiErrors)
)]
pub async fn get_image(
    State(st): State<AppState>,
    auth: Auth,
    Path((cid, pid, iid)): Path<(String, String, String)>,
) -> ApiResult<Json<oz_wire::collections::PersonImage>> {
    let api = st.api()?;
    let (_, p) = visible_person(api, &auth, &cid, &pid).await?;
    let iid = parse_id(&iid, "Image")?;
    let m = api.db.person_image(p.id, iid).await.map_err(lookup("Image"))?;
    Ok(Json(render::person_image(&m, &api.cfg.urls)))
}

/// `DELETE /api/collections/{id}/persons/{person_id}/images/{image_id}/`.
#[utoipa::path(
    delete,
    path = "/api/collections/{id}/persons/{person_id}/images/{image_id}/",
    operation_id = "delete_person_image",
    tag = "collections",
    summary = "Delete a photo of a person",
    params(("id" = String, Path, description = "Collection id (UUID)"), ("person_id" = String, Path, description = "Person id (UUID)"), ("image_id" = String, Path, description = "Image id (UUID)")),
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn delete_image(
    State(st): State<AppState>,
    auth: Auth,
    Path((cid, pid, iid)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let api = st.api()?;
    let (c, p) = visible_person(api, &auth, &cid, &pid).await?;
    ensure_manager(&auth, &c)?;
    let iid = parse_id(&iid, "Image")?;
    let file = api.db.remove_person_image(p.id, iid).await.map_err(lookup("Image"))?;
    finish_removal(api, &[file]).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---- photos -----------------------------------------------------------------------------------

/// Decodes, checks and embeds the photos on a blocking thread (through the admission gate), then
/// writes their files. Nothing is written when one photo is refused.
async fn embed_photos(st: &AppState, api: &FullApi, files: Vec<Upload>) -> ApiResult<Vec<NewPersonImage>> {
    let files = st.admission.enter().await.map_err(|_| ApiError::busy())?.holding(files);
    let p = st.pipeline.clone();
    let engine = api.engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut made: Vec<(NewPersonImage, Vec<u8>)> = Vec::with_capacity(files.len());
        for u in files.iter() {
            made.push(photo(&p, u)?);
        }
        let mut out: Vec<NewPersonImage> = Vec::with_capacity(made.len());
        for (mut m, bytes) in made {
            let ext = if m.file.mime_type == "image/png" { "png" } else { "jpg" };
            match engine.files.write(&bytes, ext) {
                Ok(name) => m.file.file_name = name,
                Err(e) => {
                    engine.files.remove_all(&out.iter().map(|o| o.file.file_name.clone()).collect::<Vec<_>>());
                    return Err(ApiError::storage("cannot store the photo", &e));
                }
            }
            out.push(m);
        }
        Ok(out)
    })
    .await
    .map_err(|e| ApiError::unknown(e.to_string()))?
}

/// One photo: a JPEG or PNG showing exactly one person, and its template.
fn photo(p: &Pipeline, u: &Upload) -> ApiResult<(NewPersonImage, Vec<u8>)> {
    let refuse = |e: VisionError| match e {
        VisionError::Busy => ApiError::busy(),
        VisionError::Model(m) => ApiError::unknown(format!("model error: {m}")),
        other => {
            ApiError::value(format!("photo {:?} cannot be used: {other}", u.key)).with_details(json!({ "key": u.key }))
        }
    };
    let d = p.decode_in(&u.bytes, &p.request_budget()).map_err(refuse)?;
    if d.info.kind != MediaKind::Image {
        return Err(ApiError::value(format!("photo {:?} must be a JPEG or PNG image", u.key))
            .with_details(json!({ "key": u.key })));
    }
    let frame = d.frames.first().ok_or_else(|| refuse(VisionError::UnsupportedFormat))?;
    let face = p.single_face(&frame.image).map_err(refuse)?;
    let vector = p.embed_face(&frame.image, &face).map_err(refuse)?;
    let template = p.template_of(vector);
    let info = oz_engine::render::media_info(&d.info);
    Ok((
        NewPersonImage {
            id: Uuid::new_v4(),
            file: oz_storage::StoredFile {
                original_name: u.original_name.clone(),
                file_name: String::new(),
                mime_type: d.info.mime_type.clone(),
                size: i64::try_from(d.info.size).unwrap_or(i64::MAX),
                md5: d.info.md5.clone(),
                info: oz_wire::json::value(&info),
            },
            tags: u.tags.clone(),
            meta_data: u.meta_data.clone(),
            model_id: hex::encode(template.model_id),
            template: template.to_bytes(),
        },
        u.bytes.clone(),
    ))
}

/// The scope of person photos for `/static/{file}` (used when no folder media has the name).
#[must_use]
pub fn file_scope(auth: Option<&Auth>) -> Scope {
    auth.map_or(Scope::All, |a| a.principal.collection_scope())
}
