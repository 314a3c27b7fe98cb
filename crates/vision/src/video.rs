//! Video decoding with FFmpeg (through `ffmpeg-next`): open an untrusted clip, check it against
//! [`VideoLimits`], decode it once with frame threading, and return the frames a [`Sampling`] asks
//! for as upright RGB8 images: an even spread over the whole clip, plus the best-shot candidates.
//!
//! How it works, and why:
//! - The container header gives the frame count (mp4, mov, avi) or duration and frame rate (webm);
//!   the wanted frame indices are chosen from that before decoding. Every frame is decoded (a
//!   decoder cannot skip reference frames), but only the chosen ones are kept (a reference to the
//!   decoder's buffer, no copy) and only those are converted to RGB (`sws_scale`) and rotated.
//!   The last decoded frame is always kept too, so the last sample is the real last frame even when
//!   the header was wrong. When the header gives no count at all (e.g. a browser `MediaRecorder`
//!   webm), frames are kept at a stride that doubles whenever too many are held.
//! - Every decoded frame gets a cheap pre-score on its luma plane ([`crate::prescore`]: sharpness
//!   and exposure, no model, no colour conversion); the best few, a few frames apart, are held as
//!   best-shot candidates, so a best shot can come from any moment of the clip.
//! - After decoding, the samples are re-chosen over the real frame count. If the frames held are
//!   too far from that ideal spread (the header lied), the clip is decoded a second time with the
//!   exact indices. This never happens for a well-formed file.
//! - Rotation: the stream's display matrix (FFmpeg 5.1 exposes rotation only as
//!   `AV_PKT_DATA_DISPLAYMATRIX` side data, not as a `rotate` tag) says how a player must turn the
//!   stored picture; we apply that to every sample, so the output is upright. A matrix on the first
//!   decoded frame (H.264 display-orientation SEI) is used when the stream has none.
//! - Limits (duration, frame count, frame size) are checked from the header before decoding and
//!   again on every decoded frame, so a lying header does not get past them.
//! - Both entry points read through a safe custom I/O (`StreamIo` over a `File` or an in-memory
//!   cursor): no temporary files, and a file name can never be taken for an FFmpeg protocol.
//! - Untrusted bytes reach only the part of FFmpeg the feature needs: the container is opened with
//!   a demuxer whitelist ([`ALLOWED_FORMATS`]: mov/mp4, matroska/webm, avi — never a playlist or
//!   manifest demuxer such as DASH, HLS or ffconcat, which would fetch URLs), a protocol whitelist
//!   that allows no protocol at all (every byte comes through our own I/O; a nested open of a
//!   `http:` or `file:` URL fails), and a codec whitelist ([`ALLOWED_CODECS`]); only the video
//!   stream's codec is ever decoded. Every open, demux and decode runs under a deadline
//!   ([`VideoLimits::decode_timeout`]): FFmpeg's interrupt callback stops a stalled read and the
//!   packet loop checks the clock between packets.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::util::frame;
use ffmpeg::{codec, format, media};
use ffmpeg_next as ffmpeg;
use image::RgbImage;

use crate::budget::Reservation;
use crate::error::VisionError;
use crate::prescore::{self, Candidates, Offer};

/// Decoder threads per clip (frame threading) when no other vision job runs ([`crate::load`]).
const DECODE_THREADS: usize = 2;
/// `AV_TIME_BASE`: units of the format context's duration.
const AV_TIME_BASE: f64 = 1_000_000.0;

/// FFmpeg demuxers an uploaded clip may be opened with (`format_whitelist`). FFmpeg matches each
/// name of a demuxer's name list, so `mov` admits the `mov,mp4,m4a,3gp,3g2,mj2` demuxer and
/// `matroska` the `matroska,webm` one.
pub const ALLOWED_FORMATS: &str = "mov,mp4,matroska,webm,avi";

/// Video codecs that are decoded; a clip in any other codec is refused before a decoder opens.
pub const ALLOWED_CODECS: [codec::Id; 7] = [
    codec::Id::H264,
    codec::Id::HEVC,
    codec::Id::VP8,
    codec::Id::VP9,
    codec::Id::AV1,
    codec::Id::MPEG4,
    codec::Id::MJPEG,
];

/// FFmpeg decoder names of [`ALLOWED_CODECS`] (`codec_whitelist` of the format context, which
/// bounds the decoders `avformat_find_stream_info` may open while probing; audio and subtitle
/// decoders are never opened).
const ALLOWED_DECODERS: &str = "h264,hevc,vp8,vp9,libvpx,libvpx-vp9,av1,libdav1d,libaom-av1,mpeg4,mjpeg";

/// `protocol_whitelist` value that names no FFmpeg protocol: every nested open (a URL in a
/// manifest, a reference in a container) fails with "Protocol not on whitelist".
const NO_PROTOCOL: &str = "none";

/// Refusal limits for untrusted videos.
#[derive(Debug, Clone)]
pub struct VideoLimits {
    /// Refuse clips longer than this many seconds (default 60.0).
    pub max_duration_s: f64,
    /// Refuse clips whose header declares more frames than this, or that decode to more (default 3600).
    pub max_frames: u64,
    /// Refuse frames whose width x height exceeds this (default 4096 x 4096).
    pub max_pixels: u64,
    /// Wall-clock deadline for opening, demuxing and decoding one clip, both passes together
    /// (default 10 s; a 60 s 720p clip decodes in about 2 s on one core).
    pub decode_timeout: Duration,
}

impl Default for VideoLimits {
    fn default() -> Self {
        Self {
            max_duration_s: 60.0,
            max_frames: 3600,
            max_pixels: 4096 * 4096,
            decode_timeout: Duration::from_secs(10),
        }
    }
}

/// Facts about a decoded clip.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VideoInfo {
    /// Duration in seconds (from the header; from the decoded timestamps if the header has none).
    pub duration_s: f64,
    /// Average frame rate.
    pub fps: f64,
    /// Displayed (upright) width, after rotation.
    pub width: u32,
    /// Displayed (upright) height, after rotation.
    pub height: u32,
    /// Clockwise rotation we applied to make the frames upright: 0, 90, 180 or 270.
    pub rotation_deg: i32,
    /// FFmpeg codec name, e.g. `h264`, `hevc`, `vp9`, `vp8`, `mpeg4`.
    pub codec: String,
    /// Frames actually decoded.
    pub frame_count: u64,
}

/// One sampled frame.
#[derive(Debug, Clone)]
pub struct SampledFrame {
    /// Index of the decoded frame in the stream (0-based, presentation order).
    pub index: u64,
    /// Presentation time in seconds from the start of the stream.
    pub timestamp_s: f64,
    /// The frame, upright, RGB8.
    pub image: RgbImage,
    /// Kept only as a best-shot candidate (one of the best pre-scored frames), not as one of the
    /// evenly spread samples.
    pub candidate: bool,
    /// The frame's luma pre-score ([`crate::prescore`]), when its pixel format has an 8-bit luma plane.
    pub prescore: Option<f32>,
}

/// Which frames a decode returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    /// Frames spread evenly over the whole clip (first and last included).
    pub spread: usize,
    /// Extra frames: the best of every decoded frame by luma pre-score, at least
    /// [`crate::prescore::MIN_SPACING`] frames apart (those already in the spread count too).
    pub candidates: usize,
    /// Frames come out scaled down (aspect kept) so that their long side is at most this many
    /// pixels, in the same `sws_scale` call as the colour conversion; 0 = full size.
    pub max_side: u32,
}

impl From<usize> for Sampling {
    /// An even spread of `n` full-size frames and no candidates.
    fn from(spread: usize) -> Self {
        Self { spread, candidates: 0, max_side: 0 }
    }
}

/// The output size of a `width` x `height` frame under `max_side` (0 = unchanged): scaled so the
/// long side is `max_side`, the short side rounded, at least 1.
#[must_use]
pub fn fit_within(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let long = width.max(height);
    if max_side == 0 || long <= max_side || long == 0 {
        return (width, height);
    }
    let scale = f64::from(max_side) / f64::from(long);
    let dim = |v: u32| ((f64::from(v) * scale).round() as u32).clamp(1, max_side);
    (dim(width), dim(height))
}

