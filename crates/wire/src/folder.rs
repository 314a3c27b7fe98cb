//! Folders, media, analyses and their results (spec §4.2-4.4), in Oz's key order: the order of
//! the folder example on Oz's API Lite methods page (oz-docs/api-lite-methods.md). Fields Oz
//! does not document come after Oz's own.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::{Company, User};
use crate::vocab::{AnalysisType, MediaType, State, Status};

/// Size and checksum of an image: an uploaded photo, a best shot, a preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImageInfo {
    pub md5: String,
    pub width: u32,
    pub height: u32,
    /// Bytes.
    pub size: u64,
    #[serde(rename = "mime-type")]
    #[schema(example = "image/jpeg")]
    pub mime_type: String,
}

/// What was decoded of a video (or a zip shot set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VideoInfo {
    /// Seconds.
    pub duration: f64,
    #[serde(rename = "FPS")]
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    pub md5: String,
    /// Bytes.
    pub size: u64,
    #[serde(rename = "mime-type")]
    #[schema(example = "video/mp4")]
    pub mime_type: String,
}

/// A media's `info`: `{thumb, video}` for videos and shot sets, `{thumb, original}` for images.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct MediaInfo {
    /// The JPEG preview made at upload (`thumb_url`), or null.
    #[schema(required = true)]
    pub thumb: Option<ImageInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<ImageInfo>,
}

impl MediaInfo {
    /// A stored `info` object read back into its type (rows written before any key order was
    /// kept come out in Oz's order too); an unreadable one gives an empty `info`.
    #[must_use]
    pub fn from_stored(v: &Value) -> Self {
        // Read from the borrowed value: rendering a media copies nothing here.
        Self::deserialize(v).unwrap_or_default()
    }
}

/// A media as Oz renders it. Videos also carry `video_id` and `video_url`, shot sets
/// `shots_set_id` and `video_url`, images `image_id`; analysis outputs
/// (`IMAGE_RESULT_ANALYSIS_SINGLE`) `image_id`, `media_association_id` and, stored, `analysis_id`
/// (Lite and Instant answers: `image_b64` instead of a URL).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Media {
    /// The folder (a temporary id in Lite and Instant answers).
    pub folder_id: Uuid,
    pub media_id: Uuid,
    pub media_type: MediaType,
    pub info: MediaInfo,
    /// In the order the client gave them.
    pub tags: Vec<String>,
    pub original_name: String,
    /// Link to `GET /static/{file}` (signed when `OZ_LINK_TTL` is set); null in Lite and
    /// Instant answers.
    #[schema(required = true)]
    pub original_url: Option<String>,
    #[schema(required = true)]
    pub company_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub technical_meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
    /// The client's own object (from `media:meta_data`); null on Lite best shots.
    #[schema(value_type = Option<Object>, required = true)]
    pub meta_data: Value,
    /// The JPEG preview made at upload, or null.
    #[schema(required = true)]
    pub thumb_url: Option<String>,
    #[schema(required = true)]
    pub folder_time_created: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shots_set_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<Uuid>,
    /// Videos: the file; shot sets: the mp4 assembled from the shots (null when none could be
    /// made, and in Lite and Instant answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub video_url: Option<Option<String>>,
    /// Full API: the same link as `thumb_url` (the JPEG preview), or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub preview_url: Option<Option<String>>,
    /// Outputs: the source media they were made from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_association_id: Option<Uuid>,
    /// Stored outputs: the analysis that made them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid, required = false)]
    pub analysis_id: Option<Option<Uuid>>,
    /// Lite and Instant best shots: the JPEG, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_b64: Option<String>,
}

impl Media {
    /// A media with the fields every kind has; the kind's ids are set from `media_type`
    /// (`video_id` / `shots_set_id` / `image_id`, and `video_url` as null until set).
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn new(folder_id: Uuid, media_id: Uuid, media_type: MediaType, info: MediaInfo, original_name: String) -> Self {
        let mut m = Self {
            folder_id,
            media_id,
            media_type,
            info,
            tags: Vec::new(),
            original_name,
            original_url: None,
            company_id: None,
            technical_meta_data: Value::Object(serde_json::Map::new()),
            time_created: 0.0,
            time_updated: 0.0,
            meta_data: Value::Object(serde_json::Map::new()),
            thumb_url: None,
            folder_time_created: None,
            video_id: None,
            shots_set_id: None,
            image_id: None,
            video_url: None,
            preview_url: None,
            media_association_id: None,
            analysis_id: None,
            image_b64: None,
        };
        match media_type {
            MediaType::VIDEO_FOLDER => {
                m.video_id = Some(media_id);
                m.video_url = Some(None);
            }
            MediaType::SHOTS_SET_FOLDER => {
                m.shots_set_id = Some(media_id);
                m.video_url = Some(None);
            }
            MediaType::IMAGE_FOLDER | MediaType::IMAGE_RESULT_ANALYSIS_SINGLE => m.image_id = Some(media_id),
        }
        m
    }
}

/// One result per source media of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResultMedia {
    #[schema(required = true)]
    pub company_id: Option<Uuid>,
    /// The source media.
    pub media_association_id: Uuid,
    /// Null in API Lite answers.
    #[schema(required = true)]
    pub analysis_id: Option<Uuid>,
    /// QUALITY: `confidence_spoofing` (with frames, signals, gesture, challenge); BIOMETRY:
    /// `min_confidence` / `max_confidence`; COLLECTION: `max_confidence`, `persons_found`.
    #[schema(schema_with = crate::results::media_results_schema)]
    pub results_data: Value,
    pub source_media_id: Uuid,
    /// The source media by kind (Oz tells clients to match results by these).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_video_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_shots_set_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_image_id: Option<Uuid>,
    /// The best shot (`original_name` `ResultImage.jpg`), when one was asked for.
    pub output_images: Vec<Media>,
    /// COLLECTION: the persons found, most similar first.
    #[schema(value_type = Vec<crate::results::CollectionPerson>)]
    pub collection_persons: Value,
    #[schema(required = true)]
    pub folder_time_created: Option<f64>,
}

