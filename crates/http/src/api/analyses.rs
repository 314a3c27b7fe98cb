//! Analyses (spec §7): start them on a folder, read them, wait for them in single-request mode.

use std::collections::HashMap;
use std::time::Instant;

use crate::wire::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use oz_domain::access::{AnalysisKind, Scope};
use oz_domain::assign::{self, MediaClass, MediaFacts};
use oz_domain::caps;
use oz_domain::status::AnalysisState;
use oz_engine::{render, runner};
use oz_storage::analyses::{AnalysisFilter, NewAnalysis};
use oz_storage::{Analysis, Folder, Media};
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ApiResult, lookup, parse_id};
use super::folders::visible_folder;
use super::query::{self, Pairs};
use crate::apidoc::schemas::{AnalysesRequest, AnalysisParams, AnalysisRequest, OneOrMany};
use crate::state::AppState;
use crate::state::FullApi;

fn source_ids(names: Option<&[String]>) -> ApiResult<Option<Vec<Uuid>>> {
    names
        .map(|list| {
            list.iter()
                .map(|x| Uuid::parse_str(x).map_err(|_| ApiError::value("source_media must be a list of media ids")))
                .collect::<ApiResult<Vec<_>>>()
        })
        .transpose()
}

/// The QUALITY parameters of a request, checked (each threshold in [0, 1]).
pub fn quality_params(p: &AnalysisParams) -> ApiResult<runner::QualityParams> {
    for (k, v) in [
        ("threshold_spoofing", p.threshold_spoofing),
        ("threshold_liveness", p.threshold_liveness),
        ("threshold_replay", p.threshold_replay),
    ] {
        if v.is_some_and(|t| !oz_domain::liveness::valid_threshold(t)) {
            return Err(ApiError::value(format!("{k} must be a number in [0, 1]")));
        }
    }
    Ok(runner::QualityParams {
        threshold_spoofing: p.threshold_spoofing,
        threshold_liveness: p.threshold_liveness,
        threshold_replay: p.threshold_replay,
        extract_best_shot: p.extract_best_shot,
    })
}

/// COLLECTION parameters (spec §7.2): `collection_id` (one id, or a list; default every
/// collection of the folder's company), `decision_threshold` (default: the BIOMETRY approve
/// threshold, the same-person point of our score), `decision_count` (persons reported per media).
async fn collection_confs(
    api: &FullApi,
    principal: &oz_domain::access::Principal,
    company_id: Option<Uuid>,
    params: &AnalysisParams,
) -> ApiResult<Value> {
    // The folder's company's collections; a folder without a company searches what its caller sees.
    let scope = company_id.map_or_else(|| principal.collection_scope(), Scope::Company);
    let named: Vec<String> = params
        .collection_id
        .clone()
        .or_else(|| params.collection_ids.clone())
        .map(OneOrMany::into_vec)
        .unwrap_or_default();
    caps::count("collection_id", named.len(), caps::MAX_ANALYSES)?;
    let searched = |c: &oz_storage::collections::Collection| runner::SearchedCollection {
        id: c.id,
        company_id: c.company_id,
        alias: c.alias.clone(),
    };
    let mut ids: Vec<runner::SearchedCollection> = Vec::new();
    if named.is_empty() {
        ids = api.db.collections(&scope, None, None).await?.iter().map(searched).collect();
        if ids.is_empty() {
            return Err(ApiError::value(
                "the folder's company has no collection to search: create one (POST /api/collections/) first",
            ));
        }
    } else {
        for n in named {
            let id = Uuid::parse_str(&n).map_err(|_| ApiError::value(format!("collection_id {n:?} is not an id")))?;
            let c = api
                .db
                .collection(id, &scope)
                .await
                .map_err(|_| ApiError::value(format!("collection {n} does not exist for this folder's company")))?;
            if !ids.iter().any(|s| s.id == id) {
                ids.push(searched(&c));
            }
        }
    }
    let threshold = match params.decision_threshold {
        None => api.engine.cfg.runner.thresholds.approve,
        Some(t) if (0.0..=1.0).contains(&t) => t as f32,
        Some(_) => return Err(ApiError::value("decision_threshold must be a number in [0, 1]")),
    };
    let count = match params.decision_count {
        None => assign::COLLECTION_DEFAULT_COUNT,
        Some(n) if (1..=assign::COLLECTION_MAX_COUNT as u64).contains(&n) => n as usize,
        Some(_) => {
            return Err(ApiError::value(format!(
                "decision_count must be a whole number from 1 to {}",
                assign::COLLECTION_MAX_COUNT
            )));
        }
    };
    Ok(runner::collection_confs(&ids, threshold, count))
}

