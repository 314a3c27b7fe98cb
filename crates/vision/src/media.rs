//! Media decoding: sniff the format, then decode an image, a video or a zip shot set into upright
//! RGB frames plus the facts Oz reports in `info` (size, md5, mime type, dimensions, duration, fps).

use std::io::{Cursor, Read};

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};
use md5::{Digest, Md5};
use serde::Serialize;

use crate::budget::{RequestBudget, Reservation};
use crate::error::VisionError;
use crate::imgops;
use crate::limits::MediaLimits;
use crate::video::{self, VideoInfo};

/// What kind of media the bytes hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MediaKind {
    Image,
    Video,
    ShotSet,
}

/// One upright RGB frame of a media.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Index in the source: frame index for videos, entry order for shot sets, 0 for images.
    pub index: u64,
    pub timestamp_s: Option<f64>,
    /// Entry name inside a shot set.
    pub name: Option<String>,
    pub image: RgbImage,
    /// Kept only as a best-shot candidate of a video (see [`crate::video::Sampling`]): analysed
    /// for the best shot, not counted in the even spread that liveness scores.
    pub candidate: bool,
}

/// The `info` facts of a decoded media (Oz `info.original` / `info.video`).
#[derive(Debug, Clone, Serialize)]
pub struct MediaInfo {
    pub kind: MediaKind,
    pub mime_type: String,
    pub size: u64,
    pub md5: String,
    /// Upright width and height of the image, video, or first shot.
    pub width: u32,
    pub height: u32,
    pub video: Option<VideoInfo>,
    /// Number of images in a shot set.
    pub shots: Option<usize>,
}

#[derive(Debug)]
pub struct DecodedMedia {
    pub info: MediaInfo,
    /// Frames to analyse: the image itself, sampled video frames, or the sampled shots.
    pub frames: Vec<Frame>,
    /// The decode budget held by `frames`, released when the media is dropped
    /// ([`Reservation::none`] for media made by hand).
    pub reservation: Reservation,
}

impl DecodedMedia {
    /// Media made from frames decoded elsewhere (not counted in any budget).
    #[must_use]
    pub fn untracked(info: MediaInfo, frames: Vec<Frame>) -> Self {
        Self { info, frames, reservation: Reservation::none() }
    }

    /// Bytes of RGB pixels held by the frames.
    #[must_use]
    pub fn frame_bytes(&self) -> u64 {
        self.frames.iter().map(|f| f.image.as_raw().len() as u64).sum()
    }

    /// One still image (not a video or a shot set): its one frame is its best.
    #[must_use]
    pub fn is_still(&self) -> bool {
        self.info.kind == MediaKind::Image && self.frames.len() == 1
    }

    /// A copy of frame `index` alone, with this media's `info` and the frame's bytes reserved in
    /// `budget`: all a best shot needs once the frames have been analysed. `None` when the frame
    /// is not here or the budget refuses it (give `budget` no wait: this is an optimisation).
    #[must_use]
    pub fn only_frame(&self, index: u64, budget: &RequestBudget) -> Option<DecodedMedia> {
        let frame = self.frames.iter().find(|f| f.index == index)?;
        let reservation = budget.reserve(frame.image.as_raw().len() as u64).ok()?;
        Some(Self { info: self.info.clone(), frames: vec![frame.clone()], reservation })
    }

    /// Drops the frames (keeping `info`) and gives their budget back.
    pub fn drop_frames(&mut self) {
        self.frames = Vec::new();
        self.reservation.release();
    }
}

impl Clone for DecodedMedia {
    /// A copy of the frames is not counted in the decode budget.
    fn clone(&self) -> Self {
        Self::untracked(self.info.clone(), self.frames.clone())
    }
}

/// Guesses the media kind from real container signatures. Anything else is refused before any
/// decoder sees it: the checks go past the first magic bytes (box sizes, brands, EBML doc type,
/// RIFF form type), so a text file that merely carries `ftyp` at offset 4 — a DASH or HLS
/// manifest in disguise — is not taken for a video.
#[must_use]
pub fn sniff(bytes: &[u8]) -> Option<MediaKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) || bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(MediaKind::Image)
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some(MediaKind::ShotSet)
    } else if is_video_container(bytes) {
        Some(MediaKind::Video)
    } else {
        None
    }
}

