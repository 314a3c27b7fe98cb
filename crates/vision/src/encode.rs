//! Encoding what an upload shows: a small JPEG preview of a media, and the mp4 a zip shot set's
//! shots are assembled into (as Oz does since 5.2). No HTTP, no files: bytes in, bytes out.
//!
//! - [`preview_jpeg`]: one upright frame scaled down (never up) to [`PREVIEW_LONG_SIDE`] on its long
//!   side, JPEG quality [`PREVIEW_QUALITY`].
//! - [`shots_to_mp4`]: frames already decoded (the shots the analyses use, in name order) become an
//!   H.264 mp4 (`libx264`, or FFmpeg's native `mpeg4` encoder when libx264 is missing or cannot
//!   open), yuv420p, even dimensions, a fixed frame rate, and the `moov` box before `mdat`
//!   ("faststart", so a player can start before the whole file has arrived). The size is taken
//!   from the first shot (long side at most [`ShotVideoConfig::max_side`]); a shot of another
//!   shape is fitted inside it on black. Bounded: at most [`ShotVideoConfig::max_frames`] frames
//!   and [`ShotVideoConfig::max_bytes`] of output (the in-memory writer refuses more).
//!
//! The muxer writes through FFmpeg's custom I/O into memory ([`ffmpeg::format::context::StreamIo`]
//! over a shared cursor), so no file and no FFmpeg protocol is involved. FFmpeg's own faststart
//! pass re-opens the output *by name* for reading, which custom I/O cannot do; [`faststart`] does
//! the same move in Rust instead (the `moov` box moved in front of `mdat`, every chunk offset in
//! `stco`/`co64` shifted by its size).

use std::io::{self, Cursor, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::util::frame;
use ffmpeg::{Dictionary, Packet, Rational, codec, encoder, format};
use ffmpeg_next as ffmpeg;
use image::RgbImage;

use crate::error::VisionError;
use crate::imgops;

/// Long side of a preview, in pixels.
pub const PREVIEW_LONG_SIDE: u32 = 320;
/// JPEG quality of a preview.
pub const PREVIEW_QUALITY: u8 = 80;

/// A JPEG preview and its size.
#[derive(Debug, Clone)]
pub struct Preview {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// `(w, h)` scaled down (aspect kept) so that the long side is at most `long_side`; unchanged when
/// already small enough. Never below 1x1.
#[must_use]
pub fn fit_within(w: u32, h: u32, long_side: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= long_side || long == 0 {
        return (w.max(1), h.max(1));
    }
    let scale = f64::from(long_side) / f64::from(long);
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, long_side);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, long_side);
    (nw, nh)
}

/// A JPEG of `img` with its long side at most `long_side` (never enlarged).
pub fn preview_jpeg(img: &RgbImage, long_side: u32) -> Result<Preview, VisionError> {
    let (w, h) = fit_within(img.width(), img.height(), long_side.max(1));
    let jpeg = if (w, h) == img.dimensions() {
        imgops::encode_jpeg(img, PREVIEW_QUALITY)?
    } else {
        imgops::encode_jpeg(&imgops::resize(img, None, w, h)?, PREVIEW_QUALITY)?
    };
    Ok(Preview { jpeg, width: w, height: h })
}

/// Which encoder [`shots_to_mp4`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// `libx264` when FFmpeg has it and it opens, else `mpeg4`.
    Auto,
    /// `libx264` only.
    H264,
    /// FFmpeg's native MPEG-4 part 2 encoder only.
    Mpeg4,
}

/// How a shot set becomes a video.
#[derive(Debug, Clone)]
pub struct ShotVideoConfig {
    /// Long side of the video, in pixels (the first shot's size, scaled down; never enlarged).
    pub max_side: u32,
    /// Frames (shots) per second.
    pub fps: u32,
    /// Most frames; more shots are refused ([`EncodeError::TooManyFrames`]).
    pub max_frames: usize,
    /// Most bytes of output; past it the encoding fails ([`EncodeError::TooLarge`]).
    pub max_bytes: u64,
    pub codec: VideoCodec,
}

impl Default for ShotVideoConfig {
    fn default() -> Self {
        Self { max_side: 640, fps: 5, max_frames: 64, max_bytes: 16 * 1024 * 1024, codec: VideoCodec::Auto }
    }
}

