//! The folder-shaped JSON that API Lite's multipart liveness `detect` answers with (Oz's example
//! in oz-docs/api-lite-methods.md). Ids are temporary UUIDs; URLs are null; the best shot is inline
//! as `image_b64`.

use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use oz_domain::liveness;
use oz_domain::status::{self, ResolutionStatus};
use oz_vision::media::{MediaInfo, MediaKind};
use oz_vision::pipeline::MediaAnalysis;
use serde_json::{Value, json};
use uuid::Uuid;

use super::liveness::Payload;
use super::parts::encode_b64;

/// One requested QUALITY analysis with its effective parameters.
#[derive(Debug, Clone)]
pub struct AnalysisSpec {
    pub threshold_spoofing: f64,
    pub threshold_liveness: f64,
    pub threshold_replay: f64,
    pub extract_best_shot: bool,
    pub meta_data: Value,
}

impl AnalysisSpec {
    #[must_use]
    pub fn quality(threshold_spoofing: f32) -> Self {
        Self {
            threshold_spoofing: round6(f64::from(threshold_spoofing)),
            threshold_liveness: 0.5,
            threshold_replay: 0.5,
            extract_best_shot: false,
            meta_data: json!({}),
        }
    }
}

/// A media of the request, decoded and analysed.
pub struct LiteMedia {
    pub original_name: String,
    pub tags: Vec<String>,
    pub meta_data: Value,
    pub info: MediaInfo,
    pub analysis: MediaAnalysis,
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Oz `media_type` for a decoded media.
#[must_use]
pub fn media_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "IMAGE_FOLDER",
        MediaKind::Video => "VIDEO_FOLDER",
        MediaKind::ShotSet => "SHOTS_SET_FOLDER",
    }
}

fn media_json(folder_id: &str, media_id: &str, m: &LiteMedia, t: f64) -> Value {
    let mut v = json!({
        "folder_id": folder_id,
        "media_id": media_id,
        "media_type": media_type(m.info.kind),
        "info": oz_engine::render::media_info(&m.info),
        "tags": m.tags,
        "original_name": m.original_name,
        "original_url": null,
        "company_id": null,
        "technical_meta_data": {},
        "time_created": t,
        "time_updated": t,
        "meta_data": m.meta_data,
        "thumb_url": null,
        "folder_time_created": null,
    });
    if let Some(obj) = v.as_object_mut() {
        match m.info.kind {
            MediaKind::Video => {
                obj.insert("video_id".into(), json!(media_id));
                obj.insert("video_url".into(), Value::Null);
            }
            MediaKind::Image => {
                obj.insert("image_id".into(), json!(media_id));
            }
            MediaKind::ShotSet => {
                obj.insert("shots_set_id".into(), json!(media_id));
                obj.insert("video_url".into(), Value::Null);
            }
        }
    }
    v
}

fn best_shot_json(folder_id: &str, media_id: &str, m: &LiteMedia, t: f64) -> Option<Value> {
    let shot = m.analysis.best_shot.as_ref()?;
    Some(json!({
        "folder_id": folder_id,
        "media_id": Uuid::new_v4().to_string(),
        "media_type": "IMAGE_RESULT_ANALYSIS_SINGLE",
        "info": {
            "thumb": null,
            "original": {
                "md5": hex_md5(&shot.jpeg),
                "width": shot.width,
                "height": shot.height,
                "size": shot.jpeg.len(),
                "mime-type": "image/jpeg",
            }
        },
        "tags": [],
        "original_name": "ResultImage.jpg",
        "original_url": null,
        "company_id": null,
        "technical_meta_data": { "frame_index": shot.frame_index, "quality": shot.quality },
        "time_created": t,
        "time_updated": t,
        "meta_data": null,
        "folder_time_created": null,
        "image_b64": encode_b64(&shot.jpeg),
        "media_association_id": media_id,
    }))
}

fn hex_md5(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// Builds the whole folder JSON.
#[must_use]
pub fn lite_folder(payload: &Payload, specs: &[AnalysisSpec], media: &[LiteMedia]) -> Value {
    let t = now();
    let folder_id = Uuid::new_v4().to_string();
    let ids: Vec<String> = media.iter().map(|_| Uuid::new_v4().to_string()).collect();
    let media_values: Vec<Value> = media.iter().zip(&ids).map(|(m, id)| media_json(&folder_id, id, m, t)).collect();

    let mut verdicts = Vec::new();
    let analyses: Vec<Value> = specs
        .iter()
        .map(|spec| {
            let mut per_media = Vec::new();
            let results: Vec<Value> = media
                .iter()
                .zip(&ids)
                .map(|(m, id)| {
                    per_media.push(liveness::verdict(m.analysis.confidence_spoofing, spec.threshold_spoofing as f32));
                    let output_images: Vec<Value> = if spec.extract_best_shot {
                        best_shot_json(&folder_id, id, m, t).into_iter().collect()
                    } else {
                        Vec::new()
                    };
                    json!({
                        "company_id": null,
                        "media_association_id": id,
                        "analysis_id": null,
                        "results_data": {
                            "confidence_spoofing": oz_domain::decision::wire_score(m.analysis.confidence_spoofing),
                        },
                        "source_media_id": id,
                        "output_images": output_images,
                        "collection_persons": [],
                        "folder_time_created": null,
                    })
                })
                .collect();
            let resolution = status::worst(per_media);
            verdicts.push(resolution);
            json!({
                "analyse_id": null,
                "analysis_id": null,
                "folder_id": folder_id,
                "folder_time_created": null,
                "type": "QUALITY",
                "state": "FINISHED",
                "company_id": null,
                "group_id": null,
                "results_data": null,
                "confs": {
                    "threshold_replay": spec.threshold_replay,
                    "extract_best_shot": spec.extract_best_shot,
                    "threshold_liveness": spec.threshold_liveness,
                    "threshold_spoofing": spec.threshold_spoofing,
                },
                "error_message": null,
                "error_code": null,
                "resolution_operator": null,
                "technical_meta_data": {},
                "time_created": t,
                "time_updated": now(),
                "meta_data": spec.meta_data,
                "source_media": media_values,
                "results_media": results,
                "resolution_status": resolution.as_str(),
                "resolution": resolution.as_str(),
            })
        })
        .collect();
    let (folder_status, system) = status::folder_status(&verdicts);
    let system = if system == ResolutionStatus::Initial { ResolutionStatus::Success } else { system };
    json!({
        "company_id": null,
        "time_created": t,
        "folder_id": folder_id,
        "user_id": null,
        "resolution_endpoint": payload.resolution_endpoint,
        "resolution_status": folder_status.as_str(),
        "resolution_comment": "[]",
        "system_resolution": system.as_str(),
        "resolution_time": null,
        "resolution_author_id": null,
        "resolution_state_hash": null,
        "operator_comment": null,
        "operator_status": null,
        "is_cleared": null,
        "meta_data": payload.folder_meta.clone().unwrap_or_else(|| json!({})),
        "technical_meta_data": {},
        "time_updated": now(),
        "media": media_values,
        "analyses": analyses,
    })
}