/// Seconds a client of a company at its queue limit is asked to wait (`Retry-After`).
pub const COMPANY_QUEUE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The per-company admission of queued work (`OZ_COMPANY_QUEUE_LIMIT`): refuses, with 429, error
/// 11 and `Retry-After`, a request that would give `company_id` more than the limit of analyses
/// queued or running (those it has now plus the `adding` it asks for; a request that queues
/// nothing itself, as the Instant API's, passes 0 and is refused once the company is at the limit).
/// Call it before anything of the request is written. Not limited: a limit of 0, and folders of
/// no company (an ADMIN's). Concurrent requests of one company may pass it together, so the
/// queue can exceed the limit by at most their analyses (20 each).
pub async fn check_company_queue(api: &FullApi, company_id: Option<Uuid>, adding: usize) -> ApiResult<()> {
    let limit = api.cfg.company_queue_limit;
    let Some(company) = company_id.filter(|_| limit > 0) else {
        return Ok(());
    };
    let open = usize::try_from(api.db.company_open_jobs(company).await?).unwrap_or(usize::MAX);
    if open.saturating_add(adding.max(1)) <= limit {
        return Ok(());
    }
    let mut e = ApiError::too_many(
        format!(
            "this company has {open} analyses queued or running and may have at most {limit}: \
             retry when some have finished"
        ),
        COMPANY_QUEUE_RETRY_AFTER,
    );
    if let Value::Object(d) = &mut e.details {
        d.insert("queued".into(), json!(open));
        d.insert("requested".into(), json!(adding));
        d.insert("limit".into(), json!(limit));
    }
    Err(e)
}

/// Validates analysis requests and queues them as one group.
pub async fn start(
    api: &FullApi,
    auth: &Auth,
    folder: &Folder,
    reqs: &[AnalysisRequest],
    endpoint: Option<&str>,
) -> ApiResult<Vec<Analysis>> {
    let media = api.db.folder_media(folder.id).await?;
    let facts: Vec<MediaFacts> =
        media.iter().map(|m| MediaFacts { id: m.id, class: m.class, tags: m.tags.clone() }).collect();
    let items = plan(api, &auth.principal, folder.company_id, reqs, &facts).await?;
    super::challenges::claim(api, &items).await?;
    let rid = crate::observe::request_id();
    let created = api.db.create_analyses_traced(folder, Some(auth.user.id), &items, endpoint, rid.as_deref()).await?;
    crate::observe::analyses_created(&created);
    api.engine.wake();
    Ok(created)
}

/// Checks analysis requests against the media of a folder of `company_id` (`facts`) and answers
/// what would be stored, without storing anything: types, the caller's rights, `params` (the
/// COLLECTION ones looked up in the database), `source_media` and the media each analysis takes,
/// `meta_data`, and the caps. Single request mode runs it before any file is written.
pub async fn plan(
    api: &FullApi,
    principal: &oz_domain::access::Principal,
    company_id: Option<Uuid>,
    reqs: &[AnalysisRequest],
    facts: &[MediaFacts],
) -> ApiResult<Vec<NewAnalysis>> {
    if reqs.is_empty() {
        return Err(ApiError::structure("analyses must name at least one analysis"));
    }
    caps::count("analyses", reqs.len(), caps::MAX_ANALYSES)?;
    let rcfg = &api.engine.cfg.runner;
    let mut items = Vec::with_capacity(reqs.len());
    for r in reqs {
        let kind = AnalysisKind::parse(&r.kind)
            .ok_or_else(|| ApiError::value(format!("unknown analysis type {:?}", r.kind)))?;
        if kind == AnalysisKind::Documents {
            return Err(ApiError::not_realized(format!(
                "{} analyses are not available on this server yet",
                kind.as_str()
            )));
        }
        if !principal.can_start(kind) {
            return Err(ApiError::forbidden(format!("this user may not start {} analyses", kind.as_str())));
        }
        let params = r.params.clone().unwrap_or_default();
        // The old iOS SDK put source_media inside params; accept both.
        let explicit = source_ids(r.sources())?.map(|ids| caps::source_media(&ids)).transpose()?;
        // Past caps::MAX_SOURCE_MEDIA (explicit or not) the request is refused here, before
        // anything is queued; the error's details name the limit and source_media.
        let inputs = assign::inputs(kind, facts, explicit.as_deref())?;
        if kind != AnalysisKind::Quality && params.challenge_id.is_some() {
            return Err(ApiError::value("params.challenge_id is for QUALITY analyses only"));
        }
        let confs = match kind {
            AnalysisKind::Quality => {
                let mut confs = runner::quality_confs(quality_params(&params)?, rcfg);
                let classes: Vec<MediaClass> =
                    inputs.iter().filter_map(|id| facts.iter().find(|f| f.id == *id).map(|f| f.class)).collect();
                confs.challenge =
                    super::challenges::plan(api, company_id, params.challenge_id.as_deref(), &classes).await?;
                oz_wire::json::value(&confs)
            }
            AnalysisKind::Collection => collection_confs(api, principal, company_id, &params).await?,
            _ => runner::biometry_confs(rcfg),
        };
        let meta = super::body::meta_data("meta_data", r.meta_data.clone())?;
        items.push(NewAnalysis { kind, confs, source_media: inputs, meta_data: meta });
    }
    Ok(items)
}

