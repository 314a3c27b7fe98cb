//! Stored rows rendered into the Oz wire model ([`oz_wire`]): one renderer shared by the HTTP
//! handlers and the webhook sender, so a webhook body is exactly what
//! `GET /api/folders/{id}/?with_analyses=true` returns.

use std::collections::HashMap;

use oz_domain::access::AnalysisKind;
use oz_domain::assign::MediaClass;
use oz_storage::collections::{Collection, Person, PersonImage};
use oz_storage::{Analysis, Company, Folder, Media, User};
use oz_wire::folder::{ImageInfo, MediaInfo, VideoInfo};
use oz_wire::{AnalysisCollection, ResultMedia};
use serde_json::Value;
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

/// A media. `preview_url` and Oz's `thumb_url` both link the JPEG preview made at upload (null
/// for best shots and media stored without one); a zip shot set's `video_url` links the mp4
/// assembled from its shots (null when none could be made).
#[must_use]
pub fn media(m: &Media, folder_time_created: Option<f64>, urls: &Urls) -> oz_wire::Media {
    let url = urls.file(&m.file.file_name);
    let preview = m.preview_file.as_deref().map(|n| urls.file(n));
    let mut w = oz_wire::Media::new(
        m.folder_id,
        m.id,
        m.class.into(),
        MediaInfo::from_stored(&m.file.info),
        m.file.original_name.clone(),
    );
    w.tags.clone_from(&m.tags);
    w.original_url = Some(url.clone());
    w.company_id = m.company_id;
    w.technical_meta_data.clone_from(&m.technical_meta_data);
    w.time_created = m.time_created;
    w.time_updated = m.time_updated;
    w.meta_data.clone_from(&m.meta_data);
    w.thumb_url.clone_from(&preview);
    w.preview_url = Some(preview);
    w.folder_time_created = folder_time_created;
    match m.class {
        MediaClass::Video => w.video_url = Some(Some(url)),
        MediaClass::ShotSet => w.video_url = Some(m.video_file.as_deref().map(|n| urls.file(n))),
        MediaClass::Image => {}
        MediaClass::ResultImage => {
            w.media_association_id = m.source_media_id;
            w.analysis_id = Some(m.analysis_id);
        }
    }
    w
}

