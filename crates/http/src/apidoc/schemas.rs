//! Schemas the OpenAPI document needs besides the wire model: request bodies and forms, and the
//! answers of openoz's own routes (statistics, challenges, precheck, webhooks). Every object Oz
//! documents is a type of [`oz_wire`], serialized by the handlers and described from the same
//! definition. `scripts/schemathesis.sh` checks live answers against the document.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

// ---- system -------------------------------------------------------------------------------------

/// `GET /api/version/`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ApiVersion {
    /// The Oz API version whose behaviour openoz follows.
    #[schema(example = "6.0.1")]
    pub version: String,
    #[schema(example = "openoz")]
    pub name: String,
    pub openoz_version: String,
}

/// `GET /api/config/`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ApiConfig {
    pub timezone: String,
    pub tz_offset: i64,
    pub utc_offset: String,
    pub time_format: String,
    pub version: String,
    /// What an upload may hold (our addition), so a client can check files before sending them.
    pub uploads: UploadLimits,
}

/// The limits of a full-API upload (`POST /api/folders/`, `.../media/`, Instant, persons).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UploadLimits {
    /// Largest media file, bytes (the tighter of `OZ_ATTACHMENT_MAX_SIZE` and `OZ_MAX_FILE_BYTES`).
    pub max_file_bytes: u64,
    /// Most media in one upload (`OZ_ATTACHMENT_MAX_COUNT`).
    pub max_files: usize,
    /// Largest request body, bytes (`OZ_MAX_REQUEST_BYTES`).
    pub max_request_bytes: u64,
    /// Media the decoder reads, by Content-Type (the bytes decide: a file is read by its signature).
    pub media_types: Vec<String>,
}

/// `GET /api/statistics/` (see docs/API.md).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Statistics {
    /// The window asked for (null: open).
    #[serde(rename = "time_created.min")]
    #[schema(required = true)]
    pub time_created_min: Option<f64>,
    #[serde(rename = "time_created.max")]
    #[schema(required = true)]
    pub time_created_max: Option<f64>,
    /// Minutes east of UTC the days are counted in.
    pub tz_offset: i64,
    pub folders: FolderStats,
    pub analyses: AnalysisStats,
    pub liveness: LivenessStats,
    pub queue: QueueStats,
    /// Only for callers who see several companies (ADMIN, OPERATOR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_company: Option<Vec<CompanyStats>>,
}

/// Folders created in the window.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct FolderStats {
    pub total: i64,
    pub per_day: Vec<DayStats>,
    pub per_status: Vec<FolderStatusStats>,
}

/// Analyses created in the window.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AnalysisStats {
    pub total: i64,
    pub per_day: Vec<AnalysisDayStats>,
    pub per_type: Vec<AnalysisTypeStats>,
}

/// Folders created on one day.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DayStats {
    /// `YYYY-MM-DD` in the caller's zone.
    #[schema(example = "2026-12-07")]
    pub date: String,
    /// The day's start (midnight in the caller's zone), UNIX seconds.
    pub time: i64,
    pub count: i64,
}

/// Folders with one status pair.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct FolderStatusStats {
    pub resolution_status: String,
    pub system_resolution: String,
    pub count: i64,
}

/// Analyses of one type and status created on one day.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AnalysisDayStats {
    #[schema(example = "2026-12-07")]
    pub date: String,
    pub time: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub resolution_status: String,
    pub count: i64,
}

/// Analyses of one type and status in the window.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AnalysisTypeStats {
    #[serde(rename = "type")]
    pub kind: String,
    pub resolution_status: String,
    pub count: i64,
}

/// One company's share (null `company_id`: users without a company).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CompanyStats {
    #[schema(required = true, format = Uuid)]
    pub company_id: Option<String>,
    #[schema(required = true)]
    pub name: Option<String>,
    pub folders: i64,
    pub analyses: i64,
}