/// The `collection` object of a COLLECTION analysis (spec §4.4): the collection searched (the
/// first, when several were), as it was when the analysis was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AnalysisCollection {
    pub collection_id: Uuid,
    pub company_id: Uuid,
    pub alias: String,
}

/// An analysis.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Analysis {
    /// Same as `analysis_id` (Oz's older spelling, still first in Oz's answers); null in API
    /// Lite answers.
    #[schema(required = true)]
    pub analyse_id: Option<Uuid>,
    #[schema(required = true)]
    pub analysis_id: Option<Uuid>,
    pub folder_id: Uuid,
    #[schema(required = true)]
    pub folder_time_created: Option<f64>,
    #[serde(rename = "type")]
    pub kind: AnalysisType,
    pub state: State,
    #[schema(required = true)]
    pub company_id: Option<Uuid>,
    /// The analyses created by one request share it; null in API Lite answers.
    #[schema(required = true)]
    pub group_id: Option<Uuid>,
    /// BIOMETRY: `min_confidence` / `max_confidence` over every pair; COLLECTION:
    /// `max_confidence`; QUALITY: null.
    #[schema(schema_with = crate::results::analysis_results_schema)]
    pub results_data: Option<Value>,
    /// The effective parameters (QUALITY: thresholds and `extract_best_shot`; BIOMETRY: the
    /// thresholds; COLLECTION: the collections searched and the threshold).
    #[schema(schema_with = crate::results::confs_schema)]
    pub confs: Value,
    #[schema(required = true)]
    pub error_message: Option<String>,
    /// Oz error code of a FAILED analysis.
    #[schema(required = true)]
    pub error_code: Option<i64>,
    /// The operator whose decision set the verdict, or null.
    #[schema(required = true)]
    pub resolution_operator: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, required = false)]
    pub operator_comment: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>, required = false)]
    pub resolution_time: Option<Option<f64>>,
    #[schema(value_type = Object)]
    pub technical_meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    /// The media analysed, in the order the analysis named them.
    pub source_media: Vec<Media>,
    /// One per source media, in the same order.
    pub results_media: Vec<ResultMedia>,
    pub resolution_status: Status,
    /// Same as `resolution_status`.
    pub resolution: Status,
    /// COLLECTION analyses only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AnalysisCollection>, required = false)]
    pub collection: Option<Option<AnalysisCollection>>,
}

/// A folder: the media of one person's check and the analyses run on them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Folder {
    #[schema(required = true)]
    pub company_id: Option<Uuid>,
    pub time_created: f64,
    /// A temporary id in Lite and Instant answers.
    pub folder_id: Uuid,
    #[schema(required = true)]
    pub user_id: Option<Uuid>,
    /// The webhook URL given at creation, or null.
    #[schema(required = true)]
    pub resolution_endpoint: Option<String>,
    /// INITIAL (no analyses), PROCESSING, FINISHED or FAILED.
    pub resolution_status: Status,
    /// A JSON list as text (Oz writes `"[]"`).
    #[schema(example = "[]")]
    pub resolution_comment: String,
    /// The consolidated verdict of the latest analyses.
    pub system_resolution: Status,
    #[schema(required = true)]
    pub resolution_time: Option<f64>,
    #[schema(required = true)]
    pub resolution_author_id: Option<Uuid>,
    /// Always null (Oz's meaning is not public).
    #[schema(required = true)]
    pub resolution_state_hash: Option<String>,
    #[schema(required = true)]
    pub operator_comment: Option<String>,
    #[schema(required = true)]
    pub operator_status: Option<String>,
    /// Always null.
    #[schema(required = true)]
    pub is_cleared: Option<bool>,
    /// The client's own object (`folder:meta_data`), keys in the client's order.
    #[schema(value_type = Object)]
    pub meta_data: Value,
    #[schema(value_type = Object)]
    pub technical_meta_data: Value,
    pub time_updated: f64,
    /// In upload order.
    pub media: Vec<Media>,
    /// With `with_analyses=true`, in Lite and Instant answers, and in webhooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analyses: Option<Vec<Analysis>>,
    /// With `with_user=true`: the creator, or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<User>, required = false)]
    pub user: Option<Option<User>>,
    /// With `with_company=true`: the company, or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Company>, required = false)]
    pub company: Option<Option<Company>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored `info` (keys in any order, as rows written before key order was kept) comes out
    /// in Oz's order; an unreadable one is an empty `info`.
    #[test]
    fn stored_info_reads_back_in_oz_order() {
        let stored: Value = serde_json::from_str(
            r#"{"original": {"width": 4, "size": 9, "mime-type": "image/jpeg", "md5": "ab", "height": 3}, "thumb": null}"#,
        )
        .expect("json");
        let info = MediaInfo::from_stored(&stored);
        assert_eq!(
            crate::json::to_string(&info).expect("json"),
            r#"{"thumb": null, "original": {"md5": "ab", "width": 4, "height": 3, "size": 9, "mime-type": "image/jpeg"}}"#
        );
        assert_eq!(MediaInfo::from_stored(&Value::String("x".into())), MediaInfo::default());
    }
}
