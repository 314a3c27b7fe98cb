//! Requested gestures (active liveness): per-frame measures from the face mesh, and whether the
//! gesture a video's tags ask for ([`Gesture`], parsed in `oz-domain`) happens in the clip.
//!
//! Per frame ([`measure`]): eye aspect ratio (EAR) and the dark band of each eye, mouth width and
//! corner lift, face size, head yaw and pitch (from the pose model, and from the mesh geometry for
//! comparison). Over a clip ([`detect_gesture`]): each measure is compared with the clip's own
//! baseline, not with absolute values, so a narrow-eyed or already smiling face is judged against
//! itself.
//!
//! **Left and right.** Measures are taken on the frames as decoded (what the camera saw; front
//! cameras record unmirrored). "Turn left" (`video_selfie_left`) is the user's left, which is the
//! image's right: the nose moves towards larger x. `yaw_deg` is positive when the head turns to
//! the user's left, `pitch_deg` positive when the head goes up (chin raised). A client that
//! mirrors its recordings swaps left and right.
//!
//! **Why the eyes are judged by their dark band.** The mesh model's eyelid points barely follow
//! a closed eye: on the synthetic blink clip its EAR fell only from 0.195 to 0.179 (-8 %), and with
//! both eyes painted over in skin colour it still fell by only 3-12 % on four photos. So a blink is
//! read from the image at the places the mesh gives: across the middle of each eye, the height of
//! the band darker than the surrounding skin (iris, pupil, lash line), in eye widths. It fell to
//! 0.55 of the clip's median during the synthetic blink and stayed at 0.84 or more on every other
//! clip. EAR is still measured and reported.
//!
//! Thresholds are named constants below, chosen on the synthetic clips in
//! `tests/fixtures/gestures/` (docs/CALIBRATION.md has the numbers).

use image::RgbImage;
use oz_domain::gesture::Gesture;
use serde::Serialize;

use crate::detect::Face;
use crate::mesh::{FaceMesh, landmarks as lm};
use crate::pose::Pose;

/// Blink: an eye counts as closed when its dark band is at most this fraction of the clip's
/// open-eye level (the median over the clip). Measured: 0.55 during the synthetic blink, >= 0.84
/// on every clip without a blink.
pub const BLINK_CLOSED_RATIO: f32 = 0.72;
/// Blink: open again at this fraction of the open-eye level or more (before and after).
pub const BLINK_OPEN_RATIO: f32 = 0.85;
/// Smile: rise of mouth width + corner lift (in inter-ocular distances) over the clip's start.
/// Measured: +0.19 on the smile clip; on the others, over the frames facing the camera, at most
/// +0.08 in a single frame (the measure jitters by +-0.03 between frames of a still head).
pub const SMILE_RISE: f32 = 0.10;
/// Smile: only frames whose yaw and pitch are within this many degrees of the clip's start
/// count (turning the head changes the mouth's apparent width and lift: +0.12 on the synthetic
/// left turn, more than half the smile's rise).
pub const SMILE_MAX_TURN_DEG: f32 = 6.0;
/// Head turns: change of yaw (left/right) from the clip's start, degrees. Measured: +20.0 / -21.4
/// for turns of 24 degrees, at most 3.9 on clips without a turn.
pub const TURN_DEG: f32 = 15.0;
/// Head up/down: change of pitch from the clip's start, degrees. Measured: +23.3 / -20.4 for tilts
/// of 24 degrees, at most 4.9 on clips without a tilt.
pub const TILT_DEG: f32 = 15.0;
/// Zoom in: face size grows to this multiple of the start (zoom out: shrinks to its inverse).
/// Measured: 1.41 on the zoom-in clip and 0.71 on the zoom-out clip, within 0.96..1.05 on the others.
pub const ZOOM_RATIO: f32 = 1.25;
/// Scan: the head counts as still when yaw and pitch stay within this many degrees of the start.
pub const SCAN_STILL_DEG: f32 = 10.0;
/// Scan: at least this fraction of all frames show a face that is still.
pub const SCAN_MIN_STILL: f32 = 0.8;
/// A motion gesture must show in at least this many frames (one outlier frame is not enough).
pub const MIN_GESTURE_FRAMES: usize = 2;
/// Fewer frames with a face than this: nothing is detected.
pub const MIN_FACE_FRAMES: usize = 3;
/// Below this contrast (luma levels, 0..255) between skin and the darkest part of the eye patch,
/// the patch's contrast is taken to be this, so a smooth closed eye does not read as open noise.
pub const MIN_EYE_CONTRAST: f32 = 20.0;

/// The measures of one frame's face. Distances of the mouth are in inter-ocular distances (IOD:
/// between the midpoints of the two eyes' corners), so they do not change with the face's size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrameMeasures {
    /// Eye aspect ratio of the subject's right and left eye (6 mesh points each).
    pub ear_right: f32,
    pub ear_left: f32,
    /// Height of the dark band across the middle of each eye, in eye widths (see module doc).
    pub eye_dark_right: f32,
    pub eye_dark_left: f32,
    /// Contrast of each eye's patch: (skin - darkest 2 %) / skin. The pupil and iris make it high
    /// while the eye is open; a closed lid leaves lashes and creases only, and it falls (see
    /// [`eye_openness`]).
    pub eye_contrast_right: f32,
    pub eye_contrast_left: f32,
    /// Distance between the outer mouth corners / IOD.
    pub mouth_width: f32,
    /// How far the mouth corners are above the inner lip midpoint, along the face's up direction
    /// (perpendicular to the eye line) / IOD; positive = corners up.
    pub mouth_lift: f32,
    /// sqrt(width x height) of the mesh's bounding box, pixels.
    pub face_size: f32,
    /// Inter-ocular distance, pixels.
    pub inter_ocular: f32,
    /// Head yaw from the pose model, degrees, positive = turned to the user's left (image right).
    pub yaw_deg: f32,
    /// Head pitch from the pose model, degrees, positive = up.
    pub pitch_deg: f32,
    /// Yaw and pitch from the mesh geometry (the normal of the plane through the eye, cheek and
    /// mouth corners and the forehead-chin line), same signs. Reported, not used for decisions.
    pub mesh_yaw_deg: f32,
    pub mesh_pitch_deg: f32,
    /// The mesh model's face-presence probability.
    pub presence: f32,
}