fn is_video_container(b: &[u8]) -> bool {
    is_iso_bmff(b) || is_matroska(b) || is_avi(b)
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// ISO base media (mp4, mov, 3gp): a well-formed `ftyp` box with a video brand, or (old QuickTime)
/// a first top-level atom of a known type whose size fits the file.
fn is_iso_bmff(b: &[u8]) -> bool {
    let Some(size) = be_u32(b, 0) else { return false };
    let Some(kind) = b.get(4..8) else { return false };
    // Brands are four printable characters (some writers pad the compatible list with zeros).
    let printable = |s: &[u8]| s.iter().all(|&c| (0x20..=0x7E).contains(&c));
    if kind == b"ftyp" {
        // size, type, major brand, minor version, then 4-byte compatible brands.
        let size = size as usize;
        if !(16..=1024).contains(&size) || !size.is_multiple_of(4) || size > b.len() {
            return false;
        }
        let major = &b[8..12];
        // Still-image and image-sequence brands of the same box format are not videos.
        const IMAGE_BRANDS: [&[u8; 4]; 12] = [
            b"jp2 ", b"jpx ", b"jpm ", b"mjp2", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis",
        ];
        let compatible = b[16..size].chunks_exact(4);
        printable(major)
            && !IMAGE_BRANDS.iter().any(|i| &major == i)
            && compatible.clone().all(|c| printable(c) || c == [0, 0, 0, 0])
            && !compatible.clone().any(|c| c == b"jp2 " || c == b"mif1")
    } else {
        // Before `ftyp` existed QuickTime files started with any of these atoms.
        let known = matches!(kind, b"moov" | b"mdat" | b"wide" | b"free" | b"skip" | b"pnot");
        // 0: the atom runs to the end of the file; 1: a 64-bit size follows.
        let plausible = size == 0 || size == 1 || (size >= 8 && size as usize <= b.len());
        known && plausible
    }
}

/// Matroska or WebM: the EBML magic, then an EBML header whose `DocType` is `matroska` or `webm`.
fn is_matroska(b: &[u8]) -> bool {
    if !b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return false;
    }
    let head = &b[..b.len().min(64)];
    // DocType element id 0x4282, a one-byte size (0x80 | n), then n bytes.
    head.windows(2).enumerate().filter(|(_, w)| w == &[0x42, 0x82]).any(|(i, _)| {
        let Some(&len) = head.get(i + 2) else { return false };
        if len & 0x80 == 0 {
            return false;
        }
        let n = usize::from(len & 0x7F);
        matches!(head.get(i + 3..i + 3 + n), Some(d) if d == b"matroska" || d == b"webm")
    })
}

