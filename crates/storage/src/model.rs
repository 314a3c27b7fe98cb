//! The stored objects and how rows become them.

use oz_domain::access::{AnalysisKind, Principal, Role};
use oz_domain::assign::MediaClass;
use oz_domain::status::{AnalysisState, ResolutionStatus};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::{Result, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub meta_data: Value,
    pub time_created: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub company_id: Option<Uuid>,
    pub is_admin: bool,
    pub is_service: bool,
    pub can_start_quality: bool,
    pub can_start_biometry: bool,
    pub can_start_collection: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub meta_data: Value,
    pub time_created: f64,
}

impl User {
    #[must_use]
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.id,
            company_id: self.company_id,
            role: self.role,
            is_admin: self.is_admin,
            is_service: self.is_service,
            can_start_quality: self.can_start_quality,
            can_start_biometry: self.can_start_biometry,
            can_start_collection: self.can_start_collection,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub expire_at: f64,
    pub ttl_s: f64,
    pub predecessor_id: Option<Uuid>,
    /// The refresh chain: the id of the session created at login, shared by every pair refreshed
    /// from it.
    pub family_id: Uuid,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Folder {
    pub id: Uuid,
    pub company_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub resolution_endpoint: Option<String>,
    pub resolution_status: ResolutionStatus,
    pub system_resolution: ResolutionStatus,
    pub resolution_comment: String,
    pub operator_comment: Option<String>,
    pub operator_status: Option<String>,
    pub resolution_time: Option<f64>,
    pub resolution_author_id: Option<Uuid>,
    pub meta_data: Value,
    pub technical_meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
}

/// A file stored under the media folder of `OZ_DATA_DIR` (a media's original, a person photo),
/// with what was read of it at upload.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    /// The name the client gave it.
    pub original_name: String,
    /// Its name under the media folder (random, unguessable).
    pub file_name: String,
    pub mime_type: String,
    pub size: i64,
    pub md5: String,
    /// Oz `info` object (`{"thumb": null, "video": {...}}` or `{"thumb": null, "original": {...}}`).
    pub info: Value,
}

impl StoredFile {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            original_name: s(r, "original_name")?,
            file_name: s(r, "file_name")?,
            mime_type: s(r, "mime_type")?,
            size: i(r, "size")?,
            md5: s(r, "md5")?,
            info: json(r, "info")?,
        })
    }

    /// Binds the six columns `original_name, file_name, mime_type, size, md5, info`, in that order.
    pub(crate) fn bind<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        q.bind(&self.original_name)
            .bind(&self.file_name)
            .bind(&self.mime_type)
            .bind(self.size)
            .bind(&self.md5)
            .bind(self.info.to_string())
    }
}

/// The `tags` column (a JSON list of strings).
pub(crate) fn tags(r: &AnyRow) -> Result<Vec<String>> {
    serde_json::from_value(json(r, "tags")?).map_err(|e| StoreError::Corrupt(format!("tags: {e}")))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub id: Uuid,
    pub folder_id: Uuid,
    pub company_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub class: MediaClass,
    /// The uploaded file.
    pub file: StoredFile,
    pub tags: Vec<String>,
    pub meta_data: Value,
    pub technical_meta_data: Value,
    pub source_media_id: Option<Uuid>,
    pub analysis_id: Option<Uuid>,
    /// JPEG preview made at upload (`preview_url`, `thumb_url`), a stored file name; `None` for
    /// best shots and when none could be made.
    pub preview_file: Option<String>,
    /// The mp4 assembled from a zip shot set's shots (its `video_url`), a stored file name.
    pub video_file: Option<String>,
    pub time_created: f64,
    pub time_updated: f64,
}

