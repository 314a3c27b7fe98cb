//! SDK telemetry sessions (spec §15): `GET /api/event_sessions/` with Oz's filters, and the routes
//! that fill them (Oz does not publish how its SDKs send events; ours are written in
//! docs/API.md): `POST /api/event_sessions/` opens a session with its first events and
//! `POST /api/event_sessions/{id}/events/` appends more. An SDK session token may do both, for the
//! sessions it opened only; reading takes an access token.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use oz_domain::caps;
use oz_storage::events::{AppendRefused, EventRecord, EventSession, NewEvent};
use oz_storage::lists::EventSessionFilter;
use oz_wire::Page;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::Auth;
use super::body::Typed;
use super::error::{ApiError, ApiResult, lookup, parse_id};
use super::folders::Uploader;
use super::query::{self, Pairs};
use crate::state::AppState;
use crate::wire::Json;

/// Events one request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 100;
/// Events one session may hold.
pub const MAX_EVENTS_PER_SESSION: i64 = 2000;
/// Longest event name, characters.
pub const MAX_EVENT_NAME_CHARS: usize = 64;

/// One event as an SDK sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"event": "capture_started", "timemark": 1733600000.25, "data": {"camera": "front"}}))]
pub struct EventIn {
    /// Letters, digits and `_ . : -`, at most 64 characters.
    pub event: String,
    /// When it happened on the device, UNIX seconds (default: when it arrives).
    #[serde(default)]
    pub timemark: Option<f64>,
    /// A JSON object (the limits of `meta_data`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// `POST /api/event_sessions/` and `POST /api/event_sessions/{id}/events/` body.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"meta_data": {"sdk": "openoz-web 1.0"}, "events": [{"event": "capture_started", "timemark": 1733600000.25}]}))]
pub struct EventsIn {
    /// The session's own object (opening only; ignored when appending).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
    /// At most 100 per request, 2000 per session.
    #[serde(default)]
    pub events: Vec<EventIn>,
}

fn checked(events: Vec<EventIn>) -> ApiResult<Vec<NewEvent>> {
    caps::count("events", events.len(), MAX_EVENTS_PER_REQUEST)?;
    let now = oz_storage::now();
    events
        .into_iter()
        .map(|e| {
            let name_ok = !e.event.is_empty()
                && e.event.chars().count() <= MAX_EVENT_NAME_CHARS
                && e.event.chars().all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
            if !name_ok {
                return Err(ApiError::value(format!(
                    "event names are 1 to {MAX_EVENT_NAME_CHARS} letters, digits or _ . : - (got {:?})",
                    e.event.chars().take(80).collect::<String>()
                )));
            }
            let timemark = match e.timemark {
                None => now,
                Some(t) if t.is_finite() && (0.0..1e11).contains(&t) => t,
                Some(_) => return Err(ApiError::value("timemark must be UNIX seconds")),
            };
            let data = e.data.unwrap_or_else(|| Value::Object(serde_json::Map::new()));
            if !data.is_object() {
                return Err(ApiError::value("an event's data must be an object"));
            }
            caps::meta_data("data", &data)?;
            Ok(NewEvent { timemark, event: e.event, data })
        })
        .collect()
}

/// How long a client told it opened too many sessions waits before trying again, seconds.
const CAP_RETRY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Refuses a new session past `OZ_EVENT_SESSIONS_PER_DAY` (the caller's company, in the last 24
/// hours) or `OZ_EVENT_SESSIONS_PER_TOKEN` (the SDK session token, in all). Counted before the
/// insert, so concurrent requests may pass a cap by at most their number.
async fn check_session_caps(api: &crate::state::FullApi, caller: &Uploader) -> ApiResult<()> {
    let caps = api.cfg.event_sessions;
    if caps.per_day == 0 && (caps.per_token == 0 || caller.capture_session.is_none()) {
        return Ok(());
    }
    let since = oz_storage::now() - 86_400.0;
    let user = &caller.user;
    let (opened, by_token) =
        api.db.event_sessions_opened(user.company_id, Some(user.id), caller.capture_session, since).await?;
    let opened = u64::try_from(opened).unwrap_or(0);
    let by_token = u64::try_from(by_token).unwrap_or(0);
    if caps.per_token > 0 && caller.capture_session.is_some() && by_token >= caps.per_token {
        return Err(ApiError::too_many(
            format!(
                "this SDK session token opened {by_token} event sessions, the most it may \
                 (OZ_EVENT_SESSIONS_PER_TOKEN): append to one of them"
            ),
            CAP_RETRY,
        ));
    }
    if caps.per_day > 0 && opened >= caps.per_day {
        return Err(ApiError::too_many(
            format!(
                "this company opened {opened} event sessions in the last 24 hours, the most it may \
                 (OZ_EVENT_SESSIONS_PER_DAY)"
            ),
            CAP_RETRY,
        ));
    }
    Ok(())
}

fn session_json(s: &EventSession, events: Option<Vec<EventRecord>>) -> oz_wire::events::EventSession {
    oz_wire::events::EventSession {
        session_id: s.id,
        company_id: s.company_id,
        user_id: s.user_id,
        time_created: s.time_created,
        time_updated: s.time_updated,
        meta_data: s.meta_data.clone(),
        events_count: s.events,
        events: events.map(|list| {
            list.into_iter()
                .map(|e| oz_wire::events::EventRecord {
                    timemark: e.timemark,
                    event: e.event,
                    data: e.data,
                    time_created: e.time_created,
                })
                .collect()
        }),
    }
}

/// `POST /api/event_sessions/`: opens a session with its first events.
#[utoipa::path(
    post,
    path = "/api/event_sessions/",
    operation_id = "create_event_session",
    tag = "events",
    summary = "Open an SDK telemetry session (access token or SDK session token)",
    request_body(content = EventsIn, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 201, description = "Opened", body = oz_wire::events::EventSession), crate::apidoc::ApiErrors)
)]
pub async fn create(
    State(st): State<AppState>,
    caller: Uploader,
    Typed(body): Typed<EventsIn>,
) -> ApiResult<(StatusCode, Json<oz_wire::events::EventSession>)> {
    let api = st.api()?;
    let meta = body.meta_data.unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    if !meta.is_object() {
        return Err(ApiError::value("meta_data must be an object"));
    }
    caps::meta_data("meta_data", &meta)?;
    let events = checked(body.events)?;
    check_session_caps(api, &caller).await?;
    let s = api
        .db
        .create_event_session(caller.user.company_id, Some(caller.user.id), caller.capture_session, &meta, &events)
        .await?;
    Ok((StatusCode::CREATED, Json(session_json(&s, None))))
}