impl FrameMeasures {
    /// Mean eye aspect ratio of both eyes.
    #[must_use]
    pub fn ear(&self) -> f32 {
        (self.ear_right + self.ear_left) / 2.0
    }

    /// Mean dark band of both eyes (eye widths).
    #[must_use]
    pub fn eye_dark(&self) -> f32 {
        (self.eye_dark_right + self.eye_dark_left) / 2.0
    }

    /// Mean patch contrast of both eyes.
    #[must_use]
    pub fn eye_contrast(&self) -> f32 {
        (self.eye_contrast_right + self.eye_contrast_left) / 2.0
    }

    /// The smile measure: mouth width + corner lift, in IODs.
    #[must_use]
    pub fn smile(&self) -> f32 {
        self.mouth_width + self.mouth_lift
    }
}

/// One analysed frame of a gesture clip: its main face, the mesh and the measures (`None` where
/// no face was found, or the mesh model says there is none).
#[derive(Debug, Clone, Serialize)]
pub struct GestureFrame {
    pub index: u64,
    pub face: Option<Face>,
    #[serde(skip)]
    pub mesh: Option<FaceMesh>,
    pub measures: Option<FrameMeasures>,
    /// The models did not run on this frame: its face, mesh and head angles are interpolated
    /// between the key frames around it ([`key_frames`]), its eye patches are its own. No mesh is
    /// kept for it (planarity uses measured meshes only), and it takes no part in continuity or
    /// identity checks.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interpolated: bool,
}

/// Longest time, in seconds, between two key frames of a gesture or challenge clip (the frames
/// whose face detector, mesh and pose run). Head turns, tilts and smiles last half a second or
/// more and are measured on key frames; a blink (0.1-0.3 s) is read from each frame's own eye
/// patches, which need only where the eyes are, and that is interpolated between key frames.
/// At 15 frames a second every second frame is a key frame.
pub const KEY_FRAME_INTERVAL_S: f64 = 0.14;

/// Which frames are key frames ([`KEY_FRAME_INTERVAL_S`]), from their timestamps: the first and
/// the last; then each frame whose successor would be more than the interval after the last key.
/// A frame without a timestamp (shot sets, stills) is always a key frame, and so are its
/// neighbours.
#[must_use]
pub fn key_frames(times: &[Option<f64>]) -> Vec<bool> {
    let n = times.len();
    let mut keys = vec![false; n];
    let mut last: Option<f64> = None;
    for i in 0..n {
        let next = times.get(i + 1).copied().flatten();
        keys[i] = match (times[i], last, next) {
            _ if i == 0 || i + 1 == n => true,
            (Some(_), Some(l), Some(nx)) => nx - l > KEY_FRAME_INTERVAL_S + 1e-6,
            _ => true,
        };
        if keys[i] {
            last = times[i];
        }
    }
    keys
}

/// A face mesh, box and head angles between two key frames' (`w` = 0 at `a`, 1 at `b`): the
/// points, box, landmarks and angles each moved linearly. `None` unless both frames have a face
/// whose mesh is a face and measures.
#[must_use]
pub fn interpolate(a: &GestureFrame, b: &GestureFrame, w: f32) -> Option<(Face, FaceMesh, f32, f32)> {
    let (fa, fb) = (a.face?, b.face?);
    let (ma, mb) = (a.mesh.as_ref().filter(|m| m.is_face())?, b.mesh.as_ref().filter(|m| m.is_face())?);
    let (xa, xb) = (a.measures?, b.measures?);
    if ma.points.len() != mb.points.len() {
        return None;
    }
    let l = |p: f32, q: f32| p + (q - p) * w;
    let mut landmarks = fa.landmarks;
    for (k, q) in landmarks.iter_mut().enumerate() {
        *q = [l(q[0], fb.landmarks[k][0]), l(q[1], fb.landmarks[k][1])];
    }
    let face = Face {
        x: l(fa.x, fb.x),
        y: l(fa.y, fb.y),
        w: l(fa.w, fb.w),
        h: l(fa.h, fb.h),
        score: fa.score.min(fb.score),
        landmarks,
    };
    let points = ma.points.iter().zip(&mb.points).map(|(p, q)| [l(p[0], q[0]), l(p[1], q[1]), l(p[2], q[2])]).collect();
    let mesh = FaceMesh { points, presence: ma.presence.min(mb.presence) };
    Some((face, mesh, l(xa.yaw_deg, xb.yaw_deg), l(xa.pitch_deg, xb.pitch_deg)))
}

/// One frame of a series: its index and its measures (`None` = no face).
pub type Measured = (u64, Option<FrameMeasures>);

/// The (frame index, measures) series of analysed frames, for [`detect_gesture`].
#[must_use]
pub fn series(frames: &[GestureFrame]) -> Vec<Measured> {
    frames.iter().map(|f| (f.index, f.measures)).collect()
}

/// Whether a requested gesture happened in a clip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GestureResult {
    pub requested: Gesture,
    pub detected: bool,
    /// 0..1; >= 0.5 exactly when `detected`. 0.5 at the threshold, 1.0 at twice the threshold's
    /// change (see [`detect_gesture`]).
    pub confidence: f32,
    /// The frame indices where the gesture shows (eyes closed, head turned, smiling...).
    pub frames: Vec<u64>,
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn mid(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]
}

/// Eye aspect ratio from the six points `[outer, upper1, upper2, inner, lower2, lower1]`:
/// (|upper1-lower1| + |upper2-lower2|) / (2 |outer-inner|). 0 when the eye has no width.
#[must_use]
pub fn eye_aspect_ratio(mesh: &FaceMesh, eye: &[usize; 6]) -> f32 {
    let p = |i: usize| mesh.xy(eye[i]);
    let width = dist(p(0), p(3));
    if width <= f32::EPSILON {
        return 0.0;
    }
    (dist(p(1), p(5)) + dist(p(2), p(4))) / (2.0 * width)
}