/// A decoded clip: its facts and the sampled frames in presentation order.
#[derive(Debug, Clone)]
pub struct DecodedVideo {
    pub info: VideoInfo,
    pub frames: Vec<SampledFrame>,
}

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("not a readable video: {0}")]
    Unreadable(String),
    #[error("video has no video stream")]
    NoVideoStream,
    #[error("video is too long: {0:.1} s (limit {1:.1} s)")]
    TooLong(f64, f64),
    #[error("video has too many frames (limit {0})")]
    TooManyFrames(u64),
    #[error("video frame too large: {0}x{1}")]
    TooLarge(u32, u32),
    #[error("video has no decodable frame")]
    NoFrames,
    #[error("video refused: {0}")]
    Refused(String),
    #[error("video decoding took longer than {0:.1} s")]
    Timeout(f64),
    /// The decode budget refused the frames this clip needs ([`VisionError::OverBudget`] or
    /// [`VisionError::Busy`]), or the request's work budget its pixels
    /// ([`VisionError::TooMuchWork`]); `media` unwraps it so callers see the budget error itself.
    #[error(transparent)]
    Budget(Box<VisionError>),
}

/// Initialises FFmpeg once (idempotent, thread-safe). The decode functions call it themselves.
///
/// It also lowers FFmpeg's own log level to `fatal`: a server decoding untrusted uploads would
/// otherwise print a line to stderr for every damaged macroblock. Call
/// `ffmpeg_next::util::log::set_level` afterwards to see them while debugging.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Err(e) = ffmpeg::init() {
            tracing::error!(error = %e, "ffmpeg init failed");
        }
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
    });
}

/// Decodes the video file at `path` and returns `sample_count` frames spread evenly over the whole
/// clip (first and last included when `sample_count >= 2`, the middle one when it is 1; fewer if
/// the clip has fewer frames), upright. Never panics on bad input.
pub fn decode_video_file(
    path: &Path,
    sampling: impl Into<Sampling>,
    limits: &VideoLimits,
) -> Result<DecodedVideo, VideoError> {
    let deadline = Instant::now() + limits.decode_timeout;
    let open = || {
        let file = std::fs::File::open(path)
            .map_err(|e| VideoError::Unreadable(format!("cannot open {}: {e}", path.display())))?;
        let io =
            format::context::StreamIo::from_read_seek(file).map_err(|e| unreadable("cannot set up reading", &e))?;
        open_input(io, ALLOWED_FORMATS, deadline)
    };
    decode_with(&open, sampling.into(), limits, deadline, &mut Reservation::none())
}

/// Same as [`decode_video_file`] for a clip in memory (read through a custom I/O, no temporary file).
pub fn decode_video_bytes(
    bytes: &[u8],
    sampling: impl Into<Sampling>,
    limits: &VideoLimits,
) -> Result<DecodedVideo, VideoError> {
    decode_video_bytes_in(bytes, sampling, limits, &mut Reservation::none())
}

/// [`decode_video_bytes`] that reserves its working memory in `reservation` before allocating
/// it: as soon as the decoder knows the frame size, the decoder's own frames and the RGB samples,
/// then each frame it holds beyond those. A clip that does not fit is stopped there with
/// [`VideoError::Budget`], not after it was decoded. On success the reservation still holds the
/// working set: the caller shrinks it to the RGB samples it keeps.
pub fn decode_video_bytes_in(
    bytes: &[u8],
    sampling: impl Into<Sampling>,
    limits: &VideoLimits,
    reservation: &mut Reservation,
) -> Result<DecodedVideo, VideoError> {
    let sampling = sampling.into();
    if bytes.is_empty() {
        return Err(VideoError::Unreadable("empty input".into()));
    }
    let deadline = Instant::now() + limits.decode_timeout;
    let data: Arc<[u8]> = Arc::from(bytes);
    let open = || {
        let io = format::context::StreamIo::from_read_seek(Cursor::new(Arc::clone(&data)))
            .map_err(|e| unreadable("cannot set up reading", &e))?;
        open_input(io, ALLOWED_FORMATS, deadline)
    };
    decode_with(&open, sampling, limits, deadline, reservation)
}

/// Picks `n` frame indices spread evenly over `0..len` ([`crate::media::spread_indices`] on
/// frame numbers).
fn spread_indices(len: u64, n: usize) -> Vec<u64> {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    crate::media::spread_indices(len, n).into_iter().map(|i| i as u64).collect()
}

fn unreadable(what: &str, e: &ffmpeg::Error) -> VideoError {
    VideoError::Unreadable(format!("{what}: {e}"))
}

/// Opens a container read through our own I/O with the demuxer whitelist `formats`, no protocol,
/// the decoder whitelist, and an interrupt callback that fires at `deadline`.
fn open_input(
    io: format::context::StreamIo,
    formats: &str,
    deadline: Instant,
) -> Result<format::context::Input, VideoError> {
    open_input_with(io, formats, NO_PROTOCOL, deadline)
}

/// [`open_input`] with a chosen protocol whitelist (tests prove each whitelist on its own).
fn open_input_with(
    io: format::context::StreamIo,
    formats: &str,
    protocols: &str,
    deadline: Instant,
) -> Result<format::context::Input, VideoError> {
    let mut opts = ffmpeg::Dictionary::new();
    opts.set("format_whitelist", formats);
    opts.set("protocol_whitelist", protocols);
    opts.set("codec_whitelist", ALLOWED_DECODERS);
    // No external data references of mov/mp4 (off by default; stated so it stays off).
    opts.set("enable_drefs", "0");
    let ictx = format::input_from_stream_with_interrupt(io, None, Some(opts), move || Instant::now() >= deadline)
        .map_err(|e| {
            if Instant::now() >= deadline {
                VideoError::Timeout(0.0)
            } else if e == (ffmpeg::Error::Other { errno: ffmpeg::util::error::EINVAL }) {
                // avformat_open_input answers EINVAL for a demuxer off the whitelist.
                VideoError::Refused("not an mp4, mov, webm, mkv or avi container".into())
            } else {
                unreadable("cannot open container", &e)
            }
        })?;
    let name = ictx.format().name().to_string();
    if !name.split(',').any(|n| formats.split(',').any(|f| f == n)) {
        return Err(VideoError::Refused(format!("container format '{name}' is not allowed")));
    }
    Ok(ictx)
}

/// The deadline error, with the configured timeout in seconds.
fn timeout(limits: &VideoLimits) -> VideoError {
    VideoError::Timeout(limits.decode_timeout.as_secs_f64())
}

/// What the container says before any decoding.
#[derive(Debug, Clone)]
struct Header {
    stream_index: usize,
    /// Seconds per timestamp tick.
    time_base: f64,
    start_pts: Option<i64>,
    duration_s: Option<f64>,
    nb_frames: Option<u64>,
    fps: Option<f64>,
    /// Clockwise rotation from the stream's display matrix.
    rotation_cw: Option<i32>,
    codec: String,
}

impl Header {
    /// Frames we expect: the declared count, or duration x fps.
    fn expected_frames(&self) -> Option<u64> {
        if let Some(n) = self.nb_frames {
            return Some(n);
        }
        match (self.duration_s, self.fps) {
            (Some(d), Some(f)) => {
                let n = (d * f).round();
                (1.0..1e9).contains(&n).then_some(n as u64)
            }
            _ => None,
        }
    }
}

fn rational_f64(r: ffmpeg::Rational) -> Option<f64> {
    if r.numerator() > 0 && r.denominator() > 0 {
        let v = f64::from(r.numerator()) / f64::from(r.denominator());
        v.is_finite().then_some(v)
    } else {
        None
    }
}