/// QUALITY analyses created in the window: the system's verdicts against the operators' decisions
/// in the audit trail. The rates are operator-labelled estimates, not a laboratory APCER/BPCER
/// (ISO/IEC 30107-3): only what operators reviewed is labelled.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct LivenessStats {
    /// State FINISHED (the `system_*` counts add up to it).
    pub finished: i64,
    /// State FAILED.
    pub failed: i64,
    /// State PROCESSING.
    pub processing: i64,
    /// The system's verdict SUCCESS (before any operator decision).
    pub system_success: i64,
    /// The system's verdict DECLINED.
    pub system_declined: i64,
    /// The system's verdict OPERATOR_REQUIRED.
    pub system_operator_required: i64,
    /// Finished analyses with at least one operator decision.
    pub decided: i64,
    /// Decided analyses whose latest decision is SUCCESS (labelled bona fide).
    pub operator_success: i64,
    /// Decided analyses whose latest decision is DECLINED (labelled attacks).
    pub operator_declined: i64,
    /// System SUCCESS overturned to DECLINED by an operator (attacks the system let through).
    pub missed_attacks: i64,
    /// System DECLINED overturned to SUCCESS by an operator (genuine users rejected).
    pub false_rejects: i64,
    /// `missed_attacks / operator_declined`, 6 decimals; null when `operator_declined` is 0.
    #[schema(required = true)]
    pub apcer_estimate: Option<f64>,
    /// `false_rejects / operator_success`, 6 decimals; null when `operator_success` is 0.
    #[schema(required = true)]
    pub bpcer_estimate: Option<f64>,
}

/// The work not done yet, now (the time window does not apply; scope and `company_id` do).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct QueueStats {
    /// Analyses PROCESSING (`waiting + running`).
    pub processing: i64,
    /// PROCESSING, no worker holds the job (queued, or a lease ran out).
    pub waiting: i64,
    /// PROCESSING, a worker holds the job.
    pub running: i64,
    /// Whole seconds since the oldest analysis PROCESSING was created; null when none.
    #[schema(required = true)]
    pub oldest_age_s: Option<i64>,
    /// Webhook deliveries pending for folders in scope.
    pub webhooks_pending: i64,
}

// ---- authentication -----------------------------------------------------------------------------

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct Credentials {
    #[schema(example = "admin@example.com")]
    pub email: String,
    #[schema(example = "correct horse battery staple")]
    pub password: String,
}

/// `POST /api/authorize/auth/` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct LoginRequest {
    pub credentials: Credentials,
}

/// `POST /api/authorize/refresh/` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The `expire_token` of the pair to refresh.
    pub expire_token: String,
}

/// `GET /api/authorize/session_token/`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SessionToken {
    /// HS256 JWT, accepted by `POST /api/instant/folders/` only.
    pub session_token: String,
    /// UNIX seconds.
    pub expire_date: i64,
}

/// `POST /api/liveness/challenges/` (our extension).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Challenge {
    pub challenge_id: uuid::Uuid,
    /// In the order they must be performed: `blink`, `smile`, `turn_left`, `turn_right`,
    /// `look_up`, `look_down` (left and right are the person's own).
    pub actions: Vec<String>,
    /// The same actions in plain words, for the person.
    pub instructions: Vec<String>,
    /// UNIX seconds.
    pub time_created: f64,
    /// UNIX seconds after which no analysis may use it.
    pub expires_at: f64,
    #[schema(required = true)]
    pub company_id: Option<uuid::Uuid>,
}

