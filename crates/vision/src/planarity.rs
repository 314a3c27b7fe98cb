//! Planarity: a second anti-spoofing signal for videos, from the face mesh of several frames.
//!
//! A printed photo or a screen moved in front of the camera is one plane: whatever way it is
//! turned, the face's points in one frame map onto another frame's by a homography. A real head is
//! not flat: when it turns, the nose moves against the cheeks, and no homography fits.
//!
//! For each frame after the reference (the first one given), both fits are made from the
//! reference's inner-face points (those within [`INNER_FRACTION`] of the face-contour radius; the
//! contour points themselves are the model's guess of a silhouette, not image features):
//! - `residual`: RMS distance between the frame's points and the reference's mapped by the best
//!   homography (normalised DLT, SVD), over the inter-ocular distance (IOD);
//! - `motion`: the same for the best similarity (shift, turn in the image plane, scale), which is
//!   how much the face changed shape in the image: a turn out of the image plane (or a change of
//!   expression). Moving a face in the image plane, nearer or farther gives no motion: a still
//!   head is also nearly planar between frames, so there is nothing to judge then.
//!
//! A change of expression (a smile, a blink) also changes the face's shape in the image, and a
//! homography half explains a mouth that widens: on a still head a smile would read as flat. So a
//! frame's motion only counts when the rigid part of the face moved too ([`rigid_points`]: the
//! inner points less the mouth region and the eyelids): its similarity residual must be at least
//! [`RIGID_SHARE`] of the whole face's. When only the expression moves, there is nothing to judge.
//! ([`movement_planarity`], for a head movement a challenge asked for, counts every frame.)
//!
//! Over the frames whose `motion` is at least [`MIN_MOTION`] and rigid (at least
//! [`MIN_MOVING_FRAMES`] of them), `ratio` = sum of residuals / sum of motions: near 0 for a plane (the homography explains
//! the change), near 1 for a head (it explains little more than a similarity). The spoof score maps
//! `ratio` linearly from 1 at [`RATIO_PLANAR`] or below to 0 at [`RATIO_LIVE`] or above; with too
//! little motion it is `None` (inconclusive).

use nalgebra::{DMatrix, Matrix3, Vector3};
use serde::Serialize;

use crate::gesture::inter_ocular;
use crate::mesh::{FaceMesh, landmarks as lm};

/// Points used: within this fraction of the median face-contour radius from the contour's centre,
/// in the reference frame.
pub const INNER_FRACTION: f32 = 0.65;
/// Points within this many IODs of an eye's centre are left out (eyelids and what a blink pulls).
pub const EYE_EXCLUSION: f32 = 0.35;
/// Points lower than the nose tip by more than this many IODs (along the face's own vertical)
/// are left out: the mouth, the lips and the cheeks a smile lifts.
pub const BELOW_NOSE_TIP: f32 = 0.05;
/// A frame's motion counts only when the similarity residual of the rigid points is at least
/// this share of the inner points' (measured per moving frame: 0.28..0.40 for a smile on a still
/// head, 0.46..0.93 for turning and tilting heads and for the photos turned in front of the
/// camera on their key frames, 0.38 once for a photo; docs/CALIBRATION.md).
pub const RIGID_SHARE: f32 = 0.43;
/// A frame counts as moved when its similarity residual is at least this (IOD units). Measured on
/// the synthetic clips (largest over a clip): 0.014 at most on still (jittering) or zooming heads,
/// 0.027..0.034 for a photo turned by +-20 degrees, 0.053..0.092 for heads turned by 20..24
/// degrees, 0.040 for a smile.
pub const MIN_MOTION: f32 = 0.02;
/// At least this many moved frames for a verdict.
pub const MIN_MOVING_FRAMES: usize = 2;
/// Ratio at or below which the spoof score is 1 (the homography explains the motion).
pub const RATIO_PLANAR: f32 = 0.5;
/// Ratio at or above which the spoof score is 0. Measured: photo attacks 0.48 and 0.53, turning
/// heads 0.83..0.91, a smile 0.71 (docs/CALIBRATION.md).
pub const RATIO_LIVE: f32 = 0.8;

