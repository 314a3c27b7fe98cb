//! Media decoding: sniff the format, then decode an image, a video or a zip shot set into upright
//! RGB frames plus the facts Oz reports in `info` (size, md5, mime type, dimensions, duration, fps).

use std::io::{Cursor, Read};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};
use md5::{Digest, Md5};
use serde::Serialize;

use crate::budget::{Reclaim, RequestBudget, Reservation};
use crate::error::VisionError;
use crate::imgops;
use crate::limits::MediaLimits;
use crate::video::{self, VideoInfo, VideoLimits};

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

/// A decoded media kept only for reuse (the upload→analysis decode cache, the best frame a shared
/// analysis keeps for its best shot). Its frames stay counted in the decode budget, but as a
/// [`Reclaim`]er: a decode that finds the budget full takes them back first (when nothing else
/// is using them: an analysis reading them keeps them) instead of waiting, so cached frames never
/// make a request wait or answer 503. Whoever finds them gone decodes the media again.
#[derive(Debug)]
pub struct CachedMedia {
    slot: Arc<CachedSlot>,
}

#[derive(Debug)]
struct CachedSlot(Mutex<Option<Arc<DecodedMedia>>>);

impl Reclaim for CachedSlot {
    fn reclaim(&self) -> u64 {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Clones are only made under this lock: a count of one means nobody else holds it.
        let Some(bytes) = held.as_ref().filter(|m| Arc::strong_count(m) == 1).map(|m| m.reservation.bytes()) else {
            return 0;
        };
        *held = None;
        bytes
    }
}

impl CachedMedia {
    /// Keeps `media`, registered with the decode budget it is reserved in (media outside any
    /// budget are simply kept).
    #[must_use]
    pub fn new(media: Arc<DecodedMedia>) -> Self {
        let budget = media.reservation.budget().cloned();
        let slot = Arc::new(CachedSlot(Mutex::new(Some(media))));
        if let Some(b) = budget {
            let weak: Weak<dyn Reclaim> = Arc::downgrade(&slot) as Weak<CachedSlot>;
            b.register_cached(weak);
        }
        Self { slot }
    }