/// `POST /api/liveness/precheck` (our extension): is the person in this frame ready to record?
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Precheck {
    /// True when `hint` is `ok`.
    pub ready: bool,
    /// `ok`, `no_face`, `several_faces`, `too_dark`, `too_bright`, `too_small`, `too_close` or
    /// `off_centre` (the first that applies, in that order).
    pub hint: String,
    /// The hint in plain words, for the person.
    pub message: String,
    /// Faces that count (a much smaller face in the background does not).
    pub faces: usize,
    /// The largest face as fractions of the frame (x, y of its top left corner, width, height)
    /// and the detector's score.
    #[schema(required = true)]
    pub face: Option<PrecheckFace>,
    /// Mean brightness of the face, 0 (black) to 1 (white).
    #[schema(required = true)]
    pub brightness: Option<f64>,
    pub frame: PrecheckFrame,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct PrecheckFace {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub score: f64,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct PrecheckFrame {
    pub width: u32,
    pub height: u32,
}

// ---- accounts -----------------------------------------------------------------------------------

/// A JSON object of a request (`meta_data`): `Object` in the document.
pub type MetaData = serde_json::Map<String, Value>;

/// Reads a field that may be absent (`None`), null (`Some(None)`) or set (`Some(Some(v))`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

/// `POST /api/companies/` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"name": "Example Bank", "meta_data": {"contract": "2026-17"}}))]
pub struct CompanyCreate {
    /// 1 to 256 characters.
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<MetaData>,
}

/// `PATCH /api/companies/{id}/` body: the fields given are changed.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"name": "Example Bank plc"}))]
pub struct CompanyWrite {
    #[serde(default)]
    pub name: Option<String>,
    /// Replaces the whole `meta_data`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<MetaData>,
}

/// The fields a user is created with and changed by (`POST /api/users/`, `PATCH
/// /api/users/{id}/`). `CLIENT ADMIN` / `CLIENT SERVICE` are accepted as `user_type`;
/// `can_start_analyze_*` as aliases of `can_start_analysis_*`.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
pub struct UserFields {
    /// CLIENT users need a `company_id` (a company admin's users default to its company).
    #[serde(default)]
    #[schema(example = "CLIENT")]
    pub user_type: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub middle_name: Option<String>,
    /// Null moves the user out of any company (PATCH).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub company_id: Option<Option<String>>,
    #[serde(default)]
    pub is_admin: Option<bool>,
    #[serde(default)]
    pub is_service: Option<bool>,
    #[serde(default, alias = "can_start_analyze_quality")]
    pub can_start_analysis_quality: Option<bool>,
    #[serde(default, alias = "can_start_analyze_biometry")]
    pub can_start_analysis_biometry: Option<bool>,
    #[serde(default, alias = "can_start_analyze_collection")]
    pub can_start_analysis_collection: Option<bool>,
    /// The user's `meta_data` (replaced whole by PATCH).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<MetaData>,
}

/// `POST /api/users/` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"email": "operator@example.com", "password": "a long passphrase", "user_type": "CLIENT_OPERATOR", "company_id": "8f0a5e4e-3c1b-4c57-9d1e-6f3b2a1c0d9e", "first_name": "Ana"}))]
pub struct UserCreate {
    #[schema(format = Email, example = "operator@example.com")]
    pub email: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub password: String,
    #[serde(flatten)]
    #[schema(inline)]
    pub fields: UserFields,
}

/// `PATCH /api/users/{id}/` body: the fields given are changed.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"first_name": "Ana", "last_name": "Silva"}))]
pub struct UserWrite {
    #[serde(default)]
    #[schema(format = Email)]
    pub email: Option<String>,
    /// At least 8 characters.
    #[serde(default)]
    pub password: Option<String>,
    /// Required when users change their own password (`old_password` is accepted too).
    #[serde(default, alias = "old_password")]
    pub current_password: Option<String>,
    #[serde(flatten)]
    #[schema(inline)]
    pub fields: UserFields,
}

/// `POST /api/companies/{id}/webhook_secret/`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct WebhookSecret {
    pub company_id: uuid::Uuid,
    /// `whsec_` and 64 hex characters; shown only here.
    pub webhook_secret: String,
    pub time_updated: f64,
}

/// `GET /api/companies/{id}/webhook_secret/`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct WebhookSecretStatus {
    pub company_id: uuid::Uuid,
    pub is_set: bool,
    #[schema(required = true)]
    pub time_updated: Option<f64>,
}