fn read_header(ictx: &format::context::Input) -> Result<Header, VideoError> {
    let best = ictx
        .streams()
        .best(media::Type::Video)
        .filter(|s| !s.disposition().contains(format::stream::Disposition::ATTACHED_PIC));
    // av_find_best_stream can prefer a cover-art picture; fall back to any real video stream.
    let stream = match best {
        Some(s) => s,
        None => ictx
            .streams()
            .find(|s| {
                s.parameters().medium() == media::Type::Video
                    && !s.disposition().contains(format::stream::Disposition::ATTACHED_PIC)
            })
            .ok_or(VideoError::NoVideoStream)?,
    };
    let time_base = rational_f64(stream.time_base())
        .ok_or_else(|| VideoError::Unreadable("video stream has no time base".into()))?;
    let start_pts = Some(stream.start_time()).filter(|&t| t != ffmpeg::ffi::AV_NOPTS_VALUE);
    let stream_duration = Some(stream.duration()).filter(|&d| d > 0).map(|d| d as f64 * time_base);
    let duration_s = stream_duration
        .or_else(|| Some(ictx.duration()).filter(|&d| d > 0).map(|d| d as f64 / AV_TIME_BASE))
        .filter(|d| d.is_finite() && *d > 0.0);
    let nb_frames = Some(stream.frames()).filter(|&n| n > 0).map(|n| n as u64);
    // Plausible rates only: a bogus r_frame_rate such as 1000/1 (timestamps in ms) is not a rate.
    let plausible = |f: &f64| *f >= 0.1 && *f <= 480.0;
    let fps = rational_f64(stream.avg_frame_rate())
        .filter(plausible)
        .or_else(|| rational_f64(stream.rate()).filter(plausible));
    let rotation_cw = stream
        .side_data()
        .find(|sd| sd.kind() == codec::packet::side_data::Type::DisplayMatrix)
        .and_then(|sd| rotation_from_display_matrix(sd.data()));
    let id = stream.parameters().id();
    let codec = id.name().to_string();
    if !ALLOWED_CODECS.contains(&id) {
        return Err(VideoError::Refused(format!(
            "video codec '{codec}' is not allowed (h264, hevc, vp8, vp9, av1, mpeg4, mjpeg)"
        )));
    }
    Ok(Header { stream_index: stream.index(), time_base, start_pts, duration_s, nb_frames, fps, rotation_cw, codec })
}

/// Clockwise rotation (0, 90, 180, 270) a player applies to show a frame carrying this display
/// matrix (9 native-endian `int32`, the first two columns 16.16 fixed point).
///
/// `av_display_rotation_get(m) = -atan2(m[1]/|col1|, m[0]/|col0|)` in degrees is the
/// COUNTER-clockwise angle of the display transform, so the clockwise angle is `atan2(...)`.
/// Example: an iPhone portrait clip stores landscape pixels with `m = [0, 1, 0, -1, 0, 0, ...]`
/// (ffprobe: "rotation -90"), which must be turned 90 degrees clockwise. Flips (a negative
/// determinant) are ignored, as the FFmpeg 5.1 CLI does.
fn rotation_from_display_matrix(data: &[u8]) -> Option<i32> {
    let m: Vec<f64> =
        data.chunks_exact(4).take(9).map(|c| f64::from(i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))).collect();
    if m.len() < 9 {
        return None;
    }
    let scale0 = m[0].hypot(m[3]);
    let scale1 = m[1].hypot(m[4]);
    if scale0 == 0.0 || scale1 == 0.0 {
        return None;
    }
    let cw = (m[1] / scale1).atan2(m[0] / scale0).to_degrees();
    if !cw.is_finite() {
        return None;
    }
    Some(((cw / 90.0).round() as i32).rem_euclid(4) * 90)
}

/// A decoded frame held by reference (no copy) until we know whether it is a sample.
struct Held {
    ts: Option<i64>,
    frame: frame::Video,
    prescore: Option<f32>,
}

/// Result of one decoding pass.
struct Pass {
    /// Frames held, by index; always includes the last decoded frame.
    held: BTreeMap<u64, Held>,
    decoded: u64,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    /// Display matrix on the first frame (used when the stream has none).
    frame_rotation_cw: Option<i32>,
    /// The best pre-scored frames so far (also held).
    candidates: Candidates,
}

/// Which frames to hold while decoding.
struct Keep<'a> {
    /// Indices chosen from the header (sorted).
    targets: &'a [u64],
    /// The header gives no exact frame count: also hold every `stride`-th frame, the stride doubling
    /// whenever too many are held, so that a good spread exists whatever the real count is.
    stride: bool,
    sampling: Sampling,
}

/// Memory we let held (undecoded-to-RGB) frames take in stride mode, beyond 2 per sample.
const HOLD_BUDGET_BYTES: u64 = 256 * 1024 * 1024;

/// Frames the decoder keeps for itself (references, one in flight per thread), counted in the
/// decode budget besides the frames we hold. An estimate: H.264 main profile at phone settings
/// uses 1 to 4 references.
const DECODER_FRAMES: u64 = 8;

/// Bytes of one decoded frame of `format` (planar YUV as phones record it; anything else counted
/// as 3 bytes a pixel, which covers 4:4:4 and 10-bit 4:2:0).
fn raw_frame_bytes(format: Pixel, w: u32, h: u32) -> u64 {
    let px = u64::from(w) * u64::from(h);
    match format {
        Pixel::YUV420P | Pixel::YUVJ420P | Pixel::NV12 | Pixel::NV21 => px * 3 / 2,
        Pixel::YUV422P | Pixel::YUVJ422P => px * 2,
        _ => px * 3,
    }
}

fn decode_with(
    open: &dyn Fn() -> Result<format::context::Input, VideoError>,
    sampling: Sampling,
    limits: &VideoLimits,
    deadline: Instant,
    reservation: &mut Reservation,
) -> Result<DecodedVideo, VideoError> {
    init();
    let started = Instant::now();
    let ictx = open().map_err(|e| if matches!(e, VideoError::Timeout(_)) { timeout(limits) } else { e })?;
    let header = read_header(&ictx)?;
    stage_done("open", started);
    decode_opened(open, ictx, header, sampling, limits, deadline, reservation)
}

/// Records how long a stage of a video decode took (see [`crate::VIDEO_DECODE_SECONDS`]).
fn stage_done(stage: &'static str, started: Instant) {
    metrics::histogram!(crate::VIDEO_DECODE_SECONDS, "stage" => stage).record(started.elapsed());
}