/// AVI: a RIFF file of form type `AVI ` whose first chunk is the `hdrl` list.
fn is_avi(b: &[u8]) -> bool {
    b.len() >= 24 && b.starts_with(b"RIFF") && &b[8..12] == b"AVI " && &b[12..16] == b"LIST" && &b[20..24] == b"hdrl"
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Decodes any supported media under `limits`, outside any memory budget.
pub fn decode(bytes: &[u8], limits: &MediaLimits) -> Result<DecodedMedia, VisionError> {
    decode_in(bytes, limits, &RequestBudget::unlimited())
}

/// Decodes any supported media under `limits`, reserving the bytes of its frames in `budget`
/// (before decoding where the header tells the size: images and shots).
pub fn decode_in(bytes: &[u8], limits: &MediaLimits, budget: &RequestBudget) -> Result<DecodedMedia, VisionError> {
    check_size(bytes, limits)?;
    let mut reservation = budget.empty();
    let started = std::time::Instant::now();
    let (kind, media) = match sniff(bytes) {
        Some(MediaKind::Image) => ("image", decode_image_media(bytes, limits, &mut reservation)),
        Some(MediaKind::ShotSet) => ("shots", decode_shot_set(bytes, limits, &mut reservation)),
        Some(MediaKind::Video) => ("video", decode_video_media(bytes, limits, &mut reservation)),
        None => return Err(VisionError::UnsupportedFormat),
    };
    metrics::histogram!(crate::MEDIA_DECODE_SECONDS, "kind" => kind).record(started.elapsed());
    let mut media = media?;
    media.reservation = reservation;
    Ok(media)
}

fn check_size(bytes: &[u8], limits: &MediaLimits) -> Result<(), VisionError> {
    if bytes.is_empty() {
        return Err(VisionError::Empty);
    }
    let size = bytes.len() as u64;
    if size > limits.max_file_bytes {
        return Err(VisionError::FileTooLarge { size, limit: limits.max_file_bytes });
    }
    Ok(())
}

/// Decodes one JPEG or PNG into upright RGB8: EXIF orientation applied, greyscale expanded,
/// alpha composited over white. The pixel limit is checked from the header before decoding.
pub fn decode_image(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, VisionError> {
    decode_image_in(bytes, max_pixels, &mut Reservation::none())
}

/// [`decode_image`] that first grows `reservation` by what decoding will allocate (from the
/// header: the decoder's buffer, plus a copy for colour conversion or rotation), and afterwards
/// gives back all of that but the `w x h x 3` of the returned image.
pub fn decode_image_in(bytes: &[u8], max_pixels: u64, reservation: &mut Reservation) -> Result<RgbImage, VisionError> {
    if bytes.is_empty() {
        return Err(VisionError::Empty);
    }
    if !matches!(sniff(bytes), Some(MediaKind::Image)) {
        return Err(VisionError::UnsupportedFormat);
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| VisionError::UnreadableImage(e.to_string()))?;
    let mut lim = image::Limits::default();
    // Each side at most the whole pixel budget; the allocation bounded by 4 bytes a pixel plus slack.
    let side = u32::try_from(max_pixels.min(u64::from(u32::MAX))).unwrap_or(u32::MAX);
    lim.max_image_width = Some(side);
    lim.max_image_height = Some(side);
    lim.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(16 << 20));
    reader.limits(lim);
    let mut decoder = reader.into_decoder().map_err(|e| VisionError::UnreadableImage(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(VisionError::ImageTooLarge { width, height, limit: max_pixels });
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let before = reservation.bytes();
    let rgb_bytes = rgb_bytes(width, height);
    let mut need = decoder.total_bytes();
    if decoder.color_type() != image::ColorType::Rgb8 {
        need = need.saturating_add(rgb_bytes);
    }
    if orientation != image::metadata::Orientation::NoTransforms {
        need = need.saturating_add(rgb_bytes);
    }
    reservation.grow(need)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => VisionError::ImageTooLarge { width, height, limit: max_pixels },
        other => VisionError::UnreadableImage(other.to_string()),
    });
    if let Ok(img) = &mut img {
        img.apply_orientation(orientation);
    }
    let out = img.map(flatten_rgb);
    reservation.shrink_to(if out.is_ok() { before.saturating_add(rgb_bytes) } else { before });
    out
}

/// Bytes of an RGB8 image of `w x h`.
#[must_use]
pub fn rgb_bytes(w: u32, h: u32) -> u64 {
    u64::from(w) * u64::from(h) * 3
}

/// RGB8 from any colour type; alpha is composited over white so transparent areas do not turn black.
fn flatten_rgb(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(src[3]);
        for c in 0..3 {
            let v = (u16::from(src[c]) * a + 255 * (255 - a) + 127) / 255;
            dst[c] = u8::try_from(v).unwrap_or(255);
        }
    }
    out
}

fn image_mime(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") { "image/png" } else { "image/jpeg" }
}

fn decode_image_media(
    bytes: &[u8],
    limits: &MediaLimits,
    reservation: &mut Reservation,
) -> Result<DecodedMedia, VisionError> {
    let image = decode_image_in(bytes, limits.max_image_pixels, reservation)?;
    let info = MediaInfo {
        kind: MediaKind::Image,
        mime_type: image_mime(bytes).to_string(),
        size: bytes.len() as u64,
        md5: md5_hex(bytes),
        width: image.width(),
        height: image.height(),
        video: None,
        shots: None,
    };
    Ok(DecodedMedia::untracked(info, vec![Frame { index: 0, timestamp_s: None, name: None, image, candidate: false }]))
}