/// An encoded mp4.
#[derive(Debug, Clone)]
pub struct EncodedVideo {
    pub mp4: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub frames: usize,
    /// FFmpeg encoder name: `libx264` or `mpeg4`.
    pub encoder: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("no frame to encode")]
    NoFrames,
    #[error("too many frames to encode: {count} (limit {limit})")]
    TooManyFrames { count: usize, limit: usize },
    #[error("no usable video encoder (libx264 or mpeg4) in this FFmpeg")]
    NoEncoder,
    #[error("the video would be larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("video encoding failed: {0}")]
    Ffmpeg(String),
    #[error("mp4 layout: {0}")]
    Layout(String),
    #[error(transparent)]
    Image(#[from] VisionError),
}

fn ff(what: &str) -> impl Fn(ffmpeg::Error) -> EncodeError + '_ {
    move |e| EncodeError::Ffmpeg(format!("{what}: {e}"))
}

/// The even frame size of a video whose first frame is `w x h`.
#[must_use]
pub fn video_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let (w, h) = fit_within(w, h, max_side.max(2));
    ((w & !1).max(2), (h & !1).max(2))
}

/// Assembles `shots` (upright RGB, in order) into an mp4 at `cfg.fps` frames per second.
pub fn shots_to_mp4(shots: &[&RgbImage], cfg: &ShotVideoConfig) -> Result<EncodedVideo, EncodeError> {
    let first = shots.first().ok_or(EncodeError::NoFrames)?;
    if shots.len() > cfg.max_frames {
        return Err(EncodeError::TooManyFrames { count: shots.len(), limit: cfg.max_frames });
    }
    crate::video::init();
    let (w, h) = video_size(first.width(), first.height(), cfg.max_side);
    let frames: Vec<RgbImage> = shots.iter().map(|s| fit_on_canvas(s, w, h)).collect::<Result<_, _>>()?;
    let fps = i32::try_from(cfg.fps.clamp(1, 60)).unwrap_or(5);
    let tried: &[&'static str] = match cfg.codec {
        VideoCodec::Auto => &["libx264", "mpeg4"],
        VideoCodec::H264 => &["libx264"],
        VideoCodec::Mpeg4 => &["mpeg4"],
    };
    let mut last = EncodeError::NoEncoder;
    for &name in tried {
        match encode_with(name, &frames, w, h, fps, cfg.max_bytes) {
            Ok(mp4) => {
                let mp4 = faststart(mp4)?;
                return Ok(EncodedVideo { mp4, width: w, height: h, frames: frames.len(), encoder: name });
            }
            // Over the size limit with one encoder: the other will not do much better.
            Err(e @ EncodeError::TooLarge { .. }) => return Err(e),
            Err(e) => {
                tracing::debug!(encoder = name, error = %e, "video encoder unavailable, trying the next one");
                last = e;
            }
        }
    }
    Err(last)
}

/// `img` scaled to fit inside `w x h` (aspect kept), centred on black.
fn fit_on_canvas(img: &RgbImage, w: u32, h: u32) -> Result<RgbImage, VisionError> {
    let (iw, ih) = (f64::from(img.width().max(1)), f64::from(img.height().max(1)));
    let scale = (f64::from(w) / iw).min(f64::from(h) / ih);
    let fw = ((iw * scale).round() as u32).clamp(1, w);
    let fh = ((ih * scale).round() as u32).clamp(1, h);
    let fitted = if img.dimensions() == (fw, fh) { img.clone() } else { imgops::resize(img, None, fw, fh)? };
    if (fw, fh) == (w, h) {
        return Ok(fitted);
    }
    let mut canvas = RgbImage::new(w, h);
    image::imageops::replace(&mut canvas, &fitted, i64::from((w - fw) / 2), i64::from((h - fh) / 2));
    Ok(canvas)
}

/// An in-memory, seekable output shared with FFmpeg's custom I/O (which owns its writer until the
/// output context is dropped), refusing to grow past `limit` bytes.
#[derive(Clone)]
struct SharedBuf {
    inner: Arc<Mutex<Cursor<Vec<u8>>>>,
    limit: u64,
}

impl SharedBuf {
    fn with<T>(&self, f: impl FnOnce(&mut Cursor<Vec<u8>>) -> io::Result<T>) -> io::Result<T> {
        let mut c = self.inner.lock().map_err(|_| io::Error::other("output buffer poisoned"))?;
        f(&mut c)
    }

    fn take(&self) -> Result<Vec<u8>, EncodeError> {
        self.with(|c| Ok(std::mem::take(c.get_mut()))).map_err(|e| EncodeError::Ffmpeg(e.to_string()))
    }