/// Decodes an opened input whose header was read (split out so tests can feed a lying header).
fn decode_opened(
    open: &dyn Fn() -> Result<format::context::Input, VideoError>,
    mut ictx: format::context::Input,
    header: Header,
    sampling: Sampling,
    limits: &VideoLimits,
    deadline: Instant,
    reservation: &mut Reservation,
) -> Result<DecodedVideo, VideoError> {
    // Refuse from the header before decoding anything.
    if let Some(d) = header.duration_s
        && d > limits.max_duration_s
    {
        return Err(VideoError::TooLong(d, limits.max_duration_s));
    }
    if let Some(n) = header.nb_frames
        && n > limits.max_frames
    {
        return Err(VideoError::TooManyFrames(limits.max_frames));
    }

    // Exact count (mp4, mov, avi): hold exactly the planned frames. Only an estimate (webm: duration
    // x fps, wrong for variable frame rate) or nothing: hold a doubling-stride spread as well.
    let sample_count = sampling.spread;
    let planned = header.expected_frames().map(|e| spread_indices(e, sample_count)).unwrap_or_default();
    let keep = Keep { targets: &planned, stride: header.nb_frames.is_none(), sampling };
    let started = Instant::now();
    let mut pass = decode_pass(&mut ictx, &header, keep, limits, deadline, reservation)?;
    stage_done("decode", started);
    drop(ictx);

    if pass.decoded == 0 {
        return Err(VideoError::NoFrames);
    }
    if let Some(nb) = header.nb_frames
        && pass.decoded.saturating_mul(2) < nb
    {
        return Err(VideoError::Unreadable(format!(
            "truncated or corrupt video: decoded {} of {nb} frames",
            pass.decoded
        )));
    }

    let mut ideal = spread_indices(pass.decoded, sample_count);
    let mut picks = pick_nearest(&pass.held, &ideal);
    if !close_enough(&picks, &ideal, pass.decoded, sample_count) {
        // The header misled us (or gave nothing): decode again, now knowing the exact indices.
        tracing::debug!(
            decoded = pass.decoded,
            expected = ?header.expected_frames(),
            "video header frame count was off, decoding a second time"
        );
        let mut ictx = open().map_err(|e| if matches!(e, VideoError::Timeout(_)) { timeout(limits) } else { e })?;
        let keep = Keep { targets: &ideal, stride: false, sampling };
        // The first pass's frames stay held (and reserved) until the second one has succeeded.
        let started = Instant::now();
        let second = decode_pass(&mut ictx, &header, keep, limits, deadline, reservation)?;
        stage_done("decode", started);
        if second.decoded > 0 {
            pass = second;
            ideal = spread_indices(pass.decoded, sample_count);
            picks = pick_nearest(&pass.held, &ideal);
        }
    }

    let rotation_deg = header.rotation_cw.or(pass.frame_rotation_cw).unwrap_or(0);
    let origin = header.start_pts.or(pass.first_ts);
    let fps_guess = header.fps.unwrap_or(30.0);

    // The spread, then the candidates that are not already in it, in frame order.
    let spread: BTreeSet<u64> = picks.iter().copied().collect();
    let mut all: BTreeSet<u64> = spread.clone();
    all.extend(pass.candidates.indices());

    // Colour conversion (and scaling) of the kept frames, split over the decode threads, each
    // with its own scaler; the frames come back in order.
    let kept: Vec<(u64, Held)> = all.into_iter().filter_map(|i| pass.held.remove(&i).map(|h| (i, h))).collect();
    let started = Instant::now();
    let convert = |part: Vec<(u64, Held)>| -> Result<Vec<SampledFrame>, VideoError> {
        let mut scaler: Option<scaling::Context> = None;
        let mut out = Vec::with_capacity(part.len());
        for (index, mut held) in part {
            let rgb = to_rgb(&mut scaler, &mut held.frame, sampling.max_side)?;
            let image = match rotation_deg {
                90 => image::imageops::rotate90(&rgb),
                180 => image::imageops::rotate180(&rgb),
                270 => image::imageops::rotate270(&rgb),
                _ => rgb,
            };
            let timestamp_s = match (held.ts, origin) {
                (Some(ts), Some(o)) => (ts.saturating_sub(o) as f64 * header.time_base).max(0.0),
                _ => index as f64 / fps_guess,
            };
            out.push(SampledFrame {
                index,
                timestamp_s,
                image,
                candidate: !spread.contains(&index),
                prescore: held.prescore,
            });
        }
        Ok(out)
    };
    let job = crate::load::Job::start();
    let workers = job.threads(DECODE_THREADS).clamp(1, kept.len().max(1));
    let frames: Vec<SampledFrame> = if workers <= 1 || kept.len() < 8 {
        convert(kept)?
    } else {
        let per = kept.len().div_ceil(workers);
        let mut parts: Vec<Vec<(u64, Held)>> = Vec::with_capacity(workers);
        let mut rest = kept;
        while rest.len() > per {
            let tail = rest.split_off(per);
            parts.push(rest);
            rest = tail;
        }
        parts.push(rest);
        let convert = &convert;
        let results: Vec<Result<Vec<SampledFrame>, VideoError>> = std::thread::scope(|s| {
            let handles: Vec<_> = parts.into_iter().map(|part| s.spawn(move || convert(part))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| Err(VideoError::Unreadable("pixel conversion thread failed".into())))
                })
                .collect()
        });
        let mut frames = Vec::new();
        for r in results {
            frames.extend(r?);
        }
        frames
    };
    drop(job);
    // Size of the picture when no sample was asked for (stored frames are already rotated).
    let stored_size: Option<(u32, u32)> = frames.first().map(|f| {
        if rotation_deg % 180 == 90 { (f.image.height(), f.image.width()) } else { (f.image.width(), f.image.height()) }
    });
    stage_done("convert", started);
    // Size of the picture when no sample was asked for.
    let (sw, sh) = match stored_size {
        Some(s) => s,
        None => pass.held.values().next_back().map(|h| (h.frame.width(), h.frame.height())).unwrap_or((0, 0)),
    };
    let (width, height) = if rotation_deg % 180 == 90 { (sh, sw) } else { (sw, sh) };

    let span_s = match (pass.first_ts, pass.last_ts) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 * header.time_base),
        _ => None,
    };
    // Average rate: from the exact count when the header has one, else measured from the
    // timestamps (a webm header's rate is a guess, wrong for variable frame rate).
    let measured_fps = span_s.filter(|_| pass.decoded > 1).map(|s| (pass.decoded - 1) as f64 / s);
    let fps = if header.nb_frames.is_some() { header.fps.or(measured_fps) } else { measured_fps.or(header.fps) }
        .unwrap_or(0.0);
    let duration_s = header
        .duration_s
        .or_else(|| span_s.map(|s| s + if fps > 0.0 { 1.0 / fps } else { 0.0 }))
        .or_else(|| (fps > 0.0).then(|| pass.decoded as f64 / fps))
        .unwrap_or(0.0);

    Ok(DecodedVideo {
        info: VideoInfo {
            duration_s,
            fps,
            width,
            height,
            rotation_deg,
            codec: header.codec,
            frame_count: pass.decoded,
        },
        frames,
    })
}

/// For each ideal index, the nearest held frame (deduplicated, in order).
fn pick_nearest(held: &BTreeMap<u64, Held>, ideal: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::with_capacity(ideal.len());
    for &i in ideal {
        let below = held.range(..=i).next_back().map(|(&k, _)| k);
        let above = held.range(i..).next().map(|(&k, _)| k);
        let k = match (below, above) {
            (Some(b), Some(a)) => {
                if i - b <= a - i {
                    b
                } else {
                    a
                }
            }
            (Some(b), None) => b,
            (None, Some(a)) => a,
            (None, None) => continue,
        };
        if out.last() != Some(&k) {
            out.push(k);
        }
    }
    out
}

/// Whether the picks are close to the ideal spread: all distinct and each within a quarter of the
/// sample spacing (at least one frame) of its ideal index.
fn close_enough(picks: &[u64], ideal: &[u64], total: u64, sample_count: usize) -> bool {
    if picks.len() != ideal.len() {
        return false;
    }
    let spacing = if sample_count >= 2 { total.saturating_sub(1) / (sample_count as u64 - 1) } else { total / 2 };
    let tol = (spacing / 4).max(1);
    picks.iter().zip(ideal).all(|(&p, &i)| p.abs_diff(i) <= tol)
}