impl Media {
    /// The Content-Type of `name` when it is one of this media's stored files: the original's
    /// type, `image/jpeg` for the preview, `video/mp4` for the assembled video.
    #[must_use]
    pub fn file_type(&self, name: &str) -> Option<&str> {
        if name == self.file.file_name {
            Some(&self.file.mime_type)
        } else if self.preview_file.as_deref() == Some(name) {
            Some("image/jpeg")
        } else if self.video_file.as_deref() == Some(name) {
            Some("video/mp4")
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub id: Uuid,
    pub folder_id: Uuid,
    pub company_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub group_id: Uuid,
    pub kind: AnalysisKind,
    pub state: AnalysisState,
    pub resolution_status: ResolutionStatus,
    pub confs: Value,
    pub source_media: Vec<Uuid>,
    pub results_data: Option<Value>,
    /// `[{"source_media_id": "...", "results_data": {...}, "output_images": ["<media id>", ...]}]`
    pub results_media: Value,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub meta_data: Value,
    pub technical_meta_data: Value,
    /// The operator who set the final verdict, when one did.
    pub resolution_operator: Option<Uuid>,
    pub operator_comment: Option<String>,
    pub resolution_time: Option<f64>,
    pub time_created: f64,
    pub time_updated: f64,
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub analysis_id: Uuid,
    pub attempts: i64,
    /// When the job was queued (epoch seconds).
    pub queued_at: f64,
    /// The `X-Request-Id` of the request that queued it, if any.
    pub request_id: Option<String>,
}

/// A claimed webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: Uuid,
    pub folder_id: Uuid,
    pub url: String,
    pub body: Option<String>,
    pub attempts: i64,
    /// The `X-Request-Id` of the request whose analyses queued this delivery, if any.
    pub request_id: Option<String>,
}

// ---- row helpers ------------------------------------------------------------------------------

pub(crate) fn s(row: &AnyRow, col: &str) -> Result<String> {
    row.try_get::<String, _>(col).map_err(StoreError::from)
}

pub(crate) fn os(row: &AnyRow, col: &str) -> Result<Option<String>> {
    row.try_get::<Option<String>, _>(col).map_err(StoreError::from)
}

pub(crate) fn f(row: &AnyRow, col: &str) -> Result<f64> {
    row.try_get::<f64, _>(col).map_err(StoreError::from)
}

pub(crate) fn of(row: &AnyRow, col: &str) -> Result<Option<f64>> {
    row.try_get::<Option<f64>, _>(col).map_err(StoreError::from)
}

pub(crate) fn i(row: &AnyRow, col: &str) -> Result<i64> {
    row.try_get::<i64, _>(col).map_err(StoreError::from)
}

pub(crate) fn oi(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    row.try_get::<Option<i64>, _>(col).map_err(StoreError::from)
}

pub(crate) fn b(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(i(row, col)? != 0)
}

pub(crate) fn id(row: &AnyRow, col: &str) -> Result<Uuid> {
    let v = s(row, col)?;
    Uuid::parse_str(&v).map_err(|_| StoreError::Corrupt(format!("{col} is not a UUID: {v}")))
}

pub(crate) fn oid(row: &AnyRow, col: &str) -> Result<Option<Uuid>> {
    match os(row, col)? {
        None => Ok(None),
        Some(v) => Uuid::parse_str(&v).map(Some).map_err(|_| StoreError::Corrupt(format!("{col} is not a UUID: {v}"))),
    }
}

pub(crate) fn json(row: &AnyRow, col: &str) -> Result<Value> {
    let v = s(row, col)?;
    serde_json::from_str(&v).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

pub(crate) fn ojson(row: &AnyRow, col: &str) -> Result<Option<Value>> {
    match os(row, col)? {
        None => Ok(None),
        Some(v) => serde_json::from_str(&v).map(Some).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))),
    }
}

pub(crate) fn status(row: &AnyRow, col: &str) -> Result<ResolutionStatus> {
    let v = s(row, col)?;
    serde_json::from_value(Value::String(v.clone())).map_err(|_| StoreError::Corrupt(format!("{col}: {v}")))
}

pub(crate) fn ostr(u: Option<Uuid>) -> Option<String> {
    u.map(|v| v.to_string())
}

pub(crate) fn flag(v: bool) -> i64 {
    i64::from(v)
}

impl Company {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: id(r, "id")?,
            name: s(r, "name")?,
            meta_data: json(r, "meta_data")?,
            time_created: f(r, "time_created")?,
        })
    }
}