/// The planarity of one clip's face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Planarity {
    /// Frames compared with the reference.
    pub frames: usize,
    /// Frames whose motion reached [`MIN_MOTION`] and was rigid ([`RIGID_SHARE`]).
    pub moving_frames: usize,
    /// Frames whose motion reached [`MIN_MOTION`] but was mostly the expression's (not counted).
    pub expression_frames: usize,
    /// Largest homography residual over the frames, IOD units.
    pub residual: f32,
    /// Largest similarity residual (out-of-plane motion) over the frames, IOD units.
    pub motion: f32,
    /// Sum of residuals / sum of motions over the moved frames; `None` when too few moved.
    pub ratio: Option<f32>,
    /// 0..1, higher = more planar = more likely a photo or a screen; `None` = inconclusive.
    pub spoof_score: Option<f32>,
}

type Pt = [f64; 2];

/// The homography-fit and similarity-fit residuals (RMS, in the units of the points) from `a`
/// to `b`; `None` when the points are degenerate.
#[must_use]
pub fn fit_residuals(a: &[Pt], b: &[Pt]) -> Option<(f64, f64)> {
    let h = homography(a, b)?;
    let hr = rms(a, b, |p| apply(&h, p));
    let sr = similarity_residual(a, b)?;
    Some((hr?, sr))
}

fn rms(a: &[Pt], b: &[Pt], f: impl Fn(Pt) -> Option<Pt>) -> Option<f64> {
    if a.is_empty() || a.len() != b.len() {
        return None;
    }
    let mut s = 0.0;
    for (p, q) in a.iter().zip(b) {
        let m = f(*p)?;
        s += (m[0] - q[0]).powi(2) + (m[1] - q[1]).powi(2);
    }
    Some((s / a.len() as f64).sqrt())
}

fn apply(h: &Matrix3<f64>, p: Pt) -> Option<Pt> {
    let v = h * Vector3::new(p[0], p[1], 1.0);
    (v[2].abs() > 1e-12).then(|| [v[0] / v[2], v[1] / v[2]])
}

/// Hartley normalisation: centroid to the origin, mean distance sqrt(2).
fn normaliser(p: &[Pt]) -> Option<Matrix3<f64>> {
    let n = p.len() as f64;
    let (cx, cy) = (p.iter().map(|q| q[0]).sum::<f64>() / n, p.iter().map(|q| q[1]).sum::<f64>() / n);
    let d = p.iter().map(|q| ((q[0] - cx).powi(2) + (q[1] - cy).powi(2)).sqrt()).sum::<f64>() / n;
    if d.is_nan() || d <= 1e-9 {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / d;
    Some(Matrix3::new(s, 0.0, -s * cx, 0.0, s, -s * cy, 0.0, 0.0, 1.0))
}

/// The homography mapping `a` onto `b` in the least-squares algebraic sense, by the normalised
/// direct linear transform (Hartley & Zisserman, alg. 4.2); needs at least 4 points.
#[must_use]
pub fn homography(a: &[Pt], b: &[Pt]) -> Option<Matrix3<f64>> {
    if a.len() < 4 || a.len() != b.len() {
        return None;
    }
    let (ta, tb) = (normaliser(a)?, normaliser(b)?);
    let mut m = DMatrix::<f64>::zeros(2 * a.len(), 9);
    for (k, (p, q)) in a.iter().zip(b).enumerate() {
        let pa = ta * Vector3::new(p[0], p[1], 1.0);
        let pb = tb * Vector3::new(q[0], q[1], 1.0);
        let (x, y, u, v) = (pa[0], pa[1], pb[0], pb[1]);
        let r = 2 * k;
        for (j, val) in [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u].into_iter().enumerate() {
            m[(r, j)] = val;
        }
        for (j, val) in [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v].into_iter().enumerate() {
            m[(r + 1, j)] = val;
        }
    }
    let svd = m.svd(false, true);
    let vt = svd.v_t?;
    // The right singular vector of the smallest singular value (not assuming an order).
    let (imin, _) = svd.singular_values.iter().enumerate().min_by(|x, y| x.1.total_cmp(y.1))?;
    let h = vt.row(imin);
    let hn = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]);
    let full = tb.try_inverse()? * hn * ta;
    let s = full[(2, 2)];
    Some(if s.abs() > 1e-12 { full / s } else { full })
}