fn video_mime(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        "video/webm"
    } else if bytes.starts_with(b"RIFF") {
        "video/x-msvideo"
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && &bytes[8..10] == b"qt" {
        "video/quicktime"
    } else {
        "video/mp4"
    }
}

fn decode_video_media(
    bytes: &[u8],
    limits: &MediaLimits,
    reservation: &mut Reservation,
) -> Result<DecodedMedia, VisionError> {
    let before = reservation.bytes();
    // The decoder reserves its working set as soon as it knows the frame size (before decoding);
    // once the samples are RGB, only they stay reserved.
    let decoded =
        video::decode_video_bytes_in(bytes, sampling(limits), &limits.video, reservation).map_err(|e| match e {
            video::VideoError::Budget(inner) => *inner,
            other => VisionError::Video(other),
        })?;
    reservation.shrink_to(
        before.saturating_add(decoded.frames.iter().map(|f| rgb_bytes(f.image.width(), f.image.height())).sum()),
    );
    for f in &decoded.frames {
        let px = u64::from(f.image.width()) * u64::from(f.image.height());
        if px > limits.max_image_pixels {
            return Err(VisionError::ImageTooLarge {
                width: f.image.width(),
                height: f.image.height(),
                limit: limits.max_image_pixels,
            });
        }
    }
    let info = MediaInfo {
        kind: MediaKind::Video,
        mime_type: video_mime(bytes).to_string(),
        size: bytes.len() as u64,
        md5: md5_hex(bytes),
        width: decoded.info.width,
        height: decoded.info.height,
        video: Some(decoded.info),
        shots: None,
    };
    let frames = decoded
        .frames
        .into_iter()
        .map(|f| Frame {
            index: f.index,
            timestamp_s: Some(f.timestamp_s),
            name: None,
            image: f.image,
            candidate: f.candidate,
        })
        .collect();
    Ok(DecodedMedia::untracked(info, frames))
}

/// What a video decode returns under `limits`.
fn sampling(limits: &MediaLimits) -> video::Sampling {
    video::Sampling {
        spread: limits.sample_frames,
        candidates: limits.best_shot_candidates,
        max_side: limits.video_max_side,
    }
}

/// Picks `n` indices spread evenly over `0..len`, first and last included.
#[must_use]
pub fn spread_indices(len: usize, n: usize) -> Vec<usize> {
    if len == 0 || n == 0 {
        return Vec::new();
    }
    if n >= len {
        return (0..len).collect();
    }
    if n == 1 {
        return vec![len / 2];
    }
    let mut out: Vec<usize> = (0..n).map(|i| (i * (len - 1) + (n - 1) / 2) / (n - 1)).collect();
    out.dedup();
    out
}