impl User {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        let ut = s(r, "user_type")?;
        let (role, _, _) = Role::parse(&ut).ok_or_else(|| StoreError::Corrupt(format!("user_type {ut}")))?;
        Ok(Self {
            id: id(r, "id")?,
            email: s(r, "email")?,
            password_hash: s(r, "password_hash")?,
            role,
            company_id: oid(r, "company_id")?,
            is_admin: b(r, "is_admin")?,
            is_service: b(r, "is_service")?,
            can_start_quality: b(r, "can_start_quality")?,
            can_start_biometry: b(r, "can_start_biometry")?,
            can_start_collection: b(r, "can_start_collection")?,
            first_name: os(r, "first_name")?,
            last_name: os(r, "last_name")?,
            middle_name: os(r, "middle_name")?,
            meta_data: json(r, "meta_data")?,
            time_created: f(r, "time_created")?,
        })
    }
}

impl Folder {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: id(r, "id")?,
            company_id: oid(r, "company_id")?,
            user_id: oid(r, "user_id")?,
            resolution_endpoint: os(r, "resolution_endpoint")?,
            resolution_status: status(r, "resolution_status")?,
            system_resolution: status(r, "system_resolution")?,
            resolution_comment: s(r, "resolution_comment")?,
            operator_comment: os(r, "operator_comment")?,
            operator_status: os(r, "operator_status")?,
            resolution_time: of(r, "resolution_time")?,
            resolution_author_id: oid(r, "resolution_author_id")?,
            meta_data: json(r, "meta_data")?,
            technical_meta_data: json(r, "technical_meta_data")?,
            time_created: f(r, "time_created")?,
            time_updated: f(r, "time_updated")?,
        })
    }
}

impl Media {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        let mt = s(r, "media_type")?;
        Ok(Self {
            id: id(r, "id")?,
            folder_id: id(r, "folder_id")?,
            company_id: oid(r, "company_id")?,
            user_id: oid(r, "user_id")?,
            class: MediaClass::from_media_type(&mt).ok_or_else(|| StoreError::Corrupt(format!("media_type {mt}")))?,
            file: StoredFile::from_row(r)?,
            tags: tags(r)?,
            meta_data: json(r, "meta_data")?,
            technical_meta_data: json(r, "technical_meta_data")?,
            source_media_id: oid(r, "source_media_id")?,
            analysis_id: oid(r, "analysis_id")?,
            preview_file: os(r, "preview_file")?,
            video_file: os(r, "video_file")?,
            time_created: f(r, "time_created")?,
            time_updated: f(r, "time_updated")?,
        })
    }
}

impl Analysis {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        let kind = s(r, "type")?;
        let state = s(r, "state")?;
        let source: Vec<Uuid> = serde_json::from_value(json(r, "source_media")?)
            .map_err(|e| StoreError::Corrupt(format!("source_media: {e}")))?;
        Ok(Self {
            id: id(r, "id")?,
            folder_id: id(r, "folder_id")?,
            company_id: oid(r, "company_id")?,
            user_id: oid(r, "user_id")?,
            group_id: id(r, "group_id")?,
            kind: AnalysisKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("type {kind}")))?,
            state: serde_json::from_value(Value::String(state.clone()))
                .map_err(|_| StoreError::Corrupt(format!("state {state}")))?,
            resolution_status: status(r, "resolution_status")?,
            confs: json(r, "confs")?,
            source_media: source,
            results_data: ojson(r, "results_data")?,
            results_media: json(r, "results_media")?,
            error_code: oi(r, "error_code")?,
            error_message: os(r, "error_message")?,
            meta_data: json(r, "meta_data")?,
            technical_meta_data: json(r, "technical_meta_data")?,
            resolution_operator: oid(r, "resolution_operator")?,
            operator_comment: os(r, "operator_comment")?,
            resolution_time: of(r, "resolution_time")?,
            time_created: f(r, "time_created")?,
            time_updated: f(r, "time_updated")?,
        })
    }
}

/// Serialises a status as its Oz string.
#[must_use]
pub fn status_str(s: ResolutionStatus) -> &'static str {
    s.as_str()
}

/// Serialises an analysis state as its Oz string.
#[must_use]
pub fn state_str(s: AnalysisState) -> &'static str {
    match s {
        AnalysisState::Processing => "PROCESSING",
        AnalysisState::Finished => "FINISHED",
        AnalysisState::Failed => "FAILED",
    }
}
