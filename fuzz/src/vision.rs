//! Harnesses over oz-vision: the media sniffer and decoders, and the template parser.
//!
//! Included as a module by `fuzz/src/lib.rs` and by `crates/http/tests/fuzz_corpus.rs`.

use oz_vision::media::{self, MediaKind};
use oz_vision::template::{Template, TemplateError};
use oz_vision::video::VideoLimits;
use oz_vision::{MediaLimits, VisionError};

/// Small limits so one input costs milliseconds, not seconds: 1 MiB files, 1 Mpx images, zips of
/// at most 8 entries and 4 MiB, videos of at most 5 s / 150 frames of 640x480, 2 sampled frames
/// and 2 best-shot candidates.
/// The video decode deadline is the crate's default; libFuzzer's `-timeout` catches the rest.
#[must_use]
pub fn small_limits() -> MediaLimits {
    MediaLimits {
        max_file_bytes: 1 << 20,
        max_image_pixels: 1 << 20,
        video: VideoLimits { max_duration_s: 5.0, max_frames: 150, max_pixels: 640 * 480, ..VideoLimits::default() },
        zip_max_entries: 8,
        zip_max_total_bytes: 4 << 20,
        sample_frames: 2,
        best_shot_candidates: 2,
        ..MediaLimits::default()
    }
}

/// Checks what every successful decode must satisfy under [`small_limits`].
fn check_decoded(data: &[u8], m: &media::DecodedMedia, limits: &MediaLimits) {
    assert_eq!(m.info.size, data.len() as u64, "size is the input's");
    assert_eq!(m.info.md5.len(), 32, "md5 is 32 hex digits");
    assert!(!m.frames.is_empty(), "a decoded media has at least one frame");
    assert!(
        m.frames.len() <= limits.sample_frames.max(1) + limits.best_shot_candidates,
        "no more frames than sampled plus candidates"
    );
    assert!(m.frames.iter().filter(|f| !f.candidate).count() <= limits.sample_frames.max(1), "spread too long");
    assert!(m.frames.windows(2).all(|w| w[0].index < w[1].index), "frames in order, each once");
    for f in &m.frames {
        let px = u64::from(f.image.width()) * u64::from(f.image.height());
        assert!(px <= limits.max_image_pixels, "frame of {px} pixels over the limit");
    }
}

/// Target `media_decode`: the sniffer, then the whole decode (image, zip shot set or video).
pub fn media_decode(data: &[u8]) {
    let limits = small_limits();
    let kind = media::sniff(data);
    match media::decode(data, &limits) {
        Ok(m) => {
            assert_eq!(Some(m.info.kind), kind, "decode agrees with the sniffer");
            check_decoded(data, &m, &limits);
        }
        Err(VisionError::UnsupportedFormat) => assert!(kind.is_none(), "sniffed {kind:?} yet unsupported"),
        Err(e) => assert!(!e.is_internal(), "input error reported as internal: {e}"),
    }
    // The gesture check's decode of the same bytes: a denser spread, no candidates, frames of a
    // video or shot set scaled down to a small long side in the conversion.
    let dense = MediaLimits {
        sample_frames: 4,
        best_shot_candidates: 0,
        video_max_side: 64,
        shot_max_side: 64,
        ..small_limits()
    };
    match media::decode(data, &dense) {
        Ok(m) => {
            check_decoded(data, &m, &dense);
            assert!(m.frames.iter().all(|f| !f.candidate), "no candidates asked for");
            if m.info.kind != MediaKind::Image {
                for f in &m.frames {
                    assert!(f.image.width().max(f.image.height()) <= 64, "frame not scaled down");
                    assert!(f.image.width() > 0 && f.image.height() > 0, "empty frame");
                }
            }
        }
        Err(e) => assert!(!e.is_internal(), "input error reported as internal (dense): {e}"),
    }
}

/// Target `image_decode`: one JPEG or PNG, 1 Mpx budget.
pub fn image_decode(data: &[u8]) {
    let max = 1u64 << 20;
    if let Ok(img) = media::decode_image(data, max) {
        assert!(u64::from(img.width()) * u64::from(img.height()) <= max);
    }
}

/// Target `zip_shot_set`: inputs that start like a zip, decoded as a shot set.
pub fn zip_shot_set(data: &[u8]) {
    if !data.starts_with(b"PK\x03\x04") {
        return;
    }
    let limits = small_limits();
    match media::decode(data, &limits) {
        Ok(m) => {
            assert_eq!(m.info.kind, MediaKind::ShotSet);
            assert!(m.info.shots.unwrap_or(0) >= m.frames.len(), "shots counts every frame");
            check_decoded(data, &m, &limits);
        }
        Err(e) => assert!(!e.is_internal(), "input error reported as internal: {e}"),
    }
}

/// Target `template_parse`: the template parser on raw bytes, on bytes checked against their own
/// header (model id, dimension), and the round trip of a template built from the input, which must
/// parse back bit for bit and refuse any single flipped bit.
pub fn template_parse(data: &[u8]) {
    let id = *b"12345678";
    let _ = Template::from_bytes(data, &id, 128);
    if data.len() >= 16 {
        let mut own = [0u8; 8];
        own.copy_from_slice(&data[8..16]);
        let dim = usize::from(u16::from_le_bytes([data[6], data[7]]));
        if let Ok(t) = Template::from_bytes(data, &own, dim) {
            assert_eq!(t.to_bytes(), data, "a parsed template serialises to the same bytes");
        }
    }
    let (flip, rest) = match data.split_first() {
        Some((f, r)) => (usize::from(*f), r),
        None => (0, data),
    };
    let vector: Vec<f32> =
        rest.chunks_exact(4).take(1024).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let t = Template { model_id: id, vector };
    let bytes = t.to_bytes();
    match Template::from_bytes(&bytes, &id, t.vector.len()) {
        Ok(back) => {
            let same = back.vector.iter().zip(&t.vector).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same && back.vector.len() == t.vector.len(), "round trip changed the vector");
            let mut bad = bytes.clone();
            let bit = flip % (bad.len() * 8);
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(Template::from_bytes(&bad, &id, t.vector.len()).is_err(), "flipped bit {bit} accepted");
        }
        Err(TemplateError::NotNormalised) => {}
        Err(e) => panic!("a template we wrote is refused: {e}"),
    }
}