fn decode_pass(
    ictx: &mut format::context::Input,
    header: &Header,
    keep: Keep<'_>,
    limits: &VideoLimits,
    deadline: Instant,
    reservation: &mut Reservation,
) -> Result<Pass, VideoError> {
    let parameters = ictx.stream(header.stream_index).ok_or(VideoError::NoVideoStream)?.parameters();
    let mut ctx =
        codec::context::Context::from_parameters(parameters).map_err(|e| unreadable("bad codec parameters", &e))?;
    // Counted for as long as the decoder lives; one thread when other jobs run (see `load`).
    let job = crate::load::Job::start();
    ctx.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: job.threads(DECODE_THREADS),
        ..Default::default()
    });
    let mut decoder = ctx
        .decoder()
        .video()
        .map_err(|e| unreadable(&format!("cannot open a decoder for codec '{}'", header.codec), &e))?;
    let (w, h) = (decoder.width(), decoder.height());
    if u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(VideoError::TooLarge(w, h));
    }
    // Reserve before anything is allocated: the decoder's own frames and the RGB samples now,
    // each held frame beyond the decoder's as it is kept (below).
    let frame_bytes = raw_frame_bytes(decoder.format(), w, h);
    let samples_rgb =
        ((keep.sampling.spread + keep.sampling.candidates) as u64).saturating_mul(u64::from(w) * u64::from(h) * 3);
    reservation
        .grow(frame_bytes.saturating_mul(DECODER_FRAMES).saturating_add(samples_rgb))
        .map_err(|e| VideoError::Budget(Box::new(e)))?;
    let mut held_reserved: usize = 0;
    // Stride mode: hold at most 4 frames per sample (2 if they are huge) besides the targets.
    let mut stride: u64 = 1;
    let cap = {
        let n = keep.sampling.spread.max(1) as u64;
        let frame_bytes = (u64::from(w) * u64::from(h) * 3 / 2).max(1);
        let per_budget = (HOLD_BUDGET_BYTES / frame_bytes).max(2 * n);
        usize::try_from((4 * n).min(per_budget))
            .unwrap_or(usize::MAX)
            .saturating_add(keep.targets.len())
            .saturating_add(keep.sampling.candidates)
    };

    let mut pass = Pass {
        held: BTreeMap::new(),
        decoded: 0,
        first_ts: None,
        last_ts: None,
        frame_rotation_cw: None,
        candidates: Candidates::new(keep.sampling.candidates),
    };
    // Last decoded frame when it is not among the held ones.
    let mut last: Option<(u64, Held)> = None;
    let origin = header.start_pts;
    // Packets that yield nothing cost CPU too: bound them (a few per frame is generous).
    let max_packets = limits.max_frames.saturating_mul(4).saturating_add(64);
    let mut packets: u64 = 0;

    let mut on_frame = |pass: &mut Pass, last: &mut Option<(u64, Held)>, f: frame::Video| {
        let index = pass.decoded;
        if index >= limits.max_frames {
            return Err(VideoError::TooManyFrames(limits.max_frames));
        }
        let (fw, fh) = (f.width(), f.height());
        if u64::from(fw) * u64::from(fh) > limits.max_pixels {
            return Err(VideoError::TooLarge(fw, fh));
        }
        if fw == 0 || fh == 0 {
            return Ok(());
        }
        // Every decoded frame is work of the request, kept or not.
        reservation.charge_pixels(u64::from(fw) * u64::from(fh)).map_err(|e| VideoError::Budget(Box::new(e)))?;
        let ts = f.timestamp().or_else(|| f.pts());
        if index == 0 {
            pass.first_ts = ts;
            pass.frame_rotation_cw = f
                .side_data(frame::side_data::Type::DisplayMatrix)
                .and_then(|sd| rotation_from_display_matrix(sd.data()));
        }
        if let Some(t) = ts {
            pass.last_ts = Some(pass.last_ts.map_or(t, |l| l.max(t)));
            if let Some(o) = origin.or(pass.first_ts) {
                let secs = t.saturating_sub(o) as f64 * header.time_base;
                if secs > limits.max_duration_s {
                    return Err(VideoError::TooLong(secs, limits.max_duration_s));
                }
            }
        }
        pass.decoded += 1;
        // A frame held by us (the held map plus the last one) pins a buffer the decoder would
        // otherwise reuse: reserve it before keeping it.
        let holding = pass.held.len() + 1;
        if holding > held_reserved {
            reservation
                .grow(frame_bytes.saturating_mul((holding - held_reserved) as u64))
                .map_err(|e| VideoError::Budget(Box::new(e)))?;
            held_reserved = holding;
        }
        // Every frame is pre-scored on its luma plane (no colour conversion); the best ones are
        // held as best-shot candidates.
        let prescore = if keep.sampling.candidates > 0 { luma_prescore(&f) } else { None };
        let offer = prescore.map_or(Offer::Rejected, |p| pass.candidates.offer(index, p));
        // Decoded frames are reference counted: keeping one holds the decoder's buffer, no copy.
        let held = Held { ts, frame: f, prescore };
        let is_target = |i: &u64| keep.targets.binary_search(i).is_ok();
        let by_stride = |i: &u64, stride: u64| keep.stride && i.is_multiple_of(stride);
        if let Offer::Replaced(old) = offer
            && !is_target(&old)
            && !by_stride(&old, stride)
        {
            pass.held.remove(&old);
        }
        if is_target(&index) || by_stride(&index, stride) || offer != Offer::Rejected {
            pass.held.insert(index, held);
            *last = None;
            if keep.stride && pass.held.len() > cap {
                stride *= 2;
                let candidates = &pass.candidates;
                let kept = |k: &u64| k.is_multiple_of(stride) || is_target(k) || candidates.contains(*k);
                // The current frame may be the clip's last one: keep it as such if the thinning drops it.
                if !kept(&index) {
                    *last = pass.held.remove(&index).map(|h| (index, h));
                }
                pass.held.retain(|k, _| kept(k));
            }
        } else {
            *last = Some((index, held));
        }
        Ok(())
    };

    let mut drain = |decoder: &mut codec::decoder::Video,
                     pass: &mut Pass,
                     last: &mut Option<(u64, Held)>|
     -> Result<(), VideoError> {
        loop {
            let mut f = frame::Video::empty();
            // EAGAIN (needs more input), EOF, or a decoding error: stop draining for now.
            if decoder.receive_frame(&mut f).is_err() {
                return Ok(());
            }
            on_frame(pass, last, f)?;
        }
    };

    for (stream, packet) in ictx.packets() {
        if stream.index() != header.stream_index {
            continue;
        }
        packets += 1;
        if packets > max_packets {
            return Err(VideoError::TooManyFrames(limits.max_frames));
        }
        if Instant::now() >= deadline {
            return Err(timeout(limits));
        }
        // A damaged packet is skipped: the decoder resynchronises on the next ones.
        let _ = decoder.send_packet(&packet);
        drain(&mut decoder, &mut pass, &mut last)?;
    }
    // The packet iterator also ends when the interrupt callback stops a read: that is a timeout,
    // not the end of the clip.
    if Instant::now() >= deadline {
        return Err(timeout(limits));
    }
    let _ = decoder.send_eof();
    drain(&mut decoder, &mut pass, &mut last)?;

    if let Some((index, held)) = last {
        pass.held.insert(index, held);
    }
    Ok(pass)
}

/// The pre-score of a decoded frame from its 8-bit luma plane; `None` for other pixel formats
/// (10-bit, RGB), whose frames are then only sampled by the spread.
fn luma_prescore(f: &frame::Video) -> Option<f32> {
    let eight_bit_luma = matches!(
        f.format(),
        Pixel::YUV420P
            | Pixel::YUVJ420P
            | Pixel::YUV422P
            | Pixel::YUVJ422P
            | Pixel::YUV444P
            | Pixel::YUVJ444P
            | Pixel::YUV440P
            | Pixel::YUVJ440P
            | Pixel::NV12
            | Pixel::NV21
            | Pixel::GRAY8
    );
    if !eight_bit_luma || f.planes() == 0 {
        return None;
    }
    prescore::score_luma(f.data(0), f.stride(0), f.width() as usize, f.height() as usize).map(|p| p.score)
}

