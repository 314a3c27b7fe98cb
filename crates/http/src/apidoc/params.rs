//! Query parameters of the list and read routes, for the OpenAPI document only (the handlers read
//! the query as pairs, `api::query`). Lists are comma-separated (`state=FINISHED,FAILED`) or
//! repeated; `.exclude` variants leave the listed values out; times are UNIX seconds (or
//! milliseconds above 1e11); flags take `true`, `1` or `yes`.
#![allow(dead_code)]

use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// A comma list of UUIDs.
const UUIDS: &str = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})*$";

/// The schema of a filter taking a comma list of UUIDs (`schema_with` leaves the parameter
/// without a description of its own: the schema carries it).
fn uuids() -> utoipa::openapi::Object {
    ObjectBuilder::new().schema_type(Type::String).description(Some("Comma list of UUIDs")).pattern(Some(UUIDS)).build()
}

/// Sorting of Oz lists, and whether to count them.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Sorting {
    /// `time_created{desc}` (default), `time_created{asc}`, `time_updated{asc|desc}`, `-time_created`.
    #[param(pattern = r"^-?time_(created|updated)(\{(asc|desc)\})?$")]
    pub sorting: Option<String>,
    /// Leave `total` out of the answer.
    pub total_omit: Option<bool>,
}

/// The `meta_data` filter of Oz lists.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetaFilter {
    /// `key==value` or `key!=value` on top-level keys of `meta_data` (repeatable).
    #[param(pattern = r"^[^=!]+(==|!=).*$")]
    pub meta_data: Option<String>,
}

/// Time-range filters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimeRange {
    #[serde(rename = "time_created.min")]
    pub time_created_min: Option<f64>,
    #[serde(rename = "time_created.max")]
    pub time_created_max: Option<f64>,
    #[serde(rename = "time_updated.min")]
    pub time_updated_min: Option<f64>,
    #[serde(rename = "time_updated.max")]
    pub time_updated_max: Option<f64>,
}

/// Owner filters (comma lists of UUIDs).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Owners {
    #[param(schema_with = uuids)]
    pub folder_id: Option<String>,
    #[serde(rename = "folder_id.exclude")]
    #[param(schema_with = uuids)]
    pub folder_id_exclude: Option<String>,
    #[param(schema_with = uuids)]
    pub user_id: Option<String>,
    #[serde(rename = "user_id.exclude")]
    #[param(schema_with = uuids)]
    pub user_id_exclude: Option<String>,
    #[param(schema_with = uuids)]
    pub company_id: Option<String>,
    #[serde(rename = "company_id.exclude")]
    #[param(schema_with = uuids)]
    pub company_id_exclude: Option<String>,
}

/// `with_*` flags of folder answers.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FolderFlags {
    /// Add the folder's `analyses`.
    pub with_analyses: Option<bool>,
    /// Add `user` (the creator, as `GET /api/users/{id}/` renders it, or null).
    pub with_user: Option<bool>,
    /// Add `company` (or null).
    pub with_company: Option<bool>,
}

/// Filters of `GET /api/folders/`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FolderFilters {
    /// `resolution_status` or `system_resolution` (comma list).
    pub resolution_status: Option<String>,
    #[serde(rename = "resolution_status.exclude")]
    pub resolution_status_exclude: Option<String>,
    /// Case-insensitive part of the folder id, its `meta_data` text or the creator's email.
    #[param(max_length = 256)]
    pub search_text: Option<String>,
}

/// Which analyses (`GET /api/analyses/`, `GET /api/folders/{id}/analyses/`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalysisSelection {
    #[param(schema_with = uuids)]
    pub analysis_id: Option<String>,
    #[param(schema_with = uuids)]
    pub analyse_id: Option<String>,
    #[serde(rename = "analysis_id.exclude")]
    #[param(schema_with = uuids)]
    pub analysis_id_exclude: Option<String>,
    #[serde(rename = "analyse_id.exclude")]
    #[param(schema_with = uuids)]
    pub analyse_id_exclude: Option<String>,
    /// QUALITY, BIOMETRY, COLLECTION (case-insensitive, comma list).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(rename = "type.exclude")]
    pub kind_exclude: Option<String>,
    pub state: Option<String>,
    #[serde(rename = "state.exclude")]
    pub state_exclude: Option<String>,
}

