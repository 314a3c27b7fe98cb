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
/// On a write error the files already written are removed.
pub fn ingest(
    p: &Pipeline,
    files: &MediaFiles,
    cache: Option<&DecodeCache>,
    uploads: &[Upload],
) -> Result<Vec<NewMedia>, IngestError> {
    let mut decoded = Vec::with_capacity(uploads.len());
    for u in uploads {
        let d = p.decode(&u.bytes).map_err(|e| IngestError::Unreadable { name: u.key.clone(), source: e })?;
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
        if let Some(c) = cache {
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
