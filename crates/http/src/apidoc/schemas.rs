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
}

/// `GET /api/statistics/` (see docs/API.md).
#[derive(ToSchema)]
pub struct Statistics {
    #[serde(rename = "time_created.min")]
    pub time_created_min: Option<f64>,
    #[serde(rename = "time_created.max")]
    pub time_created_max: Option<f64>,
    pub tz_offset: i64,
    pub folders: StatBlock,
    pub analyses: StatBlock,
    pub liveness: LivenessStats,
    pub queue: QueueStats,
    /// Only for callers who see several companies (ADMIN, OPERATOR).
    pub per_company: Option<Vec<Value>>,
}

/// QUALITY analyses created in the window: the system's verdicts against the operators' decisions
/// in the audit trail. The rates are operator-labelled estimates, not a laboratory APCER/BPCER
/// (ISO/IEC 30107-3): only what operators reviewed is labelled.
#[derive(ToSchema)]
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
#[derive(ToSchema)]
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

#[derive(ToSchema)]
pub struct StatBlock {
    pub total: i64,
    pub per_day: Vec<Value>,
    pub per_status: Option<Vec<Value>>,
    pub per_type: Option<Vec<Value>>,
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
#[derive(ToSchema)]
pub struct Precheck {
    /// True when `hint` is `ok`.
    pub ready: bool,
    /// `ok`, `no_face`, `several_faces`, `too_dark`, `too_bright`, `too_small`, `too_close` or
    /// `off_centre` (the first that applies, in that order).
    pub hint: String,
    /// The hint in plain words, for the person.
    pub message: String,
    /// Faces that count (a much smaller face in the background does not).
    pub faces: u32,
    /// The largest face as fractions of the frame (x, y of its top left corner, width, height)
    /// and the detector's score.
    #[schema(required = true)]
    pub face: Option<PrecheckFace>,
    /// Mean brightness of the face, 0 (black) to 1 (white).
    #[schema(required = true)]
    pub brightness: Option<f64>,
    pub frame: PrecheckFrame,
}

#[derive(ToSchema)]
pub struct PrecheckFace {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub score: f64,
}

#[derive(ToSchema)]
pub struct PrecheckFrame {
    pub width: u32,
    pub height: u32,
}

// ---- accounts -----------------------------------------------------------------------------------

/// `POST /api/companies/` body.
#[derive(ToSchema)]
pub struct CompanyCreate {
    pub name: String,
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
}

/// `PATCH /api/companies/{id}/` body.
#[derive(ToSchema)]
pub struct CompanyWrite {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
}

/// `POST /api/users/` body. `CLIENT ADMIN` / `CLIENT SERVICE` are accepted as `user_type`;
/// `can_start_analyze_*` as aliases of `can_start_analysis_*`.
#[derive(ToSchema)]
pub struct UserCreate {
    #[schema(format = Email, example = "operator@example.com")]
    pub email: String,
    #[schema(min_length = 8)]
    pub password: String,
    /// CLIENT users need a `company_id` (a company admin's users default to its company).
    #[schema(example = "CLIENT")]
    pub user_type: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    pub is_admin: Option<bool>,
    pub is_service: Option<bool>,
    pub can_start_analysis_quality: Option<bool>,
    pub can_start_analysis_biometry: Option<bool>,
    pub can_start_analysis_collection: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
}

/// `PATCH /api/users/{id}/` body.
/// `CLIENT ADMIN` / `CLIENT SERVICE` are accepted as `user_type`; `can_start_analyze_*` as aliases.
#[derive(ToSchema)]
pub struct UserWrite {
    pub email: Option<String>,
    /// At least 8 characters.
    pub password: Option<String>,
    /// Required when users change their own password (`old_password` is accepted too).
    pub current_password: Option<String>,
    pub user_type: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    pub is_admin: Option<bool>,
    pub is_service: Option<bool>,
    pub can_start_analysis_quality: Option<bool>,
    pub can_start_analysis_biometry: Option<bool>,
    pub can_start_analysis_collection: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
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

/// `PATCH /api/media/{id}/` body.
#[derive(ToSchema)]
pub struct MediaPatch {
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
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
    pub meta_data: Option<Value>,
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
    /// http(s) URL to call with the folder when the analyses finish.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub resolution_endpoint: Option<Value>,
}

/// Upload form (`POST /api/folders/`, `POST /api/folders/{id}/media/`,
/// `POST /api/instant/folders/`): every part other than `payload` is a media, its part name the
/// media key. Oz clients name them freely (`video1`, `photo1`, ...).
#[derive(ToSchema)]
pub struct UploadForm {
    /// JSON text: `{"folder:meta_data": {}, "media:meta_data": {key: {}}, "media:tags": {key: []},
    /// "analyses": [...], "resolution_endpoint": "..."}`. Leave a file field empty and it is not
    /// sent as a media.
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
    /// At most 4096 characters (`operator_comment` is accepted too); needed to replace an
    /// earlier decision.
    #[serde(default, alias = "operator_comment")]
    pub comment: Option<String>,
}

/// One operator decision of the audit trail.
#[derive(ToSchema)]
pub struct ResolutionEntry {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub analysis_id: String,
    #[schema(format = Uuid)]
    pub folder_id: String,
    #[schema(required = true)]
    pub company_id: Option<String>,
    #[schema(format = Uuid)]
    pub user_id: String,
    pub user_email: Option<String>,
    pub resolution_status_before: Option<String>,
    pub resolution_status: String,
    pub comment: Option<String>,
    pub time_created: f64,
}

// ---- collections --------------------------------------------------------------------------------

/// `POST /api/collections/` body.
#[derive(ToSchema)]
pub struct CollectionCreate {
    pub alias: String,
    /// Required for ADMIN callers; others create in their own company.
    #[schema(format = Uuid)]
    pub company_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub meta_data: Option<Value>,
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