/// One webhook delivery of a folder (`GET /api/folders/{id}/webhooks/`).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct WebhookDelivery {
    /// Also the `X-Oz-Event-Id` header of every attempt.
    pub delivery_id: uuid::Uuid,
    pub url: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: String,
    pub attempts: i64,
    #[schema(required = true)]
    pub last_status: Option<i64>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    pub time_created: f64,
    /// When a pending delivery is tried next.
    #[schema(required = true)]
    pub next_attempt_at: Option<f64>,
    #[schema(required = true)]
    pub delivered_at: Option<f64>,
    /// The `X-Request-Id` of the request whose analyses queued it.
    #[schema(required = true)]
    pub request_id: Option<String>,
}

/// `GET /api/folders/{id}/webhooks/`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct WebhookDeliveries {
    pub total: usize,
    /// Newest first.
    pub items: Vec<WebhookDelivery>,
}

// ---- folders, media, analyses -------------------------------------------------------------------

/// `PATCH /api/media/{id}/` body: the media's new tags (`[]` clears them; at most 50 of at most
/// 256 characters). `meta_data` is changed by `/api/media/{id}/meta_data/`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"tags": ["video_selfie", "video_selfie_blank", "orientation_portrait"]}))]
pub struct MediaPatch {
    pub tags: Vec<String>,
}

/// One id, or a list of ids.
#[derive(Debug, Clone, serde::Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    #[must_use]
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// An analysis' `params` (spec §7.2). Each applies to the types named; others are ignored.
#[derive(Debug, Clone, Default, serde::Deserialize, ToSchema)]
pub struct AnalysisParams {
    /// QUALITY: DECLINED above it, in [0, 1] (default `OZ_THRESHOLD_SPOOFING`).
    pub threshold_spoofing: Option<f64>,
    /// QUALITY: reported in `confs`, in [0, 1] (default 0.5).
    pub threshold_liveness: Option<f64>,
    /// QUALITY: reported in `confs`, in [0, 1] (default 0.5).
    pub threshold_replay: Option<f64>,
    /// QUALITY: make the best shot (default true; API Lite: false).
    pub extract_best_shot: Option<bool>,
    /// QUALITY: the liveness challenge (`POST /api/liveness/challenges/`) the one video must show.
    #[schema(format = Uuid)]
    pub challenge_id: Option<String>,
    /// As `source_media` of the analysis (where the old iOS SDK put it).
    pub source_media: Option<Vec<String>>,
    /// COLLECTION: the collection(s) to search (default: every collection of the folder's company).
    pub collection_id: Option<OneOrMany>,
    /// Same as `collection_id`.
    pub collection_ids: Option<OneOrMany>,
    /// COLLECTION: a person at or above it is a match, in [0, 1] (default `OZ_BIOMETRY_APPROVE`).
    pub decision_threshold: Option<f64>,
    /// COLLECTION: persons reported per media, 1-100 (default 10).
    pub decision_count: Option<u64>,
}

/// One analysis to start (`POST /api/folders/{id}/analyses/`, `analyses` of an upload payload,
/// of the Instant API and of API Lite's liveness `detect`).
#[derive(Debug, Clone, serde::Deserialize, ToSchema)]
#[schema(example = json!({"type": "quality", "params": {"extract_best_shot": true}}))]
pub struct AnalysisRequest {
    /// quality (liveness), biometry, collection (blacklist), documents (501); any case.
    #[serde(rename = "type")]
    pub kind: String,
    /// Media ids to analyse (Instant API: part names); default: chosen by kind and tags
    /// (docs/API.md §7.4).
    #[serde(default)]
    pub source_media: Option<Vec<String>>,
    #[serde(default)]
    pub params: Option<AnalysisParams>,
    /// The analysis' own object.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<MetaData>,
}

impl AnalysisRequest {
    /// `source_media` of the request, or of its params.
    #[must_use]
    pub fn sources(&self) -> Option<&[String]> {
        self.source_media.as_deref().or_else(|| self.params.as_ref().and_then(|p| p.source_media.as_deref()))
    }
}

/// `POST /api/folders/{id}/analyses/` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"analyses": [{"type": "quality"}, {"type": "biometry"}]}))]
pub struct AnalysesRequest {
    pub analyses: Vec<AnalysisRequest>,
    /// http(s) URL to call with the folder when the analyses finish; empty is none.
    #[serde(default)]
    pub resolution_endpoint: Option<String>,
}

