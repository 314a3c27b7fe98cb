//! Metadata sub-resources (spec §11): `/api/{users,folders,media,analyses,collections}/{id}/meta_data`.
//! GET reads; POST and PATCH merge the given keys into the stored object; DELETE clears it.

use crate::wire::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use oz_storage::accounts::MetaTable;
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use crate::state::{AppState, FullApi};

/// The objects that have a meta_data sub-resource, as path segments.
pub const KINDS: [&str; 5] = ["users", "folders", "media", "analyses", "collections"];

/// Path of the handlers' OpenAPI description, moved to each of [`KINDS`] by `api::openapi_router`.
pub const TEMPLATE: &str = "/api/KIND/{id}/meta_data/";

fn table_of(uri: &Uri) -> ApiResult<MetaTable> {
    let p = uri.path();
    if p.starts_with("/api/users/") {
        Ok(MetaTable::Users)
    } else if p.starts_with("/api/folders/") {
        Ok(MetaTable::Folders)
    } else if p.starts_with("/api/media/") {
        Ok(MetaTable::Media)
    } else if p.starts_with("/api/analyses/") {
        Ok(MetaTable::Analyses)
    } else if p.starts_with("/api/collections/") {
        Ok(MetaTable::Collections)
    } else {
        Err(ApiError::not_found("Resource"))
    }
}

/// Checks the caller may see (and for writes, change) the object.
async fn check(api: &FullApi, auth: &Auth, table: MetaTable, id: &str, write: bool) -> ApiResult<Uuid> {
    let id = super::error::parse_id(id, "Object")?;
    let scope = auth.principal.data_scope();
    let found = match table {
        MetaTable::Users => {
            let u = api.db.user_in(id, &auth.principal.user_scope()).await.ok();
            if write
                && let Some(u) = &u
                && u.id != auth.user.id
                && !auth.principal.can_manage_user(u.role, u.company_id)
            {
                return Err(ApiError::forbidden("you cannot change this user"));
            }
            u.is_some()
        }
        MetaTable::Folders => api.db.folder(id, &scope).await.is_ok(),
        MetaTable::Media => api.db.media(id, &scope).await.is_ok(),
        MetaTable::Analyses => api.db.analysis(id, &scope).await.is_ok(),
        MetaTable::Collections => match api.db.collection(id, &auth.principal.collection_scope()).await {
            Ok(c) => {
                if write && !auth.principal.can_manage_collections(c.company_id) {
                    return Err(ApiError::forbidden(
                        "only ADMIN and the company's CLIENT ADMIN can change a collection",
                    ));
                }
                true
            }
            Err(_) => false,
        },
    };
    if !found {
        return Err(ApiError::not_found("Object"));
    }
    if write && !matches!(table, MetaTable::Users | MetaTable::Collections) && !auth.principal.can_write_data() {
        return Err(ApiError::forbidden("this role cannot change metadata"));
    }
    Ok(id)
}

#[utoipa::path(
    get,
    path = "/api/KIND/{id}/meta_data/",
    operation_id = "get_meta_data",
    tag = "meta_data",
    summary = "The meta_data object",
    params(("id" = String, Path, description = "Object id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "meta_data", body = Object), crate::apidoc::ApiErrors)
)]
pub async fn get(State(st): State<AppState>, auth: Auth, uri: Uri, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let api = st.api()?;
    let table = table_of(&uri)?;
    let id = check(api, &auth, table, &id, false).await?;
    Ok(Json(api.db.meta_data(table, id).await?))
}

#[utoipa::path(
    method(post, patch),
    path = "/api/KIND/{id}/meta_data/",
    operation_id = "merge_meta_data",
    tag = "meta_data",
    summary = "Merge keys into meta_data",
    params(("id" = String, Path, description = "Object id (UUID)")),
    request_body(content = Object, content_type = "application/json", description = "Top-level keys to set"),
    security(("token" = [])),
    responses((status = 200, description = "The merged meta_data", body = Object), crate::apidoc::ApiErrors)
)]
pub async fn merge(
    State(st): State<AppState>,
    auth: Auth,
    uri: Uri,
    Path(id): Path<String>,
    super::body::JsonBody(b): super::body::JsonBody,
) -> ApiResult<Json<Value>> {
    let api = st.api()?;
    let table = table_of(&uri)?;
    let id = check(api, &auth, table, &id, true).await?;
    let patch: crate::apidoc::schemas::MetaData = super::body::parse(&b)?;
    let mut current = api.db.meta_data(table, id).await?;
    if let Some(obj) = current.as_object_mut() {
        for (k, v) in patch {
            obj.insert(k, v);
        }
    } else {
        current = Value::Object(patch);
    }
    oz_domain::caps::meta_data("meta_data", &current)?;
    api.db.set_meta_data(table, id, &current).await?;
    Ok(Json(current))
}

#[utoipa::path(
    delete,
    path = "/api/KIND/{id}/meta_data/",
    operation_id = "clear_meta_data",
    tag = "meta_data",
    summary = "Clear meta_data",
    params(("id" = String, Path, description = "Object id (UUID)")),
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn clear(State(st): State<AppState>, auth: Auth, uri: Uri, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let api = st.api()?;
    let table = table_of(&uri)?;
    let id = check(api, &auth, table, &id, true).await?;
    api.db.set_meta_data(table, id, &json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}