    /// The media, unless the budget took it back.
    #[must_use]
    pub fn get(&self) -> Option<Arc<DecodedMedia>> {
        self.slot.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The media, let go by this cache (unless the budget took it back already).
    #[must_use]
    pub fn take(&self) -> Option<Arc<DecodedMedia>> {
        self.slot.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Whether the media is still here.
    #[must_use]
    pub fn is_held(&self) -> bool {
        self.slot.0.lock().unwrap_or_else(PoisonError::into_inner).is_some()
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
/// (before decoding where the header tells the size: images and shots), and charging the work to
/// the request ([`crate::budget::WorkLimits`]): the frames it will hand to the models before
/// decoding, the pixels as they are decoded, and the time spent. Every decode has a deadline:
/// `limits.video.decode_timeout` (videos and zip shot sets alike), or less when the request has
/// less decoding time left.
pub fn decode_in(bytes: &[u8], limits: &MediaLimits, budget: &RequestBudget) -> Result<DecodedMedia, VisionError> {
    check_size(bytes, limits)?;
    let own = limits.video.decode_timeout;
    let timeout = budget.decode_time_left(own)?;
    let limits =
        &MediaLimits { video: VideoLimits { decode_timeout: timeout, ..limits.video.clone() }, ..limits.clone() };
    let mut reservation = budget.empty();
    let started = Instant::now();
    let deadline = started.checked_add(timeout);
    let (kind, media) = match sniff(bytes) {
        Some(MediaKind::Image) => {
            ("image", budget.charge_frames(1).and_then(|()| decode_image_media(bytes, limits, &mut reservation)))
        }
        Some(MediaKind::ShotSet) => ("shots", decode_shot_set(bytes, limits, &mut reservation, deadline)),
        Some(MediaKind::Video) => {
            let planned = (limits.sample_frames + limits.best_shot_candidates) as u64;
            let media =
                budget.charge_frames(planned).and_then(|()| decode_video_media(bytes, limits, &mut reservation));
            if let Ok(m) = &media {
                budget.refund_frames(planned.saturating_sub(m.frames.len() as u64));
            }
            ("video", media)
        }
        None => return Err(VisionError::UnsupportedFormat),
    };
    budget.charge_time(started.elapsed());
    metrics::histogram!(crate::MEDIA_DECODE_SECONDS, "kind" => kind).record(started.elapsed());
    let mut media = media.map_err(|e| match e {
        // Stopped by what the request had left, not by this decode's own deadline.
        VisionError::Video(video::VideoError::Timeout(_)) | VisionError::DecodeTimeout(_) if timeout < own => {
            budget.out_of_time()
        }
        e => e,
    })?;
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
    reservation.charge_pixels(u64::from(width) * u64::from(height))?;
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

/// The signature that opens a zip central-directory record.
const CENTRAL_RECORD: &[u8] = b"PK\x01\x02";

/// Most `PK\x01\x02` byte runs a shot set may hold before the zip crate is asked to read it: the
/// entry limit plus a margin for chance matches in compressed data (a 4-byte pattern: about one
/// in 4 GiB of random bytes) and for stored entries that are zips themselves.
fn central_records_cap(max_entries: usize) -> usize {
    max_entries.saturating_mul(2).max(max_entries.saturating_add(64))
}

/// A zip of images taken in name order and treated like a video: entries are checked for count,
/// declared and actual uncompressed size and path safety before any image is decoded. Each
/// sampled entry is inflated as a stream into a buffer reserved in the decode budget (refused as
/// soon as it passes `limits.zip_max_entry_bytes`), decoded, and scaled down to
/// `limits.shot_max_side` before the next one is read, so the peak is one entry's bytes plus one
/// full-size shot plus the small ones (all reserved in `reservation`). The frames handed to the
/// models are charged to the request before the first shot is read, and the whole decode stops at
/// `deadline`.
fn decode_shot_set(
    bytes: &[u8],
    limits: &MediaLimits,
    reservation: &mut Reservation,
    deadline: Option<Instant>,
) -> Result<DecodedMedia, VisionError> {
    let timeout = || VisionError::DecodeTimeout(limits.video.decode_timeout.as_secs_f64());
    // The zip crate parses every central-directory record into a struct of a few hundred bytes
    // before the entry count can be checked: a 100 MiB body of 49-byte records would cost hundreds
    // of MB. Each record it parses starts with its own `PK\x01\x02`, so counting those bytes first
    // bounds that work (one pass, no allocation); the margin lets stray matches inside compressed
    // data through, and the exact count is checked below.
    let records = memchr::memmem::find_iter(bytes, CENTRAL_RECORD).count();
    if records > central_records_cap(limits.zip_max_entries) {
        return Err(VisionError::ZipTooManyEntries { count: records, limit: limits.zip_max_entries });
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| VisionError::UnreadableZip(e.to_string()))?;
    if archive.len() > limits.zip_max_entries {
        return Err(VisionError::ZipTooManyEntries { count: archive.len(), limit: limits.zip_max_entries });
    }
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| VisionError::UnreadableZip(e.to_string()))?;
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
        if entry.size() > limits.zip_max_entry_bytes {
            return Err(VisionError::ZipEntryTooLarge { name: raw, limit: limits.zip_max_entry_bytes });
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
    reservation.charge_frames(picked.len() as u64)?;
    let mut frames = Vec::with_capacity(picked.len());
    let mut first_size = None;
    let mut budget = limits.zip_max_total_bytes;
    for &pos in &picked {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(timeout());
        }
        let (name, idx) = &names[pos];
        let entry = archive.by_index(*idx).map_err(|e| VisionError::UnreadableZip(e.to_string()))?;
        let kept = reservation.bytes();
        // The declared size may lie: the stream is cut at the entry cap or at what is left of the
        // archive's, whichever is smaller.
        let (cap, over) = if limits.zip_max_entry_bytes <= budget {
            (
                limits.zip_max_entry_bytes,
                VisionError::ZipEntryTooLarge { name: name.clone(), limit: limits.zip_max_entry_bytes },
            )
        } else {
            (budget, VisionError::ZipTooLarge { limit: limits.zip_max_total_bytes })
        };
        let declared = entry.size();
        let buf =
            inflate_entry(entry, name, Inflate { declared, cap, over, deadline, timeout: &timeout }, reservation)?;
        budget -= buf.len() as u64;
        let image = decode_image_in(&buf, limits.max_image_pixels, reservation).map_err(|e| match e {
            e @ (VisionError::OverBudget { .. } | VisionError::Busy | VisionError::TooMuchWork { .. }) => e,
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

/// How one zip entry is inflated (see [`inflate_entry`]).
struct Inflate<'a> {
    /// The size the archive declares (trusted for the first allocation only).
    declared: u64,
    /// The most bytes the entry may inflate to.
    cap: u64,
    /// The refusal past `cap`.
    over: VisionError,
    deadline: Option<Instant>,
    /// The refusal at `deadline`.
    timeout: &'a dyn Fn() -> VisionError,
}

/// Bytes inflated between two looks at the clock.
const INFLATE_CHUNK: usize = 64 << 10;

/// Inflates one zip entry as a stream into a buffer whose every byte of capacity is reserved in
/// `reservation` before it is allocated (the entry's declared size first, then doubling when the
/// declared size lied, never past `cap`). Refused with `over` as soon as the stream passes `cap`
/// bytes, with a plain error as soon as its first bytes are not a JPEG or PNG signature, and at
/// `deadline`. The bytes stay reserved as long as the buffer lives (the caller shrinks the
/// reservation once it has dropped it).
fn inflate_entry(
    mut entry: impl Read,
    name: &str,
    how: Inflate<'_>,
    reservation: &mut Reservation,
) -> Result<Vec<u8>, VisionError> {
    let Inflate { declared, cap, over, deadline, timeout } = how;
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut buf: Vec<u8> = Vec::new();
    // Bytes of `buf`'s capacity reserved so far.
    let mut reserved: u64 = 0;
    let mut chunk = vec![0u8; INFLATE_CHUNK];
    let mut checked = false;
    loop {
        let n = match entry.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(VisionError::UnreadableZip(format!("{name}: {e}"))),
        };
        let len = buf.len().saturating_add(n);
        if len > cap {
            return Err(over);
        }
        // What is no image is refused at its first bytes, before the buffer is allocated.
        if !checked && len >= 8 {
            checked = true;
            let mut head = [0u8; 8];
            let from_buf = buf.len().min(8);
            head[..from_buf].copy_from_slice(&buf[..from_buf]);
            head[from_buf..].copy_from_slice(&chunk[..8 - from_buf]);
            if sniff(&head) != Some(MediaKind::Image) {
                return Err(VisionError::UnreadableImage(format!("{name}: not a JPEG or PNG image")));
            }
        }
        if len > buf.capacity() {
            // The declared size first (one allocation for an honest archive), then doubling.
            let first = if checked { usize::try_from(declared).unwrap_or(usize::MAX) } else { 0 };
            let want = if buf.capacity() == 0 { first.max(INFLATE_CHUNK) } else { buf.capacity().saturating_mul(2) };
            let want = want.max(len).min(cap);
            reservation.grow((want as u64).saturating_sub(reserved))?;
            reserved = reserved.max(want as u64);
            buf.try_reserve_exact(want - buf.len())
                .map_err(|e| VisionError::UnreadableZip(format!("{name}: cannot allocate {want} bytes: {e}")))?;
            // The allocator may give more: whatever the buffer holds is reserved.
            let extra = (buf.capacity() as u64).saturating_sub(reserved);
            reservation.grow(extra)?;
            reserved += extra;
        }
        buf.extend_from_slice(&chunk[..n]);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(timeout());
        }
    }
    Ok(buf)
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

        // Central-directory records are counted before the zip crate parses them: 200 records
        // and no end-of-directory record would be "unreadable" to the crate, after parsing.
        let mut flood = b"PK\x03\x04".to_vec();
        for _ in 0..200 {
            flood.extend_from_slice(CENTRAL_RECORD);
            flood.extend_from_slice(&[0u8; 45]);
        }
        assert!(matches!(
            decode(&flood, &MediaLimits::default()),
            Err(VisionError::ZipTooManyEntries { count: 200, limit: 64 })
        ));
        let mut fewer = b"PK\x03\x04".to_vec();
        for _ in 0..central_records_cap(64) {
            fewer.extend_from_slice(CENTRAL_RECORD);
        }
        assert!(matches!(decode(&fewer, &MediaLimits::default()), Err(VisionError::UnreadableZip(_))));

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

    fn fixture(rel: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(rel))
            .expect("fixture")
    }

    fn budget(request: u64, work: crate::budget::WorkLimits) -> (crate::budget::DecodeBudget, RequestBudget) {
        use crate::budget::{BudgetConfig, DecodeBudget};
        let b = DecodeBudget::new(BudgetConfig {
            total_bytes: 1 << 40,
            request_bytes: request,
            wait: std::time::Duration::ZERO,
        });
        let r = b.request().with_work(work);
        (b, r)
    }

    /// A zip whose one deflated entry `a.jpg` is a real photo followed by `zeros` zero bytes
    /// (250 MB of them deflate to about 250 KB); with `forged`, the uncompressed size its local
    /// and central headers declare.
    fn photo_bomb(zeros: usize, forged: Option<u32>) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file("a.jpg", opts).expect("start");
        w.write_all(&fixture("faces/live/obama__portrait.jpg")).expect("write");
        let block = vec![0u8; 1 << 20];
        for _ in 0..zeros >> 20 {
            w.write_all(&block).expect("write");
        }
        let mut z = w.finish().expect("finish").into_inner();
        if let Some(size) = forged {
            // (signature, offset of the 32-bit uncompressed size) of the local and central headers.
            for (sig, off) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
                let at: Vec<usize> =
                    z.windows(4).enumerate().filter(|(_, w)| *w == sig.as_slice()).map(|(i, _)| i).collect();
                for i in at {
                    z[i + off..i + off + 4].copy_from_slice(&size.to_le_bytes());
                }
            }
        }
        z
    }

    #[test]
    fn zip_entry_inflates_within_the_budget_and_stops_at_its_cap() {
        use crate::budget::WorkLimits;
        let limits = MediaLimits::default();
        let cap = limits.zip_max_entry_bytes;
        // An entry that declares its 250 MB is refused from the directory: nothing is inflated.
        let honest = photo_bomb(250 << 20, None);
        assert!(honest.len() < 2 << 20, "a small upload: {} bytes", honest.len());
        let (b, req) = budget(1 << 30, WorkLimits::UNLIMITED);
        match decode_in(&honest, &limits, &req) {
            Err(VisionError::ZipEntryTooLarge { name, limit }) => assert_eq!((name.as_str(), limit), ("a.jpg", cap)),
            other => panic!("expected ZipEntryTooLarge, got {other:?}"),
        }
        assert_eq!(req.peak(), 0, "refused before inflating");
        // One that lies (declares 1000 bytes) is inflated as a stream into reserved memory and
        // refused as soon as it passes the cap: never more than the cap held, all of it counted.
        let lying = photo_bomb(250 << 20, Some(1000));
        match decode_in(&lying, &limits, &req) {
            Err(VisionError::ZipEntryTooLarge { limit, .. }) => assert_eq!(limit, cap),
            other => panic!("expected ZipEntryTooLarge, got {other:?}"),
        }
        assert!(req.peak() > 1 << 20, "the inflated bytes are counted in the decode budget: peak {}", req.peak());
        assert!(req.peak() <= cap, "peak {} over the entry cap {cap}", req.peak());
        assert_eq!((req.used(), b.used()), (0, 0), "everything given back");
        // Under a larger entry cap the same entry stops at the request's decode budget instead,
        // while inflating.
        let roomy = MediaLimits { zip_max_entry_bytes: 256 << 20, ..MediaLimits::default() };
        let (b, req) = budget(40 << 20, WorkLimits::UNLIMITED);
        assert!(
            matches!(decode_in(&lying, &roomy, &req), Err(VisionError::OverBudget { limit, .. }) if limit == 40 << 20)
        );
        assert!(req.peak() <= 40 << 20);
        assert_eq!(b.used(), 0);
        // A real photo inside the caps decodes, its inflated bytes given back once decoded.
        let ok = zip_of(&[("a.jpg", &fixture("faces/live/obama__portrait.jpg"))]);
        let (b, req) = budget(1 << 30, WorkLimits::UNLIMITED);
        let m = decode_in(&ok, &limits, &req).expect("decodes");
        assert_eq!(req.used(), m.frame_bytes());
        drop(m);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn zip_entry_that_is_no_image_is_refused_at_its_first_bytes() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file("a.png", opts).expect("start");
        w.write_all(&vec![0u8; 30 << 20]).expect("write");
        let z = w.finish().expect("finish").into_inner();
        let (_, req) = budget(1 << 30, crate::budget::WorkLimits::UNLIMITED);
        match decode_in(&z, &MediaLimits::default(), &req) {
            Err(VisionError::UnreadableImage(m)) => assert!(m.contains("not a JPEG or PNG"), "{m}"),
            other => panic!("expected UnreadableImage, got {other:?}"),
        }
        assert!(req.peak() <= 1 << 20, "stopped at the first chunk, peak {}", req.peak());
    }

    #[test]
    fn zip_decoding_stops_at_its_deadline() {
        use crate::budget::WorkLimits;
        let face = fixture("faces/live/obama__portrait.jpg");
        let z = zip_of(&[("1.jpg", &face), ("2.jpg", &face), ("3.jpg", &face)]);
        // The decode's own deadline (OZ_VIDEO_DECODE_TIMEOUT applies to shot sets too).
        let mut limits = MediaLimits::default();
        limits.video.decode_timeout = std::time::Duration::ZERO;
        let (b, req) = budget(1 << 30, WorkLimits::UNLIMITED);
        assert!(matches!(decode_in(&z, &limits, &req), Err(VisionError::DecodeTimeout(_))));
        assert_eq!(b.used(), 0);
        // The request's decoding time: once spent, the next decode is refused before it starts.
        let work = WorkLimits { time: std::time::Duration::from_nanos(1), ..WorkLimits::UNLIMITED };
        let (_, req) = budget(1 << 30, work);
        match decode_in(&z, &MediaLimits::default(), &req) {
            Err(VisionError::TooMuchWork { setting, .. }) => assert_eq!(setting, "OZ_REQUEST_DECODE_TIMEOUT"),
            other => panic!("expected TooMuchWork, got {other:?}"),
        }
        let pixels = req.work_done().pixels;
        assert!(matches!(
            decode_in(&face, &MediaLimits::default(), &req),
            Err(VisionError::TooMuchWork { setting: "OZ_REQUEST_DECODE_TIMEOUT", .. })
        ));
        assert_eq!(req.work_done().pixels, pixels, "refused before decoding");
    }

    #[test]
    fn request_work_is_counted_across_all_its_media() {
        use crate::budget::WorkLimits;
        let clip = fixture("videos/portrait_720x1280.mp4");
        let limits = MediaLimits::default();
        let per_clip = (limits.sample_frames + limits.best_shot_candidates) as u64;
        // Frames for the models: the second clip would pass 20, refused before it is decoded.
        let (_, req) = budget(1 << 30, WorkLimits { frames: 20, ..WorkLimits::UNLIMITED });
        let m = decode_in(&clip, &limits, &req).expect("first clip");
        let done = req.work_done();
        assert_eq!(done.frames, m.frames.len() as u64);
        assert!(done.frames <= per_clip);
        let decoded = m.info.video.as_ref().map_or(0, |v| v.frame_count);
        assert!(decoded > per_clip);
        assert!(done.pixels >= decoded * 720 * 1280, "every decoded frame counts: {} px", done.pixels);
        assert!(done.time > std::time::Duration::ZERO);
        match decode_in(&clip, &limits, &req) {
            Err(VisionError::TooMuchWork { setting, limit, .. }) => {
                assert_eq!((setting, limit), ("OZ_REQUEST_MAX_FRAMES", 20))
            }
            other => panic!("expected TooMuchWork, got {other:?}"),
        }
        assert_eq!(req.work_done().pixels, done.pixels, "refused before decoding");
        // Decoded pixels: each clip decodes all its frames; the second one is cut while decoding.
        let (b, req) = budget(1 << 30, WorkLimits { pixels: decoded * 720 * 1280 * 3 / 2, ..WorkLimits::UNLIMITED });
        let first = decode_in(&clip, &limits, &req).expect("first clip");
        assert!(matches!(
            decode_in(&clip, &limits, &req),
            Err(VisionError::TooMuchWork { setting: "OZ_REQUEST_MAX_PIXELS", .. })
        ));
        drop(first);
        assert_eq!(b.used(), 0);
        // Images count their pixels from the header, before any allocation.
        let png = encode_png(&DynamicImage::ImageRgb8(RgbImage::from_pixel(100, 50, image::Rgb([1, 2, 3]))));
        let (_, req) = budget(1 << 30, WorkLimits { pixels: 7_500, ..WorkLimits::UNLIMITED });
        decode_in(&png, &limits, &req).expect("5000 px");
        assert!(matches!(decode_in(&png, &limits, &req), Err(VisionError::TooMuchWork { .. })));
        assert_eq!(req.peak(), rgb_bytes(100, 50), "the second image reserved nothing");
    }

    #[test]
    fn cached_media_give_way_to_a_decode_unless_in_use() {
        use crate::budget::{BudgetConfig, DecodeBudget};
        let face = fixture("faces/live/obama__portrait.jpg");
        let cfg = BudgetConfig { total_bytes: 1 << 40, request_bytes: 1 << 40, wait: std::time::Duration::ZERO };
        let held = decode_in(&face, &MediaLimits::default(), &DecodeBudget::new(cfg).request())
            .expect("decodes")
            .reservation
            .bytes();
        // A process budget that the cached frames nearly fill; no wait allowed.
        let b = DecodeBudget::new(BudgetConfig { total_bytes: held + 1000, ..cfg });
        let m = Arc::new(decode_in(&face, &MediaLimits::default(), &b.request()).expect("decodes"));
        assert_eq!(b.used(), held);
        let cached = CachedMedia::new(Arc::clone(&m));
        // In use (an analysis holds it): it stays, and the newcomer finds no room.
        assert!(matches!(b.request().reserve(held), Err(VisionError::Busy)));
        assert!(cached.is_held());
        drop(m);
        // Cached only: taken back at once instead of making the newcomer wait.
        let r = b.request().reserve(held).expect("the cached frames gave way");
        assert!(!cached.is_held() && cached.get().is_none());
        assert_eq!(b.used(), held);
        drop(r);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn size_limit_and_unknown_format() {
        let limits = MediaLimits { max_file_bytes: 4, ..MediaLimits::default() };
        assert!(matches!(decode(b"12345", &limits), Err(VisionError::FileTooLarge { .. })));
        assert!(matches!(decode(b"12345", &MediaLimits::default()), Err(VisionError::UnsupportedFormat)));
    }
}