/// Converts a decoded frame to packed RGB8 with `sws_scale`, scaled down to `max_side` (see
/// [`fit_within`]; 0 = same size).
fn to_rgb(scaler: &mut Option<scaling::Context>, f: &mut frame::Video, max_side: u32) -> Result<RgbImage, VideoError> {
    // swscale takes the range from the pixel format, not from the frame: full-range ("JPEG")
    // YUV, as many Android phones record, must be named as the yuvj formats or it comes out
    // with washed-out contrast. The buffer layout is identical.
    if f.color_range() == ffmpeg::util::color::Range::JPEG {
        let full = match f.format() {
            Pixel::YUV420P => Some(Pixel::YUVJ420P),
            Pixel::YUV422P => Some(Pixel::YUVJ422P),
            Pixel::YUV444P => Some(Pixel::YUVJ444P),
            Pixel::YUV440P => Some(Pixel::YUVJ440P),
            _ => None,
        };
        if let Some(p) = full {
            f.set_format(p);
        }
    }
    let (format, in_w, in_h) = (f.format(), f.width(), f.height());
    let (width, height) = fit_within(in_w, in_h, max_side);
    let sws = match scaler {
        Some(s)
            if s.input().format == format
                && s.input().width == in_w
                && s.input().height == in_h
                && s.output().width == width
                && s.output().height == height =>
        {
            s
        }
        _ => scaler.insert(
            scaling::Context::get(format, in_w, in_h, Pixel::RGB24, width, height, scaling::Flags::BILINEAR)
                .map_err(|e| unreadable(&format!("cannot convert pixel format {format:?}"), &e))?,
        ),
    };
    let mut out = frame::Video::empty();
    sws.run(f, &mut out).map_err(|e| unreadable("pixel conversion failed", &e))?;

    let row = width as usize * 3;
    let stride = out.stride(0);
    let data = out.data(0);
    let mut buf = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        let start = y * stride;
        let line = data.get(start..start + row).ok_or_else(|| VideoError::Unreadable("short RGB plane".into()))?;
        buf.extend_from_slice(line);
    }
    RgbImage::from_raw(width, height, buf).ok_or_else(|| VideoError::Unreadable("bad RGB buffer".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Instant;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/videos/");

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(DIR).join(name)
    }

    /// A deadline no test reaches.
    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    fn decode(name: &str, n: usize) -> DecodedVideo {
        decode_video_file(&fixture(name), n, &VideoLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Mean absolute difference per channel between two images after shrinking both to `w`x`h`.
    fn mad(a: &RgbImage, b: &RgbImage, w: u32, h: u32) -> f64 {
        use image::imageops::{FilterType, resize};
        let a = resize(a, w, h, FilterType::Triangle);
        let b = resize(b, w, h, FilterType::Triangle);
        let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| u64::from(x.abs_diff(y))).sum();
        sum as f64 / a.as_raw().len() as f64
    }

    fn check_basic(d: &DecodedVideo, w: u32, h: u32, fps: f64, dur: f64, frames: u64, codec: &str) {
        let i = &d.info;
        assert_eq!((i.width, i.height), (w, h), "{i:?}");
        assert!((i.fps - fps).abs() < 0.01, "{i:?}");
        assert!((i.duration_s - dur).abs() < 0.1, "{i:?}");
        assert_eq!(i.frame_count, frames, "{i:?}");
        assert_eq!(i.codec, codec, "{i:?}");
        for f in &d.frames {
            assert_eq!(f.image.dimensions(), (w, h), "frame {}", f.index);
        }
    }

    #[test]
    fn fit_within_keeps_the_aspect() {
        assert_eq!(fit_within(720, 1280, 640), (360, 640));
        assert_eq!(fit_within(1920, 1080, 640), (640, 360));
        assert_eq!(fit_within(640, 480, 640), (640, 480));
        assert_eq!(fit_within(720, 1280, 0), (720, 1280));
        assert_eq!(fit_within(4000, 2, 640), (640, 1));
        assert_eq!(fit_within(0, 0, 640), (0, 0));
    }

    #[test]
    fn spread_matches_rule() {
        assert_eq!(spread_indices(120, 8), vec![0, 17, 34, 51, 68, 85, 102, 119]);
        assert_eq!(spread_indices(5, 8), vec![0, 1, 2, 3, 4]);
        assert_eq!(spread_indices(60, 1), vec![30]);
        assert_eq!(spread_indices(60, 2), vec![0, 59]);
        assert!(spread_indices(0, 8).is_empty());
        assert!(spread_indices(10, 0).is_empty());
    }

    #[test]
    fn display_matrix_signs() {
        let enc = |m: [i32; 9]| m.iter().flat_map(|v| v.to_ne_bytes()).collect::<Vec<u8>>();
        let one = 1 << 16;
        let w = 1 << 30;
        // iPhone portrait: av_display_rotation_get = -90, player turns it 90 degrees clockwise.
        assert_eq!(rotation_from_display_matrix(&enc([0, one, 0, -one, 0, 0, 0, 0, w])), Some(90));
        // av_display_rotation_get = +90: turn 90 degrees counter-clockwise = 270 clockwise.
        assert_eq!(rotation_from_display_matrix(&enc([0, -one, 0, one, 0, 0, 0, 0, w])), Some(270));
        assert_eq!(rotation_from_display_matrix(&enc([-one, 0, 0, 0, -one, 0, 0, 0, w])), Some(180));
        assert_eq!(rotation_from_display_matrix(&enc([one, 0, 0, 0, one, 0, 0, 0, w])), Some(0));
        assert_eq!(rotation_from_display_matrix(&enc([0; 9])), None);
        assert_eq!(rotation_from_display_matrix(&[1, 2, 3]), None);
    }

    #[test]
    fn video_portrait_mp4() {
        let d = decode("portrait_720x1280.mp4", 8);
        check_basic(&d, 720, 1280, 30.0, 4.0, 120, "h264");
        assert_eq!(d.info.rotation_deg, 0);
        let idx: Vec<u64> = d.frames.iter().map(|f| f.index).collect();
        assert_eq!(idx, vec![0, 17, 34, 51, 68, 85, 102, 119]);
        let first = &d.frames[0];
        let last = &d.frames[7];
        assert!(first.timestamp_s.abs() < 1e-6, "{}", first.timestamp_s);
        assert!((last.timestamp_s - 119.0 / 30.0).abs() < 0.01, "{}", last.timestamp_s);
        assert!(d.frames.windows(2).all(|w| w[0].timestamp_s < w[1].timestamp_s));
        // The clip zooms in: the first and last frames differ.
        assert!(mad(&first.image, &last.image, 72, 128) > 3.0);
    }

    #[test]
    fn video_sample_count_respected() {
        for n in [1usize, 2, 3, 8, 30] {
            let d = decode("clip.webm", n);
            assert_eq!(d.frames.len(), n, "n={n}");
            if n >= 2 {
                assert_eq!(d.frames[0].index, 0);
                assert_eq!(d.frames[n - 1].index, 59);
            }
        }
        // More samples than frames: every frame once.
        let d = decode("blur_then_sharp.mp4", 50);
        let idx: Vec<u64> = d.frames.iter().map(|f| f.index).collect();
        assert_eq!(idx, (0..20).collect::<Vec<_>>());
        // Zero samples still decodes and counts.
        let d = decode("clip.avi", 0);
        assert!(d.frames.is_empty());
        assert_eq!(d.info.frame_count, 60);
        assert_eq!((d.info.width, d.info.height), (360, 640));
    }

    #[test]
    fn best_shot_candidates_come_from_every_decoded_frame() {
        let sampling = Sampling { spread: 8, candidates: 4, max_side: 0 };
        // Exact count (mp4) and no count at all (webm, stride mode): same rules.
        for name in ["sharp_window.mp4", "clip.webm", "portrait_720x1280.mp4"] {
            let d = decode_video_file(&fixture(name), sampling, &VideoLimits::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let spread: Vec<u64> = d.frames.iter().filter(|f| !f.candidate).map(|f| f.index).collect();
            let cands: Vec<u64> = d.frames.iter().filter(|f| f.candidate).map(|f| f.index).collect();
            assert_eq!(spread.len(), 8, "{name}: {spread:?}");
            assert!(cands.len() <= 4, "{name}: {cands:?}");
            assert!(d.frames.windows(2).all(|w| w[0].index < w[1].index), "{name}: frame order");
            assert!(d.frames.iter().all(|f| f.prescore.is_some()), "{name}: every frame is pre-scored");
            if name == "sharp_window.mp4" {
                assert!(cands.iter().filter(|i| (55..=64).contains(*i)).count() >= 2, "{cands:?}");
            }
        }
        // No candidates asked: no pre-score work, the spread alone.
        let d = decode("sharp_window.mp4", 8);
        assert_eq!(d.frames.len(), 8);
        assert!(d.frames.iter().all(|f| !f.candidate && f.prescore.is_none()));
    }

    #[test]
    fn video_webm_avi_mov() {
        let d = decode("clip.webm", 8);
        check_basic(&d, 360, 640, 30.0, 2.0, 60, "vp9");
        assert_eq!(d.frames.len(), 8);
        assert!((d.frames[7].timestamp_s - 59.0 / 30.0).abs() < 0.01, "{}", d.frames[7].timestamp_s);

        let d = decode("clip.avi", 8);
        check_basic(&d, 360, 640, 30.0, 2.0, 60, "mpeg4");
        assert_eq!(d.frames.len(), 8);
        assert_eq!(d.frames[7].index, 59);

        // The audio track comes first in this file: it must be skipped.
        let d = decode("clip.mov", 8);
        check_basic(&d, 360, 640, 30.0, 2.0, 60, "h264");
        assert_eq!(d.frames.len(), 8);
        assert_eq!(d.frames[7].index, 59);
    }

    #[test]
    fn video_same_content_across_containers() {
        // webm, avi and mov hold the first 60 frames of the portrait clip at half size.
        let reference = decode("portrait_720x1280.mp4", 120);
        for name in ["clip.webm", "clip.avi", "clip.mov", "rot90.mp4", "rot270.mp4", "rot180.mp4"] {
            let d = decode(name, 4);
            for f in &d.frames {
                let r = &reference.frames[f.index as usize].image;
                let m = mad(&f.image, r, 36, 64);
                assert!(m < 6.0, "{name} frame {}: mad {m:.1}", f.index);
            }
        }
    }

    #[test]
    fn video_rotated_clips_come_out_upright() {
        let reference = decode("portrait_720x1280.mp4", 120);
        for (name, rot) in [("rot90.mp4", 90), ("rot270.mp4", 270), ("rot180.mp4", 180)] {
            let d = decode(name, 5);
            check_basic(&d, 360, 640, 30.0, 2.0, 60, "h264");
            assert_eq!(d.info.rotation_deg, rot, "{name}");
            for f in &d.frames {
                let r = &reference.frames[f.index as usize].image;
                let right = mad(&f.image, r, 36, 64);
                // The wrong sign turns the picture upside down relative to the right answer.
                let flipped = mad(&image::imageops::rotate180(&f.image), r, 36, 64);
                assert!(
                    right < 6.0 && flipped > 4.0 * right && flipped > 20.0,
                    "{name} frame {}: upright mad {right:.1}, upside-down mad {flipped:.1}",
                    f.index
                );
            }
        }
    }

    #[test]
    fn video_blur_then_sharp() {
        let d = decode("blur_then_sharp.mp4", 20);
        check_basic(&d, 360, 640, 10.0, 2.0, 20, "h264");
        // Sharpness = mean absolute horizontal luma gradient; frame 10 is the only sharp one.
        let sharp = |img: &RgbImage| {
            let g = image::imageops::grayscale(img);
            let mut s = 0u64;
            for y in 0..g.height() {
                for x in 1..g.width() {
                    s += u64::from(g.get_pixel(x, y)[0].abs_diff(g.get_pixel(x - 1, y)[0]));
                }
            }
            s as f64 / f64::from(g.width() * g.height())
        };
        let scores: Vec<f64> = d.frames.iter().map(|f| sharp(&f.image)).collect();
        let best = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(usize::MAX);
        assert_eq!(best, 10, "{scores:?}");
        assert!((d.frames[10].timestamp_s - 1.0).abs() < 1e-6);
    }

    #[test]
    fn video_bytes_same_as_file() {
        let path = fixture("clip.mov");
        let bytes = std::fs::read(&path).expect("read fixture");
        let a = decode_video_bytes(&bytes, 3, &VideoLimits::default()).expect("bytes");
        let b = decode_video_file(&path, 3, &VideoLimits::default()).expect("file");
        assert_eq!(a.info.frame_count, b.info.frame_count);
        assert_eq!(
            a.frames.iter().map(|f| f.index).collect::<Vec<_>>(),
            b.frames.iter().map(|f| f.index).collect::<Vec<_>>()
        );
        assert!(a.frames.iter().zip(&b.frames).all(|(x, y)| x.image == y.image));
    }

    #[test]
    fn video_bad_input_is_an_error() {
        let lim = VideoLimits::default();
        assert!(matches!(decode_video_bytes(&[], 8, &lim), Err(VideoError::Unreadable(_))));
        let mut x: u32 = 12345;
        let garbage: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert!(decode_video_bytes(&garbage, 8, &lim).is_err());
        assert!(decode_video_bytes(b"not a video at all", 8, &lim).is_err());
        // Text that looks like the start of an mp4 and nothing else.
        assert!(decode_video_bytes(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom", 8, &lim).is_err());
        for name in ["portrait_720x1280.mp4", "clip.mov", "clip.webm", "clip.avi", "rot90.mp4"] {
            let bytes = std::fs::read(fixture(name)).expect("read fixture");
            // First 10 KB: the mp4 has its index at the end, the mov (faststart) at the start.
            let r = decode_video_bytes(&bytes[..10 * 1024], 8, &lim);
            assert!(r.is_err(), "{name} truncated to 10 KB: {:?}", r.map(|d| d.info));
            // Zeroed middle must not panic (it may decode with damaged frames).
            let mut damaged = bytes.clone();
            let n = damaged.len();
            damaged[n / 3..n / 2].fill(0);
            let _ = decode_video_bytes(&damaged, 8, &lim);
            // Every other prefix length must not panic either.
            for cut in [100, 1000, n / 4, n / 2, n - 1000] {
                let _ = decode_video_bytes(&bytes[..cut], 4, &lim);
            }
        }
        let empty = std::env::temp_dir().join(format!("oz-video-empty-{}.mp4", std::process::id()));
        std::fs::write(&empty, b"").expect("write empty");
        assert!(matches!(decode_video_file(&empty, 8, &lim), Err(VideoError::Unreadable(_))));
        let _ = std::fs::remove_file(&empty);
        assert!(decode_video_file(Path::new("/nonexistent/video.mp4"), 8, &lim).is_err());
        // A still image is not a video here: media.rs sniffs images first, but it must not panic.
        let _ = decode_video_file(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/faces/fr_obama.jpg")),
            8,
            &lim,
        );
    }

    #[test]
    fn video_limits_refuse() {
        let path = fixture("portrait_720x1280.mp4");
        let short = VideoLimits { max_duration_s: 1.0, ..VideoLimits::default() };
        assert!(
            matches!(decode_video_file(&path, 8, &short), Err(VideoError::TooLong(d, l)) if (d - 4.0).abs() < 0.1 && l == 1.0)
        );
        let few = VideoLimits { max_frames: 100, ..VideoLimits::default() };
        assert!(matches!(decode_video_file(&path, 8, &few), Err(VideoError::TooManyFrames(100))));
        let small = VideoLimits { max_pixels: 640 * 480, ..VideoLimits::default() };
        assert!(matches!(decode_video_file(&path, 8, &small), Err(VideoError::TooLarge(720, 1280))));
        // webm declares no frame count: the limit is enforced while decoding.
        let few = VideoLimits { max_frames: 30, ..VideoLimits::default() };
        assert!(matches!(decode_video_file(&fixture("clip.webm"), 8, &few), Err(VideoError::TooManyFrames(30))));
        // Exactly at the limits is fine.
        let exact =
            VideoLimits { max_duration_s: 4.0, max_frames: 120, max_pixels: 720 * 1280, ..VideoLimits::default() };
        assert!(decode_video_file(&path, 8, &exact).is_ok());
    }

    #[test]
    fn video_stride_mode_without_header_count() {
        // Exercise the no-count path directly on the webm (which has duration and fps).
        init();
        let header = {
            let io =
                format::context::StreamIo::from_read_seek(std::fs::File::open(fixture("clip.webm")).expect("open"))
                    .expect("io");
            let ictx = open_input(io, ALLOWED_FORMATS, far()).expect("input");
            read_header(&ictx).expect("header")
        };
        assert_eq!(header.nb_frames, None);
        assert_eq!(header.expected_frames(), Some(60));
        let io = format::context::StreamIo::from_read_seek(std::fs::File::open(fixture("clip.webm")).expect("open"))
            .expect("io");
        let mut ictx = open_input(io, ALLOWED_FORMATS, far()).expect("input");
        let keep = Keep { targets: &[], stride: true, sampling: Sampling::from(4) };
        let pass = decode_pass(&mut ictx, &header, keep, &VideoLimits::default(), far(), &mut Reservation::none())
            .expect("pass");
        assert_eq!(pass.decoded, 60);
        // At most 4 per sample, plus the last frame.
        assert!(pass.held.len() <= 17, "{}", pass.held.len());
        assert!(pass.held.contains_key(&0) && pass.held.contains_key(&59));
        // The thinning can happen on the very last frame (20 frames, cap 4 x 4 + 3 targets = 19):
        // that frame must still be held.
        let io = format::context::StreamIo::from_read_seek(
            std::fs::File::open(fixture("blur_then_sharp.mp4")).expect("open"),
        )
        .expect("io");
        let mut blur = open_input(io, ALLOWED_FORMATS, far()).expect("input");
        let blur_header = read_header(&blur).expect("header");
        let keep = Keep { targets: &[0, 1, 2], stride: true, sampling: Sampling::from(4) };
        let p = decode_pass(&mut blur, &blur_header, keep, &VideoLimits::default(), far(), &mut Reservation::none())
            .expect("pass");
        assert_eq!(p.decoded, 20);
        assert!(p.held.contains_key(&19), "{:?}", p.held.keys().collect::<Vec<_>>());

        let ideal = spread_indices(60, 8);
        let picks = pick_nearest(&pass.held, &ideal);
        assert_eq!(picks.len(), 8);
        assert!(close_enough(&picks, &ideal, 60, 8), "{picks:?} vs {ideal:?}");
    }

    #[test]
    fn video_second_pass_when_header_is_wrong() {
        init();
        let path = fixture("clip.webm");
        let open = || {
            let file = std::fs::File::open(&path).map_err(|e| VideoError::Unreadable(e.to_string()))?;
            let io = format::context::StreamIo::from_read_seek(file).map_err(|e| unreadable("io", &e))?;
            open_input(io, ALLOWED_FORMATS, far())
        };
        let truth = spread_indices(60, 8);
        // (declared frame count, fps, duration) of a lying or empty header. A wrong exact count
        // needs the second pass (and then gets the exact indices); a wrong estimate (fps 10 -> 20
        // frames, fps 90 -> 180) or no estimate at all is covered by the stride-held frames.
        let cases = [
            (Some(20), Some(30.0), Some(2.0)),
            (Some(100), Some(30.0), Some(2.0)),
            (None, Some(10.0), Some(2.0)),
            (None, Some(90.0), Some(2.0)),
            (None, None, None),
        ];
        for (nb, fps, dur) in cases {
            let ictx = open().expect("open");
            let mut header = read_header(&ictx).expect("header");
            header.nb_frames = nb;
            header.fps = fps;
            header.duration_s = dur;
            let d = decode_opened(
                &open,
                ictx,
                header,
                Sampling::from(8),
                &VideoLimits::default(),
                far(),
                &mut Reservation::none(),
            )
            .expect("decode");
            let idx: Vec<u64> = d.frames.iter().map(|f| f.index).collect();
            assert_eq!(d.info.frame_count, 60);
            if nb.is_some() {
                assert_eq!(idx, truth, "declared {nb:?}");
            } else {
                assert_eq!(idx.len(), 8);
                assert_eq!((idx[0], idx[7]), (0, 59));
                assert!(close_enough(&idx, &truth, 60, 8), "{idx:?}");
                // Without an exact count, the rate is measured from the timestamps.
                assert!((d.info.fps - 30.0).abs() < 0.1, "{:?}", d.info);
            }
            if dur.is_none() {
                assert!((d.info.duration_s - 2.0).abs() < 0.1, "{:?}", d.info);
            }
            // Timestamps come from the stream, not from the header.
            assert!((d.frames[7].timestamp_s - 59.0 / 30.0).abs() < 0.01);
        }
    }

    /// A loopback listener that accepts connections, counts them, and never answers (a black hole).
    struct Sink {
        port: u16,
        accepted: Arc<std::sync::atomic::AtomicUsize>,
        stop: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Sink {
        fn start() -> Self {
            use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.set_nonblocking(true).expect("nonblocking");
            let port = listener.local_addr().expect("addr").port();
            let accepted = Arc::new(AtomicUsize::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let (a, st) = (Arc::clone(&accepted), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !st.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            a.fetch_add(1, Ordering::SeqCst);
                            held.push(conn);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
            Self { port, accepted, stop }
        }

        fn count(&self) -> usize {
            // Give a connection that is on its way time to be accepted.
            std::thread::sleep(Duration::from_millis(50));
            self.accepted.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl Drop for Sink {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// A DASH manifest whose segments live at `base`, behind the `<!--ftypjp2 -->` disguise.
    fn dash_manifest(base: &str) -> Vec<u8> {
        format!(
            r#"<!--ftypjp2 -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011" type="static" mediaPresentationDuration="PT4S" minBufferTime="PT1S">
 <BaseURL>{base}</BaseURL>
 <Period id="0" duration="PT4S">
  <AdaptationSet mimeType="video/mp4" segmentAlignment="true">
   <Representation id="v" codecs="avc1.64001f" width="720" height="1280" bandwidth="500000">
    <BaseURL>secret.mp4</BaseURL>
    <SegmentBase indexRange="0-999"><Initialization range="0-999"/></SegmentBase>
   </Representation>
  </AdaptationSet>
 </Period>
</MPD>
"#
        )
        .into_bytes()
    }

    /// Every manifest variant of the attack, each pointing at `http://127.0.0.1:port/` or at a real
    /// local video through `file:`.
    fn manifests(port: u16) -> Vec<(&'static str, Vec<u8>)> {
        let http = format!("http://127.0.0.1:{port}/");
        let local = fixture("portrait_720x1280.mp4");
        let file_url = format!("file:{}", local.display());
        let dir_url = format!("file:{}/", local.parent().map(|p| p.display().to_string()).unwrap_or_default());
        vec![
            ("dash-http", dash_manifest(&http)),
            ("dash-file", dash_manifest(&dir_url)),
            ("hls-http", format!("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\n{http}seg0.ts\n#EXT-X-ENDLIST\n").into_bytes()),
            ("hls-file", format!("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{file_url}\n#EXT-X-ENDLIST\n").into_bytes()),
            ("ffconcat-http", format!("ffconcat version 1.0\nfile '{http}a.mp4'\n").into_bytes()),
            ("ffconcat-file", format!("ffconcat version 1.0\nfile '{}'\n", local.display()).into_bytes()),
        ]
    }

    #[test]
    fn hostile_manifests_are_refused_without_any_connection() {
        let sink = Sink::start();
        let lim = VideoLimits { decode_timeout: Duration::from_secs(20), ..VideoLimits::default() };
        for (name, bytes) in manifests(sink.port) {
            let r = decode_video_bytes(&bytes, 8, &lim);
            // Refused (not merely timed out: no stalled read), and nothing was fetched.
            assert!(
                matches!(r, Err(VideoError::Refused(_) | VideoError::Unreadable(_))),
                "{name}: {:?}",
                r.map(|d| d.info)
            );
            assert_eq!(sink.count(), 0, "{name} made a connection");
        }
    }

    #[test]
    fn protocol_whitelist_alone_stops_nested_opens() {
        // Defence in depth: even with the manifest demuxers allowed, no protocol means no
        // connection. The control run (http and tcp allowed) proves the manifest does connect, and
        // that the deadline frees the thread from a listener that never answers.
        init();
        let sink = Sink::start();
        let formats = "dash,hls,concat,mov,matroska,avi";
        let bytes = dash_manifest(&format!("http://127.0.0.1:{}/", sink.port));
        let open = |protocols: &str, deadline: Instant| {
            let io = format::context::StreamIo::from_read_seek(Cursor::new(bytes.clone())).expect("io");
            open_input_with(io, formats, protocols, deadline).map(|_| ())
        };
        let r = open(NO_PROTOCOL, far());
        assert!(r.is_err());
        assert_eq!(sink.count(), 0, "no protocol allowed, yet a connection was made");
        let started = Instant::now();
        let r = open("http,tcp", Instant::now() + Duration::from_secs(2));
        assert!(r.is_err(), "a black-hole server cannot produce a video");
        let waited = started.elapsed();
        // The control connects (Debian's FFmpeg has the DASH demuxer), and the interrupt callback
        // frees the thread from the silent socket instead of leaving it hanging.
        assert!(sink.count() > 0, "control: the DASH manifest made no connection, the test proves nothing");
        assert!(waited < Duration::from_secs(60), "{waited:?}");
    }

    #[test]
    fn deadline_stops_decoding() {
        let lim = VideoLimits { decode_timeout: Duration::ZERO, ..VideoLimits::default() };
        let bytes = std::fs::read(fixture("portrait_720x1280.mp4")).expect("read");
        assert!(matches!(decode_video_bytes(&bytes, 8, &lim), Err(VideoError::Timeout(_))));
        assert!(matches!(decode_video_file(&fixture("clip.webm"), 8, &lim), Err(VideoError::Timeout(_))));
    }

    #[test]
    fn codec_outside_whitelist_is_refused() {
        // FFV1 (lossless) in Matroska: an allowed container with a codec we do not decode.
        let r = decode_video_file(&fixture("ffv1.mkv"), 4, &VideoLimits::default());
        assert!(matches!(&r, Err(VideoError::Refused(m)) if m.contains("ffv1")), "{:?}", r.map(|d| d.info));
    }

    /// Timing: `cargo test -p oz-vision --release video_timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, run by hand in release"]
    fn video_timing() {
        let path = fixture("portrait_720x1280.mp4");
        let bytes = std::fs::read(&path).expect("read");
        let lim = VideoLimits::default();
        let _ = decode_video_file(&path, 8, &lim).expect("warm up");
        let mut file_ms = Vec::new();
        let mut bytes_ms = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            let d = decode_video_file(&path, 8, &lim).expect("decode");
            file_ms.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(d.frames.len(), 8);
            let t = Instant::now();
            let _ = decode_video_bytes(&bytes, 8, &lim).expect("decode");
            bytes_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        file_ms.sort_by(f64::total_cmp);
        bytes_ms.sort_by(f64::total_cmp);
        println!(
            "decode_video_file portrait_720x1280.mp4, 8 samples: median {:.1} ms (min {:.1}, max {:.1}); bytes: median {:.1} ms",
            (file_ms[4] + file_ms[5]) / 2.0,
            file_ms[0],
            file_ms[9],
            (bytes_ms[4] + bytes_ms[5]) / 2.0
        );
    }
}