/// `POST /api/event_sessions/{id}/events/`: appends events to a session.
#[utoipa::path(
    post,
    path = "/api/event_sessions/{id}/events/",
    operation_id = "append_events",
    tag = "events",
    summary = "Append events to a telemetry session",
    params(("id" = String, Path, description = "Session id (UUID)")),
    request_body(content = EventsIn, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 200, description = "Appended", body = oz_wire::events::EventSession), crate::apidoc::ApiErrors)
)]
pub async fn append(
    State(st): State<AppState>,
    caller: Uploader,
    Path(id): Path<String>,
    Typed(body): Typed<EventsIn>,
) -> ApiResult<Json<oz_wire::events::EventSession>> {
    let api = st.api()?;
    let id = parse_id(&id, "Event session")?;
    let events = checked(body.events)?;
    let scope = caller.principal.data_scope();
    match api.db.append_events(id, &scope, caller.capture_session, &events, MAX_EVENTS_PER_SESSION).await? {
        Ok(s) => Ok(Json(session_json(&s, None))),
        Err(AppendRefused::NotFound) => Err(ApiError::not_found("Event session")),
        Err(AppendRefused::Full(n)) => Err(ApiError::value(format!("an event session holds at most {n} events"))
            .with_details(serde_json::json!({ "limit": n }))),
    }
}

/// `GET /api/event_sessions/` (spec §15): `session_id` (and `.exclude`), `time_created.min/.max`,
/// `time_updated.min/.max`, `sorting`, `offset`, `limit`, `total_omit`.
#[utoipa::path(
    get,
    path = "/api/event_sessions/",
    operation_id = "list_event_sessions",
    tag = "events",
    summary = "SDK telemetry sessions",
    params(crate::apidoc::params::EventSessionFilters, crate::apidoc::params::TimeRange, crate::apidoc::params::OffsetLimit, crate::apidoc::params::Sorting),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Page<oz_wire::events::EventSession>), crate::apidoc::ApiErrors)
)]
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<Page<oz_wire::events::EventSession>>> {
    let api = st.api()?;
    let mut f = EventSessionFilter::new(auth.principal.data_scope());
    f.ids = query::uuids(&q, "session_id")?;
    f.ids_exclude = query::uuids(&q, "session_id.exclude")?;
    f.window = query::window(&q)?;
    let with_total;
    (f.page, with_total) = query::page(&q)?;
    let (list, total) = api.db.event_sessions_list(&f, with_total).await?;
    let items = list.iter().map(|s| session_json(s, None)).collect();
    Ok(Json(Page::new(items, f.page.offset, f.page.limit, total)))
}

/// `GET /api/event_sessions/{id}/`: a session with its events.
#[utoipa::path(
    get,
    path = "/api/event_sessions/{id}/",
    operation_id = "get_event_session",
    tag = "events",
    summary = "A telemetry session with its events",
    params(("id" = String, Path, description = "Session id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::events::EventSession), crate::apidoc::ApiErrors)
)]
pub async fn get_one(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<oz_wire::events::EventSession>> {
    let api = st.api()?;
    let id = parse_id(&id, "Event session")?;
    let s = api.db.event_session(id, &auth.principal.data_scope()).await.map_err(lookup("Event session"))?;
    let events = api.db.event_records(s.id).await?;
    Ok(Json(session_json(&s, Some(events))))
}
