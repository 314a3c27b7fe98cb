//! Frame quality for best-shot selection, from measurable signals of the main face:
//! sharpness (variance of the Laplacian of the aligned grey crop), face size, head pose,
//! brightness and the detector score. Each is mapped to [0, 1]; the quality is their weighted
//! geometric mean, so one very bad signal (a blurred or turned face) sinks the frame.

use image::{GrayImage, RgbImage};
use serde::Serialize;

use crate::detect::Face;
use crate::imgops;
use crate::pose::Pose;

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Quality {
    /// Variance of the Laplacian of the aligned 112x112 grey face.
    pub sharpness: f32,
    /// Mean grey level of the aligned face, 0..255.
    pub brightness: f32,
    /// Face width in source pixels.
    pub face_width: f32,
    /// Component scores in [0, 1].
    pub sharpness_q: f32,
    pub size_q: f32,
    pub pose_q: f32,
    pub brightness_q: f32,
    pub detector_q: f32,
    /// The combined score in [0, 1].
    pub score: f32,
}

/// Variance of the 4-neighbour Laplacian.
#[must_use]
pub fn laplacian_variance(g: &GrayImage) -> f32 {
    let (w, h) = g.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let p = |x: u32, y: u32| f64::from(g.get_pixel(x, y)[0]);
    let (mut sum, mut sum2, mut n) = (0f64, 0f64, 0f64);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let l = p(x - 1, y) + p(x + 1, y) + p(x, y - 1) + p(x, y + 1) - 4.0 * p(x, y);
            sum += l;
            sum2 += l * l;
            n += 1.0;
        }
    }
    let mean = sum / n;
    (sum2 / n - mean * mean) as f32
}

/// Quality of one face from its aligned crop, detection and pose.
#[must_use]
pub fn assess(aligned: &RgbImage, face: &Face, pose: Option<&Pose>) -> Quality {
    // Ignore the warp's black border corners: measure the central 80x80 of the aligned face.
    let grey = imgops::to_gray(aligned);
    let centre = image::imageops::crop_imm(&grey, 16, 16, 80, 80).to_image();
    let sharpness = laplacian_variance(&centre);
    let brightness =
        centre.pixels().map(|p| f32::from(p[0])).sum::<f32>() / (centre.width() * centre.height()).max(1) as f32;
    let sharpness_q = sharpness / (sharpness + 150.0);
    let size_q = (face.w / 112.0).clamp(0.05, 1.0);
    let pose_q = pose.map_or(1.0, |p| {
        let off = (p.yaw.abs() / 45.0).powi(2) + (p.pitch.abs() / 40.0).powi(2) + (p.roll.abs() / 60.0).powi(2);
        (1.0 - off).clamp(0.05, 1.0)
    });
    let brightness_q = (1.0 - ((brightness - 128.0).abs() / 128.0).powi(2)).clamp(0.05, 1.0);
    let detector_q = face.score.clamp(0.05, 1.0);
    let weights =
        [(sharpness_q.max(1e-3), 0.35), (size_q, 0.15), (pose_q, 0.25), (brightness_q, 0.10), (detector_q, 0.15)];
    let score = weights.iter().map(|(q, w)| w * q.ln()).sum::<f32>().exp();
    Quality { sharpness, brightness, face_width: face.w, sharpness_q, size_q, pose_q, brightness_q, detector_q, score }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_image_has_zero_laplacian_variance() {
        let g = GrayImage::from_pixel(20, 20, image::Luma([100]));
        assert_eq!(laplacian_variance(&g), 0.0);
        let mut checker = GrayImage::new(20, 20);
        for (x, y, p) in checker.enumerate_pixels_mut() {
            p[0] = if (x + y) % 2 == 0 { 0 } else { 255 };
        }
        assert!(laplacian_variance(&checker) > 1000.0);
    }

    #[test]
    fn sharper_and_frontal_scores_higher() {
        let mut sharp = RgbImage::new(112, 112);
        for (x, y, p) in sharp.enumerate_pixels_mut() {
            let v = if (x / 3 + y / 3) % 2 == 0 { 60 } else { 190 };
            *p = image::Rgb([v, v, v]);
        }
        let blurred = image::imageops::blur(&sharp, 4.0);
        let face = Face { x: 0.0, y: 0.0, w: 150.0, h: 150.0, score: 0.9, landmarks: [[0.0; 2]; 5] };
        let frontal = Pose::default();
        let turned = Pose { yaw: 40.0, pitch: 0.0, roll: 0.0 };
        let a = assess(&sharp, &face, Some(&frontal));
        let b = assess(&blurred, &face, Some(&frontal));
        let c = assess(&sharp, &face, Some(&turned));
        assert!(a.score > b.score, "{a:?} vs {b:?}");
        assert!(a.score > c.score);
        assert!((0.0..=1.0).contains(&a.score));
    }
}