    fn len(&self) -> u64 {
        self.with(|c| Ok(c.get_ref().len() as u64)).unwrap_or(u64::MAX)
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let limit = self.limit;
        self.with(|c| {
            if c.position().saturating_add(buf.len() as u64) > limit {
                return Err(io::Error::other("output size limit reached"));
            }
            c.write(buf)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for SharedBuf {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.with(|c| c.seek(pos))
    }
}

fn encode_with(
    name: &'static str,
    frames: &[RgbImage],
    w: u32,
    h: u32,
    fps: i32,
    max_bytes: u64,
) -> Result<Vec<u8>, EncodeError> {
    let codec = encoder::find_by_name(name).ok_or(EncodeError::NoEncoder)?;
    let buf = SharedBuf { inner: Arc::new(Mutex::new(Cursor::new(Vec::new()))), limit: max_bytes };
    let io = format::context::StreamIo::from_write_seek(buf.clone()).map_err(ff("cannot set up the output"))?;
    let mut octx = format::output_to_stream(io, None, Some("mp4")).map_err(ff("cannot create the mp4 muxer"))?;
    let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let time_base = Rational(1, fps);

    let mut enc = codec::context::Context::new_with_codec(codec).encoder().video().map_err(ff("encoder context"))?;
    enc.set_width(w);
    enc.set_height(h);
    enc.set_format(Pixel::YUV420P);
    enc.set_time_base(time_base);
    enc.set_frame_rate(Some(Rational(fps, 1)));
    enc.set_colorspace(ffmpeg::util::color::Space::BT470BG);
    enc.set_color_range(ffmpeg::util::color::Range::MPEG);
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut opts = Dictionary::new();
    if name == "libx264" {
        opts.set("preset", "veryfast");
        opts.set("crf", "23");
    } else {
        // MPEG-4 part 2: constant quantiser 4 (`-q:v 4`: 4 x FF_QP2LAMBDA), a key frame every 2 s.
        enc.set_gop(u32::try_from(fps * 2).unwrap_or(10));
        enc.set_max_b_frames(0);
        opts.set("flags", "+qscale");
        opts.set("global_quality", "472");
    }
    let mut enc = enc.open_as_with(codec, opts).map_err(ff("cannot open the encoder"))?;
    let index = {
        let mut ost = octx.add_stream(codec).map_err(ff("cannot add the video stream"))?;
        ost.set_parameters(&enc);
        ost.set_time_base(time_base);
        ost.set_avg_frame_rate(Rational(fps, 1));
        ost.set_rate(Rational(fps, 1));
        ost.index()
    };
    octx.write_header().map_err(|e| size_or(&buf, max_bytes, ff("cannot write the mp4 header")(e)))?;
    let stream_tb = octx.stream(index).map(|s| s.time_base()).unwrap_or(time_base);

    let mut scaler = scaling::Context::get(Pixel::RGB24, w, h, Pixel::YUV420P, w, h, scaling::Flags::BILINEAR)
        .map_err(ff("cannot set up the colour conversion"))?;
    let mut rgb = frame::Video::new(Pixel::RGB24, w, h);
    let mut yuv = frame::Video::empty();
    let drain = |enc: &mut encoder::video::Encoder, octx: &mut format::context::Output| {
        let mut packet = Packet::empty();
        while enc.receive_packet(&mut packet).is_ok() {
            packet.set_stream(index);
            packet.rescale_ts(time_base, stream_tb);
            packet.write_interleaved(octx).map_err(|e| size_or(&buf, max_bytes, ff("cannot write a packet")(e)))?;
        }
        Ok::<(), EncodeError>(())
    };
    for (i, img) in frames.iter().enumerate() {
        copy_rgb(img, &mut rgb)?;
        scaler.run(&rgb, &mut yuv).map_err(ff("colour conversion failed"))?;
        yuv.set_pts(Some(i as i64));
        enc.send_frame(&yuv).map_err(ff("cannot encode a frame"))?;
        drain(&mut enc, &mut octx)?;
    }
    enc.send_eof().map_err(ff("cannot flush the encoder"))?;
    drain(&mut enc, &mut octx)?;
    octx.write_trailer().map_err(|e| size_or(&buf, max_bytes, ff("cannot finish the mp4")(e)))?;
    drop(octx);
    let out = buf.take()?;
    if out.len() as u64 > max_bytes {
        return Err(EncodeError::TooLarge { limit: max_bytes });
    }
    Ok(out)
}

/// A write failure caused by the size limit reads as [`EncodeError::TooLarge`].
fn size_or(buf: &SharedBuf, limit: u64, other: EncodeError) -> EncodeError {
    // The muxer buffers up to 32 KiB before a write reaches the cursor.
    if buf.len().saturating_add(64 * 1024) > limit { EncodeError::TooLarge { limit } } else { other }
}

/// Copies packed RGB8 pixels into an FFmpeg frame of the same size (row by row: FFmpeg pads rows).
fn copy_rgb(img: &RgbImage, out: &mut frame::Video) -> Result<(), EncodeError> {
    let row = img.width() as usize * 3;
    let stride = out.stride(0);
    let data = out.data_mut(0);
    for (y, line) in img.as_raw().chunks_exact(row.max(1)).enumerate() {
        let dst = data
            .get_mut(y * stride..y * stride + row)
            .ok_or_else(|| EncodeError::Ffmpeg("frame buffer smaller than the image".into()))?;
        dst.copy_from_slice(line);
    }
    Ok(())
}

// ---- faststart ---------------------------------------------------------------------------------

/// One ISO-BMFF box: where it starts, its header length, its total length and its type.
#[derive(Debug, Clone, Copy)]
struct Mp4Box {
    start: usize,
    header: usize,
    len: usize,
    kind: [u8; 4],
}

fn layout(what: &str) -> EncodeError {
    EncodeError::Layout(what.to_string())
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map(u32::from_be_bytes)
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8).and_then(|s| s.try_into().ok()).map(u64::from_be_bytes)
}

/// The boxes of `b`, one level.
fn boxes(b: &[u8]) -> Result<Vec<Mp4Box>, EncodeError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < b.len() {
        let size = be_u32(b, pos).ok_or_else(|| layout("truncated box header"))?;
        let kind: [u8; 4] =
            b.get(pos + 4..pos + 8).and_then(|s| s.try_into().ok()).ok_or_else(|| layout("truncated box type"))?;
        let (header, len) = match size {
            0 => (8, b.len() - pos),
            1 => {
                let big = be_u64(b, pos + 8).ok_or_else(|| layout("truncated 64-bit box size"))?;
                (16, usize::try_from(big).map_err(|_| layout("box too large"))?)
            }
            n => (8, n as usize),
        };
        if len < header || pos.checked_add(len).is_none_or(|end| end > b.len()) {
            return Err(layout("box size out of bounds"));
        }
        out.push(Mp4Box { start: pos, header, len, kind });
        pos += len;
    }
    Ok(out)
}

/// Adds `delta` to every chunk offset (`stco`, `co64`) under the box list `b` (box contents).
fn shift_chunk_offsets(b: &mut [u8], delta: u64) -> Result<(), EncodeError> {
    for bx in boxes(b)? {
        let body = &mut b[bx.start + bx.header..bx.start + bx.len];
        match &bx.kind {
            b"trak" | b"mdia" | b"minf" | b"stbl" => shift_chunk_offsets(body, delta)?,
            b"stco" | b"co64" => {
                let wide = &bx.kind == b"co64";
                let count = be_u32(body, 4).ok_or_else(|| layout("truncated chunk offset table"))? as usize;
                let width = if wide { 8 } else { 4 };
                if count.checked_mul(width).and_then(|n| n.checked_add(8)).is_none_or(|n| n > body.len()) {
                    return Err(layout("chunk offset table out of bounds"));
                }
                for i in 0..count {
                    let at = 8 + i * width;
                    if wide {
                        let v = be_u64(body, at).and_then(|v| v.checked_add(delta)).ok_or_else(|| layout("offset"))?;
                        body[at..at + 8].copy_from_slice(&v.to_be_bytes());
                    } else {
                        let v = be_u32(body, at)
                            .and_then(|v| u32::try_from(u64::from(v) + delta).ok())
                            .ok_or_else(|| layout("32-bit chunk offset overflow"))?;
                        body[at..at + 4].copy_from_slice(&v.to_be_bytes());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Moves the `moov` box of an mp4 in front of its first `mdat` box, shifting the chunk offsets it
/// holds by its own size (what `-movflags +faststart` does). A file already laid out so is
/// returned as is.
pub fn faststart(mp4: Vec<u8>) -> Result<Vec<u8>, EncodeError> {
    let top = boxes(&mp4)?;
    let moov = top.iter().position(|b| &b.kind == b"moov").ok_or_else(|| layout("no moov box"))?;
    let mdat = top.iter().position(|b| &b.kind == b"mdat").ok_or_else(|| layout("no mdat box"))?;
    if moov < mdat {
        return Ok(mp4);
    }
    let m = top[moov];
    let mut moov_bytes = mp4[m.start..m.start + m.len].to_vec();
    shift_chunk_offsets(&mut moov_bytes[m.header..], m.len as u64)?;
    let mut out = Vec::with_capacity(mp4.len());
    for (i, b) in top.iter().enumerate() {
        if i == mdat {
            out.extend_from_slice(&moov_bytes);
        }
        if i != moov {
            out.extend_from_slice(&mp4[b.start..b.start + b.len]);
        }
    }
    Ok(out)
}

/// Whether `moov` comes before `mdat` at the top level (for tests and checks).
#[must_use]
pub fn is_faststart(mp4: &[u8]) -> bool {
    let Ok(top) = boxes(mp4) else { return false };
    let at = |k: &[u8; 4]| top.iter().position(|b| &b.kind == k);
    matches!((at(b"moov"), at(b"mdat")), (Some(a), Some(b)) if a < b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::{VideoLimits, decode_video_bytes};

    /// A frame with a colour gradient and a bright square whose place depends on `i`.
    fn frame(w: u32, h: u32, i: u32) -> RgbImage {
        let mut img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 90]));
        let s = (w.min(h) / 4).max(1);
        let x0 = (i * s) % (w - s).max(1);
        for y in 0..s {
            for x in x0..x0 + s {
                img.put_pixel(x, y + (h - s) / 2, image::Rgb([250, 250, 250]));
            }
        }
        img
    }

    fn mean(img: &RgbImage) -> [f64; 3] {
        let n = f64::from(img.width() * img.height());
        let mut m = [0.0; 3];
        for p in img.pixels() {
            for c in 0..3 {
                m[c] += f64::from(p[c]) / n;
            }
        }
        m
    }

    fn check_roundtrip(codec: VideoCodec, expect_codec: &str) {
        // Shots of different shapes: the first decides the size (odd, so it is made even).
        let shots = [frame(641, 479, 0), frame(641, 479, 1), frame(300, 600, 2), frame(641, 479, 3), frame(80, 60, 4)];
        let refs: Vec<&RgbImage> = shots.iter().collect();
        let cfg = ShotVideoConfig { codec, ..ShotVideoConfig::default() };
        let v = shots_to_mp4(&refs, &cfg).expect("encode");
        assert_eq!((v.width, v.height, v.frames), (640, 478, 5));
        assert!(is_faststart(&v.mp4), "moov before mdat");
        let d = decode_video_bytes(&v.mp4, 100, &VideoLimits::default()).expect("our decoder reads it back");
        assert_eq!(d.info.codec, expect_codec);
        assert_eq!(d.info.frame_count, 5, "{:?}", d.info);
        assert_eq!(d.frames.len(), 5);
        assert_eq!((d.info.width, d.info.height), (640, 478));
        assert!((d.info.fps - 5.0).abs() < 0.01, "{:?}", d.info);
        // Colours survive (first frame: same size, no letterbox).
        let (a, b) = (mean(&fit_on_canvas(&shots[0], 640, 478).expect("fit")), mean(&d.frames[0].image));
        for c in 0..3 {
            assert!((a[c] - b[c]).abs() < 6.0, "channel {c}: {a:?} vs {b:?}");
        }
        // The portrait shot is letterboxed: black on the left and right.
        let p = &d.frames[2].image;
        assert!(mean(&image::imageops::crop_imm(p, 0, 0, 100, 478).to_image()).iter().all(|&c| c < 20.0));
    }

    #[test]
    fn h264_roundtrip_through_our_decoder() {
        crate::video::init();
        if encoder::find_by_name("libx264").is_none() {
            eprintln!("libx264 is not in this FFmpeg; the mpeg4 test covers the fallback");
            return;
        }
        check_roundtrip(VideoCodec::H264, "h264");
    }

    #[test]
    fn mpeg4_fallback_roundtrip_through_our_decoder() {
        check_roundtrip(VideoCodec::Mpeg4, "mpeg4");
    }

    #[test]
    fn auto_picks_an_encoder_and_single_shot_works() {
        let one = frame(200, 100, 0);
        let v = shots_to_mp4(&[&one], &ShotVideoConfig::default()).expect("encode");
        assert!(v.encoder == "libx264" || v.encoder == "mpeg4");
        let d = decode_video_bytes(&v.mp4, 8, &VideoLimits::default()).expect("decode");
        assert_eq!((d.info.frame_count, d.info.width, d.info.height), (1, 200, 100));
    }

    #[test]
    fn bounds_are_enforced() {
        assert!(matches!(shots_to_mp4(&[], &ShotVideoConfig::default()), Err(EncodeError::NoFrames)));
        let f = frame(64, 64, 0);
        let many: Vec<&RgbImage> = (0..4).map(|_| &f).collect();
        let cfg = ShotVideoConfig { max_frames: 3, ..ShotVideoConfig::default() };
        assert!(matches!(shots_to_mp4(&many, &cfg), Err(EncodeError::TooManyFrames { count: 4, limit: 3 })));
        let cfg = ShotVideoConfig { max_bytes: 2000, ..ShotVideoConfig::default() };
        let big = frame(640, 640, 0);
        let r = shots_to_mp4(&[&big, &big, &big], &cfg);
        assert!(matches!(r, Err(EncodeError::TooLarge { limit: 2000 })), "{r:?}");
    }

    #[test]
    fn sizes() {
        assert_eq!(fit_within(910, 1137, 320), (256, 320));
        assert_eq!(fit_within(720, 1280, 320), (180, 320));
        assert_eq!(fit_within(100, 50, 320), (100, 50), "never enlarged");
        assert_eq!(video_size(641, 479, 640), (640, 478));
        assert_eq!(video_size(101, 51, 640), (100, 50));
        assert_eq!(video_size(1, 1, 640), (2, 2));
    }

    #[test]
    fn preview_is_a_small_jpeg() {
        let img = frame(910, 1137, 0);
        let p = preview_jpeg(&img, PREVIEW_LONG_SIDE).expect("preview");
        assert_eq!((p.width, p.height), (256, 320));
        let back = crate::media::decode_image(&p.jpeg, 1 << 20).expect("decodes");
        assert_eq!(back.dimensions(), (256, 320));
        let small = frame(40, 30, 0);
        let p = preview_jpeg(&small, PREVIEW_LONG_SIDE).expect("preview");
        assert_eq!((p.width, p.height), (40, 30));
    }

    #[test]
    fn faststart_refuses_broken_layouts() {
        assert!(faststart(b"\0\0\0\x08free".to_vec()).is_err(), "no moov");
        assert!(faststart(b"\0\0\0\x40moov".to_vec()).is_err(), "size past the end");
        assert!(!is_faststart(b"junk"));
    }

    /// Timing on real photos (the fixtures' JPEGs zipped as a shot set, once and twice over, decoded
    /// as an upload is): `cargo test -p oz-vision --lib encode::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, run by hand"]
    fn timing() {
        use std::io::Write as _;
        use std::time::Instant;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/faces/live");
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
            .collect();
        names.sort();
        let median = |mut t: Vec<f64>| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        };
        for copies in [1, 2] {
            let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
            for c in 0..copies {
                for p in &names {
                    let name = p.file_name().and_then(|n| n.to_str()).expect("name");
                    zip.start_file(format!("{c}_{name}"), zip::write::SimpleFileOptions::default()).expect("entry");
                    zip.write_all(&std::fs::read(p).expect("read")).expect("write");
                }
            }
            let bytes = zip.finish().expect("zip").into_inner();
            let d = crate::media::decode(&bytes, &crate::MediaLimits::default()).expect("decode");
            let shots: Vec<&RgbImage> = d.frames.iter().map(|f| &f.image).collect();
            let mut pt = Vec::new();
            for _ in 0..21 {
                let t = Instant::now();
                preview_jpeg(shots[0], PREVIEW_LONG_SIDE).expect("preview");
                pt.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            println!("{} shots: preview of the first shot p50 {:.1} ms", shots.len(), median(pt));
            for codec in [VideoCodec::H264, VideoCodec::Mpeg4] {
                let cfg = ShotVideoConfig { codec, ..ShotVideoConfig::default() };
                let mut times = Vec::new();
                let mut last = None;
                for _ in 0..21 {
                    let t = Instant::now();
                    let v = shots_to_mp4(&shots, &cfg).expect("encode");
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                    last = Some(v);
                }
                let v = last.expect("ran");
                let (lo, hi) =
                    (times.iter().copied().fold(f64::MAX, f64::min), times.iter().copied().fold(0.0, f64::max));
                println!(
                    "{} shots, {}: {}x{} mp4 of {} bytes, p50 {:.1} ms (min {lo:.1}, max {hi:.1})",
                    v.frames,
                    v.encoder,
                    v.width,
                    v.height,
                    v.mp4.len(),
                    median(times),
                );
            }
        }
    }
}