/// Distance between the midpoints of the two eyes' corners, pixels.
#[must_use]
pub fn inter_ocular(mesh: &FaceMesh) -> f32 {
    let r = mid(mesh.xy(lm::RIGHT_EYE_OUTER), mesh.xy(lm::RIGHT_EYE_INNER));
    let l = mid(mesh.xy(lm::LEFT_EYE_OUTER), mesh.xy(lm::LEFT_EYE_INNER));
    dist(r, l)
}

/// Mouth width / IOD and corner lift / IOD (see [`FrameMeasures`]). `None` when IOD is 0.
#[must_use]
pub fn mouth(mesh: &FaceMesh) -> Option<(f32, f32)> {
    let iod = inter_ocular(mesh);
    if iod <= f32::EPSILON {
        return None;
    }
    let (mr, ml) = (mesh.xy(lm::MOUTH_RIGHT), mesh.xy(lm::MOUTH_LEFT));
    let width = dist(mr, ml) / iod;
    // The face's "up": perpendicular to the eye line (subject's right eye -> left eye).
    let r = mid(mesh.xy(lm::RIGHT_EYE_OUTER), mesh.xy(lm::RIGHT_EYE_INNER));
    let l = mid(mesh.xy(lm::LEFT_EYE_OUTER), mesh.xy(lm::LEFT_EYE_INNER));
    let (ax, ay) = ((l[0] - r[0]) / iod, (l[1] - r[1]) / iod);
    // Unmirrored, the eye axis points to +x; up is then (ay, -ax) = -y. The sign is fixed by
    // requiring up to point from the mouth towards the eyes.
    let mut up = [ay, -ax];
    let eyes = mid(r, l);
    let lips = mid(mesh.xy(lm::LIP_UPPER_INNER), mesh.xy(lm::LIP_LOWER_INNER));
    if (eyes[0] - lips[0]) * up[0] + (eyes[1] - lips[1]) * up[1] < 0.0 {
        up = [-up[0], -up[1]];
    }
    let corners = mid(mr, ml);
    let lift = ((corners[0] - lips[0]) * up[0] + (corners[1] - lips[1]) * up[1]) / iod;
    Some((width, lift))
}