/// The stored result of one source media (`results_media` column).
fn result_media(
    a: &Analysis,
    r: &Value,
    folder_time_created: Option<f64>,
    media_by_id: &HashMap<Uuid, &Media>,
    urls: &Urls,
) -> Option<ResultMedia> {
    let src = r.get("source_media_id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())?;
    let outputs = r
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
    let class = media_by_id.get(&src).map(|m| m.class);
    let by = |c: &[MediaClass]| class.filter(|k| c.contains(k)).map(|_| src);
    Some(ResultMedia {
        company_id: a.company_id,
        media_association_id: src,
        analysis_id: Some(a.id),
        results_data: r.get("results_data").cloned().unwrap_or(Value::Null),
        source_media_id: src,
        source_video_id: by(&[MediaClass::Video]),
        source_shots_set_id: by(&[MediaClass::ShotSet]),
        source_image_id: by(&[MediaClass::Image, MediaClass::ResultImage]),
        output_images: outputs,
        collection_persons: r.get("collection_persons").cloned().unwrap_or_else(|| Value::Array(Vec::new())),
        folder_time_created,
    })
}

/// An analysis; `media_by_id` must hold the folder's media (originals and outputs). Source
/// media and results keep the order the analysis named them in.
#[must_use]
pub fn analysis(
    a: &Analysis,
    folder_time_created: Option<f64>,
    media_by_id: &HashMap<Uuid, &Media>,
    urls: &Urls,
) -> oz_wire::Analysis {
    let source_media = a
        .source_media
        .iter()
        .filter_map(|id| media_by_id.get(id))
        .map(|m| media(m, folder_time_created, urls))
        .collect();
    let results_media = a
        .results_media
        .as_array()
        .map(|arr| arr.iter().filter_map(|r| result_media(a, r, folder_time_created, media_by_id, urls)).collect())
        .unwrap_or_default();
    // COLLECTION: Oz's `collection` object (spec §4.4), the first collection searched.
    let collection = (a.kind == AnalysisKind::Collection).then(|| {
        a.confs
            .get("collections")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
            .and_then(|c| serde_json::from_value::<AnalysisCollection>(c.clone()).ok())
    });
    oz_wire::Analysis {
        analyse_id: Some(a.id),
        analysis_id: Some(a.id),
        folder_id: a.folder_id,
        folder_time_created,
        kind: a.kind.into(),
        state: a.state.into(),
        company_id: a.company_id,
        group_id: Some(a.group_id),
        results_data: a.results_data.clone(),
        confs: a.confs.clone(),
        error_message: a.error_message.clone(),
        error_code: a.error_code,
        resolution_operator: a.resolution_operator,
        operator_comment: Some(a.operator_comment.clone()),
        resolution_time: Some(a.resolution_time),
        technical_meta_data: a.technical_meta_data.clone(),
        time_created: a.time_created,
        time_updated: a.time_updated,
        meta_data: a.meta_data.clone(),
        source_media,
        results_media,
        resolution_status: a.resolution_status.into(),
        resolution: a.resolution_status.into(),
        collection,
    }
}

/// A folder with its media (in upload order) and, when given, its analyses.
#[must_use]
pub fn folder(f: &Folder, media_list: &[Media], analyses: Option<&[Analysis]>, urls: &Urls) -> oz_wire::Folder {
    let tc = Some(f.time_created);
    let by_id: HashMap<Uuid, &Media> = media_list.iter().map(|m| (m.id, m)).collect();
    oz_wire::Folder {
        company_id: f.company_id,
        time_created: f.time_created,
        folder_id: f.id,
        user_id: f.user_id,
        resolution_endpoint: f.resolution_endpoint.clone(),
        resolution_status: f.resolution_status.into(),
        resolution_comment: f.resolution_comment.clone(),
        system_resolution: f.system_resolution.into(),
        resolution_time: f.resolution_time,
        resolution_author_id: f.resolution_author_id,
        resolution_state_hash: None,
        operator_comment: f.operator_comment.clone(),
        operator_status: f.operator_status.clone(),
        is_cleared: None,
        meta_data: f.meta_data.clone(),
        technical_meta_data: f.technical_meta_data.clone(),
        time_updated: f.time_updated,
        media: media_list.iter().map(|m| media(m, tc, urls)).collect(),
        analyses: analyses.map(|list| list.iter().map(|a| analysis(a, tc, &by_id, urls)).collect()),
        user: None,
        company: None,
    }
}

/// A company.
#[must_use]
pub fn company(c: &Company) -> oz_wire::accounts::Company {
    oz_wire::accounts::Company {
        company_id: c.id,
        name: c.name.clone(),
        meta_data: c.meta_data.clone(),
        time_created: c.time_created,
    }
}

/// A user (never its password hash).
#[must_use]
pub fn user(u: &User) -> oz_wire::accounts::User {
    oz_wire::accounts::User {
        user_id: u.id,
        user_type: u.role.into(),
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        middle_name: u.middle_name.clone(),
        company_id: u.company_id,
        is_admin: u.is_admin,
        is_service: u.is_service,
        can_start_analysis_quality: u.can_start_quality,
        can_start_analysis_biometry: u.can_start_biometry,
        can_start_analysis_collection: u.can_start_collection,
        meta_data: u.meta_data.clone(),
    }
}

/// A collection.
#[must_use]
pub fn collection(c: &Collection) -> oz_wire::collections::Collection {
    oz_wire::collections::Collection {
        collection_id: c.id,
        alias: c.alias.clone(),
        company_id: c.company_id,
        meta_data: c.meta_data.clone(),
        time_created: c.time_created,
        time_updated: c.time_updated,
    }
}

/// A photo of a person.
#[must_use]
pub fn person_image(m: &PersonImage, urls: &Urls) -> oz_wire::collections::PersonImage {
    oz_wire::collections::PersonImage {
        media_id: m.id,
        image_id: m.id,
        person_id: m.person_id,
        collection_id: m.collection_id,
        company_id: m.company_id,
        media_type: MediaClass::Image.into(),
        original_name: m.file.original_name.clone(),
        original_url: urls.file(&m.file.file_name),
        thumb_url: None,
        info: MediaInfo::from_stored(&m.file.info),
        tags: m.tags.clone(),
        meta_data: m.meta_data.clone(),
        time_created: m.time_created,
    }
}

/// A person with those of `images` that are its own.
#[must_use]
pub fn person(p: &Person, images: &[PersonImage], urls: &Urls) -> oz_wire::collections::Person {
    oz_wire::collections::Person {
        person_id: p.id,
        collection_id: p.collection_id,
        company_id: p.company_id,
        meta_data: p.meta_data.clone(),
        images: images.iter().filter(|m| m.person_id == p.id).map(|m| person_image(m, urls)).collect(),
        time_created: p.time_created,
        time_updated: p.time_updated,
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Oz `info` for a decoded media (`thumb` is set once a preview is made).
#[must_use]
pub fn media_info(info: &oz_vision::media::MediaInfo) -> MediaInfo {
    use oz_vision::media::MediaKind;
    match (&info.kind, &info.video) {
        (MediaKind::Video, Some(v)) => MediaInfo {
            thumb: None,
            video: Some(VideoInfo {
                duration: round6(v.duration_s),
                fps: round6(v.fps),
                width: v.width,
                height: v.height,
                md5: info.md5.clone(),
                size: info.size,
                mime_type: info.mime_type.clone(),
            }),
            original: None,
        },
        _ => MediaInfo {
            thumb: None,
            video: None,
            original: Some(image_info(&info.md5, info.width, info.height, info.size, &info.mime_type)),
        },
    }
}

/// The `info` of an image.
#[must_use]
pub fn image_info(md5: &str, width: u32, height: u32, size: u64, mime_type: &str) -> ImageInfo {
    ImageInfo { md5: md5.to_string(), width, height, size, mime_type: mime_type.to_string() }
}

/// The `info` of a best shot (a JPEG).
#[must_use]
pub fn best_shot_info(shot: &oz_vision::pipeline::BestShot) -> MediaInfo {
    use md5::{Digest, Md5};
    let size = shot.jpeg.len() as u64;
    MediaInfo {
        thumb: None,
        video: None,
        original: Some(image_info(&hex::encode(Md5::digest(&shot.jpeg)), shot.width, shot.height, size, "image/jpeg")),
    }
}
