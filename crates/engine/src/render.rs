//! Oz JSON for stored objects (spec §4, §17): one renderer shared by the HTTP handlers and the
//! webhook sender, so a webhook body is exactly what `GET /api/folders/{id}/?with_analyses=true`
//! returns.

use std::collections::HashMap;

use oz_domain::access::AnalysisKind;
use oz_domain::assign::MediaClass;
use oz_storage::{Analysis, Folder, Media, state_str};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Where stored files are served (`{base}/static/{file_name}`), and how their links are signed.
#[derive(Debug, Clone)]
pub struct Urls {
    pub base: String,
    /// Signs `original_url` so it opens without the token header (`OZ_LINK_TTL`); `None`: plain
    /// links that need the token header.
    pub links: Option<crate::links::LinkSigner>,
}

impl Urls {
    /// Plain (unsigned) links under `base`.
    #[must_use]
    pub fn new(base: impl Into<String>) -> Self {
        Self { base: base.into(), links: None }
    }

    #[must_use]
    pub fn file(&self, file_name: &str) -> String {
        let url = format!("{}/static/{file_name}", self.base.trim_end_matches('/'));
        match &self.links {
            Some(k) => format!("{url}?{}", k.query(file_name, oz_storage::now())),
            None => url,
        }
    }
}

fn opt_id(u: Option<Uuid>) -> Value {
    u.map_or(Value::Null, |v| json!(v.to_string()))
}

/// A media object. `preview_url` and Oz's `thumb_url` both link the JPEG preview made at upload
/// (null for best shots and media stored without one); a zip shot set's `video_url` links the
/// mp4 assembled from its shots (null when none could be made).
#[must_use]
pub fn media(m: &Media, folder_time_created: Option<f64>, urls: &Urls) -> Value {
    let url = urls.file(&m.file_name);
    let link = |f: &Option<String>| f.as_deref().map_or(Value::Null, |n| json!(urls.file(n)));
    let preview = link(&m.preview_file);
    let mut v = json!({
        "media_id": m.id.to_string(),
        "folder_id": m.folder_id.to_string(),
        "media_type": m.class.media_type(),
        "info": m.info,
        "tags": m.tags,
        "original_name": m.original_name,
        "original_url": url,
        "company_id": opt_id(m.company_id),
        "technical_meta_data": m.technical_meta_data,
        "time_created": m.time_created,
        "time_updated": m.time_updated,
        "meta_data": m.meta_data,
        "thumb_url": preview.clone(),
        "preview_url": preview,
        "folder_time_created": folder_time_created,
    });
    if let Some(o) = v.as_object_mut() {
        let id = json!(m.id.to_string());
        match m.class {
            MediaClass::Video => {
                o.insert("video_id".into(), id);
                o.insert("video_url".into(), json!(url));
            }
            MediaClass::ShotSet => {
                o.insert("shots_set_id".into(), id);
                o.insert("video_url".into(), link(&m.video_file));
            }
            MediaClass::Image => {
                o.insert("image_id".into(), id);
            }
            MediaClass::ResultImage => {
                o.insert("image_id".into(), id);
                o.insert("media_association_id".into(), opt_id(m.source_media_id));
                o.insert("analysis_id".into(), opt_id(m.analysis_id));
            }
        }
    }
    v
}