/// Waits (bounded) until the analyses have left PROCESSING.
pub async fn wait_for(api: &FullApi, list: &[Analysis]) {
    let deadline = Instant::now() + api.cfg.single_request_timeout;
    for a in list {
        loop {
            match api.db.analysis(a.id, &Scope::All).await {
                Ok(x) if x.state != AnalysisState::Processing => break,
                Err(_) => break,
                _ => {}
            }
            if Instant::now() > deadline {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}

fn render_all(api: &FullApi, f: &Folder, media: &[Media], list: &[Analysis]) -> Vec<oz_wire::Analysis> {
    let by_id: HashMap<Uuid, &Media> = media.iter().map(|m| (m.id, m)).collect();
    list.iter().map(|a| render::analysis(a, Some(f.time_created), &by_id, &api.cfg.urls)).collect()
}

/// `POST /api/folders/{id}/analyses/` with `{"analyses": [...], "resolution_endpoint": "..."}`.
#[utoipa::path(
    post,
    path = "/api/folders/{id}/analyses/",
    operation_id = "create_analyses",
    tag = "analyses",
    summary = "Start analyses on a folder's media",
    params(("id" = String, Path, description = "Folder id (UUID)")),
    request_body(content = crate::apidoc::schemas::AnalysesRequest, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 201, description = "Started analyses", body = Vec<oz_wire::Analysis>), crate::apidoc::ApiErrors)
)]
pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    super::body::JsonBody(b): super::body::JsonBody,
) -> ApiResult<(StatusCode, Json<Vec<oz_wire::Analysis>>)> {
    let api = st.api()?;
    let folder = visible_folder(api, &auth, &id).await?;
    let AnalysesRequest { analyses: reqs, resolution_endpoint } = super::body::parse(&b)?;
    let hook = super::webhooks::resolution_endpoint(resolution_endpoint.as_deref())?;
    check_company_queue(api, folder.company_id, reqs.len()).await?;
    let created = start(api, &auth, &folder, &reqs, hook.as_deref()).await?;
    let media = api.db.folder_media(folder.id).await?;
    Ok((StatusCode::CREATED, Json(render_all(api, &folder, &media, &created))))
}

/// `GET /api/analyses/{id}`.
#[utoipa::path(
    get,
    path = "/api/analyses/{id}/",
    operation_id = "get_analysis",
    tag = "analyses",
    summary = "An analysis",
    params(("id" = String, Path, description = "Analysis id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Analysis), crate::apidoc::ApiErrors)
)]
pub async fn get_one(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<oz_wire::Analysis>> {
    let api = st.api()?;
    let id = parse_id(&id, "Analysis")?;
    let a = api.db.analysis(id, &auth.principal.data_scope()).await.map_err(lookup("Analysis"))?;
    let f = api.db.folder(a.folder_id, &Scope::All).await?;
    let media = api.db.folder_media(f.id).await?;
    let mut one = render_all(api, &f, &media, std::slice::from_ref(&a));
    one.pop().map(Json).ok_or_else(|| ApiError::not_found("Analysis"))
}

/// `GET /api/folders/{id}/analyses/` with `analyse_id`, `type`, `state` filters and `.exclude`.
#[utoipa::path(
    get,
    path = "/api/folders/{id}/analyses/",
    operation_id = "list_folder_analyses",
    tag = "analyses",
    summary = "Analyses of a folder",
    params(("id" = String, Path, description = "Folder id (UUID)"), crate::apidoc::params::AnalysisSelection),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<oz_wire::Analysis>), crate::apidoc::ApiErrors)
)]
pub async fn list_of_folder(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<Vec<oz_wire::Analysis>>> {
    let api = st.api()?;
    let folder = visible_folder(api, &auth, &id).await?;
    let mut ids = query::uuids(&q, "analyse_id")?;
    ids.extend(query::uuids(&q, "analysis_id")?);
    let mut ids_ex = query::uuids(&q, "analyse_id.exclude")?;
    ids_ex.extend(query::uuids(&q, "analysis_id.exclude")?);
    let filter = AnalysisFilter {
        ids,
        ids_exclude: ids_ex,
        types: query::list(&q, "type")?,
        types_exclude: query::list(&q, "type.exclude")?,
        states: query::list(&q, "state")?,
        states_exclude: query::list(&q, "state.exclude")?,
    };
    let list = api.db.folder_analyses(folder.id, &filter).await?;
    let media = api.db.folder_media(folder.id).await?;
    Ok(Json(render_all(api, &folder, &media, &list)))
}
