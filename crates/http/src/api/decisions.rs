//! Operator decisions (spec §3.1, §8.2; the route is our choice, Oz does not publish one):
//! `POST /api/analyses/{id}/resolution` with `{"resolution_status": "SUCCESS"|"DECLINED",
//! "comment": "..."}` sets the final verdict of a finished analysis; `GET` on the same path is
//! that analysis' trail; `GET /api/resolutions/` is the audit trail with filters.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use oz_domain::access::Scope;
use oz_domain::caps;
use oz_domain::status::ResolutionStatus;
use oz_engine::render;
use oz_storage::StoreError;
use oz_storage::decisions::{AuditEntry, AuditFilter};
use serde_json::Value;

use super::auth::Auth;
use super::error::{ApiError, ApiResult, lookup, parse_id};
use super::query::{self, Pairs};
use crate::apidoc::schemas::{ResolutionEntry, ResolutionRequest};
use crate::state::AppState;
use crate::wire::Json;

/// Longest operator comment.
const MAX_COMMENT: usize = 4000;

fn entry_json(e: &AuditEntry) -> ResolutionEntry {
    ResolutionEntry {
        id: e.id.to_string(),
        analysis_id: e.analysis_id.to_string(),
        folder_id: e.folder_id.to_string(),
        company_id: e.company_id.map(|c| c.to_string()),
        user_id: e.user_id.to_string(),
        user_email: e.user_email.clone(),
        resolution_status_before: e.before.clone(),
        resolution_status: e.after.clone(),
        comment: e.comment.clone(),
        time_created: e.time_created,
    }
}

/// `POST /api/analyses/{id}/resolution`.
#[utoipa::path(
    post,
    path = "/api/analyses/{id}/resolution/",
    operation_id = "decide_analysis",
    tag = "analyses",
    summary = "Operator decision on an analysis",
    params(("id" = String, Path, description = "Analysis id (UUID)")),
    request_body(content = crate::apidoc::schemas::ResolutionRequest, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 200, description = "The decided analysis", body = oz_wire::Analysis), crate::apidoc::ApiErrors)
)]
pub async fn decide(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    super::body::JsonBody(b): super::body::JsonBody,
) -> ApiResult<Json<oz_wire::Analysis>> {
    let api = st.api()?;
    let id = parse_id(&id, "Analysis")?;
    let a = api.db.analysis(id, &auth.principal.data_scope()).await.map_err(lookup("Analysis"))?;
    if !auth.principal.can_decide(a.company_id) {
        return Err(ApiError::forbidden(
            "only an OPERATOR, or a CLIENT OPERATOR of the analysis' company, can decide an analysis",
        ));
    }
    let ResolutionRequest { resolution_status: verdict, comment } = super::body::parse(&b)?;
    let verdict: ResolutionStatus = serde_json::from_value(Value::String(verdict.trim().to_ascii_uppercase()))
        .map_err(|_| ApiError::value(format!("resolution_status {verdict:?} is not SUCCESS or DECLINED")))?;
    if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT) {
        return Err(ApiError::value(format!("comment is longer than {MAX_COMMENT} characters")));
    }
    let comment = comment.as_deref();
    let decided = match api.db.decide_analysis(a.id, &auth.user, verdict, comment).await {
        Ok(d) => d,
        Err(StoreError::Conflict(m)) => return Err(ApiError::value(m)),
        Err(e) => return Err(lookup("Analysis")(e)),
    };
    if decided.folder.webhook.is_some() {
        api.engine.wake_hooks();
    }
    let f = api.db.folder(decided.analysis.folder_id, &Scope::All).await?;
    let media = api.db.folder_media(f.id).await?;
    let by_id: HashMap<_, _> = media.iter().map(|m| (m.id, m)).collect();
    Ok(Json(render::analysis(&decided.analysis, Some(f.time_created), &by_id, &api.cfg.urls)))
}

/// `GET /api/analyses/{id}/resolution`: the decisions on one analysis, newest first.
#[utoipa::path(
    get,
    path = "/api/analyses/{id}/resolution/",
    operation_id = "analysis_resolutions",
    tag = "analyses",
    summary = "Operator decisions on an analysis (audit trail)",
    params(("id" = String, Path, description = "Analysis id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<crate::apidoc::schemas::ResolutionEntry>), crate::apidoc::ApiErrors)
)]
pub async fn of_analysis(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ResolutionEntry>>> {
    let api = st.api()?;
    let id = parse_id(&id, "Analysis")?;
    api.db.analysis(id, &auth.principal.data_scope()).await.map_err(lookup("Analysis"))?;
    let scope = auth.principal.audit_scope();
    if scope == Scope::Nothing {
        return Err(ApiError::forbidden("this role cannot read the decisions' audit trail"));
    }
    let f = AuditFilter {
        scope,
        analysis_id: Some(id),
        folder_id: None,
        user_id: None,
        time_min: None,
        time_max: None,
        offset: 0,
        limit: caps::MAX_ANALYSES as i64 * 100,
    };
    let (entries, _) = api.db.audit_entries(&f).await?;
    Ok(Json(entries.iter().map(entry_json).collect()))
}

/// `GET /api/resolutions/`: the audit trail (ADMIN and OPERATOR: all; company admins and client
/// operators: their company's), filters `analysis_id`, `folder_id`, `user_id`,
/// `time_created.min/.max`, `offset`, `limit`.
#[utoipa::path(
    get,
    path = "/api/resolutions/",
    operation_id = "list_resolutions",
    tag = "analyses",
    summary = "Operator decisions (audit trail)",
    params(crate::apidoc::params::ResolutionFilters, crate::apidoc::params::OffsetLimit),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Page<crate::apidoc::schemas::ResolutionEntry>), crate::apidoc::ApiErrors)
)]
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<oz_wire::Page<ResolutionEntry>>> {
    let api = st.api()?;
    let scope = auth.principal.audit_scope();
    if scope == Scope::Nothing {
        return Err(ApiError::forbidden("this role cannot read the decisions' audit trail"));
    }
    let f = AuditFilter {
        scope,
        analysis_id: query::uuids(&q, "analysis_id")?.first().copied(),
        folder_id: query::uuids(&q, "folder_id")?.first().copied(),
        user_id: query::uuids(&q, "user_id")?.first().copied(),
        time_min: query::time(&q, "time_created.min")?,
        time_max: query::time(&q, "time_created.max")?,
        offset: query::int(&q, "offset", 0, i64::MAX)?,
        limit: query::int(&q, "limit", 100, 1000)?,
    };
    let (entries, total) = api.db.audit_entries(&f).await?;
    Ok(Json(oz_wire::Page::new(entries.iter().map(entry_json).collect(), f.offset, f.limit, Some(total))))
}