/// An analysis object; `media_by_id` must hold the folder's media (originals and outputs).
#[must_use]
pub fn analysis(
    a: &Analysis,
    folder_time_created: Option<f64>,
    media_by_id: &HashMap<Uuid, &Media>,
    urls: &Urls,
) -> Value {
    let source: Vec<Value> = a
        .source_media
        .iter()
        .filter_map(|id| media_by_id.get(id))
        .map(|m| media(m, folder_time_created, urls))
        .collect();
    let results: Vec<Value> = a
        .results_media
        .as_array()
        .map(|arr| {
            arr.iter()
                .map(|r| {
                    let src = r.get("source_media_id").and_then(Value::as_str).unwrap_or_default().to_string();
                    let src_id = Uuid::parse_str(&src).ok();
                    let outputs: Vec<Value> = r
                        .get("output_images")
                        .and_then(Value::as_array)
                        .map(|ids| {
                            ids.iter()
                                .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                                .filter_map(|id| media_by_id.get(&id))
                                .map(|m| media(m, folder_time_created, urls))
                                .collect()
                        })
                        .unwrap_or_default();
                    let mut o = Map::new();
                    o.insert("company_id".into(), opt_id(a.company_id));
                    o.insert("media_association_id".into(), json!(src));
                    o.insert("analysis_id".into(), json!(a.id.to_string()));
                    o.insert("results_data".into(), r.get("results_data").cloned().unwrap_or(Value::Null));
                    o.insert("source_media_id".into(), json!(src));
                    if let Some(m) = src_id.and_then(|id| media_by_id.get(&id)) {
                        let key = match m.class {
                            MediaClass::Video => "source_video_id",
                            MediaClass::ShotSet => "source_shots_set_id",
                            MediaClass::Image | MediaClass::ResultImage => "source_image_id",
                        };
                        o.insert(key.into(), json!(src));
                    }
                    o.insert("output_images".into(), Value::Array(outputs));
                    o.insert(
                        "collection_persons".into(),
                        r.get("collection_persons").cloned().unwrap_or_else(|| json!([])),
                    );
                    o.insert("folder_time_created".into(), json!(folder_time_created));
                    Value::Object(o)
                })
                .collect()
        })
        .unwrap_or_default();
    let id = a.id.to_string();
    let mut out = json!({
        "analysis_id": id,
        "analyse_id": id,
        "folder_id": a.folder_id.to_string(),
        "folder_time_created": folder_time_created,
        "type": a.kind.as_str(),
        "state": state_str(a.state),
        "company_id": opt_id(a.company_id),
        "group_id": a.group_id.to_string(),
        "results_data": a.results_data,
        "confs": a.confs,
        "error_message": a.error_message,
        "error_code": a.error_code,
        "resolution_operator": opt_id(a.resolution_operator),
        "operator_comment": a.operator_comment,
        "resolution_time": a.resolution_time,
        "technical_meta_data": a.technical_meta_data,
        "time_created": a.time_created,
        "time_updated": a.time_updated,
        "meta_data": a.meta_data,
        "source_media": source,
        "results_media": results,
        "resolution_status": a.resolution_status.as_str(),
        "resolution": a.resolution_status.as_str(),
    });
    // COLLECTION: Oz's `collection` object (spec §4.4), the first collection searched.
    if a.kind == AnalysisKind::Collection
        && let Some(o) = out.as_object_mut()
    {
        let first = a.confs.get("collections").and_then(Value::as_array).and_then(|c| c.first()).cloned();
        o.insert("collection".into(), first.unwrap_or(Value::Null));
    }
    out
}

/// A folder object with its media and, when given, its analyses.
#[must_use]
pub fn folder(f: &Folder, media_list: &[Media], analyses: Option<&[Analysis]>, urls: &Urls) -> Value {
    let tc = Some(f.time_created);
    let by_id: HashMap<Uuid, &Media> = media_list.iter().map(|m| (m.id, m)).collect();
    let mut v = json!({
        "folder_id": f.id.to_string(),
        "company_id": opt_id(f.company_id),
        "user_id": opt_id(f.user_id),
        "time_created": f.time_created,
        "time_updated": f.time_updated,
        "resolution_endpoint": f.resolution_endpoint,
        "resolution_status": f.resolution_status.as_str(),
        "system_resolution": f.system_resolution.as_str(),
        "resolution_comment": f.resolution_comment,
        "resolution_time": f.resolution_time,
        "resolution_author_id": opt_id(f.resolution_author_id),
        "resolution_state_hash": null,
        "operator_comment": f.operator_comment,
        "operator_status": f.operator_status,
        "is_cleared": null,
        "meta_data": f.meta_data,
        "technical_meta_data": f.technical_meta_data,
        "media": media_list.iter().map(|m| media(m, tc, urls)).collect::<Vec<_>>(),
    });
    if let (Some(list), Some(o)) = (analyses, v.as_object_mut()) {
        o.insert("analyses".into(), Value::Array(list.iter().map(|a| analysis(a, tc, &by_id, urls)).collect()));
    }
    v
}

/// Oz `info` for a decoded media.
#[must_use]
pub fn media_info(info: &oz_vision::media::MediaInfo) -> Value {
    use oz_vision::media::MediaKind;
    let round6 = |v: f64| (v * 1e6).round() / 1e6;
    match (&info.kind, &info.video) {
        (MediaKind::Video, Some(v)) => json!({
            "thumb": null,
            "video": {
                "duration": round6(v.duration_s),
                "FPS": round6(v.fps),
                "width": v.width,
                "height": v.height,
                "md5": info.md5,
                "size": info.size,
                "mime-type": info.mime_type,
            }
        }),
        _ => json!({
            "thumb": null,
            "original": {
                "md5": info.md5,
                "width": info.width,
                "height": info.height,
                "size": info.size,
                "mime-type": info.mime_type,
            }
        }),
    }
}