/// The JSON `payload` part of an upload form (`POST /api/folders/`, `POST
/// /api/folders/{id}/media/`, `POST /api/instant/folders/`, `POST
/// /api/collections/{id}/persons/`). Every field may be left out or null; other keys are ignored.
/// A field of the wrong type is error 5 naming it (`folder:meta_data: invalid type: sequence,
/// expected a map`).
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[schema(example = json!({"folder:meta_data": {"transaction_id": "try-1"}, "media:tags": {"video1": ["video_selfie", "video_selfie_blank", "orientation_portrait"], "photo1": ["photo_id_front"]}, "media:meta_data": {"video1": {"device": "web"}}, "analyses": [{"type": "quality"}]}))]
pub struct UploadPayload {
    /// The folder's `meta_data` (an object, within the `meta_data` caps).
    #[serde(rename = "folder:meta_data", default)]
    #[schema(value_type = Option<Object>)]
    pub folder_meta_data: Option<serde_json::Map<String, Value>>,
    /// Each media part's tags, by part name (at most 256 entries).
    #[serde(rename = "media:tags", default)]
    pub media_tags: Option<std::collections::HashMap<String, Option<Vec<String>>>>,
    /// Each media part's `meta_data`, by part name (at most 256 entries).
    #[serde(rename = "media:meta_data", default)]
    #[schema(value_type = Option<std::collections::HashMap<String, Object>>)]
    pub media_meta_data: Option<std::collections::HashMap<String, Option<serde_json::Map<String, Value>>>>,
    /// Analyses to run over the uploaded media (single request mode); none when absent or empty.
    #[serde(default)]
    pub analyses: Option<Vec<AnalysisRequest>>,
    /// http(s) URL to call with the folder when the analyses finish; empty is none.
    #[serde(default)]
    pub resolution_endpoint: Option<String>,
    /// The person's `meta_data` (`POST /api/collections/{id}/persons/` only).
    #[serde(rename = "person:meta_data", default)]
    #[schema(value_type = Option<Object>)]
    pub person_meta_data: Option<serde_json::Map<String, Value>>,
}

/// Upload form (`POST /api/folders/`, `POST /api/folders/{id}/media/`,
/// `POST /api/instant/folders/`): every part other than `payload` is a media, its part name the
/// media key. Oz clients name them freely (`video1`, `photo1`, ...).
#[derive(ToSchema)]
pub struct UploadForm {
    /// JSON text of an `UploadPayload`: `{"folder:meta_data": {}, "media:meta_data": {key: {}},
    /// "media:tags": {key: []}, "analyses": [...], "resolution_endpoint": "..."}`. Leave a file
    /// field empty and it is not sent as a media.
    #[schema(example = json!(r#"{"folder:meta_data": {"transaction_id": "try-1"}, "media:tags": {"video1": ["video_selfie", "video_selfie_blank", "orientation_portrait"], "photo1": ["photo_id_front"]}, "analyses": [{"type": "quality"}]}"#))]
    pub payload: Option<String>,
    /// A video, image or zip of shots.
    #[schema(value_type = Option<String>, format = Binary)]
    pub video1: Option<Vec<u8>>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub photo1: Option<Vec<u8>>,
}

/// `POST /api/analyses/{id}/resolution/` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"resolution_status": "DECLINED", "comment": "a printed photo held to the camera"}))]
pub struct ResolutionRequest {
    /// SUCCESS or DECLINED, any case (`operator_status` is accepted too).
    #[serde(alias = "operator_status")]
    pub resolution_status: String,
    /// At most 4000 characters (`operator_comment` is accepted too); needed to replace an
    /// earlier decision.
    #[serde(default, alias = "operator_comment")]
    pub comment: Option<String>,
}