/// sqrt(width x height) of the bounding box of the mesh points, pixels.
#[must_use]
pub fn face_size(mesh: &FaceMesh) -> f32 {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in &mesh.points {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    if x1 < x0 || y1 < y0 {
        return 0.0;
    }
    ((x1 - x0) * (y1 - y0)).sqrt()
}

fn sub3(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn add3(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn dot3(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn norm3(a: [f32; 3]) -> Option<[f32; 3]> {
    let n = dot3(a, a).sqrt();
    (n > f32::EPSILON).then(|| [a[0] / n, a[1] / n, a[2] / n])
}

/// Head yaw and pitch (degrees) from the mesh's 3D points: the face's x axis runs from the
/// subject's right to left (eye corners, cheeks, mouth corners), its y axis from forehead to chin;
/// their normal towards the camera gives yaw = atan2(n.x, -n.z) (positive = turned to the user's
/// left, unmirrored) and pitch = atan2(-n.y, -n.z) (positive = up). Depends on the model's depth
/// estimate, which under-reads turns (see docs/CALIBRATION.md).
#[must_use]
pub fn mesh_angles(mesh: &FaceMesh) -> Option<(f32, f32)> {
    let p = |i: usize| mesh.points.get(i).copied().unwrap_or([0.0; 3]);
    let right = add3(add3(p(lm::RIGHT_EYE_OUTER), p(lm::CHEEK_RIGHT)), p(lm::MOUTH_RIGHT));
    let left = add3(add3(p(lm::LEFT_EYE_OUTER), p(lm::CHEEK_LEFT)), p(lm::MOUTH_LEFT));
    let x = norm3(sub3(left, right))?;
    let down = sub3(add3(p(lm::CHIN), p(lm::LIP_LOWER_OUTER)), add3(p(lm::FOREHEAD_TOP), p(lm::FOREHEAD)));
    let d = dot3(x, down);
    let y = norm3([down[0] - d * x[0], down[1] - d * x[1], down[2] - d * x[2]])?;
    // n = -(x × y): towards the camera (z grows away from it).
    let n = [-(x[1] * y[2] - x[2] * y[1]), -(x[2] * y[0] - x[0] * y[2]), -(x[0] * y[1] - x[1] * y[0])];
    Some((n[0].atan2(-n[2]).to_degrees(), (-n[1]).atan2(-n[2]).to_degrees()))
}

/// Bilinear luma (BT.601) of `img` at (x, y), clamped to the image.
fn luma_at(img: &RgbImage, x: f32, y: f32) -> f32 {
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return 0.0;
    }
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let l = |xx: u32, yy: u32| {
        let p = img.get_pixel(xx, yy).0;
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    };
    let top = l(x0, y0) * (1.0 - fx) + l(x1, y0) * fx;
    let bottom = l(x0, y1) * (1.0 - fx) + l(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Columns of the eye patch (across the middle 40 % of the eye) and rows (from 0.40 eye widths
/// above the corner line to 0.35 below).
const EYE_COLS: usize = 9;
const EYE_ROWS: usize = 76;
const EYE_HALF_SPAN: f32 = 0.2;
const EYE_TOP: f32 = -0.40;
const EYE_BOTTOM: f32 = 0.35;

/// The dark band of one eye, in eye widths: on an eye-aligned patch across the middle of the eye,
/// each sample counts as dark by how far its luma is below the patch's median (the skin) relative
/// to the patch's contrast (median - 2nd percentile, at least [`MIN_EYE_CONTRAST`]): fully at 65 %
/// of the contrast below the median, not at all at 35 %; the band is the mean over columns of the
/// dark height. An open eye shows its iris (about 0.2 eye widths); a closed one only the lash line.
#[must_use]
pub fn eye_dark_band(img: &RgbImage, mesh: &FaceMesh, outer: usize, inner: usize) -> f32 {
    eye_patch(img, mesh, outer, inner).0
}

/// The dark band ([`eye_dark_band`]) and the contrast ((skin - darkest 2 %) / skin, 0..1) of one
/// eye's patch.
#[must_use]
pub fn eye_patch(img: &RgbImage, mesh: &FaceMesh, outer: usize, inner: usize) -> (f32, f32) {
    let (p0, p1) = (mesh.xy(outer), mesh.xy(inner));
    let w = dist(p0, p1);
    if w <= 1.0 {
        return (0.0, 0.0);
    }
    let u = [(p1[0] - p0[0]) / w, (p1[1] - p0[1]) / w];
    let mut v = [-u[1], u[0]];
    if v[1] < 0.0 {
        v = [-v[0], -v[1]];
    }
    let c = mid(p0, p1);
    let dv = (EYE_BOTTOM - EYE_TOP) / (EYE_ROWS - 1) as f32;
    let mut samples = Vec::with_capacity(EYE_COLS * EYE_ROWS);
    for j in 0..EYE_COLS {
        let a = (-EYE_HALF_SPAN + 2.0 * EYE_HALF_SPAN * j as f32 / (EYE_COLS - 1) as f32) * w;
        for i in 0..EYE_ROWS {
            let b = (EYE_TOP + dv * i as f32) * w;
            samples.push(luma_at(img, c[0] + a * u[0] + b * v[0], c[1] + a * u[1] + b * v[1]));
        }
    }
    let mut sorted = samples.clone();
    sorted.sort_by(f32::total_cmp);
    let skin = sorted[sorted.len() / 2];
    let low = sorted[sorted.len() * 2 / 100];
    let contrast = (skin - low).max(MIN_EYE_CONTRAST);
    let hi = skin - 0.35 * contrast;
    let dark: f32 = samples.iter().map(|&s| ((hi - s) / (0.3 * contrast)).clamp(0.0, 1.0)).sum();
    (dark * dv / EYE_COLS as f32, ((skin - low) / skin.max(1.0)).clamp(0.0, 1.0))
}

/// The measures of one face, or `None` when the mesh is not a face (presence below
/// [`crate::mesh::MIN_PRESENCE`], or degenerate). `pose` is the pose model's estimate (its yaw is
/// positive towards the image left, so it is negated here).
#[must_use]
pub fn measure(img: &RgbImage, mesh: &FaceMesh, pose: &Pose) -> Option<FrameMeasures> {
    if !mesh.is_face() {
        return None;
    }
    let iod = inter_ocular(mesh);
    let (mouth_width, mouth_lift) = mouth(mesh)?;
    let (mesh_yaw_deg, mesh_pitch_deg) = mesh_angles(mesh)?;
    let (eye_dark_right, eye_contrast_right) = eye_patch(img, mesh, lm::RIGHT_EYE_OUTER, lm::RIGHT_EYE_INNER);
    let (eye_dark_left, eye_contrast_left) = eye_patch(img, mesh, lm::LEFT_EYE_OUTER, lm::LEFT_EYE_INNER);
    let m = FrameMeasures {
        ear_right: eye_aspect_ratio(mesh, &lm::RIGHT_EYE_EAR),
        ear_left: eye_aspect_ratio(mesh, &lm::LEFT_EYE_EAR),
        eye_dark_right,
        eye_dark_left,
        eye_contrast_right,
        eye_contrast_left,
        mouth_width,
        mouth_lift,
        face_size: face_size(mesh),
        inter_ocular: iod,
        yaw_deg: -pose.yaw,
        pitch_deg: pose.pitch,
        mesh_yaw_deg,
        mesh_pitch_deg,
        presence: mesh.presence,
    };
    let all = [
        m.ear_right,
        m.ear_left,
        m.eye_dark_right,
        m.eye_dark_left,
        m.eye_contrast_right,
        m.eye_contrast_left,
        m.mouth_width,
        m.mouth_lift,
        m.face_size,
        m.yaw_deg,
        m.pitch_deg,
        m.mesh_yaw_deg,
        m.mesh_pitch_deg,
    ];
    all.iter().all(|v| v.is_finite()).then_some(m)
}

pub(crate) fn median(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Confidence of a change `value` against its `threshold`: 0.5 * value / threshold below it,
/// then linear from 0.5 at the threshold to 1.0 at `full`.
pub(crate) fn confidence(value: f32, threshold: f32, full: f32) -> f32 {
    if !value.is_finite() || value <= 0.0 || threshold <= 0.0 {
        0.0
    } else if value < threshold {
        0.5 * value / threshold
    } else if full <= threshold {
        1.0
    } else {
        (0.5 + 0.5 * (value - threshold) / (full - threshold)).min(1.0)
    }
}

/// The clip's start level of a measure: the median over the first frames with a face (a sixth of
/// them, at least 3, at most half).
pub(crate) fn start_level(values: &[(u64, f32)]) -> Option<f32> {
    let n = values.len();
    let k = n.div_ceil(6).max(MIN_FACE_FRAMES).min(n.div_ceil(2)).max(1);
    median(values.iter().take(k).map(|&(_, v)| v).collect())
}

/// Whether `requested` happens in the clip given as (frame index, measures) in frame order
/// (`None` = no face in that frame; such frames never count for or against a gesture, except for
/// `Scan`, which needs the face in view).
///
/// - `Blink`: the eyes' dark band falls to [`BLINK_CLOSED_RATIO`] of the clip's median or less,
///   with an open frame ([`BLINK_OPEN_RATIO`]) before and after. Strength: the fall / (1 - ratio).
/// - `Smile`: mouth width + lift rises by [`SMILE_RISE`] over the start in at least
///   [`MIN_GESTURE_FRAMES`] frames, counting only frames facing the camera as at the start (yaw
///   and pitch within [`SMILE_MAX_TURN_DEG`]).
/// - `Left` / `Right`: yaw moves by [`TURN_DEG`] from the start towards the user's left / right
///   (positive / negative yaw) in at least [`MIN_GESTURE_FRAMES`] frames; `Up` / `Down`: pitch by
///   [`TILT_DEG`], up / down.
/// - `ZoomIn` / `ZoomOut`: the face size reaches [`ZOOM_RATIO`] times the start (or 1 / that).
/// - `Scan` ("hold still facing the camera"): a face is seen, with yaw and pitch within
///   [`SCAN_STILL_DEG`] of the start, in at least [`SCAN_MIN_STILL`] of all frames.
///
/// Confidence is 0.5 at the threshold and 1.0 at twice the threshold's change (for `Scan`: at
/// every frame still); below the threshold it falls linearly to 0.
#[must_use]
pub fn detect_gesture(series: &[Measured], requested: Gesture) -> GestureResult {
    let faces: Vec<(u64, FrameMeasures)> = series.iter().filter_map(|(i, m)| m.map(|m| (*i, m))).collect();
    let none = GestureResult { requested, detected: false, confidence: 0.0, frames: Vec::new() };
    if faces.len() < MIN_FACE_FRAMES {
        return none;
    }
    let pick = |f: fn(&FrameMeasures) -> f32| -> Vec<(u64, f32)> { faces.iter().map(|(i, m)| (*i, f(m))).collect() };
    match requested {
        Gesture::Blink => blink(&eye_openness(&faces), requested),
        Gesture::Smile => rise(&facing(&faces, SMILE_MAX_TURN_DEG, FrameMeasures::smile), SMILE_RISE, 1.0, requested),
        Gesture::Left => rise(&pick(|m| m.yaw_deg), TURN_DEG, 1.0, requested),
        Gesture::Right => rise(&pick(|m| m.yaw_deg), TURN_DEG, -1.0, requested),
        Gesture::Up => rise(&pick(|m| m.pitch_deg), TILT_DEG, 1.0, requested),
        Gesture::Down => rise(&pick(|m| m.pitch_deg), TILT_DEG, -1.0, requested),
        Gesture::ZoomIn => rise(&pick(|m| m.face_size.max(1e-3).ln()), ZOOM_RATIO.ln(), 1.0, requested),
        Gesture::ZoomOut => rise(&pick(|m| m.face_size.max(1e-3).ln()), ZOOM_RATIO.ln(), -1.0, requested),
        Gesture::Scan => scan(series.len(), &faces, requested),
    }
}

/// `f` of the frames whose yaw and pitch stay within `max_deg` of the clip's start.
fn facing(faces: &[(u64, FrameMeasures)], max_deg: f32, f: fn(&FrameMeasures) -> f32) -> Vec<(u64, f32)> {
    let yaws: Vec<(u64, f32)> = faces.iter().map(|(i, m)| (*i, m.yaw_deg)).collect();
    let pitches: Vec<(u64, f32)> = faces.iter().map(|(i, m)| (*i, m.pitch_deg)).collect();
    let (Some(y0), Some(p0)) = (start_level(&yaws), start_level(&pitches)) else { return Vec::new() };
    faces
        .iter()
        .filter(|(_, m)| (m.yaw_deg - y0).abs() <= max_deg && (m.pitch_deg - p0).abs() <= max_deg)
        .map(|(i, m)| (*i, f(m)))
        .collect()
}

/// A change of `sign * (value - start)` of at least `threshold` in [`MIN_GESTURE_FRAMES`] frames.
fn rise(values: &[(u64, f32)], threshold: f32, sign: f32, requested: Gesture) -> GestureResult {
    let Some(start) = start_level(values).filter(|_| values.len() >= MIN_FACE_FRAMES) else {
        return GestureResult { requested, detected: false, confidence: 0.0, frames: Vec::new() };
    };
    let deltas: Vec<(u64, f32)> = values.iter().map(|&(i, v)| (i, sign * (v - start))).collect();
    let frames: Vec<u64> = deltas.iter().filter(|(_, d)| *d >= threshold).map(|(i, _)| *i).collect();
    // The change held over MIN_GESTURE_FRAMES frames: the k-th largest change.
    let mut sorted: Vec<f32> = deltas.iter().map(|(_, d)| *d).collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let held = sorted.get(MIN_GESTURE_FRAMES - 1).copied().unwrap_or(0.0);
    let detected = frames.len() >= MIN_GESTURE_FRAMES;
    let mut conf = confidence(held, threshold, 2.0 * threshold);
    if !detected {
        conf = conf.min(0.49);
    }
    GestureResult { requested, detected, confidence: conf, frames: if detected { frames } else { Vec::new() } }
}

/// How much a fall of the eyes' patch contrast weighs against a fall of their dark band: a
/// contrast 25 % under the clip's median reads as closed as a dark band at
/// [`BLINK_CLOSED_RATIO`] (a 28 % fall).
const CONTRAST_WEIGHT: f32 = (1.0 - BLINK_CLOSED_RATIO) / 0.25;

/// How open the eyes are in each frame, relative to the clip (1 = as the clip's median frame):
/// the lower of the dark band's ratio to its median and the contrast's fall, weighted by
/// [`CONTRAST_WEIGHT`]. The dark band sees the iris disappear; the contrast sees the pupil
/// disappear, and still falls when a closing lid drags dark skin or brows into the patch (where
/// the dark band can even grow). Empty when the clip has no usable eyes.
#[must_use]
pub fn eye_openness(faces: &[(u64, FrameMeasures)]) -> Vec<(u64, f32)> {
    let dark = median(faces.iter().map(|(_, m)| m.eye_dark()).collect()).filter(|d| *d > 1e-3);
    let contrast = median(faces.iter().map(|(_, m)| m.eye_contrast()).collect()).filter(|c| *c > 1e-3);
    if dark.is_none() && contrast.is_none() {
        return Vec::new();
    }
    faces
        .iter()
        .map(|(i, m)| {
            let by_dark = dark.map_or(1.0, |d| m.eye_dark() / d);
            let by_contrast = contrast.map_or(1.0, |c| 1.0 - CONTRAST_WEIGHT * (1.0 - m.eye_contrast() / c));
            (*i, by_dark.min(by_contrast))
        })
        .collect()
}

fn blink(ratio: &[(u64, f32)], requested: Gesture) -> GestureResult {
    let none = GestureResult { requested, detected: false, confidence: 0.0, frames: Vec::new() };
    if ratio.is_empty() {
        return none;
    }
    // Closed frames with an open frame before and after them.
    let mut closed = Vec::new();
    let mut deepest: f32 = 1.0;
    for (k, &(i, r)) in ratio.iter().enumerate() {
        if r > BLINK_CLOSED_RATIO {
            continue;
        }
        let before = ratio[..k].iter().any(|&(_, o)| o >= BLINK_OPEN_RATIO);
        let after = ratio[k + 1..].iter().any(|&(_, o)| o >= BLINK_OPEN_RATIO);
        if before && after {
            closed.push(i);
            deepest = deepest.min(r);
        }
    }
    let lowest = ratio.iter().map(|&(_, r)| r).fold(1.0f32, f32::min);
    let detected = !closed.is_empty();
    let fall = if detected { 1.0 - deepest } else { 1.0 - lowest };
    let mut conf = confidence(fall, 1.0 - BLINK_CLOSED_RATIO, 2.0 * (1.0 - BLINK_CLOSED_RATIO));
    if !detected {
        conf = conf.min(0.49);
    }
    GestureResult { requested, detected, confidence: conf, frames: closed }
}

fn scan(total: usize, faces: &[(u64, FrameMeasures)], requested: Gesture) -> GestureResult {
    let yaws: Vec<(u64, f32)> = faces.iter().map(|(i, m)| (*i, m.yaw_deg)).collect();
    let pitches: Vec<(u64, f32)> = faces.iter().map(|(i, m)| (*i, m.pitch_deg)).collect();
    let (Some(y0), Some(p0)) = (start_level(&yaws), start_level(&pitches)) else {
        return GestureResult { requested, detected: false, confidence: 0.0, frames: Vec::new() };
    };
    let still: Vec<u64> = faces
        .iter()
        .filter(|(_, m)| (m.yaw_deg - y0).abs() <= SCAN_STILL_DEG && (m.pitch_deg - p0).abs() <= SCAN_STILL_DEG)
        .map(|(i, _)| *i)
        .collect();
    let frac = still.len() as f32 / total.max(1) as f32;
    let detected = frac >= SCAN_MIN_STILL;
    let mut conf = confidence(frac, SCAN_MIN_STILL, 1.0);
    if !detected {
        conf = conf.min(0.49);
    }
    GestureResult { requested, detected, confidence: conf, frames: if detected { still } else { Vec::new() } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_frames_are_at_most_the_interval_apart_and_stills_are_all_keys() {
        // 15 fps: every second frame, the last one too.
        let t15: Vec<Option<f64>> = (0..10).map(|i| Some(f64::from(i) / 15.0)).collect();
        let k = key_frames(&t15);
        assert_eq!(k, [true, false, true, false, true, false, true, false, true, true]);
        // 30 fps: every fourth.
        let t30: Vec<Option<f64>> = (0..9).map(|i| Some(f64::from(i) / 30.0)).collect();
        assert_eq!(key_frames(&t30), [true, false, false, false, true, false, false, false, true]);
        // Sparse frames (a long clip sampled): all keys.
        let sparse: Vec<Option<f64>> = (0..5).map(|i| Some(f64::from(i) * 0.5)).collect();
        assert!(key_frames(&sparse).iter().all(|&k| k));
        // No timestamps (a shot set): all keys, and one without a timestamp makes its
        // neighbours keys too.
        assert!(key_frames(&[None, None, None]).iter().all(|&k| k));
        let mut gap = t30.clone();
        gap[2] = None;
        let k = key_frames(&gap);
        assert!(k[1] && k[2] && k[3], "{k:?}");
        assert!(key_frames(&[]).is_empty());
    }

    fn gframe(x: f32, yaw: f32, mesh: bool) -> GestureFrame {
        let face = Face { x, y: 10.0, w: 100.0, h: 120.0, score: 0.9, landmarks: [[x, 10.0]; 5] };
        let points = (0..crate::mesh::POINTS).map(|k| [x + k as f32 * 0.1, 20.0, 1.0]).collect();
        GestureFrame {
            index: 0,
            face: Some(face),
            mesh: mesh.then_some(FaceMesh { points, presence: 0.99 }),
            measures: Some(FrameMeasures { yaw_deg: yaw, ..neutral() }),
            interpolated: false,
        }
    }

    #[test]
    fn interpolation_moves_box_points_and_angles_linearly() {
        let (a, b) = (gframe(0.0, 0.0, true), gframe(40.0, 20.0, true));
        let (face, mesh, yaw, pitch) = interpolate(&a, &b, 0.25).expect("both have faces");
        assert!((face.x - 10.0).abs() < 1e-4 && (face.landmarks[3][0] - 10.0).abs() < 1e-4);
        assert!((mesh.points[5][0] - 10.5).abs() < 1e-4 && (yaw - 5.0).abs() < 1e-4);
        assert!((pitch - neutral().pitch_deg).abs() < 1e-4);
        // No mesh, or no face, on either side: nothing to interpolate.
        assert!(interpolate(&a, &gframe(40.0, 20.0, false), 0.5).is_none());
        let none = GestureFrame { index: 1, face: None, mesh: None, measures: None, interpolated: false };
        assert!(interpolate(&none, &b, 0.5).is_none());
    }

    fn neutral() -> FrameMeasures {
        FrameMeasures {
            ear_right: 0.25,
            ear_left: 0.25,
            eye_dark_right: 0.22,
            eye_dark_left: 0.22,
            eye_contrast_right: 0.8,
            eye_contrast_left: 0.8,
            mouth_width: 0.9,
            mouth_lift: 0.0,
            face_size: 160.0,
            inter_ocular: 65.0,
            yaw_deg: 2.0,
            pitch_deg: -3.0,
            mesh_yaw_deg: 1.0,
            mesh_pitch_deg: 0.0,
            presence: 1.0,
        }
    }

    /// A 30-frame clip whose frames 10..20 are changed by `f`, with small alternating noise.
    fn clip(f: impl Fn(&mut FrameMeasures, usize)) -> Vec<Measured> {
        (0..30)
            .map(|t| {
                let mut m = neutral();
                let e = if t % 2 == 0 { 0.01 } else { -0.01 };
                m.eye_dark_right += e;
                m.mouth_width += e;
                m.yaw_deg += 50.0 * e;
                m.pitch_deg -= 50.0 * e;
                if (10..20).contains(&t) {
                    f(&mut m, t);
                }
                (t as u64, Some(m))
            })
            .collect()
    }

    #[test]
    fn each_gesture_is_found_on_its_own_change_only() {
        let cases: Vec<(Gesture, Vec<Measured>)> = vec![
            (
                Gesture::Blink,
                clip(|m, t| {
                    if (13..16).contains(&t) {
                        m.eye_dark_right = 0.08;
                        m.eye_dark_left = 0.08;
                    }
                }),
            ),
            (Gesture::Smile, clip(|m, _| m.mouth_width += 0.15)),
            (Gesture::Left, clip(|m, _| m.yaw_deg += 22.0)),
            (Gesture::Right, clip(|m, _| m.yaw_deg -= 22.0)),
            (Gesture::Up, clip(|m, _| m.pitch_deg += 20.0)),
            (Gesture::Down, clip(|m, _| m.pitch_deg -= 20.0)),
            (Gesture::ZoomIn, clip(|m, _| m.face_size *= 1.4)),
            (Gesture::ZoomOut, clip(|m, _| m.face_size /= 1.4)),
        ];
        for (g, series) in &cases {
            let r = detect_gesture(series, *g);
            assert!(r.detected && r.confidence >= 0.5, "{g:?} on its own clip: {r:?}");
            assert!(r.frames.iter().all(|i| (10..20).contains(i)), "{g:?} frames {:?}", r.frames);
            for (other, _) in &cases {
                if other != g {
                    let r = detect_gesture(series, *other);
                    assert!(!r.detected && r.confidence < 0.5, "{other:?} on the {g:?} clip: {r:?}");
                }
            }
            let still = clip(|_, _| {});
            let r = detect_gesture(&still, *g);
            assert!(!r.detected && r.frames.is_empty(), "{g:?} on a still clip: {r:?}");
        }
        let r = detect_gesture(&clip(|_, _| {}), Gesture::Scan);
        assert!(r.detected && r.confidence > 0.9, "{r:?}");
        let r = detect_gesture(&clip(|m, _| m.yaw_deg += 22.0), Gesture::Scan);
        assert!(!r.detected, "a turning head is not a scan: {r:?}");
    }

    #[test]
    fn confidence_grows_with_the_change() {
        let small = detect_gesture(&clip(|m, _| m.yaw_deg += 16.0), Gesture::Left);
        let big = detect_gesture(&clip(|m, _| m.yaw_deg += 35.0), Gesture::Left);
        assert!(small.detected && big.detected);
        assert!(small.confidence < big.confidence, "{small:?} {big:?}");
        assert!((big.confidence - 1.0).abs() < 1e-6);
        let under = detect_gesture(&clip(|m, _| m.yaw_deg += 12.0), Gesture::Left);
        assert!(!under.detected && under.confidence > 0.2 && under.confidence < 0.5, "{under:?}");
    }

    #[test]
    fn eyes_closed_to_the_end_are_not_a_blink() {
        let series: Vec<Measured> = (0..20)
            .map(|t| {
                let mut m = neutral();
                if t >= 12 {
                    m.eye_dark_right = 0.05;
                    m.eye_dark_left = 0.05;
                }
                (t, Some(m))
            })
            .collect();
        assert!(!detect_gesture(&series, Gesture::Blink).detected);
    }

    #[test]
    fn lost_faces_and_empty_clips_detect_nothing() {
        assert!(!detect_gesture(&[], Gesture::Blink).detected);
        let lost: Vec<Measured> = (0..30).map(|t| (t, None)).collect();
        for g in Gesture::ALL {
            let r = detect_gesture(&lost, g);
            assert!(!r.detected && r.confidence == 0.0 && r.frames.is_empty(), "{g:?}");
        }
        // Frames without a face in the middle are not closed eyes.
        let mut gap = clip(|_, _| {});
        for f in gap.iter_mut().skip(10).take(10) {
            f.1 = None;
        }
        assert!(!detect_gesture(&gap, Gesture::Blink).detected);
        // ...but a scan needs the face in view.
        assert!(!detect_gesture(&gap, Gesture::Scan).detected);
        // Two frames with a face are too few.
        let two: Vec<Measured> = (0..2).map(|t| (t, Some(neutral()))).collect();
        assert!(!detect_gesture(&two, Gesture::Scan).detected);
    }

    #[test]
    fn a_wider_mouth_while_turned_is_not_a_smile() {
        let turned = clip(|m, _| {
            m.yaw_deg += 20.0;
            m.mouth_width += 0.15;
        });
        assert!(detect_gesture(&turned, Gesture::Left).detected);
        assert!(!detect_gesture(&turned, Gesture::Smile).detected);
    }

    #[test]
    fn a_single_outlier_frame_is_not_a_turn() {
        let series = clip(|m, t| {
            if t == 12 {
                m.yaw_deg += 40.0;
            }
        });
        assert!(!detect_gesture(&series, Gesture::Left).detected);
    }

    #[test]
    fn confidence_mapping() {
        assert_eq!(confidence(0.0, 1.0, 2.0), 0.0);
        assert!((confidence(0.5, 1.0, 2.0) - 0.25).abs() < 1e-6);
        assert!((confidence(1.0, 1.0, 2.0) - 0.5).abs() < 1e-6);
        assert!((confidence(1.5, 1.0, 2.0) - 0.75).abs() < 1e-6);
        assert_eq!(confidence(9.0, 1.0, 2.0), 1.0);
        assert_eq!(confidence(f32::NAN, 1.0, 2.0), 0.0);
    }

    fn mesh_from(points: &[(usize, [f32; 3])]) -> FaceMesh {
        let mut p = vec![[0.0f32; 3]; crate::mesh::POINTS];
        for &(i, v) in points {
            p[i] = v;
        }
        FaceMesh { points: p, presence: 1.0 }
    }

    #[test]
    fn eye_aspect_ratio_of_a_known_eye() {
        // Eye 40 wide, lids 10 apart at both inner points: EAR = (10 + 10) / (2 * 40) = 0.25.
        let m = mesh_from(&[
            (33, [0.0, 0.0, 0.0]),
            (160, [13.0, -5.0, 0.0]),
            (158, [27.0, -5.0, 0.0]),
            (133, [40.0, 0.0, 0.0]),
            (153, [27.0, 5.0, 0.0]),
            (144, [13.0, 5.0, 0.0]),
        ]);
        assert!((eye_aspect_ratio(&m, &lm::RIGHT_EYE_EAR) - 0.25).abs() < 1e-6);
        // A degenerate eye gives 0, not NaN.
        assert_eq!(eye_aspect_ratio(&mesh_from(&[]), &lm::LEFT_EYE_EAR), 0.0);
    }

    /// A schematic upright face: eyes at y=0 (corners at x = -45,-15 and 15,45), mouth corners at
    /// (±25, 60) with a given lift, lips at (0, 60), forehead/chin/cheeks for the axes.
    fn schematic(lift: f32, half_mouth: f32) -> FaceMesh {
        mesh_from(&[
            (lm::RIGHT_EYE_OUTER, [-45.0, 0.0, 0.0]),
            (lm::RIGHT_EYE_INNER, [-15.0, 0.0, 0.0]),
            (lm::LEFT_EYE_INNER, [15.0, 0.0, 0.0]),
            (lm::LEFT_EYE_OUTER, [45.0, 0.0, 0.0]),
            (lm::MOUTH_RIGHT, [-half_mouth, 60.0 - lift, 0.0]),
            (lm::MOUTH_LEFT, [half_mouth, 60.0 - lift, 0.0]),
            (lm::LIP_UPPER_INNER, [0.0, 59.0, -5.0]),
            (lm::LIP_LOWER_INNER, [0.0, 61.0, -5.0]),
            (lm::LIP_LOWER_OUTER, [0.0, 70.0, -5.0]),
            (lm::CHEEK_RIGHT, [-70.0, 20.0, 30.0]),
            (lm::CHEEK_LEFT, [70.0, 20.0, 30.0]),
            (lm::FOREHEAD_TOP, [0.0, -80.0, 10.0]),
            (lm::FOREHEAD, [0.0, -50.0, 0.0]),
            (lm::CHIN, [0.0, 110.0, 0.0]),
        ])
    }

    #[test]
    fn mouth_width_and_lift_in_inter_ocular_units() {
        let m = schematic(6.0, 30.0);
        assert!((inter_ocular(&m) - 60.0).abs() < 1e-4);
        let (w, l) = mouth(&m).expect("mouth");
        assert!((w - 1.0).abs() < 1e-5, "{w}");
        assert!((l - 0.1).abs() < 1e-5, "{l}");
        // Corners below the lips: negative lift. Upside down the sign holds (up follows the face).
        let (_, l) = mouth(&schematic(-6.0, 30.0)).expect("mouth");
        assert!((l + 0.1).abs() < 1e-5, "{l}");
        let mut flipped = schematic(6.0, 30.0);
        flipped.points.iter_mut().for_each(|p| p[1] = -p[1]);
        let (_, l) = mouth(&flipped).expect("mouth");
        assert!((l - 0.1).abs() < 1e-5, "{l}");
    }

    fn rotate(m: &FaceMesh, yaw_deg: f32, pitch_deg: f32) -> FaceMesh {
        let (a, b) = (yaw_deg.to_radians(), pitch_deg.to_radians());
        let points = m
            .points
            .iter()
            .map(|&[x, y, z]| {
                // Yaw (as in the clip generator): x' = x cos a - z sin a, z' = x sin a + z cos a.
                let (x1, z1) = (x * a.cos() - z * a.sin(), x * a.sin() + z * a.cos());
                // Pitch: y' = y cos b + z sin b, z' = -y sin b + z cos b.
                let (y2, z2) = (y * b.cos() + z1 * b.sin(), -y * b.sin() + z1 * b.cos());
                [x1, y2, z2]
            })
            .collect();
        FaceMesh { points, presence: 1.0 }
    }

    #[test]
    fn mesh_angles_follow_a_rotation_with_the_documented_signs() {
        let base = schematic(0.0, 25.0);
        let (y0, p0) = mesh_angles(&base).expect("angles");
        for (yaw, pitch) in [(20.0f32, 0.0f32), (-20.0, 0.0), (0.0, 15.0), (0.0, -15.0), (10.0, 10.0)] {
            let (y, p) = mesh_angles(&rotate(&base, yaw, pitch)).expect("angles");
            assert!((y - y0 - yaw).abs() < 3.0, "yaw {yaw}: got {}", y - y0);
            assert!((p - p0 - pitch).abs() < 3.0, "pitch {pitch}: got {}", p - p0);
        }
        assert!(mesh_angles(&mesh_from(&[])).is_none());
    }

    #[test]
    fn face_size_is_the_box_geometric_mean() {
        let m = mesh_from(&[(0, [10.0, 10.0, 0.0]), (1, [50.0, 100.0, 0.0])]);
        // Other points sit at the origin: box 50 x 100.
        assert!((face_size(&m) - (50.0f32 * 100.0).sqrt()).abs() < 1e-3);
    }

    #[test]
    fn dark_band_sees_an_open_and_a_closed_eye() {
        // Skin 180; an open eye is a dark disc (iris, luma ~40) 12 px high in an eye 40 px wide;
        // a closed eye only a 2 px dark line.
        let draw = |half_height: i32| {
            let mut img = RgbImage::from_pixel(100, 60, image::Rgb([200, 170, 150]));
            for y in (30 - half_height)..(30 + half_height) {
                for x in 40..60 {
                    img.put_pixel(x as u32, y as u32, image::Rgb([40, 40, 40]));
                }
            }
            img
        };
        let m = mesh_from(&[(33, [30.0, 30.0, 0.0]), (133, [70.0, 30.0, 0.0])]);
        let open = eye_dark_band(&draw(6), &m, 33, 133);
        let closed = eye_dark_band(&draw(1), &m, 33, 133);
        assert!((open - 0.3).abs() < 0.05, "open {open}");
        assert!(closed < 0.1, "closed {closed}");
        // Smooth skin alone reads as nearly nothing, and a zero-width eye as 0.
        let skin = RgbImage::from_pixel(100, 60, image::Rgb([200, 170, 150]));
        assert!(eye_dark_band(&skin, &m, 33, 133) < 0.01);
        assert_eq!(eye_dark_band(&skin, &mesh_from(&[]), 33, 133), 0.0);
    }
}
