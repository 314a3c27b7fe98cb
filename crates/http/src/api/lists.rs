//! Lists across folders: `GET /api/analyses/` and `GET /api/media/` (spec §5.4, §7.3), with the
//! filter syntax of §1.4 (comma lists, `.exclude`, `.min`/`.max`, `meta_data=k==v`, paging,
//! sorting, `total_omit`). Both list only what the caller's scope holds.

use std::collections::HashMap;

use crate::wire::Json;
use axum::extract::{Query, State};
use oz_domain::access::AnalysisKind;
use oz_engine::render;
use oz_storage::lists::{AnalysisListFilter, MediaListFilter};
use oz_storage::{Folder, Media};
use oz_wire::Page;
use uuid::Uuid;

use super::auth::Auth;
use super::error::ApiResult;
use super::query::{self, Pairs};
use crate::state::{AppState, FullApi};

/// Analysis types as stored (`liveness` → `QUALITY`, `blacklist` → `COLLECTION`); other values
/// are kept as given (they match nothing).
fn kinds(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|t| AnalysisKind::parse(&t).map_or(t, |k| k.as_str().to_string())).collect()
}

fn envelope<T: utoipa::ToSchema>(items: Vec<T>, offset: i64, limit: i64, total: Option<i64>) -> Json<Page<T>> {
    Json(Page::new(items, offset, limit, total))
}

/// The folders (by id) and all their media, to render listed objects as the folder routes do.
async fn context(api: &FullApi, folder_ids: Vec<Uuid>) -> ApiResult<(HashMap<Uuid, Folder>, Vec<Media>)> {
    let mut ids = folder_ids;
    ids.sort_unstable();
    ids.dedup();
    let folders = api.db.folders_by_ids(&ids).await?.into_iter().map(|f| (f.id, f)).collect();
    let media = api.db.media_of_folders(&ids).await?;
    Ok((folders, media))
}

/// `GET /api/analyses/`: `analyse_id` (or `analysis_id`), `folder_id`, `group_id`, `user_id`,
/// `company_id`, `type`, `state` (matches `state` or `resolution_status`; `resolution_status` is
/// taken as well), each with `.exclude` (but `group_id`), `time_created.min/.max`,
/// `time_updated.min/.max`, `meta_data=k==v`, `sorting`, `offset`, `limit`, `total_omit`.
#[utoipa::path(
    get,
    path = "/api/analyses/",
    operation_id = "list_analyses",
    tag = "analyses",
    summary = "Analyses across folders",
    params(crate::apidoc::params::AnalysisSelection, crate::apidoc::params::AnalysisFilters, crate::apidoc::params::Owners, crate::apidoc::params::TimeRange, crate::apidoc::params::OffsetLimit, crate::apidoc::params::Sorting, crate::apidoc::params::MetaFilter),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Page<oz_wire::Analysis>), crate::apidoc::ApiErrors)
)]
pub async fn analyses(
    State(st): State<AppState>,
    auth: Auth,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<Page<oz_wire::Analysis>>> {
    let api = st.api()?;
    let mut f = AnalysisListFilter::new(auth.principal.data_scope());
    f.ids = query::uuids_of(&q, &["analyse_id", "analysis_id"])?;
    f.ids_exclude = query::uuids_of(&q, &["analyse_id.exclude", "analysis_id.exclude"])?;
    f.owners = query::owners(&q)?;
    f.group_ids = query::uuids(&q, "group_id")?;
    f.types = kinds(query::list(&q, "type")?);
    f.types_exclude = kinds(query::list(&q, "type.exclude")?);
    f.states = query::list(&q, "state")?;
    f.states.extend(query::list(&q, "resolution_status")?);
    f.states_exclude = query::list(&q, "state.exclude")?;
    f.states_exclude.extend(query::list(&q, "resolution_status.exclude")?);
    f.window = query::window(&q)?;
    f.meta = query::meta(&q)?;
    let with_total;
    (f.page, with_total) = query::page(&q)?;
    let (list, total) = api.db.analyses_list(&f, with_total).await?;
    let (folders, media) = context(api, list.iter().map(|a| a.folder_id).collect()).await?;
    let by_id: HashMap<Uuid, &Media> = media.iter().map(|m| (m.id, m)).collect();
    let items = list
        .iter()
        .map(|a| {
            let tc = folders.get(&a.folder_id).map(|f| f.time_created);
            render::analysis(a, tc, &by_id, &api.cfg.urls)
        })
        .collect();
    Ok(envelope(items, f.page.offset, f.page.limit, total))
}

/// `GET /api/media/`: `media_id`, `folder_id`, `user_id`, `company_id`, `media_type`
/// (`VIDEO_FOLDER`, `IMAGE_FOLDER`, `SHOTS_SET_FOLDER`, `IMAGE_RESULT_ANALYSIS_SINGLE`), `tags`
/// (media with any of them), each with `.exclude`; `analysis_id` (best shots of an analysis),
/// `time_created.min/.max`, `time_updated.min/.max`, `meta_data=k==v`, `sorting`, `offset`,
/// `limit`, `total_omit`.
#[utoipa::path(
    get,
    path = "/api/media/",
    operation_id = "list_media",
    tag = "media",
    summary = "Media across folders",
    params(crate::apidoc::params::MediaFilters, crate::apidoc::params::Owners, crate::apidoc::params::TimeRange, crate::apidoc::params::OffsetLimit, crate::apidoc::params::Sorting, crate::apidoc::params::MetaFilter),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Page<oz_wire::Media>), crate::apidoc::ApiErrors)
)]
pub async fn media(
    State(st): State<AppState>,
    auth: Auth,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<Page<oz_wire::Media>>> {
    let api = st.api()?;
    let mut f = MediaListFilter::new(auth.principal.data_scope());
    f.ids = query::uuids(&q, "media_id")?;
    f.ids_exclude = query::uuids(&q, "media_id.exclude")?;
    f.owners = query::owners(&q)?;
    f.media_types = query::list(&q, "media_type")?;
    f.media_types_exclude = query::list(&q, "media_type.exclude")?;
    f.tags = query::strings(&q, "tags")?;
    f.tags_exclude = query::strings(&q, "tags.exclude")?;
    f.analysis_ids = query::uuids_of(&q, &["analysis_id", "analyse_id"])?;
    f.window = query::window(&q)?;
    f.meta = query::meta(&q)?;
    let with_total;
    (f.page, with_total) = query::page(&q)?;
    let (list, total) = api.db.media_list(&f, with_total).await?;
    let mut ids: Vec<Uuid> = list.iter().map(|m| m.folder_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let folders: HashMap<Uuid, f64> =
        api.db.folders_by_ids(&ids).await?.into_iter().map(|f| (f.id, f.time_created)).collect();
    let items = list.iter().map(|m| render::media(m, folders.get(&m.folder_id).copied(), &api.cfg.urls)).collect();
    Ok(envelope(items, f.page.offset, f.page.limit, total))
}
