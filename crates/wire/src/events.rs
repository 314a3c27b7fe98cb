//! SDK telemetry sessions (`GET /api/event_sessions/`, spec §15). Oz lists them but publishes
//! neither their body nor how SDKs send them; openoz's shape is written in docs/API.md.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A telemetry session.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventSession {
    pub session_id: Uuid,
    #[schema(required = true)]
    pub company_id: Option<Uuid>,
    #[schema(required = true)]
    pub user_id: Option<Uuid>,
    pub time_created: f64,
    /// When the last events arrived.
    pub time_updated: f64,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    /// Events recorded.
    pub events_count: i64,
    /// `GET /api/event_sessions/{id}/` only: the events in the order sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventRecord>>,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventRecord {
    /// When it happened on the device (the client's clock, UNIX seconds).
    pub timemark: f64,
    /// e.g. `capture_started`, `precheck`, `action_shown`, `upload_done`.
    pub event: String,
    #[schema(value_type = Object)]
    pub data: Value,
    /// When the server received it.
    pub time_created: f64,
}