/// One operator decision of the audit trail.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ResolutionEntry {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub analysis_id: String,
    #[schema(format = Uuid)]
    pub folder_id: String,
    #[schema(required = true, format = Uuid)]
    pub company_id: Option<String>,
    #[schema(format = Uuid)]
    pub user_id: String,
    pub user_email: String,
    /// The analysis' `resolution_status` before this decision.
    pub resolution_status_before: String,
    pub resolution_status: String,
    #[schema(required = true)]
    pub comment: Option<String>,
    pub time_created: f64,
}

// ---- collections --------------------------------------------------------------------------------

/// `POST /api/collections/` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(example = json!({"alias": "blacklist", "meta_data": {"owner": "fraud team"}}))]
pub struct CollectionCreate {
    /// 1 to 255 characters.
    pub alias: String,
    /// Required for ADMIN callers; others create in their own company.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<MetaData>,
}

/// Photos form (`POST /api/collections/{id}/persons/`, `.../images/`): image parts, and a
/// `payload` part `{"media:tags": {...}, "media:meta_data": {...}, "person:meta_data": {...}}`.
#[derive(ToSchema)]
pub struct PhotosForm {
    pub payload: Option<String>,
    #[schema(value_type = String, format = Binary)]
    pub photo1: Vec<u8>,
}

// ---- lists --------------------------------------------------------------------------------------

// ---- API Lite -----------------------------------------------------------------------------------

/// Two templates (`compare`).
#[derive(ToSchema)]
pub struct CompareForm {
    #[schema(value_type = String, format = Binary)]
    pub bio_feature: Vec<u8>,
    #[schema(value_type = String, format = Binary)]
    pub bio_template: Vec<u8>,
}

/// An image and a template (`verify`).
#[derive(ToSchema)]
pub struct VerifyForm {
    #[schema(value_type = String, format = Binary)]
    pub sample: Vec<u8>,
    #[schema(value_type = String, format = Binary)]
    pub bio_template: Vec<u8>,
}

/// `verify` answer: a multipart body with the template of the sample and the score.
#[derive(ToSchema)]
pub struct VerifyAnswer {
    #[schema(value_type = String, format = Binary)]
    pub bio_feature: Vec<u8>,
    /// JSON `{"score", "decision"}`.
    pub score: String,
}

/// Two images (`extract_and_compare`).
#[derive(ToSchema)]
pub struct TwoImagesForm {
    #[schema(value_type = String, format = Binary)]
    pub sample_1: Vec<u8>,
    #[schema(value_type = String, format = Binary)]
    pub sample_2: Vec<u8>,
}

/// `template_1` and the templates to compare it with, in repeated `templates_n` parts (with
/// filenames: the answer names them) (`compare_n`).
#[derive(ToSchema)]
pub struct TemplatesNForm {
    #[schema(value_type = String, format = Binary)]
    pub template_1: Vec<u8>,
    pub templates_n: Vec<Binary>,
}

/// `sample_1` (an image) and templates in repeated `templates_n` parts (`verify_n`).
#[derive(ToSchema)]
pub struct SampleTemplatesForm {
    #[schema(value_type = String, format = Binary)]
    pub sample_1: Vec<u8>,
    pub templates_n: Vec<Binary>,
}

/// `sample_1` and images in repeated `samples_n` parts (`extract_and_compare_n`).
#[derive(ToSchema)]
pub struct ImagesNForm {
    #[schema(value_type = String, format = Binary)]
    pub sample_1: Vec<u8>,
    pub samples_n: Vec<Binary>,
}

/// Multipart liveness: media parts (video, image or zip of shots) and an optional `payload`
/// (`{"folder:meta_data", "media:meta_data", "media:tags", "analyses", "resolution_endpoint"}`).
#[derive(ToSchema)]
pub struct LivenessForm {
    pub payload: Option<String>,
    #[schema(value_type = String, format = Binary)]
    pub video1: Vec<u8>,
}

/// Bytes: an image, a template, a stored file.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(Vec<u8>);

/// `POST /v1/face/liveness/detect`: `{passed, score}` for a raw image, the folder for multipart.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum LivenessAnswer {
    Passed(oz_wire::lite::LitePassed),
    Folder(Box<oz_wire::Folder>),
}
