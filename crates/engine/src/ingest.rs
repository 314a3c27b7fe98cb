//! Turning an uploaded file into a stored media: decode it (refusing what cannot be read), record
//! Oz's `info` facts, write the file. Runs on a blocking thread.

use oz_domain::assign::MediaClass;
use oz_storage::folders::NewMedia;
use oz_vision::media::MediaKind;
use oz_vision::{Pipeline, VisionError};
use serde_json::Value;
use uuid::Uuid;

use std::sync::Arc;

use crate::cache::DecodeCache;
use crate::files::{FileError, MediaFiles};
use crate::render;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{name}: {source}")]
    Unreadable { name: String, source: VisionError },
    #[error(transparent)]
    File(#[from] FileError),
}

/// One uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    pub key: String,
    pub original_name: String,
    pub bytes: Vec<u8>,
    pub tags: Vec<String>,
    pub meta_data: Value,
}

fn ext_and_class(kind: MediaKind, mime: &str) -> (&'static str, MediaClass) {
    match kind {
        MediaKind::Image => (if mime == "image/png" { "png" } else { "jpg" }, MediaClass::Image),
        MediaKind::ShotSet => ("zip", MediaClass::ShotSet),
        MediaKind::Video => (
            match mime {
                "video/webm" => "webm",
                "video/x-msvideo" => "avi",
                "video/quicktime" => "mov",
                _ => "mp4",
            },
            MediaClass::Video,
        ),
    }
}

/// Decodes every upload first (nothing is written if one is unreadable), then writes the files.
/// On a write error the files already written are removed. The uploads are one request of the
/// decode budget; frames are kept only as long as the cache can take them (the others are
/// dropped right after decoding and decoded again by the worker).
pub fn ingest(
    p: &Pipeline,
    files: &MediaFiles,
    cache: Option<&DecodeCache>,
    uploads: &[Upload],
) -> Result<Vec<NewMedia>, IngestError> {
    let budget = p.request_budget();
    let room = cache.map_or(0, DecodeCache::cap_bytes);
    let mut kept: u64 = 0;
    let mut decoded = Vec::with_capacity(uploads.len());
    for u in uploads {
        let mut d =
            p.decode_in(&u.bytes, &budget).map_err(|e| IngestError::Unreadable { name: u.key.clone(), source: e })?;
        let size = d.frame_bytes();
        if kept.saturating_add(size) <= room {
            kept += size;
        } else {
            d.drop_frames();
        }
        decoded.push(d);
    }
    let mut out: Vec<NewMedia> = Vec::with_capacity(uploads.len());
    for (u, d) in uploads.iter().zip(decoded) {
        let (ext, class) = ext_and_class(d.info.kind, &d.info.mime_type);
        let info = render::media_info(&d.info);
        let (mime, size, md5) = (d.info.mime_type.clone(), d.info.size, d.info.md5.clone());
        let file_name = match files.write(&u.bytes, ext) {
            Ok(n) => n,
            Err(e) => {
                files.remove_all(&out.iter().map(|m| m.file_name.clone()).collect::<Vec<_>>());
                return Err(e.into());
            }
        };
        if let Some(c) = cache
            && !d.frames.is_empty()
        {
            c.put(&file_name, Arc::new(d));
        }
        out.push(NewMedia {
            id: Uuid::new_v4(),
            class,
            original_name: u.original_name.clone(),
            file_name,
            mime_type: mime,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            md5,
            info,
            tags: u.tags.clone(),
            meta_data: u.meta_data.clone(),
            technical_meta_data: Value::Object(serde_json::Map::new()),
            source_media_id: None,
            analysis_id: None,
        });
    }
    Ok(out)
}