/// RMS residual of the best similarity (rotation, uniform scale, shift) from `a` to `b`, in
/// closed form (points as complex numbers: b ~ z a + t).
#[must_use]
pub fn similarity_residual(a: &[Pt], b: &[Pt]) -> Option<f64> {
    if a.len() < 2 || a.len() != b.len() {
        return None;
    }
    let n = a.len() as f64;
    let ca = [a.iter().map(|p| p[0]).sum::<f64>() / n, a.iter().map(|p| p[1]).sum::<f64>() / n];
    let cb = [b.iter().map(|p| p[0]).sum::<f64>() / n, b.iter().map(|p| p[1]).sum::<f64>() / n];
    let (mut re, mut im, mut aa) = (0.0, 0.0, 0.0);
    for (p, q) in a.iter().zip(b) {
        let (x, y) = (p[0] - ca[0], p[1] - ca[1]);
        let (u, v) = (q[0] - cb[0], q[1] - cb[1]);
        // conj(x + iy) * (u + iv)
        re += x * u + y * v;
        im += x * v - y * u;
        aa += x * x + y * y;
    }
    if aa <= 1e-12 {
        return None;
    }
    let (zr, zi) = (re / aa, im / aa);
    rms(a, b, |p| {
        let (x, y) = (p[0] - ca[0], p[1] - ca[1]);
        Some([zr * x - zi * y + cb[0], zi * x + zr * y + cb[1]])
    })
}

/// The inner-face point indices of a mesh (see [`INNER_FRACTION`]).
#[must_use]
pub fn inner_points(mesh: &FaceMesh) -> Vec<usize> {
    let oval: Vec<[f32; 2]> = lm::FACE_OVAL.iter().map(|&i| mesh.xy(i)).collect();
    let n = oval.len() as f32;
    let c = [oval.iter().map(|p| p[0]).sum::<f32>() / n, oval.iter().map(|p| p[1]).sum::<f32>() / n];
    let r = |p: [f32; 2]| ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt();
    let mut radii: Vec<f32> = oval.iter().map(|&p| r(p)).collect();
    radii.sort_by(f32::total_cmp);
    let limit = INNER_FRACTION * radii[radii.len() / 2];
    (0..mesh.points.len()).filter(|&i| r(mesh.xy(i)) < limit).collect()
}

/// The rigid inner-face points of a mesh: [`inner_points`] less the eyelids (within
/// [`EYE_EXCLUSION`] IODs of an eye's centre) and less what lies below the nose tip by more than
/// [`BELOW_NOSE_TIP`] IODs (the mouth region). Forehead, brows, nose and upper cheeks stay: when a
/// head turns, the nose moves against the cheeks, which is the parallax the fit looks for.
#[must_use]
pub fn rigid_points(mesh: &FaceMesh) -> Vec<usize> {
    let eye = |a: usize, b: usize| {
        let (p, q) = (mesh.xy(a), mesh.xy(b));
        [(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0]
    };
    let (r, l) = (eye(lm::RIGHT_EYE_OUTER, lm::RIGHT_EYE_INNER), eye(lm::LEFT_EYE_OUTER, lm::LEFT_EYE_INNER));
    let iod = ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2)).sqrt();
    if iod <= f32::EPSILON {
        return Vec::new();
    }
    let across = [(l[0] - r[0]) / iod, (l[1] - r[1]) / iod];
    // The face's "down": perpendicular to the eye line, on the mouth's side.
    let mut down = [-across[1], across[0]];
    let centre = [(r[0] + l[0]) / 2.0, (r[1] + l[1]) / 2.0];
    let lip = mesh.xy(lm::LIP_UPPER_OUTER);
    if (lip[0] - centre[0]) * down[0] + (lip[1] - centre[1]) * down[1] < 0.0 {
        down = [-down[0], -down[1]];
    }
    let depth = |p: [f32; 2]| (p[0] - centre[0]) * down[0] + (p[1] - centre[1]) * down[1];
    let limit = depth(mesh.xy(lm::NOSE_TIP)) + BELOW_NOSE_TIP * iod;
    let near = |p: [f32; 2], e: [f32; 2]| ((p[0] - e[0]).powi(2) + (p[1] - e[1]).powi(2)).sqrt() < EYE_EXCLUSION * iod;
    inner_points(mesh)
        .into_iter()
        .filter(|&i| {
            let p = mesh.xy(i);
            depth(p) <= limit && !near(p, r) && !near(p, l)
        })
        .collect()
}

/// Maps a ratio to the spoof score (see the module doc).
#[must_use]
pub fn score_of_ratio(ratio: f32) -> f32 {
    ((RATIO_LIVE - ratio) / (RATIO_LIVE - RATIO_PLANAR)).clamp(0.0, 1.0)
}

/// The planarity of a clip's face from its meshes in frame order (frames without a face left
/// out), frames whose motion is mostly the expression's not counted ([`RIGID_SHARE`]); `None`
/// with fewer than two usable meshes. This is the passive signal of a whole clip.
#[must_use]
pub fn planarity(meshes: &[&FaceMesh]) -> Option<Planarity> {
    planarity_gated(meshes, true)
}