/// A zip of images taken in name order and treated like a video: entries are checked for count,
/// declared and actual uncompressed size and path safety before any image is decoded. Each
/// sampled shot is scaled down to `limits.shot_max_side` before the next one is decoded, so the
/// peak is one full-size shot plus the small ones (all reserved in `reservation`).
fn decode_shot_set(
    bytes: &[u8],
    limits: &MediaLimits,
    reservation: &mut Reservation,
) -> Result<DecodedMedia, VisionError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| VisionError::UnreadableZip(e.to_string()))?;
    if archive.len() > limits.zip_max_entries {
        return Err(VisionError::ZipTooManyEntries { count: archive.len(), limit: limits.zip_max_entries });
    }
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| VisionError::UnreadableZip(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let raw = entry.name().to_string();
        // Backslashes are path separators to a Windows unzip: refused like `..` (defence in depth,
        // the names never reach the disk here).
        if entry.enclosed_name().is_none() || raw.contains('\\') {
            return Err(VisionError::ZipUnsafePath(raw));
        }
        declared = declared.saturating_add(entry.size());
        if declared > limits.zip_max_total_bytes {
            return Err(VisionError::ZipTooLarge { limit: limits.zip_max_total_bytes });
        }
        let base = raw.rsplit('/').next().unwrap_or(&raw);
        // macOS resource forks and hidden files are not shots.
        let lower = base.to_ascii_lowercase();
        let is_image = [".jpg", ".jpeg", ".png"].iter().any(|ext| lower.ends_with(ext));
        if raw.starts_with("__MACOSX/") || base.starts_with('.') || !is_image {
            continue;
        }
        names.push((raw, i));
    }
    names.sort();
    if names.is_empty() {
        return Err(VisionError::ZipEmpty);
    }
    let total = names.len();
    // The even spread (liveness and best shot), then up to `best_shot_candidates` more shots
    // from a denser spread, for the best shot only.
    let spread = spread_indices(total, limits.sample_frames.max(1));
    let denser = spread_indices(total, limits.sample_frames.max(1) + limits.best_shot_candidates);
    let extra: Vec<usize> =
        denser.into_iter().filter(|i| spread.binary_search(i).is_err()).take(limits.best_shot_candidates).collect();
    let mut picked: Vec<usize> = spread.iter().chain(&extra).copied().collect();
    picked.sort_unstable();
    let mut frames = Vec::with_capacity(picked.len());
    let mut first_size = None;
    let mut budget = limits.zip_max_total_bytes;
    for &pos in &picked {
        let (name, idx) = &names[pos];
        let entry = archive.by_index(*idx).map_err(|e| VisionError::UnreadableZip(e.to_string()))?;
        // The declared size may lie: read at most the remaining budget plus one byte.
        let mut buf = Vec::new();
        entry
            .take(budget.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| VisionError::UnreadableZip(e.to_string()))?;
        if buf.len() as u64 > budget {
            return Err(VisionError::ZipTooLarge { limit: limits.zip_max_total_bytes });
        }
        budget -= buf.len() as u64;
        let kept = reservation.bytes();
        let image = decode_image_in(&buf, limits.max_image_pixels, reservation).map_err(|e| match e {
            e @ (VisionError::OverBudget { .. } | VisionError::Busy) => e,
            e => VisionError::UnreadableImage(format!("{name}: {e}")),
        })?;
        drop(buf);
        if first_size.is_none() {
            first_size = Some(image.dimensions());
        }
        let image = shrink_to_side(image, limits.shot_max_side)?;
        reservation.shrink_to(kept.saturating_add(rgb_bytes(image.width(), image.height())));
        let candidate = spread.binary_search(&pos).is_err();
        frames.push(Frame { index: pos as u64, timestamp_s: None, name: Some(name.clone()), image, candidate });
    }
    // Oz reports the size of the shots as uploaded.
    let (width, height) = first_size.unwrap_or((0, 0));
    let info = MediaInfo {
        kind: MediaKind::ShotSet,
        mime_type: "application/zip".to_string(),
        size: bytes.len() as u64,
        md5: md5_hex(bytes),
        width,
        height,
        video: None,
        shots: Some(total),
    };
    Ok(DecodedMedia::untracked(info, frames))
}

