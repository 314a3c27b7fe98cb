//! Face detection with YuNet: letterbox to a multiple of 32, decode the three strides, NMS.
//!
//! Input `input` f32 [1,3,H,W] BGR 0..255; outputs `cls_s`, `obj_s`, `bbox_s`, `kps_s` for
//! s in {8,16,32}. For anchor (row, col) of stride s: score = sqrt(cls*obj),
//! cx = (col + b0)*s, cy = (row + b1)*s, w = exp(b2)*s, h = exp(b3)*s,
//! landmark k = ((col + kps[2k])*s, (row + kps[2k+1])*s).

use image::RgbImage;
use serde::Serialize;

use crate::error::VisionError;
use crate::imgops::{self, Channels};
use crate::runtime::{ModelPool, output};

/// A detected face in source-image pixels.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Face {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub score: f32,
    /// Eye (image left), eye (image right), nose tip, mouth corner (image left), mouth corner (image right).
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    #[must_use]
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    #[must_use]
    pub fn iou(&self, o: &Face) -> f32 {
        let x1 = self.x.max(o.x);
        let y1 = self.y.max(o.y);
        let x2 = (self.x + self.w).min(o.x + o.w);
        let y2 = (self.y + self.h).min(o.y + o.h);
        let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
        let union = self.area() + o.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// Detector settings.
#[derive(Debug, Clone, Copy)]
pub struct DetectorConfig {
    /// Long side of the network input (the image is scaled to it, the short side padded to 32).
    pub input_size: u32,
    /// Retry at this size when nothing is found at `input_size` (0 = no retry).
    pub retry_size: u32,
    pub score_threshold: f32,
    pub nms_iou: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self { input_size: 320, retry_size: 640, score_threshold: 0.6, nms_iou: 0.3 }
    }
}

const STRIDES: [u32; 3] = [8, 16, 32];

fn round_up_32(v: u32) -> u32 {
    v.div_ceil(32).max(1) * 32
}

/// Runs YuNet on `img`; faces sorted by score, highest first.
pub fn detect(pool: &ModelPool, img: &RgbImage, cfg: &DetectorConfig) -> Result<Vec<Face>, VisionError> {
    let faces = detect_at(pool, img, cfg, cfg.input_size)?;
    let long = img.width().max(img.height());
    if faces.is_empty() && cfg.retry_size > cfg.input_size && long > cfg.input_size {
        return detect_at(pool, img, cfg, cfg.retry_size.min(round_up_32(long)));
    }
    Ok(faces)
}

fn detect_at(pool: &ModelPool, img: &RgbImage, cfg: &DetectorConfig, size: u32) -> Result<Vec<Face>, VisionError> {
    let (iw, ih) = img.dimensions();
    if iw == 0 || ih == 0 {
        return Ok(Vec::new());
    }
    let scale = size as f32 / iw.max(ih) as f32;
    let sw = ((iw as f32 * scale).round() as u32).clamp(1, size);
    let sh = ((ih as f32 * scale).round() as u32).clamp(1, size);
    let (in_w, in_h) = (round_up_32(sw), round_up_32(sh));
    let resized = imgops::resize(img, None, sw, sh)?;
    let mut canvas = RgbImage::new(in_w, in_h);
    image::imageops::replace(&mut canvas, &resized, 0, 0);
    let data = imgops::to_nchw(&canvas, Channels::Bgr, [0.0; 3], [1.0; 3]);
    let outs = pool.run("input", &[1, 3, in_h as usize, in_w as usize], data)?;

    let mut faces = Vec::new();
    for s in STRIDES {
        let cls = output(&outs, &format!("cls_{s}"))?;
        let obj = output(&outs, &format!("obj_{s}"))?;
        let bbox = output(&outs, &format!("bbox_{s}"))?;
        let kps = output(&outs, &format!("kps_{s}"))?;
        let cols = (in_w / s) as usize;
        let rows = (in_h / s) as usize;
        let n = cols * rows;
        if cls.len() < n || obj.len() < n || bbox.len() < 4 * n || kps.len() < 10 * n {
            return Err(VisionError::Model(format!("detector output size mismatch at stride {s}")));
        }
        let sf = s as f32;
        for i in 0..n {
            let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
            if score < cfg.score_threshold {
                continue;
            }
            let (row, col) = ((i / cols) as f32, (i % cols) as f32);
            let b = &bbox[4 * i..4 * i + 4];
            let cx = (col + b[0]) * sf;
            let cy = (row + b[1]) * sf;
            let w = b[2].exp() * sf;
            let h = b[3].exp() * sf;
            let mut landmarks = [[0f32; 2]; 5];
            for (k, lm) in landmarks.iter_mut().enumerate() {
                lm[0] = (col + kps[10 * i + 2 * k]) * sf / scale;
                lm[1] = (row + kps[10 * i + 2 * k + 1]) * sf / scale;
            }
            faces.push(Face {
                x: (cx - w / 2.0) / scale,
                y: (cy - h / 2.0) / scale,
                w: w / scale,
                h: h / scale,
                score,
                landmarks,
            });
        }
    }
    Ok(nms(faces, cfg.nms_iou))
}

/// Greedy non-maximum suppression; output sorted by score.
#[must_use]
pub fn nms(mut faces: Vec<Face>, iou: f32) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Face> = Vec::new();
    for f in faces {
        if keep.iter().all(|k| k.iou(&f) <= iou) {
            keep.push(f);
        }
    }
    keep
}

/// The faces that count as people for "exactly one face" rules: those at least `min_rel` as wide
/// as the largest face (so a tiny bystander far behind a selfie does not count).
#[must_use]
pub fn significant(faces: &[Face], min_rel: f32) -> Vec<Face> {
    let max_w = faces.iter().map(|f| f.w).fold(0.0, f32::max);
    let mut v: Vec<Face> = faces.iter().copied().filter(|f| f.w >= max_w * min_rel).collect();
    v.sort_by(|a, b| b.area().total_cmp(&a.area()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, score: f32) -> Face {
        Face { x, y: 0.0, w: 10.0, h: 10.0, score, landmarks: [[0.0; 2]; 5] }
    }

    #[test]
    fn nms_keeps_best_of_overlaps() {
        let out = nms(vec![face(0.0, 0.7), face(1.0, 0.9), face(50.0, 0.8)], 0.3);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        assert_eq!(out[1].x, 50.0);
    }

    #[test]
    fn significant_drops_tiny_faces() {
        let mut small = face(100.0, 0.9);
        small.w = 3.0;
        let v = significant(&[face(0.0, 0.8), small], 0.4);
        assert_eq!(v.len(), 1);
    }
}