/// [`planarity`] of a head movement that was asked for (a challenge's turn or tilt): every
/// frame's motion counts. A photo turned in front of the camera deforms its upper half less than
/// its lower half, a little like a smile (rigid shares down to 0.38 on `planar_photo_obama.mp4`); while a
/// turn is asked for, whatever moves is judged.
#[must_use]
pub fn movement_planarity(meshes: &[&FaceMesh]) -> Option<Planarity> {
    planarity_gated(meshes, false)
}

fn planarity_gated(meshes: &[&FaceMesh], expression_gate: bool) -> Option<Planarity> {
    let usable: Vec<&FaceMesh> = meshes.iter().copied().filter(|m| m.is_face() && inter_ocular(m) > 1.0).collect();
    let (reference, rest) = usable.split_first()?;
    if rest.is_empty() {
        return None;
    }
    let idx = inner_points(reference);
    // The rigid points matter only to the expression gate.
    let rigid = if expression_gate { rigid_points(reference) } else { Vec::new() };
    if idx.len() < 8 || (expression_gate && rigid.len() < 8) {
        return None;
    }
    let pts = |idx: &[usize], m: &FaceMesh| -> Vec<Pt> {
        idx.iter().map(|&i| m.xy(i)).map(|p| [f64::from(p[0]), f64::from(p[1])]).collect()
    };
    let (a, a_rigid) = (pts(&idx, reference), pts(&rigid, reference));
    let iod_ref = f64::from(inter_ocular(reference));
    let (mut residual, mut motion) = (0.0f64, 0.0f64);
    let (mut sum_r, mut sum_m, mut moving, mut expression, mut frames) = (0.0f64, 0.0f64, 0usize, 0usize, 0usize);
    for m in rest {
        let b = pts(&idx, m);
        let Some((hr, sr)) = fit_residuals(&a, &b) else { continue };
        let sr_rigid = if expression_gate {
            let Some(r) = similarity_residual(&a_rigid, &pts(&rigid, m)) else { continue };
            r
        } else {
            0.0
        };
        let iod = (iod_ref + f64::from(inter_ocular(m))) / 2.0;
        let (hr, sr) = (hr / iod, sr / iod);
        frames += 1;
        residual = residual.max(hr);
        motion = motion.max(sr);
        if sr >= f64::from(MIN_MOTION) {
            if !expression_gate || sr_rigid / iod >= f64::from(RIGID_SHARE) * sr {
                moving += 1;
                sum_r += hr;
                sum_m += sr;
            } else {
                expression += 1;
            }
        }
    }
    if frames == 0 {
        return None;
    }
    let ratio = (moving >= MIN_MOVING_FRAMES && sum_m > 0.0).then(|| (sum_r / sum_m) as f32);
    Some(Planarity {
        frames,
        moving_frames: moving,
        expression_frames: expression,
        residual: residual as f32,
        motion: motion as f32,
        ratio,
        spoof_score: ratio.map(score_of_ratio),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<Pt> {
        let mut v = Vec::new();
        for i in 0..7 {
            for j in 0..9 {
                v.push([40.0 + 10.0 * f64::from(i), 60.0 + 9.0 * f64::from(j)]);
            }
        }
        v
    }

    #[test]
    fn a_homography_is_recovered_exactly() {
        let h = Matrix3::new(1.1, 0.05, 3.0, -0.02, 0.95, -4.0, 0.0008, -0.0005, 1.0);
        let a = grid();
        let b: Vec<Pt> = a.iter().map(|&p| apply(&h, p).expect("finite")).collect();
        let est = homography(&a, &b).expect("fit");
        assert!((est - h).abs().max() < 1e-6, "{est} vs {h}");
        let (hr, sr) = fit_residuals(&a, &b).expect("residuals");
        assert!(hr < 1e-6, "{hr}");
        assert!(sr > 0.5, "perspective is not a similarity: {sr}");
    }

    #[test]
    fn a_similarity_has_no_residual_either_way() {
        let (c, s) = (0.3f64.cos() * 1.2, 0.3f64.sin() * 1.2);
        let a = grid();
        let b: Vec<Pt> = a.iter().map(|p| [c * p[0] - s * p[1] + 5.0, s * p[0] + c * p[1] - 7.0]).collect();
        let (hr, sr) = fit_residuals(&a, &b).expect("residuals");
        assert!(hr < 1e-6 && sr < 1e-9, "{hr} {sr}");
    }

    #[test]
    fn a_turned_3d_shape_is_not_a_homography() {
        // Points on a bump (a nose on a face): z = 30 * exp(-r^2 / 400), turned 20 degrees about y.
        let a = grid();
        let a3: Vec<[f64; 3]> = a
            .iter()
            .map(|p| {
                let (x, y) = (p[0] - 70.0, p[1] - 96.0);
                [x, y, -30.0 * (-(x * x + y * y) / 400.0).exp()]
            })
            .collect();
        let t = 20f64.to_radians();
        let b: Vec<Pt> = a3.iter().map(|q| [q[0] * t.cos() - q[2] * t.sin() + 70.0, q[1] + 96.0]).collect();
        let (hr, sr) = fit_residuals(&a, &b).expect("residuals");
        assert!(hr > 1.0 && hr / sr > 0.6, "{hr} {sr}");
    }

    #[test]
    fn degenerate_inputs_give_none() {
        assert!(homography(&[[0.0, 0.0]; 3], &[[0.0, 0.0]; 3]).is_none());
        assert!(homography(&[[1.0, 1.0]; 10], &[[2.0, 2.0]; 10]).is_none());
        assert!(similarity_residual(&[[1.0, 1.0]; 5], &[[2.0, 3.0]; 5]).is_none());
        assert!(fit_residuals(&grid(), &grid()[1..]).is_none());
        assert!(planarity(&[]).is_none());
    }

    #[test]
    fn score_mapping() {
        assert_eq!(score_of_ratio(0.1), 1.0);
        assert_eq!(score_of_ratio(RATIO_PLANAR), 1.0);
        assert!((score_of_ratio(0.65) - 0.5).abs() < 1e-5);
        assert_eq!(score_of_ratio(RATIO_LIVE), 0.0);
        assert_eq!(score_of_ratio(1.2), 0.0);
    }

    /// A flat synthetic "mesh": the 468 points on a disc-shaped face in a plane.
    fn flat_mesh(f: impl Fn(f32, f32) -> [f32; 2]) -> FaceMesh {
        let mut points = vec![[0.0f32; 3]; crate::mesh::POINTS];
        for (k, p) in points.iter_mut().enumerate() {
            let a = k as f32 * 2.399_963;
            let r = 60.0 * ((k as f32 + 0.5) / crate::mesh::POINTS as f32).sqrt();
            let q = f(100.0 + r * a.cos(), 120.0 + r * a.sin());
            *p = [q[0], q[1], 0.0];
        }
        // Contour on the rim, eyes where inter_ocular() looks.
        for (j, &i) in lm::FACE_OVAL.iter().enumerate() {
            let a = j as f32 / lm::FACE_OVAL.len() as f32 * std::f32::consts::TAU;
            let q = f(100.0 + 60.0 * a.cos(), 120.0 + 60.0 * a.sin());
            points[i] = [q[0], q[1], 0.0];
        }
        for (i, x, y) in [(33usize, 70.0f32, 110.0f32), (133, 90.0, 110.0), (362, 110.0, 110.0), (263, 130.0, 110.0)] {
            let q = f(x, y);
            points[i] = [q[0], q[1], 0.0];
        }
        FaceMesh { points, presence: 1.0 }
    }

    #[test]
    fn a_plane_moving_in_perspective_scores_as_spoof_and_a_still_one_is_inconclusive() {
        let frames: Vec<FaceMesh> = (0..10)
            .map(|t| {
                let k = t as f32 * 0.00025;
                flat_mesh(move |x, y| {
                    let w = 1.0 + k * (x - 100.0);
                    [(x + 2.0 * t as f32) / w, y / w]
                })
            })
            .collect();
        let refs: Vec<&FaceMesh> = frames.iter().collect();
        let p = planarity(&refs).expect("planarity");
        assert!(p.moving_frames >= 2, "{p:?}");
        assert!(p.residual < 1e-3, "{p:?}");
        assert_eq!(p.spoof_score, Some(1.0), "{p:?}");

        let still: Vec<FaceMesh> = (0..10).map(|t| flat_mesh(move |x, y| [x + t as f32, y])).collect();
        let refs: Vec<&FaceMesh> = still.iter().collect();
        let p = planarity(&refs).expect("planarity");
        assert_eq!(p.spoof_score, None, "shifting in the image plane is no evidence: {p:?}");
        assert!(p.motion < 1e-3, "{p:?}");
    }
}
