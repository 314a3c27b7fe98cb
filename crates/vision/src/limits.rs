//! Limits applied while decoding untrusted media. Every refusal is a typed [`crate::VisionError`].

use crate::video::VideoLimits;

#[derive(Debug, Clone)]
pub struct MediaLimits {
    /// Bytes per uploaded file.
    pub max_file_bytes: u64,
    /// Pixels per image (width x height), checked from the header before any allocation.
    pub max_image_pixels: u64,
    /// Video duration, frame count and frame size.
    pub video: VideoLimits,
    /// Entries in a zip shot set.
    pub zip_max_entries: usize,
    /// Total uncompressed bytes of a zip shot set.
    pub zip_max_total_bytes: u64,
    /// Uncompressed bytes of one image entry of a zip shot set (`OZ_ZIP_MAX_ENTRY_BYTES`): an
    /// entry is inflated as a stream into a buffer reserved in the decode budget, and refused as
    /// soon as it passes this.
    pub zip_max_entry_bytes: u64,
    /// Frames sampled evenly from a video or shot set, for liveness and best shot.
    pub sample_frames: usize,
    /// Extra best-shot candidates: of a video, the best frames by luma pre-score among all
    /// decoded ones; of a shot set, more shots spread over the set.
    pub best_shot_candidates: usize,
    /// Shots of a zip shot set are scaled down to at most this long side right after each one is
    /// decoded (the detector works at 640 at most, the face crops at 224 at most).
    pub shot_max_side: u32,
    /// Video frames are scaled down to at most this long side as they are converted to RGB
    /// (0 = full size). Full size for liveness and the best shot; the dense gesture decode uses it.
    pub video_max_side: u32,
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 * 1024 * 1024,
            max_image_pixels: 50_000_000,
            video: VideoLimits::default(),
            zip_max_entries: 64,
            zip_max_total_bytes: 256 * 1024 * 1024,
            zip_max_entry_bytes: 32 * 1024 * 1024,
            sample_frames: 8,
            best_shot_candidates: 4,
            shot_max_side: 1280,
            video_max_side: 0,
        }
    }
}