/// More filters of `GET /api/analyses/`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalysisFilters {
    #[param(schema_with = uuids)]
    pub group_id: Option<String>,
    pub resolution_status: Option<String>,
    #[serde(rename = "resolution_status.exclude")]
    pub resolution_status_exclude: Option<String>,
}

/// Filters of `GET /api/media/`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MediaFilters {
    #[param(schema_with = uuids)]
    pub media_id: Option<String>,
    #[serde(rename = "media_id.exclude")]
    #[param(schema_with = uuids)]
    pub media_id_exclude: Option<String>,
    /// VIDEO_FOLDER, IMAGE_FOLDER, SHOTS_SET_FOLDER, IMAGE_RESULT_ANALYSIS_SINGLE.
    pub media_type: Option<String>,
    #[serde(rename = "media_type.exclude")]
    pub media_type_exclude: Option<String>,
    /// Tags (case kept, comma list).
    pub tags: Option<String>,
    #[serde(rename = "tags.exclude")]
    pub tags_exclude: Option<String>,
    #[param(schema_with = uuids)]
    pub analysis_id: Option<String>,
    #[param(schema_with = uuids)]
    pub analyse_id: Option<String>,
}

/// `GET /api/users/` and `GET /api/companies/`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountList {
    /// Leave `total` out of the answer.
    pub total_omit: Option<bool>,
    /// Case-insensitive part of the email / names (users) or name (companies).
    pub search_text: Option<String>,
    /// Users of this company (users only).
    #[param(format = Uuid)]
    pub company_id: Option<String>,
}

/// `GET /api/collections/`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CollectionFilters {
    #[param(format = Uuid)]
    pub company_id: Option<String>,
    /// e.g. `blacklist`.
    pub alias: Option<String>,
}

/// Paging of every list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OffsetLimit {
    /// Items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// Page size (default 100).
    #[param(minimum = 0, maximum = 1000)]
    pub limit: Option<i64>,
}

/// `GET /api/resolutions/`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResolutionFilters {
    #[param(format = Uuid)]
    pub analysis_id: Option<String>,
    #[param(format = Uuid)]
    pub folder_id: Option<String>,
    #[param(format = Uuid)]
    pub user_id: Option<String>,
    #[serde(rename = "time_created.min")]
    pub time_created_min: Option<f64>,
    #[serde(rename = "time_created.max")]
    pub time_created_max: Option<f64>,
}

/// `GET /api/statistics/`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatisticsFilters {
    #[param(schema_with = uuids)]
    pub company_id: Option<String>,
    #[serde(rename = "time_created.min")]
    pub time_created_min: Option<f64>,
    #[serde(rename = "time_created.max")]
    pub time_created_max: Option<f64>,
    /// Minutes east of UTC (-840..=840), `+HH:MM`, `UTC` or `Z`: the day boundaries of `per_day`.
    pub tz_offset: Option<String>,
}

/// `DELETE /api/companies/{id}/`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Force {
    /// Delete the company's folders, media, analyses, users too (otherwise 409 while it has folders).
    pub force: Option<bool>,
}

/// `GET /static/{file}` without a token: the signed link of `original_url`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedLink {
    /// UNIX seconds.
    pub expires: Option<i64>,
    /// HMAC-SHA256 hex of `{file}\n{expires}`.
    pub signature: Option<String>,
}

/// Filters of `GET /api/event_sessions/` (spec §15; no `meta_data` filter).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventSessionFilters {
    #[param(schema_with = uuids)]
    pub session_id: Option<String>,
    #[serde(rename = "session_id.exclude")]
    #[param(schema_with = uuids)]
    pub session_id_exclude: Option<String>,
}
