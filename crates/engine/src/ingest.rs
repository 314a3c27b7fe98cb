//! Turning an uploaded file into a stored media: decode it (refusing what cannot be read), record
//! Oz's `info` facts, make its JPEG preview (and the mp4 of a zip shot set's shots) from the
//! frames just decoded, write the files. Runs on a blocking thread.

use md5::{Digest, Md5};
use oz_domain::assign::MediaClass;
use oz_storage::folders::NewMedia;
use oz_vision::encode::{self, EncodedVideo, Preview, ShotVideoConfig};
use oz_vision::media::{DecodedMedia, Frame, MediaKind};
use oz_vision::{Pipeline, VisionError};
use serde_json::Value;
use uuid::Uuid;

use std::sync::Arc;
use std::time::Instant;

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

/// What is made at upload beside the original, from its decoded frames.
#[derive(Debug, Default)]
struct Derived {
    preview: Option<Preview>,
    /// Zip shot sets only.
    video: Option<EncodedVideo>,
}

/// The frame a preview is made from: the image, the middle sampled frame of a video (a selfie
/// clip often starts before the face is framed), the first shot of a shot set (name order).
fn preview_frame(d: &DecodedMedia) -> Option<&Frame> {
    let i = if d.info.kind == MediaKind::Video { d.frames.len() / 2 } else { 0 };
    d.frames.get(i)
}

/// The preview and, for a shot set, the assembled mp4. Neither refuses an upload: a failure is
/// logged and leaves the field empty (`preview_url` / `video_url` null).
fn derive(key: &str, d: &DecodedMedia) -> Derived {
    let t = Instant::now();
    let preview = match preview_frame(d).map(|f| encode::preview_jpeg(&f.image, encode::PREVIEW_LONG_SIDE)) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            tracing::warn!(key, error = %e, "cannot make the preview of an upload; stored without one");
            None
        }
        None => None,
    };
    let preview_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut video = None;
    if d.info.kind == MediaKind::ShotSet {
        let t = Instant::now();
        // The shots the analyses use (sampled, in name order), at most `max_frames` of them.
        let cfg = ShotVideoConfig::default();
        let shots: Vec<_> = oz_vision::media::spread_indices(d.frames.len(), cfg.max_frames)
            .into_iter()
            .filter_map(|i| d.frames.get(i).map(|f| &f.image))
            .collect();
        match encode::shots_to_mp4(&shots, &cfg) {
            Ok(v) => {
                tracing::debug!(
                    key,
                    shots = v.frames,
                    bytes = v.mp4.len(),
                    encoder = v.encoder,
                    ms = t.elapsed().as_secs_f64() * 1000.0,
                    "shot set video assembled"
                );
                video = Some(v);
            }
            Err(e) => tracing::warn!(key, error = %e, "cannot assemble the shot set's video; stored without one"),
        }
    }
    tracing::debug!(key, preview_ms, "upload preview made");
    Derived { preview, video }
}

/// Writes a derived file; a failure is logged and leaves it out (the upload goes on without it).
fn write_derived(files: &MediaFiles, bytes: &[u8], ext: &str, key: &str, what: &str) -> Option<String> {
    match files.write(bytes, ext) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(key, error = %e, "cannot store the {what} of an upload; stored without it");
            None
        }
    }
}

/// Oz's `info.thumb` for a preview: the facts `info.original` gives for an image.
fn thumb_info(p: &Preview) -> oz_wire::folder::ImageInfo {
    render::image_info(&hex::encode(Md5::digest(&p.jpeg)), p.width, p.height, p.jpeg.len() as u64, "image/jpeg")
}

/// Decodes every upload first (nothing is written if one is unreadable), then writes the files.
/// On a write error the files already written are removed. The uploads are one request of the
/// decode budget; frames are kept only as long as the cache can take them (the others are
/// dropped right after decoding and decoded again by the worker), after the preview (and a shot
/// set's video) have been made from them.
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
        let derived = derive(&u.key, &d);
        let size = d.frame_bytes();
        if kept.saturating_add(size) <= room {
            kept += size;
        } else {
            d.drop_frames();
        }
        decoded.push((d, derived));
    }
    let mut out: Vec<NewMedia> = Vec::with_capacity(uploads.len());
    for (u, (d, derived)) in uploads.iter().zip(decoded) {
        let (ext, class) = ext_and_class(d.info.kind, &d.info.mime_type);
        let mut info = render::media_info(&d.info);
        let (mime, size, md5) = (d.info.mime_type.clone(), d.info.size, d.info.md5.clone());
        let file_name = match files.write(&u.bytes, ext) {
            Ok(n) => n,
            Err(e) => {
                files.remove_all(&out.iter().flat_map(NewMedia::files).collect::<Vec<_>>());
                return Err(e.into());
            }
        };
        let preview_file = derived.preview.as_ref().and_then(|pv| {
            let name = write_derived(files, &pv.jpeg, "jpg", &u.key, "preview")?;
            info.thumb = Some(thumb_info(pv));
            Some(name)
        });
        let video_file = derived.video.as_ref().and_then(|v| write_derived(files, &v.mp4, "mp4", &u.key, "video"));
        if let Some(c) = cache
            && !d.frames.is_empty()
        {
            c.put(&file_name, Arc::new(d));
        }
        out.push(NewMedia {
            id: Uuid::new_v4(),
            class,
            file: oz_storage::StoredFile {
                original_name: u.original_name.clone(),
                file_name,
                mime_type: mime,
                size: i64::try_from(size).unwrap_or(i64::MAX),
                md5,
                info: oz_wire::json::value(&info),
            },
            tags: u.tags.clone(),
            meta_data: u.meta_data.clone(),
            technical_meta_data: Value::Object(serde_json::Map::new()),
            source_media_id: None,
            analysis_id: None,
            preview_file,
            video_file,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oz_vision::media::MediaInfo;

    fn media(kind: MediaKind, frames: Vec<image::RgbImage>) -> DecodedMedia {
        let info = MediaInfo {
            kind,
            mime_type: "application/zip".into(),
            size: 1,
            md5: String::new(),
            width: 0,
            height: 0,
            video: None,
            shots: Some(frames.len()),
        };
        let frames = frames
            .into_iter()
            .enumerate()
            .map(|(i, image)| Frame { index: i as u64, timestamp_s: None, name: None, image, candidate: false })
            .collect();
        DecodedMedia::untracked(info, frames)
    }

    #[test]
    fn shot_set_gets_a_preview_of_its_first_shot_and_a_video() {
        let shots = vec![
            image::RgbImage::from_pixel(400, 200, image::Rgb([200, 10, 10])),
            image::RgbImage::from_pixel(300, 300, image::Rgb([10, 200, 10])),
        ];
        let d = derive("shots", &media(MediaKind::ShotSet, shots));
        let p = d.preview.expect("preview");
        assert_eq!((p.width, p.height), (320, 160), "the first shot, long side 320");
        let v = d.video.expect("video");
        assert_eq!((v.frames, v.width, v.height), (2, 400, 200));
    }

    #[test]
    fn nothing_to_show_leaves_both_empty_without_failing() {
        let d = derive("empty", &media(MediaKind::ShotSet, Vec::new()));
        assert!(d.preview.is_none() && d.video.is_none());
        // Images and videos get no assembled video.
        let img = vec![image::RgbImage::from_pixel(64, 32, image::Rgb([1, 2, 3]))];
        let d = derive("photo", &media(MediaKind::Image, img));
        assert_eq!(d.preview.map(|p| (p.width, p.height)), Some((64, 32)));
        assert!(d.video.is_none());
    }
}
