//! Webhook settings (our extension to the Oz API): the `resolution_endpoint` check shared by the
//! routes that accept one, and a company's own signing secret.
//!
//! `POST /api/companies/{id}/webhook_secret` makes a new secret and answers it once (rotation is
//! the same call); `GET` tells whether one is set, never the secret; `DELETE` removes it (the
//! company's webhooks are then signed with `OZ_WEBHOOK_SECRET`, if set). ADMIN, or the
//! company's own CLIENT ADMIN.
//!
//! `GET /api/folders/{id}/webhooks/` lists a folder's deliveries and their outcome (for the
//! console): whoever may see the folder.

use crate::apidoc::schemas::{WebhookDeliveries, WebhookDelivery, WebhookSecret, WebhookSecretStatus};
use crate::wire::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use oz_engine::webhook::guard;
use oz_storage::StoreError;
use rand::RngCore;
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ApiResult, lookup, parse_id};
use crate::state::AppState;

/// A `resolution_endpoint` from a request body: absent, `null` or blank is none; otherwise an
/// `http(s)` URL with a host and no user-info (400, Oz error code 4). Addresses are checked
/// when the webhook is sent.
pub fn resolution_endpoint(v: Option<&str>) -> ApiResult<Option<String>> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => match guard::check_endpoint(s) {
            Ok(_) => Ok(Some(s.to_string())),
            Err(e) => Err(ApiError::value(e.to_string())),
        },
    }
}

/// The company, if the caller may manage its webhook secret.
async fn managed_company(st: &AppState, auth: &Auth, id: &str) -> ApiResult<Uuid> {
    let api = st.api()?;
    let id = parse_id(id, "Company")?;
    api.db.company(id, &auth.principal.company_scope()).await.map_err(lookup("Company"))?;
    if !auth.principal.can_manage_company(Some(id)) {
        return Err(ApiError::forbidden("you cannot change this company"));
    }
    Ok(id)
}

/// `POST /api/companies/{id}/webhook_secret`: a new secret, shown in this answer only.
#[utoipa::path(
    post,
    path = "/api/companies/{id}/webhook_secret/",
    operation_id = "rotate_webhook_secret",
    tag = "accounts",
    summary = "Make a new webhook signing secret (shown once)",
    params(("id" = String, Path, description = "Company id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = crate::apidoc::schemas::WebhookSecret), crate::apidoc::ApiErrors)
)]
pub async fn rotate_secret(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookSecret>> {
    let id = managed_company(&st, &auth, &id).await?;
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let secret = format!("whsec_{}", hex::encode(raw));
    let t = st.api()?.db.set_company_webhook_secret(id, &secret).await?;
    Ok(Json(WebhookSecret { company_id: id, webhook_secret: secret, time_updated: t }))
}

/// `GET /api/companies/{id}/webhook_secret`: whether a secret is set, and since when.
#[utoipa::path(
    get,
    path = "/api/companies/{id}/webhook_secret/",
    operation_id = "webhook_secret_status",
    tag = "accounts",
    summary = "Whether the company has its own webhook secret",
    params(("id" = String, Path, description = "Company id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = crate::apidoc::schemas::WebhookSecretStatus), crate::apidoc::ApiErrors)
)]
pub async fn secret_status(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookSecretStatus>> {
    let id = managed_company(&st, &auth, &id).await?;
    let t = st.api()?.db.company_webhook_secret_time(id).await?;
    Ok(Json(WebhookSecretStatus { company_id: id, is_set: t.is_some(), time_updated: t }))
}

/// `DELETE /api/companies/{id}/webhook_secret`.
#[utoipa::path(
    delete,
    path = "/api/companies/{id}/webhook_secret/",
    operation_id = "delete_webhook_secret",
    tag = "accounts",
    summary = "Fall back to OZ_WEBHOOK_SECRET",
    params(("id" = String, Path, description = "Company id (UUID)")),
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn delete_secret(State(st): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = managed_company(&st, &auth, &id).await?;
    match st.api()?.db.delete_company_webhook_secret(id).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/folders/{id}/webhooks/`: the folder's webhook deliveries, newest first.
#[utoipa::path(
    get,
    path = "/api/folders/{id}/webhooks/",
    operation_id = "folder_webhooks",
    tag = "folders",
    summary = "The folder's webhook deliveries and their outcome (our extension)",
    params(("id" = String, Path, description = "Folder id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = crate::apidoc::schemas::WebhookDeliveries), crate::apidoc::ApiErrors)
)]
pub async fn folder_deliveries(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookDeliveries>> {
    let api = st.api()?;
    let folder = super::folders::visible_folder(api, &auth, &id).await?;
    let mut items = api.db.deliveries_of_folder(folder.id).await?;
    items.reverse();
    let items: Vec<WebhookDelivery> = items
        .into_iter()
        .map(|d| WebhookDelivery {
            delivery_id: d.id,
            next_attempt_at: (d.state == "pending").then_some(d.next_attempt_at),
            url: d.url,
            state: d.state,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            time_created: d.time_created,
            delivered_at: d.delivered_at,
            request_id: d.request_id,
        })
        .collect();
    Ok(Json(WebhookDeliveries { total: items.len(), items }))
}