/// `img` scaled down (aspect kept) so that its long side is at most `max_side`; unchanged when
/// already small enough or when `max_side` is 0.
fn shrink_to_side(img: RgbImage, max_side: u32) -> Result<RgbImage, VisionError> {
    let (w, h) = img.dimensions();
    let long = w.max(h);
    if max_side == 0 || long <= max_side {
        return Ok(img);
    }
    let scale = f64::from(max_side) / f64::from(long);
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, max_side);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, max_side);
    imgops::resize(&img, None, nw, nh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn encode_png(img: &DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).expect("encode png");
        out.into_inner()
    }

    #[test]
    fn huge_png_header_is_refused_before_allocation() {
        let bytes = crate::testdata::huge_png(50_000, 50_000);
        match decode_image(&bytes, 50_000_000) {
            Err(VisionError::ImageTooLarge { width: 50_000, height: 50_000, .. }) => {}
            other => panic!("expected ImageTooLarge, got {other:?}"),
        }
    }

    #[test]
    fn garbage_and_truncated_images_are_errors() {
        assert!(matches!(decode_image(b"", 100), Err(VisionError::Empty)));
        assert!(matches!(decode_image(b"hello world", 100), Err(VisionError::UnsupportedFormat)));
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 48, image::Rgb([10, 20, 30])));
        let png = encode_png(&img);
        assert!(decode_image(&png[..png.len() / 2], 1 << 20).is_err());
        assert!(decode_image(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0], 1 << 20).is_err());
    }

    #[test]
    fn exif_orientation_is_applied() {
        use image::ImageEncoder;
        // 40x20: left half red, right half blue; EXIF orientation 6 ("rotate 90° clockwise").
        let mut img = RgbImage::new(40, 20);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = if x < 20 { image::Rgb([220, 20, 20]) } else { image::Rgb([20, 20, 220]) };
        }
        let exif: Vec<u8> = vec![
            b'M', b'M', 0, 42, 0, 0, 0, 8, // TIFF header, IFD at 8
            0, 1, // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // Orientation = 6
            0, 0, 0, 0, // no next IFD
        ];
        let mut jpeg = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
        enc.set_exif_metadata(exif).expect("exif");
        enc.write_image(img.as_raw(), 40, 20, image::ExtendedColorType::Rgb8).expect("encode");
        let out = decode_image(&jpeg, 1 << 20).expect("decodes");
        assert_eq!(out.dimensions(), (20, 40), "rotated to portrait");
        // Rotating clockwise puts the left (red) half on top.
        let top = out.get_pixel(10, 5);
        let bottom = out.get_pixel(10, 35);
        assert!(top[0] > 150 && top[2] < 100, "top is red: {top:?}");
        assert!(bottom[2] > 150 && bottom[0] < 100, "bottom is blue: {bottom:?}");
    }

    #[test]
    fn grey_and_alpha_become_rgb() {
        let grey = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(8, 4, image::Luma([77])));
        let rgb = decode_image(&encode_png(&grey), 1 << 20).expect("grey");
        assert_eq!(rgb.dimensions(), (8, 4));
        assert_eq!(rgb.get_pixel(0, 0).0, [77, 77, 77]);
        let transparent = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(4, 4, image::Rgba([0, 0, 0, 0])));
        let rgb = decode_image(&encode_png(&transparent), 1 << 20).expect("rgba");
        assert_eq!(rgb.get_pixel(1, 1).0, [255, 255, 255]);
    }

    #[test]
    fn spread_indices_cover_whole_range() {
        assert_eq!(spread_indices(10, 3), vec![0, 5, 9]);
        assert_eq!(spread_indices(3, 8), vec![0, 1, 2]);
        assert_eq!(spread_indices(120, 8).len(), 8);
        assert_eq!(spread_indices(120, 8).last(), Some(&119));
        assert!(spread_indices(0, 4).is_empty());
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for (name, data) in entries {
            w.start_file(*name, opts).expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn shot_set_in_name_order_with_limits() {
        let a = encode_png(&DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 4, image::Rgb([1, 1, 1]))));
        let b = encode_png(&DynamicImage::ImageRgb8(RgbImage::from_pixel(6, 6, image::Rgb([2, 2, 2]))));
        let z = zip_of(&[("b.png", &b), ("a.png", &a), ("__MACOSX/._a.png", b"junk")]);
        let m = decode(&z, &MediaLimits::default()).expect("zip decodes");
        assert_eq!(m.info.kind, MediaKind::ShotSet);
        assert_eq!(m.info.shots, Some(2));
        assert_eq!(m.frames[0].name.as_deref(), Some("a.png"));
        assert_eq!(m.frames[1].image.dimensions(), (6, 6));

        let limits = MediaLimits { zip_max_entries: 1, ..MediaLimits::default() };
        assert!(matches!(decode(&z, &limits), Err(VisionError::ZipTooManyEntries { .. })));
        let limits = MediaLimits { zip_max_total_bytes: 10, ..MediaLimits::default() };
        assert!(matches!(decode(&z, &limits), Err(VisionError::ZipTooLarge { .. })));

        let evil = zip_of(&[("../../etc/passwd.png", &a)]);
        assert!(matches!(decode(&evil, &MediaLimits::default()), Err(VisionError::ZipUnsafePath(_))));
        let empty = zip_of(&[("readme.txt", b"")]);
        assert!(matches!(decode(&empty, &MediaLimits::default()), Err(VisionError::ZipEmpty)));
        assert!(matches!(decode(b"PK\x03\x04garbage", &MediaLimits::default()), Err(VisionError::UnreadableZip(_))));
    }

    fn fixture_video(name: &str) -> Vec<u8> {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/videos/");
        std::fs::read(format!("{p}{name}")).expect("read fixture")
    }

    #[test]
    fn sniff_accepts_real_containers() {
        for name in ["portrait_720x1280.mp4", "clip.mov", "clip.webm", "clip.avi", "rot90.mp4"] {
            assert_eq!(sniff(&fixture_video(name)), Some(MediaKind::Video), "{name}");
        }
        // Old QuickTime without ftyp: the first atom is moov or mdat.
        let mut moov = vec![0, 0, 0, 16];
        moov.extend_from_slice(b"moov");
        moov.extend_from_slice(&[0; 8]);
        assert_eq!(sniff(&moov), Some(MediaKind::Video));
        let mut mdat = vec![0, 0, 0, 0];
        mdat.extend_from_slice(b"mdat");
        assert_eq!(sniff(&mdat), Some(MediaKind::Video));
    }

    #[test]
    fn sniff_refuses_disguised_manifests_and_lookalikes() {
        // The reported attack: an HTML comment that puts "ftyp" at offset 4, then a DASH manifest.
        let dash = b"<!--ftypjp2 -->\n<MPD><BaseURL>http://127.0.0.1:9/</BaseURL></MPD>";
        assert_eq!(sniff(dash), None);
        assert_eq!(sniff(b"#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:9/a.ts\n"), None);
        assert_eq!(sniff(b"ffconcat version 1.0\nfile 'file:/etc/passwd'\n"), None);
        // An ftyp box whose size runs past the data, or is not a box size at all.
        assert_eq!(sniff(b"\0\0\x10\0ftypisom\0\0\0\0"), None);
        assert_eq!(sniff(b"\0\0\0\x11ftypisom\0\0\0\0isom"), None);
        // JPEG 2000 and HEIF share the box format but are still images.
        let mut jp2 = vec![0, 0, 0, 20];
        jp2.extend_from_slice(b"ftypjp2 \0\0\0\0jp2 ");
        assert_eq!(sniff(&jp2), None);
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        assert_eq!(sniff(&heic), None);
        // EBML of another document type; RIFF of another form (WAVE); a bare "moov" that claims
        // more bytes than there are.
        let mut ebml = vec![0x1A, 0x45, 0xDF, 0xA3, 0x8B, 0x42, 0x82, 0x88];
        ebml.extend_from_slice(b"xmlmatro");
        assert_eq!(sniff(&ebml), None);
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0"), None);
        assert_eq!(sniff(b"\0\0\x10\0moov"), None);
        // Refused before decoding: the error is the format, not something FFmpeg said.
        assert!(matches!(decode(dash, &MediaLimits::default()), Err(VisionError::UnsupportedFormat)));
    }

    #[test]
    fn video_working_set_is_reserved_before_decoding() {
        use crate::budget::{BudgetConfig, DecodeBudget};
        let clip = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/videos/portrait_720x1280.mp4"),
        )
        .expect("fixture");
        // The spread alone (candidates are counted like samples; see video.rs's tests).
        let limits = MediaLimits { best_shot_candidates: 0, ..MediaLimits::default() };
        let samples = rgb_bytes(720, 1280) * limits.sample_frames as u64;
        let yuv = 720 * 1280 * 3 / 2;

        // Room to spare: the peak covers the decoder's frames and the held ones besides the RGB
        // samples, and only the samples stay reserved afterwards.
        let b = DecodeBudget::new(BudgetConfig {
            total_bytes: 1 << 30,
            request_bytes: 1 << 30,
            wait: std::time::Duration::ZERO,
        });
        let req = b.request();
        let m = decode_in(&clip, &limits, &req).expect("decodes");
        assert_eq!(m.frames.len(), limits.sample_frames);
        assert_eq!(req.used(), samples, "only the RGB samples stay reserved");
        assert!(
            req.peak() >= samples + (limits.sample_frames as u64 + 1) * yuv,
            "peak {} must count the frames held while decoding, not only the {} of RGB",
            req.peak(),
            samples
        );
        drop(m);
        assert_eq!(b.used(), 0);

        // Room for the RGB samples but not for decoding them: refused, and nothing left reserved.
        let b = DecodeBudget::new(BudgetConfig {
            total_bytes: 1 << 30,
            request_bytes: samples + yuv,
            wait: std::time::Duration::ZERO,
        });
        let req = b.request();
        assert!(matches!(decode_in(&clip, &limits, &req), Err(VisionError::OverBudget { .. })));
        assert_eq!((req.used(), b.used()), (0, 0));
        assert!(req.peak() <= samples + yuv);
    }

    #[test]
    fn shots_are_scaled_down_while_decoding_and_budgeted() {
        use crate::budget::{BudgetConfig, DecodeBudget};
        let big = encode_png(&DynamicImage::ImageRgb8(RgbImage::from_pixel(3000, 2000, image::Rgb([90, 90, 90]))));
        let z = zip_of(&[("1.png", &big), ("2.png", &big), ("3.png", &big)]);
        let full = rgb_bytes(3000, 2000);
        // Room for one full-size shot plus the small ones, not for three full-size shots.
        let b = DecodeBudget::new(BudgetConfig {
            total_bytes: full + (8 << 20),
            request_bytes: full + (8 << 20),
            wait: std::time::Duration::ZERO,
        });
        let req = b.request();
        let limits = MediaLimits { shot_max_side: 1280, ..MediaLimits::default() };
        let m = decode_in(&z, &limits, &req).expect("fits one full shot at a time");
        assert_eq!(m.frames.len(), 3);
        for f in &m.frames {
            assert_eq!(f.image.dimensions(), (1280, 853));
            assert_eq!(f.image.get_pixel(600, 400).0, [90, 90, 90]);
        }
        assert_eq!((m.info.width, m.info.height), (3000, 2000), "info keeps the uploaded size");
        assert_eq!(m.reservation.bytes(), 3 * rgb_bytes(1280, 853));
        assert_eq!(req.used(), m.frame_bytes());
        assert_eq!(b.used(), m.frame_bytes());
        drop(m);
        assert_eq!(b.used(), 0, "dropping the media gives the budget back");

        // Without downscaling the same set does not fit: refused, nothing left reserved.
        let limits = MediaLimits { shot_max_side: 0, ..MediaLimits::default() };
        assert!(matches!(decode_in(&z, &limits, &req), Err(VisionError::OverBudget { .. })));
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn image_reserves_from_header_and_keeps_rgb_size() {
        use crate::budget::{BudgetConfig, DecodeBudget};
        let png =
            encode_png(&DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(100, 50, image::Rgba([1, 2, 3, 255]))));
        let cfg = BudgetConfig { total_bytes: 1 << 20, request_bytes: 1 << 20, wait: std::time::Duration::ZERO };
        let b = DecodeBudget::new(cfg);
        let m = decode_in(&png, &MediaLimits::default(), &b.request()).expect("decodes");
        assert_eq!(b.used(), rgb_bytes(100, 50));
        drop(m);
        // The header's RGBA buffer plus the RGB copy (35,000 bytes) does not fit 30,000 bytes.
        let b = DecodeBudget::new(BudgetConfig { total_bytes: 30_000, request_bytes: 30_000, ..cfg });
        assert!(matches!(
            decode_in(&png, &MediaLimits::default(), &b.request()),
            Err(VisionError::OverBudget { need: 35_000, limit: 30_000 })
        ));
        assert_eq!(b.used(), 0);
        // A 50k x 50k header under the pixel limit is refused by the budget before any allocation.
        let huge = crate::testdata::huge_png(50_000, 50_000);
        let limits = MediaLimits { max_image_pixels: u64::MAX, ..MediaLimits::default() };
        assert!(matches!(decode_in(&huge, &limits, &b.request()), Err(VisionError::OverBudget { .. })));
    }

    #[test]
    fn size_limit_and_unknown_format() {
        let limits = MediaLimits { max_file_bytes: 4, ..MediaLimits::default() };
        assert!(matches!(decode(b"12345", &limits), Err(VisionError::FileTooLarge { .. })));
        assert!(matches!(decode(b"12345", &MediaLimits::default()), Err(VisionError::UnsupportedFormat)));
    }
}
